import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { HashingPassThrough } from './checksum';

/**
 * One pass over a `.tar.gz` file: every byte read is hashed and fed through gunzip into a tar
 * parser, so checking an archive's checksum, its gzip integrity and its tar structure costs a
 * single read. Gunzip runs on libuv's thread pool (node:zlib), hashing and parsing on the main
 * thread, so the two overlap on a multi-core machine.
 */

/** Read chunk size: large enough to keep syscalls cheap, small enough to keep memory flat. */
const READ_CHUNK_BYTES = 512 * 1024;
const GUNZIP_CHUNK_BYTES = 128 * 1024;

export interface ArchiveReadOptions {
  signal: AbortSignal;
  /**
   * Called for each entry in archive order; a returned promise is awaited before the next entry.
   * The callback must consume the entry's body (pipe it or `resume()` it). Without a callback
   * bodies are discarded. `abort` fires when the read fails or is cancelled, so a callback that
   * is still writing the entry somewhere can stop.
   */
  onEntry?: (entry: ReadEntry, abort: AbortSignal) => Promise<void> | void;
  /** Entries the parser does not support (device-less GNU extensions, unknown types). */
  onUnsupportedEntry?: (entry: ReadEntry) => void;
  /** Compressed bytes read so far. */
  onBytesRead?: (bytes: number) => void;
}

export interface ArchiveReadResult {
  /** Size of the compressed file. */
  bytes: number;
  sha256: string;
  /** Entries in the archive (files, folders and links; not tar metadata records). */
  entries: number;
}

export async function readArchive(filePath: string, options: ArchiveReadOptions): Promise<ArchiveReadResult> {
  const hashing = new HashingPassThrough(options.onBytesRead);
  const tarSink = new TarParserSink(options);
  try {
    await pipeline(
      createReadStream(filePath, { highWaterMark: READ_CHUNK_BYTES }),
      hashing,
      createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }),
      tarSink,
      { signal: options.signal },
    );
  } catch (error) {
    // Callers clean up after a failure (remove a staging folder); nothing may still be writing.
    await tarSink.idle();
    throw error;
  }
  return { bytes: hashing.bytes, sha256: hashing.digest(), entries: tarSink.entries };
}

/** Adapts node-tar's `Parser` (an EventEmitter with write/end) to a Writable for `pipeline`. */
class TarParserSink extends Writable {
  entries = 0;
  readonly #parser: Parser;
  #handled: Promise<void> = Promise.resolve();
  #sawEndOfArchive = false;
  #finished?: (error?: Error | null) => void;
  readonly #failed = new AbortController();

  constructor(options: ArchiveReadOptions) {
    super();
    const abort = AbortSignal.any([options.signal, this.#failed.signal]);
    // strict: damaged headers and truncation are errors here, not warnings to skip past.
    this.#parser = new Parser({ strict: true, maxDecompressionRatio: Infinity });
    this.#parser.on('entry', (entry: ReadEntry) => {
      this.entries++;
      const { onEntry } = options;
      if (!onEntry) {
        entry.resume();
        return;
      }
      this.#handled = this.#handled.then(() => onEntry(entry, abort));
      this.#handled.catch((error: unknown) => this.destroy(asError(error)));
    });
    this.#parser.on('ignoredEntry', (entry: ReadEntry) => {
      if (entry.meta) return;
      this.entries++;
      options.onUnsupportedEntry?.(entry);
    });
    this.#parser.on('eof', () => {
      this.#sawEndOfArchive = true;
    });
    this.#parser.on('error', (error: Error) => this.destroy(error));
    this.#parser.on('end', () => {
      // After a parser error the sink is already destroyed; there is nothing left to finish.
      if (this.destroyed) return;
      this.#handled.then(
        () => {
          // A tar stream ends with two zero blocks; without them it was cut at an entry boundary.
          const problem = this.#sawEndOfArchive ? null : new Error('tar stream ends without its end-of-archive marker (truncated?)');
          this.#finished?.(problem);
        },
        (error: unknown) => this.#finished?.(asError(error)),
      );
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#parser.write(chunk)) callback();
    else this.#parser.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#finished = callback;
    this.#parser.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#parser.removeAllListeners('drain');
    this.#failed.abort(error ?? new Error('archive read stopped'));
    callback(error);
  }

  /** Resolves once no entry callback is running any more, whatever their outcome. */
  async idle(): Promise<void> {
    await this.#handled.catch(() => {});
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
