import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
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
const TAR_BLOCK = 512;

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
  const checker = archiveChecker(options);
  // Both sides are awaited together from the start: the parsing side fails on its own (a write
  // error in an entry callback, cancellation) while the file is still being fed, and a rejection
  // nobody awaits yet would end the process as an uncaught exception.
  const [parsed, fed] = await Promise.allSettled([
    checker.entries,
    feedCompressed(filePath, checker.input, options).catch((error: unknown) => {
      checker.input.destroy(asError(error));
      throw error;
    }),
  ]);
  // Callers clean up after a failure (remove a staging folder); nothing may still be writing.
  if (parsed.status === 'rejected' || fed.status === 'rejected') await checker.idle();
  // A failure downstream (damaged data, a write error, cancellation) stops the feeding too; it is the cause.
  if (parsed.status === 'rejected') throw parsed.reason;
  if (fed.status === 'rejected') throw fed.reason;
  return { ...fed.value, entries: parsed.value };
}

/** A `.tar.gz` stream checked as it is written into `input`. */
export interface ArchiveChecker {
  /** Where the compressed bytes go; ended with them. */
  input: Writable;
  /** The entries in the archive, once its end was checked; rejects for damaged data, a truncated archive or a cancel. */
  entries: Promise<number>;
  /** Resolves once no entry callback is running any more, whatever their outcome. */
  idle: () => Promise<void>;
}

/**
 * Checks a `.tar.gz` stream as it is written into `input`: gzip's integrity (its CRC and length), the
 * tar structure and its end-of-archive marker. `readArchive` feeds it a file.
 */
export function archiveChecker(options: ArchiveReadOptions): ArchiveChecker {
  const tarSink = new TarParserSink(options);
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
  const entries = pipeline(gunzip, tarSink, { signal: options.signal }).then(() => tarSink.entries);
  // Awaited by whoever feeds it, after the feeding, which may fail first.
  entries.catch(() => undefined);
  return { input: gunzip, entries, idle: () => tarSink.idle() };
}

interface CompressedRead {
  bytes: number;
  sha256: string;
}

/** Reads the file into gunzip, hashing it on the way; ends gunzip's input at the end of the file. */
async function feedCompressed(filePath: string, gunzip: Writable, options: ArchiveReadOptions): Promise<CompressedRead> {
  const hash = createHash('sha256');
  let bytes = 0;
  const file = await open(filePath, 'r');
  try {
    // Each buffer is read into again only once gunzip is done with it (its write has called back).
    // A gunzip torn down mid-way (damaged data, cancellation) may never call back: stop then.
    const slots = [Buffer.allocUnsafe(READ_CHUNK_BYTES), Buffer.allocUnsafe(READ_CHUNK_BYTES)].map((buffer) => ({ buffer, released: Promise.resolve() }));
    const stopped = new Promise<never>((_resolve, reject) => gunzip.once('close', () => reject(new Error('gunzip stopped before the end of the file'))));
    stopped.catch(() => {});
    for (let turn = 0; ; turn = (turn + 1) % slots.length) {
      const slot = slots[turn];
      if (!slot) throw new Error(`no read buffer ${turn}`);
      await Promise.race([slot.released, stopped]);
      throwIfAborted(options.signal);
      const { bytesRead } = await file.read(slot.buffer, 0, slot.buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = slot.buffer.subarray(0, bytesRead);
      hash.update(chunk);
      bytes += bytesRead;
      options.onBytesRead?.(bytes);
      slot.released = new Promise<void>((resolve, reject) => gunzip.write(chunk, (error) => (error ? reject(error) : resolve())));
      // Awaited on this buffer's next turn; until then a failure must not count as unhandled.
      slot.released.catch(() => {});
    }
    await Promise.race([Promise.all(slots.map((slot) => slot.released)), stopped]);
  } finally {
    await file.close();
  }
  gunzip.end();
  return { bytes, sha256: hash.digest('hex') };
}

/** Adapts node-tar's `Parser` (an EventEmitter with write/end) to a Writable for `pipeline`. */
class TarParserSink extends Writable {
  entries = 0;
  readonly #parser: Parser;
  #handled: Promise<void> = Promise.resolve();
  #sawEndOfArchive = false;
  #finished?: (error?: Error | null) => void;
  readonly #failed = new AbortController();
  /** The start of a tar block whose rest is in the next chunk. */
  #carry: Buffer | undefined;

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
    this.#writeAll(this.#alignToTarBlocks(chunk), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#finished = callback;
    // Less than a block left over: a truncated archive, which the parser reports.
    if (this.#carry) this.#parser.write(this.#carry);
    this.#parser.end();
  }

  /**
   * Cuts gunzip's output at tar block boundaries. Its chunks end wherever an input chunk ran out,
   * and the parser copies a chunk that starts inside a block into a new buffer together with the
   * partial block before it; once misaligned, every later chunk would be copied (the whole archive
   * once more, in garbage). Only the block that straddles two chunks is copied here (512 bytes).
   */
  #alignToTarBlocks(chunk: Buffer): Buffer[] {
    const pieces: Buffer[] = [];
    let rest = chunk;
    if (this.#carry) {
      const missing = TAR_BLOCK - this.#carry.length;
      if (rest.length < missing) {
        this.#carry = Buffer.concat([this.#carry, rest]);
        return pieces;
      }
      pieces.push(Buffer.concat([this.#carry, rest.subarray(0, missing)]));
      rest = rest.subarray(missing);
    }
    const aligned = rest.length - (rest.length % TAR_BLOCK);
    if (aligned > 0) pieces.push(rest.subarray(0, aligned));
    this.#carry = aligned < rest.length ? rest.subarray(aligned) : undefined;
    return pieces;
  }

  /** Writes the pieces in order, waiting for the parser to drain whenever it asks to. */
  #writeAll(pieces: readonly Buffer[], callback: () => void): void {
    const [first, ...others] = pieces;
    if (!first) {
      callback();
      return;
    }
    if (this.#parser.write(first)) this.#writeAll(others, callback);
    else this.#parser.once('drain', () => this.#writeAll(others, callback));
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
