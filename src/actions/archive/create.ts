import { stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { cancellationOr, errorMessage, throwIfAborted } from '../../core/errors';
import { formatBytes, formatDuration, markdownTable } from '../../core/render';
import { FileExistsError, fsyncDirectory, makeFolders, pathExists, publishWithoutOverwrite, removeIfPresent, temporarySibling, unlinkIfPresent, writeFileAtomically } from '../../core/atomicFiles';
import { formatSidecar, sidecarPath } from './checksum';
import { compileExcludes } from './excludeGlobs';
import { archivePrefix, DEFAULT_NAME_PATTERN, formatArchiveName, namePatternProblem } from './naming';
import { folderLockStore } from '../../core/locks';
import { lockLocation } from '../locationLocks';
import { isInsideOrEqual, resolveUserPath } from '../paths';
import { findPigz } from './pigz';
import { ThrottledProgress } from '../../core/progress';
import { readArchive } from './readArchive';
import { deleteArchives, findRetentionCandidates, selectForDeletion, type RetentionCandidate } from './retention';
import { collectSources, type SourceTree } from './sourceTree';
import { updateVerifiedState } from './verifiedState';
import { writeArchive, type ArchiveCompressor, type ArchiveWriteResult } from './writeArchive';

export const archiveCreateParams = z
  .object({
    paths: z
      .array(z.string().min(1))
      .min(1)
      .describe('Files and folders to archive, relative to `base` (they are stored under these relative names; symbolic links are stored as links).'),
    base: z
      .string()
      .min(1)
      .optional()
      .describe('Folder the paths are relative to; defaults to the workspace folder. A leading `~/` means the home folder.'),
    exclude: z
      .array(z.string().min(1))
      .default([])
      .describe('Glob patterns to leave out. Without `/` a pattern matches a name at any depth (`*.log`); with `/` it matches the path from `base` (`cache/**`); a trailing `/` matches folders only.'),
    destination: z.string().min(1).describe('Folder the archive is written to; created if missing.'),
    prefix: archivePrefix
      .describe('Name prefix of the archive, e.g. `frigate-faces`; retention only ever considers archives with this prefix.'),
    namePattern: z
      .string()
      .default(DEFAULT_NAME_PATTERN)
      .superRefine((pattern, refinement) => {
        const problem = namePatternProblem(pattern);
        if (problem) refinement.addIssue({ code: 'custom', message: problem });
      })
      .describe('Archive file name; placeholders {prefix}, {YYYY}, {MM}, {DD}, {hh}, {mm}, {ss} (local time).'),
    level: z.int().min(1).max(9).default(6).describe('gzip compression level, 1 (fastest) to 9 (smallest).'),
    keep: z
      .int()
      .min(1)
      .optional()
      .describe('After the new archive is verified, keep only this many archives of this prefix and name pattern (newest by the time in their name) and delete older ones with their checksum files.'),
  })
  .strict();

export type ArchiveCreateParams = z.output<typeof archiveCreateParams>;

export interface DeletedArchive {
  name: string;
  path: string;
  bytes: number;
}

export interface ArchiveCreateResult {
  /** The archive written (its checksum file is `<path>.sha256`). */
  path: string;
  name: string;
  /** Compressed size. */
  bytes: number;
  files: number;
  directories: number;
  /** Uncompressed size of the archived file contents. */
  sourceBytes: number;
  sha256: string;
  /** Always true in a result: an archive that fails its read-back check is never kept. */
  verified: boolean;
  /** `pigz` when the machine has it, else gzip in Lifeboat's own process. */
  compressor: ArchiveCompressor;
  deleted: DeletedArchive[];
  durationMs: number;
}

interface CreateSetup {
  base: string;
  destination: string;
  name: string;
  finalPath: string;
  sources: SourceTree;
  destinationInsideSources: boolean;
  pigz: string | undefined;
}

/** What plan and run share: resolved folders, the name for now, and the files that would be read. */
async function prepare(params: ArchiveCreateParams, ctx: ActionContext, now: Date): Promise<CreateSetup> {
  const base = resolveUserPath(params.base ?? '.', ctx.workspaceDir);
  const destination = resolveUserPath(params.destination, ctx.workspaceDir);
  const baseStats = await stat(base).catch(() => undefined);
  if (!baseStats?.isDirectory()) throw new Error(`base folder ${base} does not exist or is not a folder`);
  const name = formatArchiveName(params.namePattern, params.prefix, now);
  const finalPath = path.join(destination, name);
  if (await pathExists(finalPath)) throw new FileExistsError(finalPath);
  const destinationInsideSources = params.paths.some((entry) => isInsideOrEqual(path.resolve(base, entry), destination));
  const sources = await collectSources({
    base,
    paths: params.paths,
    isExcluded: compileExcludes(params.exclude),
    // Archiving the destination into itself would grow every archive by all earlier ones.
    skip: [destination],
    signal: ctx.signal,
    onSkipped: (relativePath, reason) => ctx.log.warn(`skipping ${relativePath}: ${reason}`),
  });
  return { base, destination, name, finalPath, sources, destinationInsideSources, pigz: await findPigz() };
}

async function retentionVictims(params: ArchiveCreateParams, destination: string, newName: string): Promise<RetentionCandidate[]> {
  if (params.keep === undefined) return [];
  const existing = await findRetentionCandidates(destination, params.namePattern, params.prefix);
  return selectForDeletion(existing, params.keep, newName);
}

/**
 * The sources the plan listed, for the run that follows it: it archives what the plan showed, without
 * walking the folders again (on a large tree the longest part before the first byte is compressed).
 * What was removed meanwhile is left out with a warning (see packArchive).
 */
class PlannedArchive {
  constructor(readonly setup: CreateSetup) {}

  dispose(): void {}
}

async function planCreate(params: ArchiveCreateParams, ctx: ActionContext): Promise<ActionPlan> {
  const setup = await prepare(params, ctx, new Date());
  ctx.handOver?.give(new PlannedArchive(setup));
  // The archive does not exist yet; retention is previewed as if it did (it always counts as kept).
  const victims = await retentionVictims(params, setup.destination, setup.name);
  const operations: PlannedOperation[] = [
    ...setup.sources.roots.map((root) => ({ kind: 'read' as const, target: root.path, items: root.files, bytes: root.bytes })),
    {
      kind: 'create',
      target: setup.finalPath,
      items: setup.sources.files,
      bytes: setup.sources.bytes,
      detail: `gzip level ${params.level}${setup.pigz ? ' by pigz' : ''}, with ${path.basename(sidecarPath(setup.finalPath))}, ${setup.pigz ? 'read back as pigz writes it, its gzip trailer checked' : 'verified by reading it back'}`,
    },
    ...victims.map((victim) => ({ kind: 'delete' as const, target: victim.path, bytes: victim.bytes, detail: `retention keep ${params.keep}, with its .sha256` })),
  ];
  const skipped = setup.destinationInsideSources ? ` (the destination folder inside the sources is left out)` : '';
  const retention = victims.length > 0 ? `, then delete ${victims.length} older archive(s)` : '';
  return {
    summary: `Archive ${setup.sources.files} files (${formatBytes(setup.sources.bytes)}) into ${setup.name}${skipped}${retention}`,
    operations,
    destructive: victims.length > 0,
  };
}

/**
 * Proves the file this process compressed is the archive that was written, before anything relies
 * on it: read back through gunzip and a tar parser, it must give the same sha256 and entries. (A file
 * pigz wrote was read back and hashed as it was written, and its gzip trailer checked against the
 * tar stream, by writeArchive.)
 */
async function checkReadBack(filePath: string, name: string, written: ArchiveWriteResult, signal: AbortSignal, onBytesRead: (bytes: number) => void): Promise<void> {
  const read = await readArchive(filePath, { signal, onBytesRead });
  if (read.sha256 !== written.sha256 || read.entries !== written.entries) {
    throw new Error(`read-back verification of ${name} failed: wrote ${written.entries} entries with sha256 ${written.sha256}, read ${read.entries} entries with sha256 ${read.sha256}`);
  }
}

async function runCreate(params: ArchiveCreateParams, ctx: ActionContext): Promise<ArchiveCreateResult> {
  const started = performance.now();
  const { signal, log } = ctx;
  const setup = ctx.handOver?.take(PlannedArchive)?.setup ?? (await prepare(params, ctx, new Date()));
  const { sources, name, finalPath, destination } = setup;
  // One writer: another run's retention must not delete what this one is about to report, nor this one's its.
  const lock = await lockLocation(folderLockStore(destination), 'archive.create', ctx);
  try {
    await makeFolders(destination);
    if (setup.destinationInsideSources) log.info(`leaving the destination folder ${destination} out of the archive`);
    log.info(`archiving ${sources.files} files (${formatBytes(sources.bytes)}) from ${setup.base} into ${finalPath}, gzip by ${setup.pigz ?? 'Lifeboat (no pigz on the PATH)'}`);

    const progress = new ThrottledProgress(ctx.progress);
    const temporaryPath = temporarySibling(finalPath);
    let published = false;
    let written: ArchiveWriteResult;
    try {
      written = await writeArchive({
        base: setup.base,
        entries: sources.entries,
        level: params.level,
        outputPath: temporaryPath,
        reportedPath: finalPath,
        pigz: setup.pigz,
        signal,
        onProgress: (tarBytes, entries) =>
          progress.update({
            message: `Compressing ${name}`,
            items: entries,
            totalItems: sources.entries.length,
            bytes: Math.min(tarBytes, sources.tarBytes),
            totalBytes: sources.tarBytes,
          }),
        onWarning: (message) => log.warn(message),
      });
      progress.flush({ items: written.entries, bytes: sources.tarBytes });

      if (written.compressor === 'in-process') {
        // Read back what reached the disk before anything relies on it (retention above all).
        log.debug(`reading back ${temporaryPath} to verify it`);
        await checkReadBack(temporaryPath, name, written, signal, (read) => progress.update({ message: `Verifying ${name}`, bytes: read, totalBytes: written.bytes }));
        progress.flush({ bytes: written.bytes });
      }

      throwIfAborted(signal);
      lock.assertHeld();
      await publishWithoutOverwrite(temporaryPath, finalPath);
      published = true;
      // A stale sidecar without its archive describes nothing; the archive name was free, so replace it.
      await writeFileAtomically(sidecarPath(finalPath), formatSidecar(written.sha256, name), { overwrite: true });
      await fsyncDirectory(destination);
      // Last point at which a cancel undoes the run; after this the archive is kept.
      throwIfAborted(signal);
    } catch (error) {
      await removeIfPresent(temporaryPath);
      if (published) {
        await unlinkIfPresent(finalPath);
        await unlinkIfPresent(sidecarPath(finalPath));
      }
      throw cancellationOr(error, signal);
    }
    log.info(`wrote and verified ${finalPath} (${formatBytes(written.bytes)}, sha256 ${written.sha256})`);

    try {
      await updateVerifiedState(destination, { [name]: { verifiedAt: new Date().toISOString(), ok: true, sha256: written.sha256, bytes: written.bytes } });
    } catch (error) {
      log.warn(`could not record the verification of ${name} in ${destination}: ${errorMessage(error)}`);
    }

    const deleted: DeletedArchive[] = [];
    if (params.keep !== undefined) {
      // Runs to completion once started: it is a handful of unlinks, and stopping halfway helps nobody.
      try {
        lock.assertHeld();
        const victims = await retentionVictims(params, destination, name);
        await deleteArchives(destination, victims);
        for (const victim of victims) {
          log.info(`retention (keep ${params.keep}): deleted ${victim.path}`);
          deleted.push({ name: victim.name, path: victim.path, bytes: victim.bytes });
        }
      } catch (error) {
        throw new Error(`${finalPath} was created and verified, but retention failed: ${errorMessage(error)}`, { cause: error });
      }
    }

    return {
      path: finalPath,
      name,
      bytes: written.bytes,
      files: written.files,
      directories: written.directories,
      sourceBytes: sources.bytes,
      sha256: written.sha256,
      verified: true,
      compressor: written.compressor,
      deleted,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await lock.release();
  }
}

function renderCreate(result: ArchiveCreateResult): string {
  const summary = markdownTable(
    ['Archive', 'Size', 'Files', 'Contents', 'SHA-256', 'Verified', 'Took'],
    [[result.name, formatBytes(result.bytes), result.files, formatBytes(result.sourceBytes), `\`${result.sha256}\``, result.verified ? 'yes' : 'no', formatDuration(result.durationMs)]],
  );
  if (result.deleted.length === 0) return `${summary}\n\nWritten to \`${result.path}\`.`;
  const deleted = markdownTable(['Deleted by retention', 'Size'], result.deleted.map((archive) => [archive.name, formatBytes(archive.bytes)]));
  return `${summary}\n\nWritten to \`${result.path}\`.\n\n${deleted}`;
}

export const archiveCreate = defineAction({
  id: 'archive.create',
  title: 'Create archive',
  description: 'Writes a verified tar.gz of files and folders with a sha256 file next to it, and optionally keeps only the newest N archives.',
  params: archiveCreateParams,
  destructive: true,
  plan: planCreate,
  run: runCreate,
  render: renderCreate,
});
