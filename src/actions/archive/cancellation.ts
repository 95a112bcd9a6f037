import { CancelledError, isCancellationError } from '../../core/errors';

/**
 * Streams aborted through a signal fail with an `AbortError` (or whatever error the torn-down
 * stream raised first); the runner must see a cancellation, not a failure.
 */
export function cancellationOr(error: unknown, signal: AbortSignal): unknown {
  if (error instanceof CancelledError) return error;
  if (signal.aborted || isCancellationError(error)) return new CancelledError();
  return error;
}
