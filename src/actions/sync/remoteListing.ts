import { Readable } from 'node:stream';
import type { SshConnection } from '../../clients/ssh';
import type { Endpoint } from './endpoint';

/** A folder a tar transfer stages its files in, inside the destination; never synced, never deleted as extraneous. */
export const STAGING_PREFIX = '.lifeboat-sync-';

export interface RemoteEntry {
  /** Relative to the listed folder, `/`-separated. */
  path: string;
  /** find's %y: `f` file, `d` folder, `l` symbolic link … */
  type: string;
  size: number;
  /** Modification time, whole seconds since the epoch (what tar keeps). */
  mtimeSeconds: number;
  /** Permission bits, octal as find prints them (`644`). */
  mode: string;
}

/** Five NUL-terminated fields per entry; `%P` is the path below the starting folder. */
const LISTING_FORMAT = '%P\\0%y\\0%s\\0%T@\\0%m\\0';
/** Lists the folder if it exists; exit 3 says it does not. The format is constant; the folder is "$1". */
const LISTING_SCRIPT = `[ -d "$1" ] || exit 3; exec find "$1" -mindepth 1 -printf '${LISTING_FORMAT}'`;
const MISSING_FOLDER = 3;

/**
 * Every entry below `folder` on the host (GNU find), or undefined when the folder does not exist.
 * Entries of staging folders left by an interrupted transfer are left out.
 */
export async function listHostFolder(connection: SshConnection, host: string, folder: string, signal: AbortSignal): Promise<RemoteEntry[] | undefined> {
  const result = await connection.exec(['sh', '-c', LISTING_SCRIPT, 'sh', folder], { signal });
  if (result.exitCode === MISSING_FOLDER) return undefined;
  if (result.exitCode !== 0) throw new Error(`${host}: cannot list ${folder}: ${result.stderrTail.trim() || `find exited with code ${result.exitCode ?? 'unknown'}`}`);
  const fields = (result.stdout ?? '').split('\0');
  const entries: RemoteEntry[] = [];
  for (let index = 0; index + 5 <= fields.length; index += 5) {
    const [path, type, size, mtime, mode] = fields.slice(index, index + 5) as [string, string, string, string, string];
    if (path.split('/')[0]?.startsWith(STAGING_PREFIX)) continue;
    entries.push({ path, type, size: Number(size), mtimeSeconds: Math.floor(Number(mtime)), mode });
  }
  return entries;
}

/** Whether two entries are the same for a transfer: type, size, modification time (to the second) and mode. */
export function sameEntry(a: RemoteEntry, b: RemoteEntry): boolean {
  return a.type === b.type && a.mtimeSeconds === b.mtimeSeconds && a.mode === b.mode && (a.type === 'd' || a.size === b.size);
}

/** Relative paths as `./path`, NUL-terminated: read by `tar -T` and `xargs -0` as names, never as options. */
export function nulList(paths: readonly string[]): Readable {
  return Readable.from([Buffer.concat(paths.map((path) => Buffer.from(`./${path}\0`, 'utf8')))]);
}

/** Deletes entries of a folder on its host, the names going to `xargs -0` on stdin. */
export async function removeFromFolder(folder: Endpoint, paths: readonly string[], options: { recursive: boolean; signal: AbortSignal }): Promise<void> {
  if (paths.length === 0) return;
  const script = `cd -- "$1" && exec xargs -0 -r rm ${options.recursive ? '-rf' : '-f'} --`;
  await folder.connection.run(['sh', '-c', script, 'sh', folder.path], { stdin: nulList(paths), signal: options.signal });
}
