/** Shared fixtures for the archive action tests: temp folders, contexts that record, trees, raw tar. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header, Pax } from 'tar';
import { archiveActions } from '../../src/actions/archive';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, ActionPlan, ActionSpec, ProgressUpdate } from '../../src/core/actions/spec';

export function archiveAction(id: string): ActionSpec {
  const found = archiveActions.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no action ${id}`);
  return found;
}

export async function makeTempDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `lifeboat-${label}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface RecordingContext extends ActionContext {
  progressUpdates: ProgressUpdate[];
  logLines: string[];
}

/** A context whose progress and log are recorded; `onLog` lets a test act at a named moment. */
export function recordingContext(workspaceDir: string, options: { signal?: AbortSignal; onLog?: (line: string) => void; onProgress?: (update: ProgressUpdate) => void } = {}): RecordingContext {
  const progressUpdates: ProgressUpdate[] = [];
  const logLines: string[] = [];
  const logAt = (level: string) => (message: string) => {
    const line = `${level}: ${message}`;
    logLines.push(line);
    options.onLog?.(line);
  };
  const context = createActionContext({
    workspaceDir,
    signal: options.signal ?? new AbortController().signal,
    progress: {
      report(update) {
        progressUpdates.push(update);
        options.onProgress?.(update);
      },
    },
    log: { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') },
  });
  return Object.assign(context, { progressUpdates, logLines });
}

/** Validates raw parameters through the action's schema, as the runner does, then runs it. */
export async function runAction<Result>(action: ActionSpec, rawParams: unknown, ctx: ActionContext): Promise<Result> {
  return (await action.run(action.params.parse(rawParams), ctx)) as Result;
}

export async function planAction(action: ActionSpec, rawParams: unknown, ctx: ActionContext): Promise<ActionPlan> {
  return action.plan(action.params.parse(rawParams), ctx);
}

export type TreeSpec = Record<string, string | Buffer | { symlink: string } | { directory: true }>;

export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  for (const [relative, content] of Object.entries(spec)) {
    const target = path.join(root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    if (typeof content === 'string' || Buffer.isBuffer(content)) await writeFile(target, content);
    else if ('symlink' in content) await symlink(content.symlink, target);
    else await mkdir(target, { recursive: true });
  }
}

export interface TreeNode {
  type: 'file' | 'directory' | 'symlink';
  /** sha256 of a file, target of a link. */
  content?: string;
  mode?: number;
  mtimeSeconds?: number;
}

/** Everything below `root` (not following links), for byte-exact comparisons of two trees. */
export async function readTree(root: string, options: { withMetadata?: boolean } = {}): Promise<Record<string, TreeNode>> {
  const tree: Record<string, TreeNode> = {};
  const walk = async (folder: string, prefix: string) => {
    for (const name of (await readdir(folder)).sort()) {
      const absolute = path.join(folder, name);
      const relative = prefix ? `${prefix}/${name}` : name;
      const stats = await lstat(absolute);
      const metadata = options.withMetadata ? { mode: stats.mode & 0o7777, mtimeSeconds: Math.floor(stats.mtimeMs / 1000) } : {};
      if (stats.isSymbolicLink()) {
        tree[relative] = { type: 'symlink', content: await readlink(absolute) };
      } else if (stats.isDirectory()) {
        tree[relative] = { type: 'directory', ...(options.withMetadata ? { mode: stats.mode & 0o7777 } : {}) };
        await walk(absolute, relative);
      } else {
        tree[relative] = { type: 'file', content: createHash('sha256').update(await readFile(absolute)).digest('hex'), ...metadata };
      }
    }
  };
  await walk(root, '');
  return tree;
}

export interface RawTarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice';
  linkpath?: string;
  content?: string | Buffer;
  mode?: number;
}

/**
 * A tar.gz written header by header, so a test can put anything in it (`../evil`, `/tmp/x`,
 * links out of the target, names too long for a file system, a path twice) — the things a
 * well-behaved archiver refuses to produce. Names that do not fit a ustar header get a pax header.
 */
export function rawTarGz(entries: readonly RawTarEntry[], options: { endMarker?: boolean; cutTarAt?: number } = {}): Buffer {
  return gzipSync(rawTar(entries, options));
}

/** Writes `rawTarGz(entries)` to `file`, and resolves to its path. */
export async function writeRawTarGz(file: string, entries: readonly RawTarEntry[]): Promise<string> {
  await writeFile(file, rawTarGz(entries));
  return file;
}

export function rawTar(entries: readonly RawTarEntry[], options: { endMarker?: boolean; cutTarAt?: number } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.isBuffer(entry.content) ? entry.content : Buffer.from(entry.content ?? '');
    const type = entry.type ?? 'File';
    const header = new Header({
      path: entry.path,
      type,
      linkpath: entry.linkpath,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      size: type === 'File' ? body.length : 0,
      mtime: new Date('2026-01-24T06:51:00Z'),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    const needsPax = header.encode(block, 0);
    if (needsPax) blocks.push(new Pax({ path: entry.path, linkpath: entry.linkpath, mtime: header.mtime }).encode());
    blocks.push(block);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  if (options.endMarker !== false) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks).subarray(0, options.cutTarAt);
}

export async function listNames(folder: string): Promise<string[]> {
  return (await readdir(folder)).sort();
}

export async function exists(target: string): Promise<boolean> {
  return lstat(target).then(
    () => true,
    () => false,
  );
}

/** `work` with no `pigz` on the PATH, so that archive.create compresses in this process. */
export async function withoutPigz<Result>(work: () => Promise<Result>): Promise<Result> {
  const searchPath = process.env.PATH;
  process.env.PATH = '';
  try {
    return await work();
  } finally {
    process.env.PATH = searchPath;
  }
}

/** Flips one bit in the middle of a file, as a failing disk or a bad copy would. Synchronous so a hook can use it. */
export function corruptMiddleByte(file: string): void {
  const bytes = readFileSync(file);
  const middle = bytes.length >> 1;
  bytes.writeUInt8(bytes.readUInt8(middle) ^ 0x01, middle);
  writeFileSync(file, bytes);
}

/**
 * A small tmpfs (`size` in mount's syntax, e.g. `2m`) for the tests of the enclosing `describe`, a
 * disk that fills up for real: `path()` is its mount point, emptied after each test and unmounted
 * after the last. Mounting needs root; without it, or where mounting fails, each test is reported
 * as pending with the reason, never as passing.
 */
export function useSmallTmpfs(label: string, size: string): { path: () => string } {
  let mountPoint: string | undefined;
  let notMounted = '';
  before(async () => {
    const folder = await makeTempDir(label);
    if (process.getuid?.() !== 0) {
      notMounted = 'mounting a tmpfs needs root';
    } else {
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', folder], { encoding: 'utf8' });
      if (mounted.status === 0) mountPoint = folder;
      else notMounted = `mount -t tmpfs failed: ${(mounted.stderr || mounted.error?.message || '').trim()}`;
    }
    if (!mountPoint) await rm(folder, { recursive: true, force: true });
  });
  after(async () => {
    if (!mountPoint) return;
    spawnSync('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  beforeEach(function () {
    if (mountPoint) return;
    if (this.currentTest) this.currentTest.title += ` (pending: ${notMounted})`;
    this.skip();
  });
  afterEach(async () => {
    if (mountPoint) for (const name of await readdir(mountPoint)) await rm(path.join(mountPoint, name), { recursive: true, force: true });
  });
  return {
    path: () => {
      if (!mountPoint) throw new Error(`no tmpfs: ${notMounted}`);
      return mountPoint;
    },
  };
}
