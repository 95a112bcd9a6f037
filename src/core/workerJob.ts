import { parentPort, Worker, workerData } from 'node:worker_threads';
import { CancelledError, errorMessage, FileWriteError, isCancellationError, throwIfAborted } from './errors';

/**
 * One job on a worker thread of its own, for work that makes synchronous file-system calls: through
 * libuv's thread pool each call costs ~70 µs of CPU in hand-offs and waits its turn, synchronously it
 * costs microseconds, and on a thread of its own it holds up no other event loop (not the extension
 * host's, not the CLI's). The worker's source is a module bundled on its own, which calls
 * serveWorkerJob; a bundle gets it as text with `import { source } from './module?worker-source'`
 * (see `workerSources` in esbuild.config.mjs), so no worker file has to be found beside the bundle.
 */

type FromWorker<Progress, Result> =
  | { kind: 'progress'; progress: Progress }
  | { kind: 'warning'; message: string }
  | { kind: 'done'; result: Result }
  | { kind: 'failed'; failure: WorkerFailure; cancelled: boolean };

interface ToWorker {
  kind: 'cancel';
}

/** An error thrown on the worker, as it crosses to the thread that started it. */
interface WorkerFailure {
  message: string;
  code?: string;
  /** A FileWriteError's target and the system error under it, from which it is made again. */
  write?: { target: string; cause: SystemErrorFields };
}

interface SystemErrorFields {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
}

function failureOf(error: unknown): WorkerFailure {
  const code = (error as NodeJS.ErrnoException).code;
  const failure: WorkerFailure = { message: errorMessage(error), ...(typeof code === 'string' ? { code } : {}) };
  if (error instanceof FileWriteError) {
    const { message, code: causeCode, errno, syscall } = error.cause as NodeJS.ErrnoException;
    failure.write = { target: error.target, cause: { message, code: causeCode, errno, syscall } };
  }
  return failure;
}

/** The error as the thread that started the worker throws it: a plain Error keeps message and code; a FileWriteError stays one. */
function errorOf(failure: WorkerFailure): Error {
  if (failure.write) return new FileWriteError(failure.write.target, Object.assign(new Error(failure.write.cause.message), failure.write.cause));
  return Object.assign(new Error(failure.message), failure.code === undefined ? {} : { code: failure.code });
}

export interface WorkerJobOptions<Progress> {
  signal: AbortSignal;
  onProgress?: (progress: Progress) => void;
  onWarning?: (message: string) => void;
}

/**
 * Runs the job on a new worker and settles once that worker has ended, so whatever it opened is
 * closed and whatever it started has exited, whatever the outcome. A cancel is passed on as a
 * message; the worker stops at its next await.
 */
export async function runWorkerJob<Job, Progress, Result>(source: string, job: Job, options: WorkerJobOptions<Progress>): Promise<Result> {
  const { signal } = options;
  throwIfAborted(signal);
  return new Promise<Result>((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: job });
    let settle: (() => void) | undefined;
    const cancel = () => worker.postMessage({ kind: 'cancel' } satisfies ToWorker);
    signal.addEventListener('abort', cancel, { once: true });
    worker.on('message', (message: FromWorker<Progress, Result>) => {
      switch (message.kind) {
        case 'progress':
          options.onProgress?.(message.progress);
          break;
        case 'warning':
          options.onWarning?.(message.message);
          break;
        case 'done':
          settle = () => resolve(message.result);
          break;
        case 'failed': {
          const error = message.cancelled ? new CancelledError() : errorOf(message.failure);
          settle = () => reject(error);
          break;
        }
      }
    });
    worker.on('error', (error) => {
      settle ??= () => reject(new Error(`a worker thread failed: ${error.message}`, { cause: error }));
    });
    worker.on('exit', (code) => {
      signal.removeEventListener('abort', cancel);
      (settle ?? (() => reject(new Error(`a worker thread ended (exit code ${code}) before its job was done`))))();
    });
  });
}

export interface WorkerJobContext<Progress> {
  signal: AbortSignal;
  /** Reported at most every PROGRESS_INTERVAL_MS: a message per file would cost more than the work. */
  progress(progress: Progress): void;
  warning(message: string): void;
}

const PROGRESS_INTERVAL_MS = 50;

/** The worker's side: runs `work` on the job it was started with and reports back; the thread then ends. */
export function serveWorkerJob<Job, Progress, Result>(work: (job: Job, context: WorkerJobContext<Progress>) => Promise<Result>): void {
  const port = parentPort;
  if (!port) return;
  const cancel = new AbortController();
  const onMessage = (message: ToWorker) => {
    if (message.kind === 'cancel') cancel.abort();
  };
  port.on('message', onMessage);
  const send = (message: FromWorker<Progress, Result>) => port.postMessage(message);
  let reportedAt = Number.NEGATIVE_INFINITY;
  const context: WorkerJobContext<Progress> = {
    signal: cancel.signal,
    progress: (progress) => {
      const now = performance.now();
      if (now - reportedAt < PROGRESS_INTERVAL_MS) return;
      reportedAt = now;
      send({ kind: 'progress', progress });
    },
    warning: (message) => send({ kind: 'warning', message }),
  };
  work(workerData as Job, context)
    .then(
      (result) => send({ kind: 'done', result }),
      (error: unknown) => send({ kind: 'failed', failure: failureOf(error), cancelled: isCancellationError(error) }),
    )
    // Nothing else keeps the thread alive: it ends once the last message is sent.
    .finally(() => port.off('message', onMessage));
}
