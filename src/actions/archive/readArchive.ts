import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { throwIfAborted } from '../../core/errors';

/**
 * One pass over a `.tar.gz` file: every byte read is hashed and fed through gunzip into a tar
 * parser, so checking an archive's checksum, its gzip integrity and its tar structure costs a
 * single read. Gunzip runs on libuv's thread pool (node:zlib), hashing and parsing on the main
 * thread, so the two overlap on a multi-core machine.
 */

/**
 * The file is read into two buffers used in turn (one is read into while gunzip works on the other)
 * rather than a new buffer per chunk: fewer short-lived buffers means less garbage waiting for the
 * collector, so a lower peak memory.
 */
const READ_CHUNK_BYTES = 256 * 1024;
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
  const tarSink = new TarParserSink(options);
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
  const parsed = pipeline(gunzip, tarSink, { signal: options.signal });
  try {
    let read: CompressedRead;
    try {
      read = await feedCompressed(filePath, gunzip, options);
    } catch (error) {
      // A failure downstream (damaged data, cancellation) stops the feeding too; it is the cause.
      gunzip.destroy(asError(error));
      await parsed;
      throw error;
    }
    await parsed;
    return { ...read, entries: tarSink.entries };
  } catch (error) {
    // Callers clean up after a failure (remove a staging folder); nothing may still be writing.
    await tarSink.idle();
    throw error;
  }
}

interface CompressedRead {
  bytes: number;
  sha256: string;
}

/** Reads the file into gunzip, hashing it on the way; ends gunzip's input at the end of the file. */
async function feedCompressed(filePath: string, gunzip: Gunzip, options: ArchiveReadOptions): Promise<CompressedRead> {
  const hash = createHash('sha256');
  let bytes = 0;
  const file = await open(filePath, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(READ_CHUNK_BYTES), Buffer.allocUnsafe(READ_CHUNK_BYTES)];
    // gunzip is done with a buffer once its write has called back; only then is it read into again.
    // A gunzip torn down mid-way (damaged data, cancellation) may never call back: stop then.
    const released = [Promise.resolve(), Promise.resolve()];
    const stopped = new Promise<never>((_resolve, reject) => gunzip.once('close', () => reject(new Error('gunzip stopped before the end of the file'))));
    stopped.catch(() => {});
    for (const [turn, buffer] of cycle(buffers)) {
      await Promise.race([released[turn], stopped]);
      throwIfAborted(options.signal);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      bytes += bytesRead;
      options.onBytesRead?.(bytes);
      const written = new Promise<void>((resolve, reject) => gunzip.write(chunk, (error) => (error ? reject(error) : resolve())));
      // Awaited on this buffer's next turn; until then a failure must not count as unhandled.
      written.catch(() => {});
      released[turn] = written;
    }
    await Promise.race([Promise.all(released), stopped]);
  } finally {
    await file.close();
  }
  gunzip.end();
  return { bytes, sha256: hash.digest('hex') };
}

/** The items with their index, round and round, until the caller stops. */
function* cycle<T>(items: readonly T[]): Generator<[number, T]> {
  for (let index = 0; ; index = (index + 1) % items.length) yield [index, items[index] as T];
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
