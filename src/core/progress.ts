import type { ProgressReporter, ProgressUpdate } from './actions/spec';

/**
 * Streams call back per chunk (thousands of times a second); a person needs a few updates a
 * second. Keeps the latest numbers and passes them on at most once per interval, plus on flush
 * and whenever the message changes (a new phase is worth showing at once).
 */
export class ThrottledProgress {
  #current: ProgressUpdate = {};
  #lastReportAt = 0;

  constructor(
    private readonly reporter: ProgressReporter,
    private readonly intervalMs = 250,
  ) {}

  update(update: ProgressUpdate): void {
    const newPhase = update.message !== undefined && update.message !== this.#current.message;
    this.#current = { ...this.#current, ...update };
    const now = performance.now();
    if (newPhase || now - this.#lastReportAt >= this.intervalMs) {
      this.#lastReportAt = now;
      this.reporter.report({ ...this.#current });
    }
  }

  /** Reports the latest numbers now (at the end of a phase, so the final count is always seen). */
  flush(update: ProgressUpdate = {}): void {
    this.#current = { ...this.#current, ...update };
    this.#lastReportAt = performance.now();
    this.reporter.report({ ...this.#current });
  }
}
