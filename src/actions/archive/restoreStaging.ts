import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../core/actions/spec';
import { removeIfPresent } from '../../core/atomicFiles';
import { writingTo } from '../../core/errors';
import { printable } from '../../core/render';

/**
 * Where a restore extracts before moving files into the target, and the clean-up after restores
 * that were killed (SIGKILL, power loss) before they could remove their own staging folder.
 *
 * Staging must be on the target's file system so files move in by rename. Next to the target
 * (`.<name>.restore-<pid>-<random>`) keeps it out of the target, where a running service might see
 * it; when the target is a mount point, its parent is another file system, so staging goes inside
 * the target as a dot-folder (`.lifeboat-restore-<pid>-<random>`) instead. The process id in the
 * name tells a later restore whether the folder's owner still runs.
 */

const NESTED_PREFIX = '.lifeboat-restore-';
const RANDOM_HEX_DIGITS = 12;
const OWNED_SUFFIX = new RegExp(`^(\\d+)-[0-9a-f]{${RANDOM_HEX_DIGITS}}$`);
/** Long target names are cut in the staging name, which must stay within a file name's 255 bytes. */
const NAME_CHARACTERS_KEPT = 32;

function siblingPrefix(target: string): string {
  return `.${[...path.basename(target)].slice(0, NAME_CHARACTERS_KEPT).join('')}.restore-`;
}

function ownedName(prefix: string): string {
  return `${prefix}${process.pid}-${randomBytes(RANDOM_HEX_DIGITS / 2).toString('hex')}`;
}

/** The folder entries are extracted into, inside the staging folder. */
export function stagingTreeOf(stagingRoot: string): string {
  return path.join(stagingRoot, 'tree');
}

/**
 * The longest path of the staged tree of a restore into `target` by this process, in bytes: an
 * entry's path is written below it, and must fit in a path a system call takes.
 */
export function stagingTreePathBytes(target: string): number {
  const sample = (folder: string, prefix: string) => Buffer.byteLength(stagingTreeOf(path.join(folder, ownedName(prefix))));
  return Math.max(sample(path.dirname(target), siblingPrefix(target)), sample(target, NESTED_PREFIX));
}

/** Creates this restore's private staging folder (mode 0700) on the target's file system. */
export async function createStagingRoot(target: string, targetExists: boolean): Promise<string> {
  const parent = path.dirname(target);
  let root = path.join(parent, ownedName(siblingPrefix(target)));
  if (targetExists) {
    const [targetStats, parentStats] = await Promise.all([stat(target), stat(parent)]);
    if (targetStats.dev !== parentStats.dev) root = path.join(target, ownedName(NESTED_PREFIX));
  }
  await writingTo(target, () => mkdir(root, { mode: 0o700 }));
  return root;
}

export interface AbandonedStaging {
  folder: string;
  pid: number;
}

/**
 * The staging folders of earlier restores into `target` whose process no longer runs: a killed
 * restore leaves one behind, and on a full disk it holds the space the next attempt needs. Folders
 * of a restore that still runs (or whose owner cannot be told) are not among them.
 */
export async function findAbandonedStaging(target: string): Promise<AbandonedStaging[]> {
  const abandoned: AbandonedStaging[] = [];
  for (const [folder, prefix] of [[path.dirname(target), siblingPrefix(target)], [target, NESTED_PREFIX]] as const) {
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const owner = name.startsWith(prefix) ? OWNED_SUFFIX.exec(name.slice(prefix.length)) : null;
      if (owner && !processRuns(Number(owner[1]))) abandoned.push({ folder: path.join(folder, name), pid: Number(owner[1]) });
    }
  }
  return abandoned;
}

/** Bytes on disk below `folder` (links not followed): what removing it frees. */
export async function diskUsage(folder: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(folder, { recursive: true }).catch(() => [] as string[])) {
    const stats = await lstat(path.join(folder, entry)).catch(() => undefined);
    bytes += (stats?.blocks ?? 0) * 512;
  }
  return bytes;
}

export async function removeAbandonedStaging(target: string, log: Logger): Promise<void> {
  for (const { folder, pid } of await findAbandonedStaging(target)) {
    await removeIfPresent(folder);
    log.info(`removed ${printable(folder)}, left by an interrupted restore (process ${pid} no longer runs)`);
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
