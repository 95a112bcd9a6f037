import { CancelledError, followSignal, throwIfAborted } from '../core/errors';

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** Delay before the first retry; each later one doubles it, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5000 };

/**
 * Runs `attempt` until it succeeds, `isRetryable` says an error is final, or the attempts are used up.
 * Waits with exponential backoff and full jitter between attempts (so clients that failed together do
 * not retry together), and stops at once when `signal` aborts.
 */
export async function withRetries<Result>(
  attempt: (attemptNumber: number) => Promise<Result>,
  options: { policy: RetryPolicy; isRetryable: (error: unknown) => boolean; signal: AbortSignal | undefined; onRetry?: (error: unknown, attemptNumber: number, delayMs: number) => void },
): Promise<Result> {
  for (let attemptNumber = 1; ; attemptNumber++) {
    if (options.signal) throwIfAborted(options.signal);
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      if (options.signal?.aborted || attemptNumber >= options.policy.attempts || !options.isRetryable(error)) throw error;
      const ceiling = Math.min(options.policy.maxDelayMs, options.policy.baseDelayMs * 2 ** (attemptNumber - 1));
      const delayMs = Math.round(Math.random() * ceiling);
      options.onRetry?.(error, attemptNumber, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

/** Waits `ms`, or rejects with a `CancelledError` as soon as `callerSignal` aborts. */
export function sleep(ms: number, callerSignal: AbortSignal | undefined): Promise<void> {
  if (callerSignal?.aborted) return Promise.reject(new CancelledError());
  // Many calls may back off at once on one shared signal (a backup's downloads): each wait listens
  // on a signal of its own that follows it.
  const scope = callerSignal ? followSignal(callerSignal) : undefined;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      scope?.release();
      reject(new CancelledError());
    };
    const timer = setTimeout(() => {
      scope?.signal.removeEventListener('abort', onAbort);
      scope?.release();
      resolve();
    }, ms);
    scope?.signal.addEventListener('abort', onAbort, { once: true });
  });
}
