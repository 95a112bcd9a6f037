import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Files appear under their final name only when complete: everything is written to a hidden
 * temporary next to the final name (same folder, so the same file system) and renamed at the end.
 */

/** `.<name>.<label>-<random>` in the same folder: hidden from listings and from retention. */
export function temporarySibling(finalPath: string, label = 'partial'): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.${label}-${randomBytes(6).toString('hex')}`);
}

export class FileExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists; refusing to overwrite it`);
    this.name = 'FileExistsError';
  }
}

/** Error codes of file systems without hard links (FAT, some network and FUSE mounts). */
const HARD_LINKS_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Moves a complete temporary file to its final name, failing if that name exists. A hard link is
 * the atomic "create unless exists" for a whole file; where links are unsupported, a check
 * followed by a rename leaves only a tiny window for a concurrent writer.
 */
export async function publishWithoutOverwrite(temporaryPath: string, finalPath: string): Promise<void> {
  try {
    await link(temporaryPath, finalPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') throw new FileExistsError(finalPath);
    if (!HARD_LINKS_UNSUPPORTED.has(code)) throw error;
    if (await pathExists(finalPath)) throw new FileExistsError(finalPath);
    await rename(temporaryPath, finalPath);
    return;
  }
  await unlink(temporaryPath);
}

/** Writes small content (sidecars, state) to a temporary, flushes it to disk, then renames it. */
export async function writeFileAtomically(finalPath: string, content: string, options: { overwrite: boolean }): Promise<void> {
  const temporaryPath = temporarySibling(finalPath, 'tmp');
  try {
    const handle = await open(temporaryPath, 'wx', 0o644);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.overwrite) await rename(temporaryPath, finalPath);
    else await publishWithoutOverwrite(temporaryPath, finalPath);
  } finally {
    await removeIfPresent(temporaryPath);
  }
}

/** Makes a rename durable: the directory entry itself is flushed. Best effort where unsupported. */
export async function fsyncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms and file systems refuse fsync on a directory; the rename itself still happened.
  }
}

/** Removes a temporary this code created (a file or a staging folder), if it is still there. */
export async function removeIfPresent(target: string): Promise<void> {
  await rm(target, { force: true, recursive: true });
}

/** Removes one file (never a folder), if it is there. */
export async function unlinkIfPresent(target: string): Promise<void> {
  try {
    await unlink(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** unlinkIfPresent at once, not through the thread pool: for many small files in a row (see readFileIfReadable). */
export function unlinkIfPresentSync(target: string): void {
  try {
    unlinkSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * `mkdir -p`: the folder and any missing parents, each made with one plain `mkdir`; resolves to the
 * first folder it made (undefined when the folder was there). Not Node's `mkdir({ recursive: true })`,
 * which retries forever, at full CPU, where `mkdir` answers ENOENT below a folder that exists
 * (`/proc/1/x`): a destination typed there must fail, not hang the run.
 */
export async function makeFolders(folder: string, mode?: number): Promise<string | undefined> {
  // The usual case, its parent there, costs one mkdir (callers make folder after folder of a tree).
  try {
    await mkdir(folder, { mode });
    return path.resolve(folder);
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code !== 'ENOENT' && code !== 'EEXIST' && code !== 'ENOTDIR') throw error;
  }
  const missing: string[] = [];
  for (let at = path.resolve(folder); ; at = path.dirname(at)) {
    const stats = await statIfPresent(at);
    if (stats?.isDirectory()) break;
    if (stats) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${folder}' (${at} is not a folder)`), { code: 'ENOTDIR', syscall: 'mkdir', path: at });
    // The root always exists; this only ends the walk on a path that says otherwise.
    if (path.dirname(at) === at) break;
    missing.push(at);
  }
  let firstMade: string | undefined;
  for (const at of missing.reverse()) {
    try {
      await mkdir(at, { mode });
      firstMade ??= at;
    } catch (error) {
      // Made at the same time by another writer.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !(await statIfPresent(at))?.isDirectory()) throw error;
    }
  }
  return firstMade;
}

/** What is at `target`, links followed; undefined when nothing is, or a file above it is in the way (found as the walk goes up). */
async function statIfPresent(target: string): Promise<Stats | undefined> {
  try {
    return await stat(target);
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

export async function pathExists(target: string): Promise<boolean> {
  return (await lstatIfPresent(target)) !== undefined;
}

/** The entry's own stats (a link is not followed), or undefined when nothing is there. */
export async function lstatIfPresent(target: string): Promise<Stats | undefined> {
  try {
    return await lstat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The file's bytes, read at once (not through the thread pool), or undefined when it cannot be read: for what the caller can do without. */
export function readFileIfReadable(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}
