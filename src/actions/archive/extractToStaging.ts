import { createWriteStream } from 'node:fs';
import { chmod, link, lutimes, mkdir, symlink, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ReadEntry } from 'tar';
import { pathExists, unlinkIfPresent } from '../../core/atomicFiles';
import { judgeEntry, type RestoreEntry } from './entrySafety';
import { readArchive } from './readArchive';

/**
 * The second pass of a restore: extract into a private staging folder that nothing else reads.
 * Written here rather than with node-tar's `Unpack` so that the entries written are exactly the
 * ones the first pass judged, cancellation is prompt, and "done" means every file is closed
 * (the staging folder can then be moved or removed safely).
 */

export interface StagingRequest {
  archivePath: string;
  /** Empty folder to extract into. */
  stagingTree: string;
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
  const folderMetadata: { folder: string; mode?: number; mtime?: Date }[] = [];

  // The first pass checked the whole archive, but the file could be swapped before this pass
  // (the digest check at the end notices, too late to stop a write): never write through a link.
  const linksWritten = new Set<string>();
  const throughLink = (parts: readonly string[]) => parts.slice(0, -1).some((_, index) => linksWritten.has(parts.slice(0, index + 1).join('/')));

  const ensureFolder = async (folder: string) => {
    if (createdFolders.has(folder)) return;
    await mkdir(folder, { recursive: true });
    createdFolders.add(folder);
  };

  const read = await readArchive(request.archivePath, {
    signal: request.signal,
    onEntry: async (entry, abort) => {
      const verdict = judgeEntry(entry, request.strip);
      if (!('restore' in verdict)) {
        entry.resume();
        // The first pass refused any problem, so one here means the archive changed in between.
        if ('problem' in verdict) throw new Error(`archive changed while restoring: ${verdict.problem}`);
        return;
      }
      const restore = verdict.restore;
      const linkTarget = restore.kind === 'hardlink' ? (restore.linkpath ?? '').split('/') : [];
      if (throughLink(restore.parts) || throughLink(linkTarget)) {
        entry.resume();
        throw new Error(`archive changed while restoring: '${restore.path}' leads through a symbolic link`);
      }
      if (restore.kind === 'symlink') linksWritten.add(restore.path);
      const destination = path.join(request.stagingTree, ...restore.parts);
      if (restore.kind === 'directory') {
        entry.resume();
        await ensureFolder(destination);
        folderMetadata.push({ folder: destination, mode: restore.mode, mtime: restore.mtime });
        return;
      }
      await ensureFolder(path.dirname(destination));
      if (restore.kind === 'file') {
        await writeFile(entry, restore, destination, abort);
        result.bytes += restore.size;
      } else {
        entry.resume();
        await writeLink(restore, destination, request.stagingTree);
      }
      result.files++;
      request.onProgress?.(result.files, result.bytes);
    },
  });
  if (read.sha256 !== request.expectedSha256) {
    throw new Error(`archive changed while restoring: sha256 was ${request.expectedSha256}, now ${read.sha256}`);
  }
  for (const { folder, mode, mtime } of folderMetadata.reverse()) {
    if (mode !== undefined) await chmod(folder, mode & RESTORED_MODE_BITS);
    if (mtime !== undefined) await utimes(folder, mtime, mtime);
  }
  return result;
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
