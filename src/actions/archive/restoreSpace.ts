import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes, printable } from '../../core/render';
import type { RestoreEntry } from './entrySafety';

/**
 * Whether what an archive expands to fits where it is restored, decided from the sizes its headers
 * declare before anything is written: a small archive can expand a thousandfold (a "tar bomb"),
 * and a disk filled by a restore stops whatever else uses it.
 */

/** A restore leaves this much of the file system free: 1 % of it, at most 64 MiB. */
const RESERVE_FRACTION = 0.01;
const RESERVE_CAP_BYTES = 64 * 1024 * 1024;

export interface SpaceEstimate {
  /** File contents as the headers declare them. */
  contentBytes: number;
  /** What they take on disk: whole blocks per file, one block per folder or link. */
  neededBytes: number;
  /** Files, folders and links to create (each takes an inode). */
  inodes: number;
}

export class SpaceTally implements SpaceEstimate {
  contentBytes = 0;
  neededBytes = 0;
  inodes = 0;

  constructor(private readonly blockSize: number) {}

  add(entry: RestoreEntry): void {
    this.inodes++;
    if (entry.kind === 'file') {
      this.contentBytes += entry.size;
      this.neededBytes += Math.ceil(entry.size / this.blockSize) * this.blockSize;
    } else {
      this.neededBytes += this.blockSize;
    }
  }
}

export interface TargetFileSystem {
  /** The folder asked (the target, or the nearest folder above it that exists). */
  folder: string;
  blockSize: number;
}

/** The file system a restore into `target` writes to (the target may not exist yet). */
export async function targetFileSystem(target: string): Promise<TargetFileSystem> {
  for (let folder = target; ; folder = path.dirname(folder)) {
    try {
      const stats = await statfs(folder);
      return { folder, blockSize: stats.bsize };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || path.dirname(folder) === folder) throw error;
    }
  }
}

/**
 * Why the restore does not fit (free space, free inodes, `maxBytes`), or nothing when it does.
 * `reclaimableBytes` is freed before extracting (staging folders of killed restores).
 */
export async function spaceProblems(target: string, fileSystem: TargetFileSystem, estimate: SpaceEstimate, options: { maxBytes: number | undefined; reclaimableBytes: number }): Promise<string[]> {
  const { maxBytes, reclaimableBytes } = options;
  const problems: string[] = [];
  if (maxBytes !== undefined && estimate.contentBytes > maxBytes) {
    problems.push(`the archive expands to ${describeBytes(estimate.contentBytes)}, more than maxBytes allows (${maxBytes} bytes)`);
  }
  const stats = await statfs(fileSystem.folder);
  const free = stats.bavail * stats.bsize + reclaimableBytes;
  const reserve = Math.min(RESERVE_CAP_BYTES, Math.ceil(stats.blocks * stats.bsize * RESERVE_FRACTION));
  const usable = Math.max(0, free - reserve);
  if (estimate.neededBytes > usable) {
    problems.push(
      `not enough free space at ${printable(target)}: the archive needs ${formatBytes(estimate.neededBytes)} on disk for ${estimate.contentBytes} bytes of files, and ${formatBytes(free)} is free${reclaimableBytes > 0 ? ` (counting ${formatBytes(reclaimableBytes)} held by staging folders of interrupted restores, removed first)` : ''}, of which a restore leaves ${formatBytes(reserve)} unused`,
    );
  }
  // File systems without an inode limit report none in total.
  if (stats.files > 0 && estimate.inodes > stats.ffree) {
    problems.push(`not enough free inodes at ${printable(target)}: the archive creates ${estimate.inodes} files, folders and links, and ${stats.ffree} are free`);
  }
  return problems;
}

function describeBytes(bytes: number): string {
  return bytes < 1024 ? formatBytes(bytes) : `${formatBytes(bytes)} (${bytes} bytes)`;
}
