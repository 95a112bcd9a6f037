import { quoteEntryPath, type RestoreEntry, type RestoreEntryKind } from './entrySafety';

/**
 * What an archive's entries make of the paths below the target, checked entry by entry as they
 * stream past. It finds every entry a restore could not write: a file and a folder at one path
 * (in either order, or a file where a later path needs a folder), one path repeated as two kinds
 * of entry, a hard link to an entry that is not written before it (or to a folder, or to itself),
 * and names longer than a file system takes. The check pass of a restore (and so its plan) and the
 * extraction use this one class, so the plan refuses exactly what the run could not write.
 * Symbolic links on the way to an entry are `LinkEscapeCheck`'s to judge.
 */

/** Linux's limits: one name in a path, and a whole path handed to a system call (with its NUL). */
export const NAME_MAX_BYTES = 255;
export const PATH_MAX_BYTES = 4096;
/**
 * Every path seen is kept until the end of the archive; a bound keeps a hostile archive from
 * filling memory with names. A million paths is far beyond a folder backup or a face library.
 */
export const MAX_PATHS = 1_000_000;

type Occupant = RestoreEntryKind | 'implied-directory';

const KIND_NAMES: Readonly<Record<Occupant, string>> = {
  file: 'file',
  directory: 'folder',
  'implied-directory': 'folder',
  symlink: 'symbolic link',
  hardlink: 'hard link',
};

export class ArchiveLayout {
  readonly #occupants = new Map<string, Occupant>();

  /** `pathBytesAbove`: the longest folder path any entry is written below (the staging folder's). */
  constructor(private readonly pathBytesAbove: number) {}

  /** Records the entry; returns why a restore could not write it, or undefined when it can. */
  place(entry: RestoreEntry): string | undefined {
    if (this.full) return `the archive names more than ${MAX_PATHS.toLocaleString('en-US')} paths (entries and the folders they are in), the most a restore takes`;
    const label = quoteEntryPath(entry.path);
    const tooLong = this.#lengthProblem(entry);
    if (tooLong !== undefined) return `${label}: ${tooLong}`;

    for (let slash = entry.path.indexOf('/'); slash !== -1; slash = entry.path.indexOf('/', slash + 1)) {
      const folder = entry.path.slice(0, slash);
      const occupant = this.#occupants.get(folder);
      if (occupant === undefined) this.#occupants.set(folder, 'implied-directory');
      else if (occupant === 'file' || occupant === 'hardlink') return `${label}: ${quoteEntryPath(folder)} is a ${KIND_NAMES[occupant]} earlier in the archive, so it cannot be a folder`;
    }

    const occupant = this.#occupants.get(entry.path);
    if (occupant !== undefined && occupant !== entry.kind && !(entry.kind === 'directory' && occupant === 'implied-directory')) {
      return `${label}: the archive has both a ${KIND_NAMES[occupant]} and a ${KIND_NAMES[entry.kind]} at this path`;
    }
    if (entry.kind === 'hardlink') {
      const problem = this.#hardLinkProblem(entry.path, entry.linkpath ?? '');
      if (problem !== undefined) return `${label}: ${problem}`;
    }
    this.#occupants.set(entry.path, entry.kind);
    return undefined;
  }

  /** No more paths are taken: the archive must be refused, and reading it further is pointless. */
  get full(): boolean {
    return this.#occupants.size >= MAX_PATHS;
  }

  #lengthProblem(entry: RestoreEntry): string | undefined {
    const longName = entry.parts.find((part) => Buffer.byteLength(part) > NAME_MAX_BYTES);
    if (longName !== undefined) return `a name in this path is ${Buffer.byteLength(longName)} bytes long, more than the ${NAME_MAX_BYTES} a file system takes`;
    const pathBytes = this.pathBytesAbove + 1 + Buffer.byteLength(entry.path);
    if (pathBytes >= PATH_MAX_BYTES) return `the path would be ${pathBytes} bytes long where it is written, more than the ${PATH_MAX_BYTES - 1} a file system takes`;
    if (entry.kind === 'symlink' && Buffer.byteLength(entry.linkpath ?? '') >= PATH_MAX_BYTES) {
      return `the symbolic link's target is ${Buffer.byteLength(entry.linkpath ?? '')} bytes long, more than the ${PATH_MAX_BYTES - 1} a file system takes`;
    }
    return undefined;
  }

  /** link(2) needs an existing file (or link) to link to: one written earlier, never a folder. */
  #hardLinkProblem(linkPath: string, target: string): string | undefined {
    const quoted = quoteEntryPath(target);
    if (target === linkPath) return `hard link to itself`;
    const occupant = this.#occupants.get(target);
    if (occupant === undefined) return `hard link to ${quoted}, which is not an entry before it in the archive`;
    if (occupant === 'directory' || occupant === 'implied-directory') return `hard link to the folder ${quoted}`;
    return undefined;
  }
}
