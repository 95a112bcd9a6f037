import { lstat, mkdir, realpath, rename, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { cancellationOr, throwIfAborted, writingTo } from '../../core/errors';
import { formatBytes, formatDuration, markdownTable, printable } from '../../core/render';
import { makeFolders, removeIfPresent } from '../../core/atomicFiles';
import { extractToStaging } from './extractToStaging';
import { resolveUserPath } from '../paths';
import { ThrottledProgress } from '../../core/progress';
import { scanForRestore, type RestoreScan } from './restoreScan';
import { createStagingRoot, findAbandonedStaging, removeAbandonedStaging, stagingTreeOf } from './restoreStaging';
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
    maxBytes: z
      .int()
      .min(0)
      .optional()
      .describe('Refuse, writing nothing, an archive whose files hold more than this many bytes. The free space at the target always bounds a restore.'),
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
      `refusing to restore into ${printable(target)}: ${scan.overwritten} file(s) already exist there (${scan.overwrittenExamples.map(printable).join(', ')}${scan.overwritten > scan.overwrittenExamples.length ? ', …' : ''}) and overwrite is false; nothing was written`,
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
  if (!archiveStats?.isFile()) throw new Error(`archive ${printable(archivePath)} does not exist or is not a file`);
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
    maxBytes: params.maxBytes,
    signal: ctx.signal,
    collectOperations,
    onBytesRead: (bytes) => progress?.update({ message: `Checking ${printable(path.basename(paths.archivePath))}`, bytes, totalBytes: paths.archiveBytes }),
  });
  if (result.overwritten > 0 && !params.overwrite) throw new OverwriteRefusedError(paths.target, result);
  return result;
}

async function planRestore(params: ArchiveRestoreParams, ctx: ActionContext): Promise<ActionPlan> {
  const paths = await resolvePaths(params, ctx);
  const result = await scan(params, paths, ctx, true);
  const operations: PlannedOperation[] = [
    { kind: 'read', target: printable(paths.archivePath), bytes: paths.archiveBytes, items: result.entries },
    { kind: 'verify', target: printable(paths.archivePath), detail: result.checksum === 'match' ? 'sha256 matches its .sha256 file' : 'no .sha256 file to check against' },
    ...(await findAbandonedStaging(paths.target)).map(({ folder, pid }): PlannedOperation => ({ kind: 'delete', target: printable(folder), detail: `staging left by an interrupted restore (process ${pid} no longer runs)` })),
    ...result.operations,
  ];
  return {
    summary: `Restore ${result.files} files (${formatBytes(result.bytes)}) into ${printable(paths.target)}: ${result.created} new, ${result.overwritten} overwritten`,
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
  const shownTarget = printable(paths.target);
  log.info(`${printable(paths.archivePath)}: ${checked.entries} entries checked, checksum ${checked.checksum}; restoring ${checked.created} new and ${checked.overwritten} overwritten files into ${shownTarget}`);

  const parent = path.dirname(paths.target);
  const firstCreatedParent = await writingTo(parent, () => makeFolders(parent));
  let stagingRoot: string | undefined;
  let restored = false;
  try {
    await removeAbandonedStaging(paths.target, log);
    stagingRoot = await createStagingRoot(paths.target, paths.targetExists);
    const stagingTree = stagingTreeOf(stagingRoot);
    await writingTo(paths.target, () => mkdir(stagingTree));
    await extractToStaging({
      archivePath: paths.archivePath,
      stagingTree,
      target: paths.target,
      declaredBytes: checked.bytes,
      strip: params.strip,
      expectedSha256: checked.sha256,
      signal,
      onProgress: (files, bytes) => progress.update({ message: `Extracting into ${shownTarget}`, items: files, totalItems: checked.files, bytes, totalBytes: checked.bytes }),
    });
    progress.flush({ items: checked.files, bytes: checked.bytes });
    throwIfAborted(signal);
    if (paths.targetExists) {
      log.info(`extracted; moving the files into ${shownTarget}`);
      const setAsideFolder = path.join(stagingRoot, 'replaced');
      await writingTo(paths.target, () => mkdir(setAsideFolder));
      await mergeIntoTarget({ stagingTree, target: paths.target, setAsideFolder, signal, onMoved: () => progress.update({ message: `Moving files into ${shownTarget}` }) });
    } else {
      // A new target appears in one rename, complete.
      await writingTo(paths.target, () => rename(stagingTree, paths.target));
    }
    restored = true;
  } catch (error) {
    throw cancellationOr(error, signal);
  } finally {
    if (stagingRoot !== undefined) await removeIfPresent(stagingRoot);
    if (!restored && firstCreatedParent !== undefined) await removeEmptyFolders(parent, firstCreatedParent);
  }
  log.info(`restored ${checked.files} files (${formatBytes(checked.bytes)}) into ${shownTarget}`);
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
    [[printable(path.basename(result.archive)), printable(result.target), result.files, formatBytes(result.bytes), result.created, result.overwritten, result.checksum, formatDuration(result.durationMs)]],
  );
}

export const archiveRestore = defineAction({
  id: 'archive.restore',
  title: 'Restore archive',
  description:
    'Restores a tar.gz into a folder after checking it end to end: refuses archives with absolute paths, "..", escaping links or devices, entries it could not write, or more than the free space (or maxBytes) takes, and refuses to overwrite unless asked. Cancel or failure leaves the target as it was.',
  params: archiveRestoreParams,
  destructive: true,
  plan: planRestore,
  run: runRestore,
  render: renderRestore,
});
