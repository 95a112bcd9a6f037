import { createReadStream, createWriteStream } from 'node:fs';
import { Stream } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientChannel } from 'ssh2';
import { CancelledError } from '../../core/errors';
import type { RemoteProcess } from './remoteProcess';

export interface ExecOptions {
  /**
   * Streamed to the command's stdin; when left out the command gets an immediate end of input. A
   * `{ file }` is read by the transport itself: the system `ssh` then reads it with no copy through Node.
   */
  stdin?: Readable | LocalFile;
  /** Receives the command's stdout (a `{ file }` is written directly, as for stdin); when left out, stdout is collected into the result. */
  stdout?: Writable | LocalFile;
  /** Receives the command's stderr as it comes; its tail is in the result either way. */
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A local file as a command's stdin or stdout. */
export interface LocalFile {
  file: string;
}

export function isLocalFile(stream: Readable | Writable | LocalFile): stream is LocalFile {
  return !(stream instanceof Stream);
}

export interface ExecResult {
  exitCode: number | null;
  /** The signal that ended the remote command, when one did. */
  exitSignal?: string;
  /** Collected stdout, when no `stdout` stream was given. */
  stdout?: string;
  stderrTail: string;
  transport: 'ssh2' | 'openssh';
}

/** Feeds stdin, drains stdout and stderr, and settles when the channel closes. */
export async function driveChannel(channel: ClientChannel, command: string, label: string, options: ExecOptions, remote: RemoteProcess): Promise<ExecResult> {
  let exitCode: number | null = null;
  let exitSignal: string | undefined;
  channel.on('exit', (code: number | null, signal?: string) => {
    exitCode = code;
    exitSignal = signal;
  });
  channel.stderr.setEncoding('utf8');
  channel.stderr.on('data', (chunk: string) => remote.stderr(chunk));
  const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  void closed.then(() => remote.exited());
  const chunks: Buffer[] = [];
  // stdout must always be read: an unread channel never emits `close` and the call would hang.
  const { stdin, stdout } = options;
  const drained = stdout ? pipeline(channel, isLocalFile(stdout) ? createWriteStream(stdout.file) : stdout) : (channel.on('data', (chunk: Buffer) => chunks.push(chunk)), Promise.resolve());
  const fed = stdin ? pipeline(isLocalFile(stdin) ? createReadStream(stdin.file) : stdin, channel.stdin) : (channel.end(), Promise.resolve());
  const stopped = await untilStopped(options, remote, () => Promise.all([closed, drained, fed]), () => channel.close());
  if (stopped === 'cancelled') throw new CancelledError();
  if (stopped === 'timeout') throw new Error(`${label}: \`${command}\` timed out after ${Math.round((options.timeoutMs ?? 0) / 1000)} s`);
  return { exitCode, exitSignal, stdout: options.stdout ? undefined : Buffer.concat(chunks).toString('utf8'), stderrTail: remote.stderrTail, transport: 'ssh2' };
}

/**
 * Waits for a running command, stopping it on cancel or timeout. Returns why it was stopped, if it was;
 * a stream error after a stop is the stop's doing and not reported.
 */
export async function untilStopped(options: ExecOptions, remote: RemoteProcess, finished: () => Promise<unknown>, abandon: () => void): Promise<'cancelled' | 'timeout' | undefined> {
  let stopped: 'cancelled' | 'timeout' | undefined;
  const stop = (reason: 'cancelled' | 'timeout') => {
    stopped ??= reason;
    remote.stop();
  };
  const onAbort = () => stop('cancelled');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const timer = options.timeoutMs ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined;
  try {
    await finished();
  } catch (error) {
    abandon();
    if (!stopped) throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  }
  return stopped;
}
