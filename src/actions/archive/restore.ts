import { randomBytes } from 'node:crypto';
import { lstat, mkdir, realpath, rename, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { cancellationOr, throwIfAborted } from '../../core/errors';
import { formatBytes, formatDuration, markdownTable } from '../../core/render';
import { removeIfPresent } from '../../core/atomicFiles';
import { extractToStaging } from './extractToStaging';
import { resolveUserPath } from '../paths';
import { ThrottledProgress } from '../../core/progress';
import { scanForRestore, type RestoreScan } from './restoreScan';
import { mergeIntoTarget } from './stagedMerge';

export const archiveRestoreParams = z
  .object({
    archive: z.string().min(1).describe('The .tar.gz archive to restore.'),
    target: z.string().min(1).describe('Folder to restore into; created if missing.'),
    strip: z
      .int()
      .min(0)
      .default(0)
      .describe('Leading path segments to remove from every entry, like `tar --strip-components`; legacy archives with one top folder need 1.'),
    overwrite: z.boolean().default(false).describe('Replace files that already exist in the target; without it the restore refuses and writes nothing.'),
  })
  .strict();

export type ArchiveRestoreParams = z.output<typeof archiveRestoreParams>;

export interface ArchiveRestoreResult {
  archive: string;
  target: string;
  /** Files and links written (folders not counted). */
  files: number;
  bytes: number;
  created: number;
  overwritten: number;
  checksum: 'match' | 'missing';
  durationMs: number;
}

export class OverwriteRefusedError extends Error {
  constructor(target: string, scan: RestoreScan) {
    super(
      `refusing to restore into ${target}: ${scan.overwritten} file(s) already exist there (${scan.overwrittenExamples.join(', ')}${scan.overwritten > scan.overwrittenExamples.length ? ', …' : ''}) and overwrite is false; nothing was written`,
    );
    this.name = 'OverwriteRefusedError';
  }
}

interface RestorePaths {
  archivePath: string;
  archiveBytes: number;
  /** Real path when the target exists (a symlinked target is restored into what it points at). */
  target: string;
  targetExists: boolean;
}

async function resolvePaths(params: ArchiveRestoreParams, ctx: ActionContext): Promise<RestorePaths> {
  const archivePath = resolveUserPath(params.archive, ctx.workspaceDir);
  const archiveStats = await stat(archivePath).catch(() => undefined);
  if (!archiveStats?.isFile()) throw new Error(`archive ${archivePath} does not exist or is not a file`);
  const requested = resolveUserPath(params.target, ctx.workspaceDir);
  const targetExists = await lstat(requested).then(
    () => true,
    () => false,
  );
  const target = targetExists ? await realpath(requested) : requested;
  return { archivePath, archiveBytes: archiveStats.size, target, targetExists };
}

async function scan(params: ArchiveRestoreParams, paths: RestorePaths, ctx: ActionContext, collectOperations: boolean, progress?: ThrottledProgress): Promise<RestoreScan> {
  const result = await scanForRestore({
    archivePath: paths.archivePath,
    target: paths.target,
    strip: params.strip,
    signal: ctx.signal,
    collectOperations,
    onBytesRead: (bytes) => progress?.update({ message: `Checking ${path.basename(paths.archivePath)}`, bytes, totalBytes: paths.archiveBytes }),
  });
  if (result.overwritten > 0 && !params.overwrite) throw new OverwriteRefusedError(paths.target, result);
  return result;
}

async function planRestore(params: ArchiveRestoreParams, ctx: ActionContext): Promise<ActionPlan> {
  const paths = await resolvePaths(params, ctx);
  const result = await scan(params, paths, ctx, true);
  const operations: PlannedOperation[] = [
    { kind: 'read', target: paths.archivePath, bytes: paths.archiveBytes, items: result.entries },
    { kind: 'verify', target: paths.archivePath, detail: result.checksum === 'match' ? 'sha256 matches its .sha256 file' : 'no .sha256 file to check against' },
    ...result.operations,
  ];
  return {
    summary: `Restore ${result.files} files (${formatBytes(result.bytes)}) into ${paths.target}: ${result.created} new, ${result.overwritten} overwritten`,
    operations,
    destructive: result.overwritten > 0,
  };
}

async function runRestore(params: ArchiveRestoreParams, ctx: ActionContext): Promise<ArchiveRestoreResult> {
  const started = performance.now();
  const { signal, log } = ctx;
  const progress = new ThrottledProgress(ctx.progress);
  const paths = await resolvePaths(params, ctx);
  let checked: RestoreScan;
  try {
    checked = await scan(params, paths, ctx, false, progress);
  } catch (error) {
    throw cancellationOr(error, signal);
  }
  log.info(`${paths.archivePath}: ${checked.entries} entries checked, checksum ${checked.checksum}; restoring ${checked.created} new and ${checked.overwritten} overwritten files into ${paths.target}`);

  const parent = path.dirname(paths.target);
  const firstCreatedParent = await mkdir(parent, { recursive: true });
  const stagingRoot = await stagingLocation(paths, parent);
  let restored = false;
  try {
    await mkdir(stagingRoot, { mode: 0o700 });
    const stagingTree = path.join(stagingRoot, 'tree');
    await mkdir(stagingTree);
    await extractToStaging({
      archivePath: paths.archivePath,
      stagingTree,
      strip: params.strip,
      expectedSha256: checked.sha256,
      signal,
      onProgress: (files, bytes) =>
        progress.update({ message: `Extracting into ${paths.target}`, items: files, totalItems: checked.files, bytes, totalBytes: checked.bytes }),
    });
    progress.flush({ items: checked.files, bytes: checked.bytes });
    throwIfAborted(signal);
    if (paths.targetExists) {
      const setAsideFolder = path.join(stagingRoot, 'replaced');
      await mkdir(setAsideFolder);
      await mergeIntoTarget({ stagingTree, target: paths.target, setAsideFolder, signal, onMoved: () => progress.update({ message: `Moving files into ${paths.target}` }) });
    } else {
      // A new target appears in one rename, complete.
      await rename(stagingTree, paths.target);
    }
    restored = true;
  } catch (error) {
    throw cancellationOr(error, signal);
  } finally {
    await removeIfPresent(stagingRoot);
    if (!restored && firstCreatedParent !== undefined) await removeEmptyFolders(parent, firstCreatedParent);
  }
  log.info(`restored ${checked.files} files (${formatBytes(checked.bytes)}) into ${paths.target}`);
  return {
    archive: paths.archivePath,
    target: paths.target,
    files: checked.files,
    bytes: checked.bytes,
    created: checked.created,
    overwritten: checked.overwritten,
    checksum: checked.checksum,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * Staging must be on the target's file system so files move in by rename. Next to the target
 * (`.<name>.restore-<random>`) keeps it out of the target, where a running service might see
 * it; when the target is a mount point, its parent is another file system, so staging goes
 * inside the target as a dot-folder instead.
 */
async function stagingLocation(paths: RestorePaths, parent: string): Promise<string> {
  const suffix = randomBytes(6).toString('hex');
  if (paths.targetExists) {
    const [targetStats, parentStats] = await Promise.all([stat(paths.target), stat(parent)]);
    if (targetStats.dev !== parentStats.dev) return path.join(paths.target, `.lifeboat-restore-${suffix}`);
  }
  return path.join(parent, `.${path.basename(paths.target)}.restore-${suffix}`);
}

/** Undoes `mkdir -p` of the target's parents after a failed restore, keeping any that are not empty. */
async function removeEmptyFolders(deepest: string, shallowest: string): Promise<void> {
  for (let folder = deepest; folder.length >= shallowest.length; folder = path.dirname(folder)) {
    try {
      await rmdir(folder);
    } catch {
      return;
    }
  }
}

function renderRestore(result: ArchiveRestoreResult): string {
  return markdownTable(
    ['Archive', 'Target', 'Files', 'Size', 'New', 'Overwritten', 'Checksum', 'Took'],
    [[path.basename(result.archive), result.target, result.files, formatBytes(result.bytes), result.created, result.overwritten, result.checksum, formatDuration(result.durationMs)]],
  );
}

export const archiveRestore = defineAction({
  id: 'archive.restore',
  title: 'Restore archive',
  description:
    'Restores a tar.gz into a folder after checking it end to end: refuses archives with absolute paths, "..", escaping links or devices, and refuses to overwrite unless asked. Cancel or failure leaves the target as it was.',
  params: archiveRestoreParams,
  destructive: true,
  plan: planRestore,
  run: runRestore,
  render: renderRestore,
});
