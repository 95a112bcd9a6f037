import type { Logger, OutputSink, ProgressReporter } from './actions/spec';
import { escapeRegExp } from './regexp';

/** Values shorter than this are not masked: masking "1" or "ok" would garble every output. */
const MIN_SECRET_LENGTH = 4;
const MASK = '••••••';

/** Masks every secret value it has been told about, wherever it appears in text or data. */
export class Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | undefined;

  add(value: string): void {
    if (value.length < MIN_SECRET_LENGTH || this.secrets.has(value)) return;
    this.secrets.add(value);
    const alternatives = [...this.secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.pattern = new RegExp(alternatives.join('|'), 'g');
  }

  redact(text: string): string {
    return this.pattern ? text.replace(this.pattern, MASK) : text;
  }

  redactDeep<T>(value: T): T {
    if (!this.pattern) return value;
    return JSON.parse(this.redact(JSON.stringify(value) ?? 'null')) as T;
  }

  /** A logger that masks secrets in every message before it reaches `target`. */
  logger(target: Logger): Logger {
    return {
      debug: (message) => target.debug(this.redact(message)),
      info: (message) => target.info(this.redact(message)),
      warn: (message) => target.warn(this.redact(message)),
      error: (message) => target.error(this.redact(message)),
    };
  }

  /** Progress whose messages are masked like log lines. */
  progress(target: ProgressReporter): ProgressReporter {
    return { report: (update) => target.report(update.message === undefined ? update : { ...update, message: this.redact(update.message) }) };
  }

  /**
   * A sink that masks whole lines, so a secret split across two chunks is still caught. `flush`
   * writes what is left of an unfinished line.
   */
  sink(target: OutputSink): OutputSink & { flush(): void } {
    const pending = { stdout: '', stderr: '' };
    return {
      write: (stream, chunk) => {
        const text = pending[stream] + chunk;
        const end = text.lastIndexOf('\n') + 1;
        pending[stream] = text.slice(end);
        if (end > 0) target.write(stream, this.redact(text.slice(0, end)));
      },
      flush: () => {
        for (const stream of ['stdout', 'stderr'] as const) {
          if (pending[stream]) target.write(stream, this.redact(pending[stream]));
          pending[stream] = '';
        }
      },
    };
  }
}
