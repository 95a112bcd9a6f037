import { createWriteStream } from 'node:fs';
import { chmod, link, lutimes, symlink, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ReadEntry } from 'tar';
import { makeFolders, pathExists, unlinkIfPresent } from '../../core/atomicFiles';
import { writingTo } from '../../core/errors';
import { ArchiveLayout } from './archiveLayout';
import { judgeEntry, quoteEntryPath, type RestoreEntry } from './entrySafety';
import { readArchive } from './readArchive';

/**
 * The second pass of a restore: extract into a private staging folder that nothing else reads.
 * Written here rather than with node-tar's `Unpack` so that the entries written are exactly the
 * ones the first pass judged (with the same checks, in case the archive changed in between), no
 * more bytes are written than the first pass counted, cancellation is prompt, and "done" means
 * every file is closed (the staging folder can then be moved or removed safely). A write that
 * fails (disk full, file too large) names the file by its path in the target.
 */

export interface StagingRequest {
  archivePath: string;
  /** Empty folder to extract into. */
  stagingTree: string;
  /** Where the tree goes once extracted: errors name files there, where a person looks for them. */
  target: string;
  /** Bytes of file contents the first pass counted; an archive that holds more has changed. */
  declaredBytes: number;
  strip: number;
  /** The digest the first pass saw: the archive must not change between the passes. */
  expectedSha256: string;
  signal: AbortSignal;
  onProgress?: (files: number, bytes: number) => void;
}

export interface StagingResult {
  files: number;
  bytes: number;
}

const WRITE_BUFFER_BYTES = 256 * 1024;
/** Setuid/setgid bits are dropped: ownership is not restored, so they would attach to whoever restores (often root). */
const RESTORED_MODE_BITS = 0o1777;

export async function extractToStaging(request: StagingRequest): Promise<StagingResult> {
  const result: StagingResult = { files: 0, bytes: 0 };
  const createdFolders = new Set<string>();
  // Folder modes and times are applied last: a read-only folder must not block its own contents,
  // and writing its contents would move its mtime.
  const folderMetadata: { folder: string; shown: string; mode?: number; mtime?: Date }[] = [];

  // The first pass checked the whole archive, but the file could be swapped before this pass
  // (the digest check at the end notices, too late to stop a write): never write through a link.
  const linksWritten = new Set<string>();
  const throughLink = (parts: readonly string[]) => parts.slice(0, -1).some((_, index) => linksWritten.has(parts.slice(0, index + 1).join('/')));

  const ensureFolder = async (folder: string) => {
    if (createdFolders.has(folder)) return;
    await makeFolders(folder);
    createdFolders.add(folder);
  };

  const layout = new ArchiveLayout(Buffer.byteLength(request.stagingTree));
  /** What the first pass would have refused, had it seen this entry: the archive has changed since. */
  const changeSeen = (restore: RestoreEntry): string | undefined => {
    const unwritable = layout.place(restore);
    if (unwritable !== undefined) return unwritable;
    const linkTarget = restore.kind === 'hardlink' ? (restore.linkpath ?? '').split('/') : [];
    if (throughLink(restore.parts) || throughLink(linkTarget)) return `${quoteEntryPath(restore.path)} leads through a symbolic link`;
    // A tar entry's body is exactly the size its header declares, so this bounds what is written.
    if (restore.kind === 'file' && result.bytes + restore.size > request.declaredBytes) return `its files hold more than the ${request.declaredBytes} bytes counted when it was checked`;
    return undefined;
  };
  const shown = (parts: readonly string[]) => path.join(request.target, ...parts);

  const read = await readArchive(request.archivePath, {
    signal: request.signal,
    onEntry: async (entry, abort) => {
      const verdict = judgeEntry(entry, request.strip);
      if (!('restore' in verdict)) {
        entry.resume();
        // The first pass refused any problem, so one here means the archive changed in between.
        if ('problem' in verdict) throw new ArchiveChangedError(verdict.problem);
        return;
      }
      const restore = verdict.restore;
      const problem = changeSeen(restore);
      if (problem !== undefined) {
        entry.resume();
        throw new ArchiveChangedError(problem);
      }
      if (restore.kind === 'symlink') linksWritten.add(restore.path);
      const destination = path.join(request.stagingTree, ...restore.parts);
      if (restore.kind === 'directory') {
        entry.resume();
        await writingTo(shown(restore.parts), () => ensureFolder(destination));
        folderMetadata.push({ folder: destination, shown: shown(restore.parts), mode: restore.mode, mtime: restore.mtime });
        return;
      }
      await writingTo(shown(restore.parts.slice(0, -1)), () => ensureFolder(path.dirname(destination)));
      if (restore.kind === 'file') {
        await writingTo(shown(restore.parts), () => writeFile(entry, restore, destination, abort));
        result.bytes += restore.size;
      } else {
        entry.resume();
        await writingTo(shown(restore.parts), () => writeLink(restore, destination, request.stagingTree));
      }
      result.files++;
      request.onProgress?.(result.files, result.bytes);
    },
  });
  if (read.sha256 !== request.expectedSha256) {
    throw new ArchiveChangedError(`sha256 was ${request.expectedSha256}, now ${read.sha256}`);
  }
  for (const { folder, shown: folderShown, mode, mtime } of folderMetadata.reverse()) {
    await writingTo(folderShown, async () => {
      if (mode !== undefined) await chmod(folder, mode & RESTORED_MODE_BITS);
      if (mtime !== undefined) await utimes(folder, mtime, mtime);
    });
  }
  return result;
}

/** The archive differs from the one the first pass checked (it was replaced or is being written). */
export class ArchiveChangedError extends Error {
  constructor(problem: string) {
    super(`archive changed while restoring: ${problem}`);
    this.name = 'ArchiveChangedError';
  }
}

async function writeFile(entry: ReadEntry, restore: RestoreEntry, destination: string, abort: AbortSignal): Promise<void> {
  const mode = (restore.mode ?? 0o644) & RESTORED_MODE_BITS;
  // 'wx' never follows or reuses whatever is at the path: the file is always a new one. A path
  // repeated in an archive replaces the earlier copy, as tar does.
  if (await pathExists(destination)) await unlink(destination);
  await pipeline(entry, createWriteStream(destination, { flags: 'wx', mode, highWaterMark: WRITE_BUFFER_BYTES }), { signal: abort });
  // The mode given to open() is narrowed by the umask; restore it exactly. By path, because the
  // staging tree is private to this run and holds no links above this file.
  await chmod(destination, mode);
  if (restore.mtime) await utimes(destination, restore.mtime, restore.mtime);
}

async function writeLink(restore: RestoreEntry, destination: string, stagingTree: string): Promise<void> {
  await unlinkIfPresent(destination);
  if (restore.kind === 'symlink') {
    await symlink(restore.linkpath ?? '', destination);
    if (restore.mtime) await lutimes(destination, restore.mtime, restore.mtime);
  } else {
    await link(path.join(stagingTree, ...(restore.linkpath ?? '').split('/')), destination);
  }
}
