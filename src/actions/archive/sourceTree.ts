import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted } from '../../core/errors';
import type { ExcludeMatcher } from './excludeGlobs';
import { isInsideOrEqual, toPosixPath } from '../paths';
import { lstatIfPresent } from '../../core/atomicFiles';

/**
 * What `archive.create` will read: the given paths below a base folder, walked depth-first in
 * name order (deterministic archives, folders before their contents), minus excludes. Only
 * relative paths are kept, so a large tree costs a string per entry, not a `Stats` object.
 */

export interface SourceSelection {
  base: string;
  paths: readonly string[];
  isExcluded: ExcludeMatcher;
  /** Absolute paths never to include (the destination folder when it lies inside a source). */
  skip: readonly string[];
  signal: AbortSignal;
  onSkipped?: (relativePath: string, reason: string) => void;
}

export interface SourceTree {
  /** Entry paths relative to the base, `/`-separated, in archive order. */
  entries: string[];
  files: number;
  directories: number;
  /** Bytes of regular file contents. */
  bytes: number;
  /** Size of the uncompressed tar stream (headers, padding, end marker; long names aside). */
  tarBytes: number;
  /** Per requested path, for the plan. */
  roots: SourceRoot[];
}

export interface SourceRoot {
  path: string;
  files: number;
  bytes: number;
}

const TAR_BLOCK = 512;
const TAR_END_MARKER_BYTES = 2 * TAR_BLOCK;

/** Parallel lstat calls per folder: enough to hide latency, few enough to stay polite. */
const STAT_BATCH = 64;

export async function collectSources(selection: SourceSelection): Promise<SourceTree> {
  const tree: SourceTree = { entries: [], files: 0, directories: 0, bytes: 0, tarBytes: TAR_END_MARKER_BYTES, roots: [] };
  for (const root of topLevelPaths(selection)) {
    throwIfAborted(selection.signal);
    const before = { files: tree.files, bytes: tree.bytes };
    let stats;
    try {
      stats = await lstat(root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`path to archive does not exist: ${root}`);
      throw error;
    }
    if (root === selection.base) {
      await walkDirectory(root, '', selection, tree);
    } else {
      await addEntry(toPosixPath(path.relative(selection.base, root)), root, stats, selection, tree);
    }
    tree.roots.push({ path: root, files: tree.files - before.files, bytes: tree.bytes - before.bytes });
  }
  return tree;
}

/** The requested paths, absolute, each inside the base, with paths nested in another one dropped. */
function topLevelPaths(selection: SourceSelection): string[] {
  const roots = selection.paths.map((entry) => {
    const absolute = path.resolve(selection.base, entry);
    if (!isInsideOrEqual(selection.base, absolute)) {
      throw new Error(`path to archive '${entry}' is outside the base folder ${selection.base}`);
    }
    return absolute;
  });
  const unique = [...new Set(roots)].sort();
  return unique.filter((root) => !unique.some((other) => other !== root && isInsideOrEqual(other, root)));
}

async function addEntry(relativePath: string, absolutePath: string, stats: Stats, selection: SourceSelection, tree: SourceTree): Promise<void> {
  if (selection.skip.some((skipped) => isInsideOrEqual(skipped, absolutePath))) return;
  if (selection.isExcluded(relativePath, stats.isDirectory())) return;
  if (stats.isDirectory()) {
    tree.entries.push(relativePath);
    tree.directories++;
    tree.tarBytes += TAR_BLOCK;
    await walkDirectory(absolutePath, relativePath, selection, tree);
  } else if (stats.isFile() || stats.isSymbolicLink()) {
    tree.entries.push(relativePath);
    tree.files++;
    tree.tarBytes += TAR_BLOCK;
    if (stats.isFile()) {
      tree.bytes += stats.size;
      tree.tarBytes += Math.ceil(stats.size / TAR_BLOCK) * TAR_BLOCK;
    }
  } else {
    selection.onSkipped?.(relativePath, 'not a regular file, folder or symbolic link');
  }
}

async function walkDirectory(absolutePath: string, relativePath: string, selection: SourceSelection, tree: SourceTree): Promise<void> {
  throwIfAborted(selection.signal);
  const names = (await readdir(absolutePath)).sort();
  for (let start = 0; start < names.length; start += STAT_BATCH) {
    const batch = names.slice(start, start + STAT_BATCH);
    const stats = await Promise.all(batch.map((name) => lstatIfPresent(path.join(absolutePath, name))));
    for (const [index, name] of batch.entries()) {
      const entryStats = stats[index];
      // Gone between listing and stat (a rotated log, a temp file): nothing to archive.
      if (!entryStats) continue;
      const childRelative = relativePath === '' ? name : `${relativePath}/${name}`;
      await addEntry(childRelative, path.join(absolutePath, name), entryStats, selection, tree);
    }
  }
}
