/**
 * What a restic repository holds, read the way the browse model and the actions need it: snapshots
 * newest first, and a snapshot's folders one level at a time (restic reads only the trees on the way
 * to the folder asked for, so a click on a deep folder never lists the whole snapshot).
 */
import { posix } from 'node:path';
import type { ResticNode, ResticRepository, ResticSnapshot } from '../../clients/restic';
import { folderOrder } from './treeIndex';

/** A path inside a snapshot: absolute, `/`-separated, no `.`/`..` segments, no NUL. */
export function snapshotPath(path: string): string {
  if (path.includes('\0')) throw new Error('a path inside a snapshot cannot hold a NUL byte');
  if (!path.startsWith('/')) throw new Error(`'${path}' is not a path inside a snapshot: it starts with /`);
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) throw new Error(`'${path}' is not a path inside a snapshot: no . or .. segments`);
  return `/${segments.join('/')}`;
}

/** Snapshots, newest first. */
export async function snapshotsNewestFirst(repository: ResticRepository, filter: { host?: string; tags?: string[]; paths?: string[] }, signal: AbortSignal): Promise<ResticSnapshot[]> {
  const snapshots = await repository.snapshots(filter, { signal });
  return snapshots.sort((a, b) => (a.time === b.time ? 0 : a.time < b.time ? 1 : -1));
}

export interface FolderListing {
  snapshot: ResticSnapshot;
  /** The folder listed. */
  path: string;
  /** Its entries, folders first, then by name. */
  entries: ResticNode[];
}

/**
 * The entries directly inside `folder` of `snapshot`; a path that is a file lists that file alone. A
 * path the snapshot does not have fails, naming it.
 */
export async function listFolder(repository: ResticRepository, snapshot: string, folder: string, signal: AbortSignal): Promise<FolderListing> {
  const path = snapshotPath(folder);
  const entries: ResticNode[] = [];
  let found = path === '/';
  const listed = await repository.ls(snapshot, {
    paths: [path],
    signal,
    onNode: (node) => {
      if (node.path === path) {
        found = true;
        if (node.type !== 'dir') entries.push(node);
      } else if (posix.dirname(node.path) === path) entries.push(node);
    },
  });
  if (!listed.snapshot) throw new Error(`restic listed no snapshot ${snapshot}`);
  if (!found) throw new Error(`snapshot ${listed.snapshot.shortId} has no ${path}`);
  entries.sort(folderOrder);
  return { snapshot: listed.snapshot, path, entries };
}

/** Everything at and below each of `paths` (a file or a folder), for a restore's plan. Fails for a path the snapshot does not have. */
export async function listBelow(repository: ResticRepository, snapshot: string, paths: readonly string[], signal: AbortSignal, onNode: (node: ResticNode) => void): Promise<ResticSnapshot> {
  const wanted = paths.map(snapshotPath);
  const seen = new Set<string>();
  const listed = await repository.ls(snapshot, {
    paths: wanted,
    recursive: true,
    signal,
    onNode: (node) => {
      if (wanted.includes(node.path)) seen.add(node.path);
      if (wanted.some((path) => path === '/' || node.path === path || node.path.startsWith(`${path}/`))) onNode(node);
    },
  });
  if (!listed.snapshot) throw new Error(`restic listed no snapshot ${snapshot}`);
  const missing = wanted.filter((path) => path !== '/' && !seen.has(path));
  if (missing.length > 0) throw new Error(`snapshot ${listed.snapshot.shortId} has no ${missing.join(', ')}`);
  return listed.snapshot;
}

/** Size and file count of a snapshot, where the repository records them (snapshots made by restic 0.17 and later). */
export function snapshotTotals(snapshot: ResticSnapshot): { files?: number; bytes?: number } {
  return { files: snapshot.summary?.totalFilesProcessed, bytes: snapshot.summary?.totalBytesProcessed };
}
