import type { ReadEntry } from 'tar';
import { printable } from '../../core/render';

/**
 * Which archive entries a restore may write, decided from the headers alone. A restore refuses
 * the whole archive when any entry is unsafe: an absolute path or a `..` segment, a device or
 * FIFO, a link that points outside the target, or an entry that would be written through a
 * symbolic link. Paths are checked as written (after `strip`) and as stored (before it).
 */

export type RestoreEntryKind = 'file' | 'directory' | 'symlink' | 'hardlink';

export interface RestoreEntry {
  /** Path below the target after `strip`, `/`-separated, without `.` segments. */
  path: string;
  parts: string[];
  kind: RestoreEntryKind;
  size: number;
  mode: number | undefined;
  mtime: Date | undefined;
  /** Symlink: the link text as stored. Hardlink: the linked entry's path after `strip`. */
  linkpath?: string;
}

export type EntryVerdict = { restore: RestoreEntry } | { skip: true } | { problem: string };

const KIND_BY_TYPE: Readonly<Record<string, RestoreEntryKind>> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'directory',
  SymbolicLink: 'symlink',
  Link: 'hardlink',
};

/** Splits a stored path into segments; a problem when it is absolute or climbs with `..`. */
function entryPathParts(stored: string): { parts: string[] } | { problem: string } {
  if (stored.startsWith('/')) return { problem: 'absolute path' };
  const parts = stored.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return { problem: 'path contains ".."' };
  return { parts };
}

/** An archive path as messages show it: quoted, with anything unprintable escaped. */
export function quoteEntryPath(entryPath: string): string {
  return `'${printable(entryPath)}'`;
}

export function judgeEntry(entry: Pick<ReadEntry, 'path' | 'type' | 'size' | 'mode' | 'mtime' | 'linkpath'>, strip: number): EntryVerdict {
  const label = quoteEntryPath(entry.path);
  const kind = KIND_BY_TYPE[entry.type];
  if (kind === undefined) return { problem: `${label}: ${printable(String(entry.type))} entries are not restored` };
  const split = entryPathParts(entry.path);
  if ('problem' in split) return { problem: `${label}: ${split.problem}` };
  const parts = split.parts.slice(strip);
  const restore: RestoreEntry = { path: parts.join('/'), parts, kind, size: entry.size, mode: entry.mode, mtime: entry.mtime };

  if (kind === 'symlink') {
    const target = entry.linkpath ?? '';
    if (target.startsWith('/')) return { problem: `${label}: symbolic link to the absolute path ${quoteEntryPath(target)}` };
    restore.linkpath = target;
  } else if (kind === 'hardlink') {
    const target = entryPathParts(entry.linkpath ?? '');
    if ('problem' in target) return { problem: `${label}: hard link to ${quoteEntryPath(entry.linkpath ?? '')} (${target.problem})` };
    const strippedTarget = target.parts.slice(strip);
    if (strippedTarget.length === 0 && parts.length > 0) return { problem: `${label}: hard link target ${quoteEntryPath(entry.linkpath ?? '')} is removed by strip ${strip}` };
    restore.linkpath = strippedTarget.join('/');
  }
  // Entries whose whole path is stripped away are skipped, as `tar --strip-components` does.
  if (parts.length === 0) return { skip: true };
  return { restore };
}

const MAX_LINK_HOPS = 40;

/**
 * Resolves a path below the target through the archive's own symbolic links, as the kernel
 * would after extraction. Returns false when the path leaves the target (or loops), which a
 * per-link check alone misses: `sub/up -> ..` is harmless, but `sub/x -> up/../..` via it is not.
 */
export function staysInside(parts: readonly string[], symlinks: ReadonlyMap<string, string>): boolean {
  const pending = [...parts];
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) return false;
      resolved.pop();
      continue;
    }
    resolved.push(part);
    const link = symlinks.get(resolved.join('/'));
    if (link === undefined) continue;
    if (++hops > MAX_LINK_HOPS || link.startsWith('/')) return false;
    resolved.pop();
    pending.unshift(...link.split('/'));
  }
  return true;
}

/**
 * Collects what the whole-archive checks need while entries stream past: the symbolic links,
 * the first entry below each folder, and hard link targets; `problems()` runs the checks at the end.
 */
export class LinkEscapeCheck {
  readonly #symlinks = new Map<string, string>();
  readonly #firstEntryBelow = new Map<string, string>();
  readonly #hardlinks: { path: string; target: string }[] = [];

  add(entry: RestoreEntry): void {
    for (let depth = 1; depth < entry.parts.length; depth++) {
      const ancestor = entry.parts.slice(0, depth).join('/');
      if (!this.#firstEntryBelow.has(ancestor)) this.#firstEntryBelow.set(ancestor, entry.path);
    }
    if (entry.kind === 'symlink' && entry.linkpath !== undefined) this.#symlinks.set(entry.path, entry.linkpath);
    if (entry.kind === 'hardlink' && entry.linkpath !== undefined) this.#hardlinks.push({ path: entry.path, target: entry.linkpath });
  }

  problems(): string[] {
    const problems: string[] = [];
    for (const [linkPath, target] of this.#symlinks) {
      const below = this.#firstEntryBelow.get(linkPath);
      if (below !== undefined) problems.push(`${quoteEntryPath(below)}: would be written through the symbolic link ${quoteEntryPath(linkPath)}`);
      const directory = linkPath.split('/').slice(0, -1);
      if (!staysInside([...directory, ...target.split('/')], this.#symlinks)) {
        problems.push(`${quoteEntryPath(linkPath)}: symbolic link to ${quoteEntryPath(target)} resolves outside the target`);
      }
    }
    for (const hardlink of this.#hardlinks) {
      // link(2) does not follow the last component, but it does follow the folders above it.
      const targetParts = hardlink.target.split('/');
      if (!staysInside(targetParts.slice(0, -1), this.#symlinks)) {
        problems.push(`${quoteEntryPath(hardlink.path)}: hard link to ${quoteEntryPath(hardlink.target)} resolves outside the target`);
      }
    }
    return problems;
  }
}
