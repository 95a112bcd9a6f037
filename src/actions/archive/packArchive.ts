import { createHash } from 'node:crypto';
import { close, closeSync, lstatSync, open as openFile, openSync, read, readlinkSync, readSync, type Stats } from 'node:fs';
import { lstat, open, readlink, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Header, Pax, type HeaderData } from 'tar';
import { throwIfAborted, writingTo } from '../../core/errors';
import { FlushBehind } from './flushBehind';
import { ParallelGzip } from './parallelGzip';
import { PigzGzip } from './pigz';
import type { TarSink } from './tarSink';

/**
 * Writes a tar.gz of given entries into a new file. Entries are packed here rather than by node-tar's
 * `Pack`, which reads every file through freshly allocated buffers and queues a job object per entry
 * up front: file contents are read straight into the blocks the compressor takes, so input memory is
 * a few blocks reused for the whole run, whatever the number and size of the files. Headers are
 * encoded by node-tar (ustar plus a PAX record where needed), byte for byte as `Pack` wrote them. The
 * compressor is `pigz` when the machine has it (it writes the file, which is hashed as it is read
 * back), else ParallelGzip on the thread pool (the compressed bytes are hashed on their way to disk).
 * The file is flushed (fsync) before the returned promise resolves.
 */

/*
 * Sizes were measured on 1 GiB of mixed files: larger members are not faster, and the memory they
 * hold grows with them (4 MiB members cost ~50 MiB more peak RSS than 1 MiB members, at the same
 * speed); 1 MiB members cost <0.1% in ratio.
 */
const GZIP_MEMBER_BYTES = 1024 * 1024;
const TAR_BLOCK = 512;
/** Two zero blocks end a tar stream. */
const END_OF_ARCHIVE_BYTES = 2 * TAR_BLOCK;

export type ArchiveCompressor = 'pigz' | 'in-process';

export interface ArchiveWriteRequest {
  /** Folder the entry paths are relative to. */
  base: string;
  /** `/`-separated paths relative to the base, in archive order. */
  entries: readonly string[];
  level: number;
  /** Created exclusively; must not exist. */
  outputPath: string;
  /** The path a write error names (the final name, when `outputPath` is a temporary one). */
  reportedPath?: string;
  /** The pigz executable to compress with (see `findPigz`); without it, gzip runs in this process. */
  pigz?: string;
  signal: AbortSignal;
  /** Uncompressed tar bytes produced so far and entries written so far. */
  onProgress?: (tarBytes: number, entries: number) => void;
  /** An entry left out because it changed into something a tar cannot hold (a socket, a device). */
  onWarning?: (message: string) => void;
}

export interface ArchiveWriteResult {
  /** Compressed size. */
  bytes: number;
  sha256: string;
  entries: number;
  /** Of the entries: regular files and links, and folders. */
  files: number;
  directories: number;
  compressor: ArchiveCompressor;
}

/**
 * How the packer reaches the files. Through libuv's thread pool, each `lstat`, `open`, `read` and
 * `close` costs ~70 µs of CPU in hand-offs; a synchronous call costs microseconds (measured on 8,152
 * files: 2.1–2.4 s of CPU for the four calls on each, against 0.08 s), but holds up its thread's
 * event loop, so synchronous calls are made only on a worker thread of their own (archiveWorker.ts).
 */
export interface FileAccess {
  lstat(path: string): Stats | Promise<Stats>;
  readlink(path: string): string | Promise<string>;
  /** A file descriptor open for reading. */
  open(path: string): number | Promise<number>;
  read(fd: number, buffer: Buffer, length: number, position: number): number | Promise<number>;
  close(fd: number): void | Promise<void>;
}

export const synchronousFileAccess: FileAccess = {
  lstat: (file) => lstatSync(file),
  readlink: (file) => readlinkSync(file),
  open: (file) => openSync(file, 'r'),
  read: (fd, buffer, length, position) => readSync(fd, buffer, 0, length, position),
  close: (fd) => closeSync(fd),
};

export const threadPoolFileAccess: FileAccess = {
  lstat: (file) => lstat(file),
  readlink: (file) => readlink(file),
  open: (file) => new Promise((resolve, reject) => openFile(file, 'r', (error, fd) => (error ? reject(error) : resolve(fd)))),
  read: (fd, buffer, length, position) => new Promise((resolve, reject) => read(fd, buffer, 0, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)))),
  close: (fd) => new Promise((resolve, reject) => close(fd, (error) => (error ? reject(error) : resolve()))),
};

export async function packArchive(request: ArchiveWriteRequest, files: FileAccess): Promise<ArchiveWriteResult> {
  // Readable too: what pigz writes into it is read back.
  const output = await open(request.outputPath, 'wx+', 0o644);
  const reportedPath = request.reportedPath ?? request.outputPath;
  const flush = new FlushBehind(output);
  try {
    const written = request.pigz
      ? await compressWithPigz(request, files, request.pigz, output, flush, reportedPath)
      : await compressInProcess(request, files, new CompressedOutput(output, flush, reportedPath));
    await writingTo(reportedPath, async () => {
      await flush.settled();
      await output.sync();
    });
    return { ...written, compressor: request.pigz ? 'pigz' : 'in-process' };
  } finally {
    await output.close();
  }
}

type Written = Omit<ArchiveWriteResult, 'compressor'>;

async function compressWithPigz(request: ArchiveWriteRequest, files: FileAccess, pigz: string, output: FileHandle, flush: FlushBehind, reportedPath: string): Promise<Written> {
  const gzip = new PigzGzip({ pigz, level: request.level, threads: availableParallelism(), signal: request.signal, output, flush, reportedPath });
  let packed: PackedCounts;
  try {
    packed = await packEntries(request, files, gzip);
    await gzip.end();
  } finally {
    await gzip.stop();
  }
  const problem = gzip.trailerProblem();
  if (problem) throw new Error(`pigz's output for ${reportedPath} does not hold the tar stream: ${problem}`);
  return { ...gzip.output(), ...packed };
}

async function compressInProcess(request: ArchiveWriteRequest, files: FileAccess, written: CompressedOutput): Promise<Written> {
  const gzip = new ParallelGzip({
    level: request.level,
    blockBytes: GZIP_MEMBER_BYTES,
    // Two members at a time: on 2 cores a third compressor only competes with packing (measured:
    // the same speed, ~10 MiB more peak memory), and libuv's 4 threads also serve file reads.
    concurrency: Math.min(2, availableParallelism()),
    onMember: (member) => written.append(member),
  });
  const packed = await packEntries(request, files, gzip);
  await gzip.end();
  return { bytes: written.bytes, sha256: written.sha256(), ...packed };
}

interface PackedCounts {
  entries: number;
  files: number;
  directories: number;
}

/** Packs every entry and the end-of-archive marker into `sink`; returns what it packed. */
async function packEntries(request: ArchiveWriteRequest, files: FileAccess, sink: TarSink): Promise<PackedCounts> {
  const packer = new TarPacker(request, files, sink);
  for (const entry of request.entries) {
    throwIfAborted(request.signal);
    await packer.add(entry);
  }
  await sink.writeZeros(END_OF_ARCHIVE_BYTES);
  return { entries: packer.entries, files: packer.filesPacked, directories: packer.directoriesPacked };
}

/** The compressed file as this process writes it: hashed and counted. */
class CompressedOutput {
  bytes = 0;
  readonly #hash = createHash('sha256');

  constructor(
    private readonly output: FileHandle,
    private readonly flush: FlushBehind,
    readonly reportedPath: string,
  ) {}

  async append(chunks: readonly Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      this.#hash.update(chunk);
      this.bytes += chunk.length;
    }
    await writingTo(this.reportedPath, () => writeFully(this.output, chunks));
    this.flush.written(this.bytes);
  }

  sha256(): string {
    return this.#hash.digest('hex');
  }
}

/** Writes all of `chunks` at the file position; a write can take less than it was given (a full disk). */
async function writeFully(output: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  for (let pending = chunks; pending.length > 0; ) {
    const { bytesWritten } = await output.writev([...pending]);
    pending = withoutFirstBytes(pending, bytesWritten);
  }
}

function withoutFirstBytes(chunks: readonly Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
    } else {
      rest.push(chunk.subarray(skip));
      skip = 0;
    }
  }
  return rest;
}

/** Writes tar entries (header, contents, padding) into a TarSink, the way node-tar's `Pack` does. */
class TarPacker {
  /** Counted as each header is written. */
  filesPacked = 0;
  directoriesPacked = 0;
  /** First entry path of each file with more than one link (`dev:ino`): later ones become hard links to it. */
  readonly #linkTargets = new Map<string, string>();
  /** Headers are encoded here first: a PAX record, when one is needed, has to go in front. */
  readonly #header = Buffer.alloc(TAR_BLOCK);
  readonly #userId = process.getuid?.() ?? 0;
  readonly #userName = process.env.USER ?? '';

  constructor(
    private readonly request: ArchiveWriteRequest,
    private readonly files: FileAccess,
    private readonly gzip: TarSink,
  ) {}

  get entries(): number {
    return this.filesPacked + this.directoriesPacked;
  }

  /**
   * Packs one entry as it is now. One removed since the sources were listed (a rotated log, a temporary
   * file, or anything gone while a person read the plan) is left out with a warning, as GNU tar does:
   * there is nothing left of it to keep.
   */
  async add(entryPath: string): Promise<void> {
    const absolutePath = path.resolve(this.request.base, entryPath);
    const removed = () => this.request.onWarning?.(`left out ${entryPath}: it was removed after the sources were listed`);
    const stats = await ifPresent(() => this.files.lstat(absolutePath));
    if (!stats) return removed();
    if (stats.isDirectory()) {
      await this.#writeHeader(`${entryPath}/`, stats, { type: 'Directory' });
    } else if (stats.isSymbolicLink()) {
      const linkpath = await ifPresent(() => this.files.readlink(absolutePath));
      if (linkpath === undefined) return removed();
      await this.#writeHeader(entryPath, stats, { type: 'SymbolicLink', linkpath });
    } else if (stats.isFile()) {
      // A file with more than one name: the first name packed holds the contents, later ones link to it.
      const inode = stats.nlink > 1 ? `${stats.dev}:${stats.ino}` : undefined;
      const linkTarget = inode === undefined ? undefined : this.#linkTargets.get(inode);
      if (linkTarget !== undefined) {
        await this.#writeHeader(entryPath, stats, { type: 'Link', linkpath: linkTarget });
      } else {
        // Opened before its header is written: once the header is out, the contents must follow.
        const file = stats.size === 0 ? undefined : await ifPresent(() => this.files.open(absolutePath));
        if (stats.size > 0 && file === undefined) return removed();
        try {
          await this.#writeHeader(entryPath, stats, { type: 'File', size: stats.size });
          if (file !== undefined) await this.#writeContents(file, absolutePath, stats.size);
        } finally {
          if (file !== undefined) await this.files.close(file);
        }
        if (inode !== undefined) this.#linkTargets.set(inode, entryPath);
      }
    } else {
      this.request.onWarning?.(`left out ${entryPath}: it is no longer a regular file, folder or symbolic link`);
      return;
    }
    this.request.onProgress?.(this.gzip.bytesIn, this.entries);
  }

  async #writeHeader(headerPath: string, stats: Stats, entry: Pick<HeaderData, 'type' | 'linkpath' | 'size'>): Promise<void> {
    const header = new Header({
      path: headerPath,
      linkpath: entry.linkpath,
      mode: tarMode(stats),
      uid: stats.uid,
      gid: stats.gid,
      size: entry.size ?? 0,
      mtime: stats.mtime,
      type: entry.type,
      uname: stats.uid === this.#userId ? this.#userName : '',
      atime: stats.atime,
      ctime: stats.ctime,
    });
    this.#header.fill(0);
    if (header.encode(this.#header)) {
      const pax = new Pax({
        atime: header.atime,
        ctime: header.ctime,
        gid: header.gid,
        mtime: header.mtime,
        path: headerPath,
        linkpath: entry.linkpath,
        size: header.size,
        uid: header.uid,
        uname: header.uname,
        dev: stats.dev,
        ino: stats.ino,
        nlink: stats.nlink,
      });
      await this.gzip.write(pax.encode());
    }
    await this.gzip.write(this.#header);
    if (entry.type === 'Directory') this.directoriesPacked++;
    else this.filesPacked++;
  }

  /**
   * Reads the file straight into the compressor's block, then pads it to whole tar blocks. Exactly
   * `size` bytes (the size in the header) must be there: a file that shrinks or grows while it is
   * read would make a broken or silently cut entry, so either is an error.
   */
  async #writeContents(file: number, absolutePath: string, size: number): Promise<void> {
    let position = 0;
    for (;;) {
      throwIfAborted(this.request.signal);
      const room = this.gzip.room();
      // One byte more than is left, where there is room for it, proves the end without another read.
      const asked = Math.min(room.length, size - position + 1);
      const bytesRead = await this.files.read(file, room, asked, position);
      if (position + bytesRead > size) throw new Error(`${absolutePath} grew while it was being archived (expected ${size} bytes)`);
      if (bytesRead === 0) {
        if (position < size) throw new Error(`${absolutePath} shrank while it was being archived (expected ${size} bytes, read ${position})`);
        break;
      }
      position += bytesRead;
      await this.gzip.commit(bytesRead);
      this.request.onProgress?.(this.gzip.bytesIn, this.entries);
      if (position === size && bytesRead < asked) break;
    }
    const padding = (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
    await this.gzip.writeZeros(padding);
  }
}

/** What `access` gives, or undefined when the path no longer exists. */
async function ifPresent<Value>(access: () => Value | Promise<Value>): Promise<Value | undefined> {
  try {
    return await access();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Permission bits as node-tar stores them: folders that can be read can also be listed. */
function tarMode(stats: Stats): number {
  let mode = stats.mode & 0o7777;
  if (stats.isDirectory()) {
    if (mode & 0o400) mode |= 0o100;
    if (mode & 0o40) mode |= 0o10;
    if (mode & 0o4) mode |= 0o1;
  }
  return mode;
}
