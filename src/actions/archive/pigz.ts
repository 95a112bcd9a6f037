import { spawn } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { findOnPath } from '../../clients/process';
import { CancelledError } from '../../core/errors';
import { TarSink } from './tarSink';

/**
 * gzip by `pigz`, the parallel gzip a person who cares about speed pipes tar into: the tar stream is
 * written to its stdin and its output comes back on stdout, so the caller still sees (hashes,
 * writes, counts) every compressed byte. pigz compresses on all cores in native threads with no
 * round trips to the event loop, which in-process zlib on libuv's thread pool cannot match.
 *
 * pigz writes one gzip member whose trailer holds the CRC-32 and length (mod 2^32) of all its
 * input; `trailerProblem` checks them against what was written here, which proves the archive holds
 * the whole tar stream, exactly as it was produced, and was not cut short.
 */

/** Tar bytes per write to pigz's stdin; two such buffers are filled and sent in turn. */
const INPUT_BLOCK_BYTES = 1024 * 1024;
/** How much of pigz's stderr an error message may quote. */
const STDERR_TAIL_CHARS = 2048;
/** Compressed output read ahead while the previous batch is written out. */
const OUTPUT_QUEUE_BYTES = 4 * 1024 * 1024;
/** gzip's trailer: CRC-32 and input size mod 2^32, both little-endian. */
export const GZIP_TRAILER_BYTES = 8;

/** The `pigz` on the PATH, if any. */
export function findPigz(searchPath = process.env.PATH ?? ''): Promise<string | undefined> {
  return findOnPath('pigz', searchPath);
}

export interface PigzOptions {
  /** Path of the pigz executable. */
  pigz: string;
  level: number;
  /** Compression threads (`-p`). */
  threads: number;
  signal: AbortSignal;
  /**
   * Takes the compressed output in order, in batches of chunks (writes them out); the next batch
   * is handed over once the returned promise has resolved, and its failure fails the writer.
   */
  onOutput: (chunks: readonly Buffer[]) => Promise<void>;
}

interface InputSlot {
  buffer: Buffer;
  /** Settles once pigz's stdin is done with the buffer. */
  sent: Promise<void>;
}

export class PigzGzip extends TarSink {
  readonly #child;
  /** Settles when pigz has exited and its output has all been handed over; rejects on any failure. */
  readonly #done: Promise<void>;
  readonly #slots: InputSlot[];
  #turn = 0;
  #filled = 0;
  #bytesIn = 0;
  #crc = 0;
  #stderr = '';
  #ending = false;
  #cancelled = false;
  readonly #onAbort = () => this.#kill(true);

  constructor(private readonly options: PigzOptions) {
    super();
    // No variable of ours may change what pigz does; it needs none.
    this.#child = spawn(options.pigz, [`-${options.level}`, '-p', String(options.threads), '-c'], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    this.#slots = [0, 1].map(() => ({ buffer: Buffer.allocUnsafe(INPUT_BLOCK_BYTES), sent: Promise.resolve() }));
    // A pigz that dies makes writes to its stdin fail (EPIPE); how it ended is the error reported.
    this.#child.stdin.on('error', () => {});
    this.#child.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.#stderr = `${this.#stderr}${text}`.slice(-STDERR_TAIL_CHARS);
    });
    this.#done = this.#run();
    this.#done.catch(() => {});
    options.signal.addEventListener('abort', this.#onAbort, { once: true });
    if (options.signal.aborted) this.#kill(true);
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  room(): Buffer {
    return this.#slot().buffer.subarray(this.#filled);
  }

  async commit(bytes: number): Promise<void> {
    const { buffer } = this.#slot();
    if (bytes > buffer.length - this.#filled) throw new RangeError(`committed ${bytes} bytes into ${buffer.length - this.#filled} bytes of room`);
    this.#filled += bytes;
    this.#bytesIn += bytes;
    if (this.#filled === buffer.length) await this.#send();
  }

  /** Sends what is left, closes pigz's input and waits until pigz has exited and all its output is handed over. */
  async end(): Promise<void> {
    if (this.#filled > 0) await this.#send();
    await this.#settled(Promise.all(this.#slots.map((slot) => slot.sent)));
    this.#ending = true;
    this.#child.stdin.end();
    await this.#done;
  }

  /** Stops pigz if it still runs and waits for it to exit; after a failure, so that no process outlives the write. */
  async stop(): Promise<void> {
    this.#kill(false);
    await this.#done.catch(() => {});
  }

  /**
   * Why the last bytes of the output are not the trailer of exactly the input written here; null
   * when they are.
   */
  trailerProblem(trailer: Buffer): string | null {
    if (trailer.length !== GZIP_TRAILER_BYTES) return `the gzip output is ${trailer.length} bytes long, shorter than a gzip trailer`;
    const crc = trailer.readUInt32LE(0);
    const size = trailer.readUInt32LE(4);
    const expectedSize = this.#bytesIn % 2 ** 32;
    if (crc === this.#crc >>> 0 && size === expectedSize) return null;
    return `the gzip trailer says CRC-32 ${hex(crc)} over ${size} bytes (mod 2^32), but the tar stream written has CRC-32 ${hex(this.#crc)} over ${expectedSize}`;
  }

  #slot(): InputSlot {
    const slot = this.#slots[this.#turn];
    if (!slot) throw new Error(`no input buffer ${this.#turn}`);
    return slot;
  }

  /** Hands the filled buffer to pigz's stdin and waits until the other one is free again. */
  async #send(): Promise<void> {
    const slot = this.#slot();
    const chunk = slot.buffer.subarray(0, this.#filled);
    this.#crc = crc32(chunk, this.#crc);
    slot.sent = new Promise<void>((resolve, reject) => this.#child.stdin.write(chunk, (error) => (error ? reject(error) : resolve())));
    slot.sent.catch(() => {});
    this.#turn = (this.#turn + 1) % this.#slots.length;
    this.#filled = 0;
    await this.#settled(this.#slot().sent);
  }

  /** `pending`, unless pigz fails or is stopped first: then pigz's failure is the error. */
  async #settled(pending: Promise<unknown>): Promise<void> {
    await Promise.race([pending.catch(() => this.#done), this.#done.then(() => this.#exitedEarly())]);
  }

  #exitedEarly(): never {
    throw new Error('pigz exited before the end of its input');
  }

  /** Hands over stdout, then waits for the exit; pigz's own report when it fails. */
  async #run(): Promise<void> {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      this.#child.once('error', reject);
      this.#child.once('close', (code, signal) => resolve({ code, signal }));
    });
    // Awaited once the output is handed over; a failure to start must not count as unhandled before then.
    exited.catch(() => {});
    try {
      await this.#relayOutput();
    } catch (error) {
      this.#kill(false);
      await exited.catch(() => {});
      throw error;
    } finally {
      this.options.signal.removeEventListener('abort', this.#onAbort);
    }
    const { code, signal } = await exited;
    if (this.#cancelled) throw new CancelledError();
    if (code === 0 && this.#ending) return;
    const how = signal ? `was stopped by ${signal}` : `exited with code ${code}`;
    const said = this.#stderr.trim();
    throw new Error(`pigz ${how}${said ? `: ${said}` : ''}`);
  }

  /**
   * Hands stdout to `onOutput` in batches: while one batch is being written out, the next is read
   * (up to OUTPUT_QUEUE_BYTES), so pigz is not held up by each write to the disk.
   */
  async #relayOutput(): Promise<void> {
    const stdout = this.#child.stdout;
    let queued: Buffer[] = [];
    let queuedBytes = 0;
    let ended = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    stdout.on('data', (chunk: Buffer) => {
      queued.push(chunk);
      queuedBytes += chunk.length;
      if (queuedBytes >= OUTPUT_QUEUE_BYTES) stdout.pause();
      wake?.();
    });
    stdout.once('end', () => {
      ended = true;
      wake?.();
    });
    stdout.once('error', (error: Error) => {
      failure = error;
      wake?.();
    });
    for (;;) {
      if (failure) throw failure;
      if (queued.length === 0) {
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      const batch = queued;
      queued = [];
      queuedBytes = 0;
      stdout.resume();
      await this.options.onOutput(batch);
    }
  }

  #kill(cancelled: boolean): void {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#cancelled ||= cancelled;
    this.#child.kill('SIGKILL');
  }
}

function hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}
