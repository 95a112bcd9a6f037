import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { findOnPath } from '../../clients/process';
import { CancelledError } from '../../core/errors';
import type { FlushBehind } from './flushBehind';
import { GzipTrailerCheck } from './gzipCheck';
import { TarSink } from './tarSink';

/**
 * gzip by `pigz`, the parallel gzip a person who cares about speed pipes tar into: the tar stream is
 * written to its stdin and pigz writes the archive file itself, as `tar -I pigz` has it do. pigz
 * compresses on all cores in native threads with no round trips to the event loop, which in-process
 * zlib on libuv's thread pool cannot match, and its output never passes through this process.
 *
 * The file is read back as pigz writes it, and hashed: the digest is that of what the file holds. pigz
 * writes one gzip member whose trailer holds the CRC-32 and length (mod 2^32) of all its input;
 * `trailerProblem` checks the file's last bytes against what was written here, which proves the file
 * holds the whole tar stream, as it was produced, and was not cut short.
 */

/** Tar bytes per write to pigz's stdin; two such buffers are filled and sent in turn. */
const INPUT_BLOCK_BYTES = 1024 * 1024;
/** How much of pigz's stderr an error message may quote. */
const STDERR_TAIL_CHARS = 2048;
/** Bytes of the archive file read back at a time. */
const READ_BACK_BYTES = 1024 * 1024;
/** How long the read-back waits for pigz to write more once it has caught up. */
const READ_BACK_PAUSE_MS = 20;

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
  /** The new, empty archive file, open for reading and writing: pigz writes it, this reads it back. */
  output: FileHandle;
  /** Told how much of the file was read back, which pigz has written. */
  flush: FlushBehind;
  /** The path messages name for it. */
  reportedPath: string;
}

/** The archive file as it was read back. */
export interface PigzOutput {
  bytes: number;
  sha256: string;
}

interface InputSlot {
  buffer: Buffer;
  /** Settles once pigz's stdin is done with the buffer. */
  sent: Promise<void>;
}

export class PigzGzip extends TarSink {
  readonly #child;
  readonly #stdin: Writable;
  /** Settles when pigz has exited and its output has all been handed over; rejects on any failure. */
  readonly #done: Promise<void>;
  readonly #slots: InputSlot[];
  #turn = 0;
  #filled = 0;
  #bytesIn = 0;
  readonly #trailer = new GzipTrailerCheck();
  readonly #hash = createHash('sha256');
  #bytesOut = 0;
  #stderr = '';
  #ending = false;
  #stopped = false;
  #cancelled = false;
  readonly #onAbort = () => this.#kill(true);

  constructor(private readonly options: PigzOptions) {
    super();
    // No variable of ours may change what pigz does; it needs none.
    this.#child = spawn(options.pigz, [`-${options.level}`, '-p', String(options.threads), '-c'], { stdio: ['pipe', options.output.fd, 'pipe'], env: {} });
    const { stdin, stderr } = this.#child;
    // Node makes both, as asked above; the typings cannot tell with a file descriptor in between.
    if (!stdin || !stderr) throw new Error('pigz was started without its stdin and stderr pipes');
    this.#stdin = stdin;
    this.#slots = [0, 1].map(() => ({ buffer: Buffer.allocUnsafe(INPUT_BLOCK_BYTES), sent: Promise.resolve() }));
    // A pigz that dies makes writes to its stdin fail (EPIPE); how it ended is the error reported.
    stdin.on('error', () => {});
    stderr.setEncoding('utf8').on('data', (text: string) => {
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

  /** Sends what is left, closes pigz's input and waits until pigz has exited and its output is read back. */
  async end(): Promise<void> {
    if (this.#filled > 0) await this.#send();
    await this.#settled(Promise.all(this.#slots.map((slot) => slot.sent)));
    this.#ending = true;
    this.#stdin.end();
    await this.#done;
  }

  /** Stops pigz if it still runs and waits for it to exit; after a failure, so that no process outlives the write. */
  async stop(): Promise<void> {
    this.#kill(false);
    await this.#done.catch(() => {});
  }

  /** The archive file as read back, once `end` has resolved. */
  output(): PigzOutput {
    return { bytes: this.#bytesOut, sha256: this.#hash.digest('hex') };
  }

  /**
   * Why the last bytes of the file are not the trailer of exactly the input written here; null
   * when they are.
   */
  trailerProblem(): string | null {
    return this.#trailer.problem();
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
    this.#trailer.input(chunk);
    slot.sent = new Promise<void>((resolve, reject) => this.#stdin.write(chunk, (error) => (error ? reject(error) : resolve())));
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

  /** Reads the file back as pigz writes it, to its end once pigz has exited; pigz's own report when it fails. */
  async #run(): Promise<void> {
    let ended = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      this.#child.once('error', reject);
      this.#child.once('close', (code, signal) => resolve({ code, signal }));
    }).finally(() => (ended = true));
    // Awaited once the file is read back; a failure to start must not count as unhandled before then.
    exited.catch(() => {});
    try {
      await this.#readBack(exited, () => ended);
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
    const failure = `pigz ${how}${said ? `: ${said}` : ''}`;
    // pigz says "write error on <stdout> (…)" when the archive file could not take its output (a full disk).
    throw new Error(/write error/.test(said) ? `cannot write ${this.options.reportedPath}: ${failure}` : failure);
  }

  /**
   * Hashes the file from its start as it grows; once pigz has exited, what a read finds is all there
   * is. pigz only ever appends, so every byte read is final.
   */
  async #readBack(exited: Promise<unknown>, hasExited: () => boolean): Promise<void> {
    const buffer = Buffer.allocUnsafe(READ_BACK_BYTES);
    // A stopped pigz's file is removed, unread.
    while (!this.#stopped) {
      // Asked before the read: a read that finds nothing after pigz exited is the end of the file.
      const finished = hasExited();
      const { bytesRead } = await this.options.output.read(buffer, 0, buffer.length, this.#bytesOut);
      if (bytesRead > 0) {
        const read = buffer.subarray(0, bytesRead);
        this.#hash.update(read);
        this.#bytesOut += bytesRead;
        this.#trailer.output(read);
        this.options.flush.written(this.#bytesOut);
      } else if (finished) {
        return;
      } else {
        await Promise.race([exited.catch(() => undefined), sleep(READ_BACK_PAUSE_MS)]);
      }
    }
  }

  #kill(cancelled: boolean): void {
    this.#stopped = true;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#cancelled ||= cancelled;
    this.#child.kill('SIGKILL');
  }
}
