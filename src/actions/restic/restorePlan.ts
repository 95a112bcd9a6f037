/**
 * What a restic restore would write, file by file, before it runs: what restic itself says with
 * `restore --dry-run` (0.17+), else the snapshot's listing below the paths asked for (restic 0.14 has
 * no dry run). Each file is then looked up in the target, on the machine restic writes to, so the
 * plan says which ones it creates and which it overwrites.
 */
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ResticRepository } from '../../clients/restic';
import { SftpError, type SshConnection } from '../../clients/ssh';
import { listBelow, listFolder } from './listing';

/** How a folder of the target reads: names to `dir` or `other`, or undefined when it does not exist. */
export type TargetFolderReader = (folder: string) => Promise<Map<string, 'dir' | 'other'> | undefined>;

export function localFolders(): TargetFolderReader {
  return async (folder) => {
    try {
      const entries = await readdir(folder, { withFileTypes: true });
      return new Map(entries.map((entry) => [entry.name, entry.isDirectory() ? 'dir' : 'other'] as const));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  };
}

export function remoteFolders(connection: SshConnection): TargetFolderReader {
  return async (folder) => {
    try {
      const entries = await (await connection.sftp()).readdir(folder);
      return new Map(entries.map((entry) => [entry.name, entry.isDirectory ? 'dir' : 'other'] as const));
    } catch (error) {
      if (error instanceof SftpError && error.noSuchFile) return undefined;
      throw error;
    }
  };
}

export interface PlannedFile {
  /** Where it lands. */
  target: string;
  /** Its path in the snapshot. */
  path: string;
  type: string;
  size?: number;
  action: 'create' | 'overwrite' | 'unchanged';
}

export interface RestorePlanResult {
  /** Files, links and folders to write, in listing order. */
  files: PlannedFile[];
  created: number;
  overwritten: number;
  unchanged: number;
  bytes: number;
  /** How the list was made. */
  source: 'restore --dry-run' | 'ls';
}

/** `/` when the snapshot's paths are at its root (restic's layout for absolute paths), else the one path a relative backup (`.`) was made of. */
export async function originalTarget(repository: ResticRepository, snapshot: string, signal: AbortSignal): Promise<string> {
  const root = await listFolder(repository, snapshot, '/', signal);
  const topNames = new Set(root.entries.map((entry) => entry.name));
  const { paths } = root.snapshot;
  if (paths.length > 0 && paths.every((path) => topNames.has(path.split('/').filter(Boolean)[0] ?? ''))) return '/';
  const [only] = paths;
  if (paths.length === 1 && only?.startsWith('/')) return only;
  throw new Error(`snapshot ${root.snapshot.shortId} does not say where its files came from (paths ${paths.join(', ') || 'none'}): give a target`);
}

/** restic include patterns are globs: a name with `*`, `?`, `[` or `\` is matched literally once escaped. */
export function literalPattern(path: string): string {
  return path.replace(/[\\*?[]/g, (character) => `\\${character}`);
}

/** Looks each file up in the target, reading every folder once. */
class TargetLookup {
  private readonly folders = new Map<string, Promise<Map<string, 'dir' | 'other'> | undefined>>();

  constructor(private readonly read: TargetFolderReader) {}

  async exists(path: string): Promise<'dir' | 'other' | undefined> {
    const folder = posix.dirname(path);
    let entries = this.folders.get(folder);
    if (!entries) {
      entries = this.read(folder);
      this.folders.set(folder, entries);
    }
    return (await entries)?.get(posix.basename(path));
  }
}

export async function planRestore(
  repository: ResticRepository,
  request: { snapshot: string; target: string; paths: readonly string[]; include: readonly string[] },
  folders: TargetFolderReader,
  signal: AbortSignal,
): Promise<RestorePlanResult> {
  const lookup = new TargetLookup(folders);
  const candidates: { path: string; type: string; size?: number; restic?: string }[] = [];
  let source: RestorePlanResult['source'];
  if (await repository.supportsRestoreDryRun()) {
    source = 'restore --dry-run';
    await repository.restore(request.snapshot, request.target, {
      dryRun: true,
      include: [...request.include],
      signal,
      onItem: (item) => candidates.push({ path: item.item, type: 'file', size: item.size, restic: item.action }),
    });
  } else {
    source = 'ls';
    await listBelow(repository, request.snapshot, request.paths.length > 0 ? request.paths : ['/'], signal, (node) => candidates.push({ path: node.path, type: node.type, size: node.size }));
    // restic creates the folders on the way down to a path asked for, too.
    const parents = new Set(request.paths.flatMap((path) => ancestors(path)));
    for (const parent of parents) candidates.unshift({ path: parent, type: 'dir' });
  }
  const files: PlannedFile[] = [];
  const counts = { created: 0, overwritten: 0, unchanged: 0, bytes: 0 };
  for (const candidate of candidates) {
    // restic 0.17+ names the item by its path in the target already.
    const target = candidate.restic ? candidate.path : posix.join(request.target, candidate.path);
    const present = await lookup.exists(target);
    if (candidate.type === 'dir' && present === 'dir') continue;
    const action: PlannedFile['action'] = candidate.restic === 'unchanged' ? 'unchanged' : present ? 'overwrite' : 'create';
    files.push({ target, path: candidate.path, type: candidate.type, ...(candidate.size === undefined ? {} : { size: candidate.size }), action });
    if (action === 'unchanged') counts.unchanged++;
    else {
      if (action === 'create') counts.created++;
      else counts.overwritten++;
      counts.bytes += candidate.type === 'file' ? (candidate.size ?? 0) : 0;
    }
  }
  return { files, ...counts, source };
}

/** `/a/b/c` → `/a`, `/a/b`. */
function ancestors(path: string): string[] {
  const segments = path.split('/').filter(Boolean);
  return segments.slice(0, -1).map((_, index) => `/${segments.slice(0, index + 1).join('/')}`);
}
