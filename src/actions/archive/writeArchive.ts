import { createWriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { Pack } from 'tar';
import { HashingPassThrough } from './checksum';
import { ParallelGzip } from './parallelGzip';

/**
 * Streams a tar.gz of given entries into a new file: node-tar's `Pack` reads the files,
 * ParallelGzip compresses blocks on the thread pool (overlapping reading and hashing on the
 * main thread), and the compressed bytes are hashed on their way to disk. The file is flushed
 * (fsync) before the returned promise resolves.
 */

/*
 * Buffer sizes were measured on 0.5-1 GiB of mixed files: larger buffers are not faster, and
 * every large buffer becomes garbage that V8 collects late, so peak memory grows with them
 * (4 MiB gzip members cost ~50 MiB more peak RSS than 1 MiB members, at the same speed).
 */
/** Per-file read buffer in `Pack` (its default is 16 MiB per open file). */
const FILE_READ_BYTES = 256 * 1024;
/** Files `Pack` opens ahead of the one it is writing; each holds one read buffer. */
const PACK_JOBS = 2;
/** Uncompressed bytes per gzip member (see ParallelGzip); 1 MiB members cost <0.1% in ratio. */
const GZIP_MEMBER_BYTES = 1024 * 1024;
const WRITE_BUFFER_BYTES = 512 * 1024;

export interface ArchiveWriteRequest {
  /** Folder the entry paths are relative to. */
  base: string;
  entries: readonly string[];
  level: number;
  /** Created exclusively; must not exist. */
  outputPath: string;
  signal: AbortSignal;
  /** Uncompressed tar bytes produced so far and entries started so far. */
  onProgress?: (tarBytes: number, entries: number) => void;
  onWarning?: (message: string) => void;
}

export interface ArchiveWriteResult {
  /** Compressed size. */
  bytes: number;
  sha256: string;
  entries: number;
}

export async function writeArchive(request: ArchiveWriteRequest): Promise<ArchiveWriteResult> {
  let entries = 0;
  const pack = new Pack({
    cwd: request.base,
    noDirRecurse: true,
    maxReadSize: FILE_READ_BYTES,
    jobs: PACK_JOBS,
    onWriteEntry: () => {
      entries++;
    },
    onwarn: (code, message) => request.onWarning?.(`${code}: ${message}`),
  });
  // Pack's file readers can still report an error after the pipeline was torn down (cancel);
  // an 'error' event without a listener would crash the process.
  pack.on('error', () => {});
  const compressing = new ParallelGzip({
    level: request.level,
    blockBytes: GZIP_MEMBER_BYTES,
    // Two members at a time: on 2 cores a third compressor only competes with packing (measured:
    // the same speed, ~10 MiB more peak memory), and libuv's 4 threads also serve file reads.
    concurrency: Math.min(2, availableParallelism()),
    onBytesIn: (tarBytes) => request.onProgress?.(tarBytes, entries),
  });
  const hashing = new HashingPassThrough();
  const written = pipeline(
    pack,
    compressing,
    hashing,
    createWriteStream(request.outputPath, { flags: 'wx', mode: 0o644, flush: true, highWaterMark: WRITE_BUFFER_BYTES }),
    { signal: request.signal },
  );
  for (const entry of request.entries) pack.add(entry);
  pack.end();
  await written;
  return { bytes: hashing.bytes, sha256: hashing.digest(), entries };
}
