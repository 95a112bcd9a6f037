import { getSystemErrorMap } from 'node:util';
import { printable } from './render';

/** Where in a runbook something is wrong, so an error message can name the exact place. */
export interface Location {
  file?: string;
  /** 1-based index of the cell in the notebook, counting prose cells too. */
  cell?: number;
  /** 1-based line in the file. */
  line?: number;
  /** Dotted path of the field inside the cell or parameter set. */
  field?: string;
  /** Offsets in the cell's source of the text the problem is about, for editors to underline. */
  span?: TextSpan;
}

/** A stretch of a text by offsets: `start` inclusive, `end` exclusive. */
export interface TextSpan {
  start: number;
  end: number;
}

export function formatLocation(location: Location): string {
  const parts: string[] = [];
  if (location.file) parts.push(location.line ? `${location.file}:${location.line}` : location.file);
  if (location.cell !== undefined) parts.push(`cell ${location.cell}`);
  if (location.field) parts.push(`\`${location.field}\``);
  return parts.join(', ');
}

/** Input that is wrong before anything runs: a bad parameter, an unknown action, a malformed cell. */
export class ValidationError extends Error {
  constructor(
    readonly problems: readonly Problem[],
  ) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ValidationError';
  }
}

export interface Problem extends Location {
  message: string;
}

export function formatProblem(problem: Problem): string {
  const where = formatLocation(problem);
  return where ? `${where}: ${problem.message}` : problem.message;
}

/** The user (or a signal) stopped the work; reported as cancelled, never as failed. */
export class CancelledError extends Error {
  constructor(message = 'Cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export function isCancellationError(error: unknown): boolean {
  return error instanceof CancelledError || (error instanceof Error && error.name === 'AbortError');
}

/**
 * Streams aborted through a signal fail with an `AbortError` (or whatever error the torn-down stream
 * raised first); the runner must see a cancellation, not a failure.
 */
export function cancellationOr(error: unknown, signal: AbortSignal): unknown {
  if (error instanceof CancelledError) return error;
  if (signal.aborted || isCancellationError(error)) return new CancelledError();
  return error;
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError();
}

/**
 * Signals for many pieces of work under one long-lived signal (a run's uploads): each aborts with the
 * parent, and one whose work is over is let go. The parent has one listener while any is open, and
 * none once all are released. `AbortSignal.any([parent])` aborts the same way, but the parent keeps a
 * trace of every signal made so for as long as it lives (nodejs/node#55351): after 15 000 uploads of
 * a snapshot mirror, 1.5 MB of them was still held, growing with every upload of a mirror that
 * watches for days; and each such signal outlives the young generation, so a busy run's heap grows.
 */
export class SignalScopes {
  private readonly running = new Set<AbortController>();
  private readonly forward = () => {
    for (const scope of this.running) scope.abort(this.parent.reason);
    this.running.clear();
  };

  constructor(private readonly parent: AbortSignal) {}

  /** A signal for one piece of work; `release` once the work is over. */
  open(): { signal: AbortSignal; release: () => void } {
    const scope = new AbortController();
    if (this.parent.aborted) {
      scope.abort(this.parent.reason);
      return { signal: scope.signal, release: () => undefined };
    }
    if (this.running.size === 0) this.parent.addEventListener('abort', this.forward, { once: true });
    this.running.add(scope);
    return {
      signal: scope.signal,
      release: () => {
        if (this.running.delete(scope) && this.running.size === 0) this.parent.removeEventListener('abort', this.forward);
      },
    };
  }

  /** Unlinks from the parent, once no more work will be opened. */
  dispose(): void {
    this.parent.removeEventListener('abort', this.forward);
    this.running.clear();
  }
}

const scopesOfSignal = new WeakMap<AbortSignal, SignalScopes>();

/**
 * A signal of one piece of work's own that aborts with `parent` (a request, a wait), for a parent
 * many run under at once (a backup's eight downloads): the parent gets one listener however many are
 * open, so they never reach Node's limit of ten there, and none once all are released; `release`
 * once the work is over. See `SignalScopes` for why not `AbortSignal.any([parent])`.
 */
export function followSignal(parent: AbortSignal): { signal: AbortSignal; release: () => void } {
  let scopes = scopesOfSignal.get(parent);
  if (!scopes) {
    scopes = new SignalScopes(parent);
    scopesOfSignal.set(parent, scopes);
  }
  return scopes.open();
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What a failed system call means, for a person: "no space left on device (ENOSPC)". Other errors
 * keep their message.
 */
export function describeSystemError(error: unknown): string {
  const { errno, code } = error as NodeJS.ErrnoException;
  const known = typeof errno === 'number' ? getSystemErrorMap().get(errno) : undefined;
  if (known && code !== undefined) return `${known[1]} (${code})`;
  return errorMessage(error);
}

/** A file could not be written; `target` is the path a person knows (not a temporary one). */
export class FileWriteError extends Error {
  constructor(
    readonly target: string,
    cause: unknown,
  ) {
    super(`cannot write ${printable(target)}: ${describeSystemError(cause)}`, { cause });
    this.name = 'FileWriteError';
  }
}

/**
 * Runs a write to the file system; a system error (disk full, file too large, permission denied)
 * becomes a `FileWriteError` naming `target`. Cancellation and other errors pass unchanged.
 */
export async function writingTo<T>(target: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isSystemError(error)) throw new FileWriteError(target, error);
    throw error;
  }
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).errno === 'number' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}
