/**
 * A snapshot's whole tree, read once in the background by a single `restic ls --recursive` from the
 * moment its first folder is opened, so the folders opened after it need no restic run of their own.
 * Each restic run costs the repository key's derivation (scrypt, about half a second of CPU) before it
 * reads anything; a listing from the index costs nothing. Until the index is read, and for trees too
 * large to hold, folders are listed one at a time as before. Only a surface that goes on listing
 * reads ahead (not `lifeboat ls`, which lists once and exits); the read keeps no process alive and
 * takes no lock in the repository.
 */
import { posix } from 'node:path';
import type { ResticNode, ResticRepository } from '../../clients/restic';
import type { BrowseSession } from '../../core/browse/model';

/** Nodes held at most (about 300 bytes each); a larger snapshot is browsed one folder at a time. */
const MAX_INDEXED_NODES = 250_000;

/** Folders first, then by name, as every listing shows them. */
export function folderOrder(a: ResticNode, b: ResticNode): number {
  if ((a.type === 'dir') !== (b.type === 'dir')) return a.type === 'dir' ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

class TooLarge extends Error {}

export class SnapshotTreeIndex {
  private readonly stop = new AbortController();
  private folders: Map<string, ResticNode[]> | undefined;
  private reading: Promise<void> | undefined;

  /**
   * Starts reading the tree, once; the promise settles when the index is read, or known not to be
   * (too large, failed, stopped). Started after the first folder is listed, so that listing has the
   * machine to itself.
   */
  read(repository: ResticRepository, snapshotId: string): Promise<void> {
    this.reading ??= this.readTree(repository, snapshotId).catch(() => {
      // Folders are then listed one at a time, each failure reported where it happens.
    });
    return this.reading;
  }

  private async readTree(repository: ResticRepository, snapshotId: string): Promise<void> {
    const folders = new Map<string, ResticNode[]>([['/', []]]);
    let count = 0;
    const stop = this.stop;
    await repository.ls(snapshotId, {
      recursive: true,
      background: true,
      signal: stop.signal,
      onNode: (node) => {
        if (++count > MAX_INDEXED_NODES) {
          if (!stop.signal.aborted) stop.abort(new TooLarge());
          return;
        }
        if (node.type === 'dir' && !folders.has(node.path)) folders.set(node.path, []);
        const parent = posix.dirname(node.path);
        const siblings = folders.get(parent);
        if (siblings) siblings.push(node);
        else folders.set(parent, [node]);
      },
    });
    for (const entries of folders.values()) entries.sort(folderOrder);
    this.folders = folders;
  }

  /** The entries of `path` once the index is read; undefined before, or for a path that is no folder of the snapshot. */
  folder(path: string): ResticNode[] | undefined {
    return this.folders?.get(path);
  }
}

/**
 * The index of this snapshot, kept as long as the surface's listings are (until a refresh); it reads
 * the tree once asked to. None for a surface that does not read ahead, nor where restic runs on
 * another host: the read would end with the connection of the listing that started it.
 */
export function snapshotTreeIndex(session: BrowseSession, listingPath: string, repository: ResticRepository): Promise<SnapshotTreeIndex | undefined> {
  if (!session.readAhead || repository.config.runner?.where) return Promise.resolve(undefined);
  // A key no listing has (no node path holds an empty segment), under the snapshot's so that forgetting the snapshot forgets it.
  return session.cached(`${listingPath}//tree`, async () => new SnapshotTreeIndex());
}
