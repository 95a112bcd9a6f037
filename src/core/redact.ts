import type { Logger, OutputSink, ProgressReporter } from './actions/spec';
import { escapeRegExp } from './regexp';

/**
 * Secrets shorter than this are not masked. Masking `1` or `ok` would garble every output, and a value
 * that short protects nothing anyway: it is guessed in a few thousand tries. Such a secret is warned
 * about when it is resolved, so its owner knows it will show.
 */
export const MIN_MASKED_LENGTH = 4;

/**
 * A line of a multi-line secret is also masked on its own (programs print such values line by line),
 * but only a line with at least this many characters besides surrounding blanks: lines such as `}` or
 * `-----` would otherwise be masked in every output.
 */
export const MIN_MASKED_LINE_LENGTH = 8;

export const MASK = '••••••';

/**
 * Masks every secret value it has been told about. Text (output streams, log lines, progress,
 * errors, Markdown) is masked for every form a value takes when printed: as is, escaped in JSON, in
 * a URL, quoted for a shell, and line by line. Structured data (results, plans, run records) is
 * masked value by value before it is serialised, so a substitution never breaks its syntax.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  /** Values too short to mask: kept to warn once and to hide them when shown alone (`got "…"`). */
  private readonly unmasked = new Set<string>();
  private pattern: RegExp | undefined;

  constructor(private readonly warn: (message: string) => void = () => {}) {}

  /** Registers a secret value; `label` names it in the warning when it is too short to be masked. */
  add(value: string, label = 'a secret'): void {
    if (value === '' || this.secrets.has(value) || this.unmasked.has(value)) return;
    if (value.length < MIN_MASKED_LENGTH) {
      this.unmasked.add(value);
      this.warn(`${label} is shorter than ${MIN_MASKED_LENGTH} characters, so it cannot be masked: it will show in outputs, logs and run records`);
      return;
    }
    this.secrets.add(value);
    this.pattern = undefined;
  }

  /** Text with every printed form of every secret replaced by the mask. */
  redact(text: string): string {
    const pattern = this.textPattern();
    return pattern ? text.replace(pattern, MASK) : text;
  }

  /**
   * Plain data with secrets masked leaf by leaf, shaped as JSON would carry it. A string has each
   * secret in it masked. A number or boolean is never rewritten by a match — a size of 1234 stays a
   * size even when a secret is `1234` — except in `secretFields` (dotted paths, `env.TOKEN`), the
   * fields whose whole value is known to be a secret: those become the mask whatever their type.
   */
  redactValue<T>(value: T, secretFields: ReadonlySet<string> = new Set()): T {
    return this.maskLeaves(value, '', secretFields, new Set()) as T;
  }

  /** Whether showing `value` would show a secret, even one too short to be masked in text. */
  holdsSecret(value: unknown): boolean {
    const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
    return this.unmasked.has(text) || this.secrets.has(text) || this.redact(text) !== text;
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
   * A sink that masks whole lines, so a secret split across two chunks is still caught (a multi-line
   * secret split at a line end is caught line by line). `flush` writes what is left of an unfinished line.
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

  private textPattern(): RegExp | undefined {
    if (this.pattern || this.secrets.size === 0) return this.pattern;
    const forms = new Set<string>();
    for (const secret of this.secrets) for (const form of printedForms(secret)) forms.add(form);
    // Longest first, so a value is masked whole rather than one of its lines at a time.
    const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.pattern = new RegExp(alternatives.join('|'), 'g');
    return this.pattern;
  }

  private maskLeaves(value: unknown, field: string, secretFields: ReadonlySet<string>, ancestors: Set<object>): unknown {
    if (field !== '' && secretFields.has(field) && value !== undefined && value !== null) return MASK;
    if (typeof value === 'string') return this.redact(value);
    if (typeof value !== 'object' || value === null) return value;
    const jsonable = (value as { toJSON?: unknown }).toJSON;
    if (typeof jsonable === 'function') return this.maskLeaves((jsonable as () => unknown).call(value), field, secretFields, ancestors);
    if (ancestors.has(value)) return '[circular]';
    ancestors.add(value);
    const at = (key: string) => (field === '' ? key : `${field}.${key}`);
    const masked = Array.isArray(value)
      ? value.map((item, index) => this.maskLeaves(item, at(String(index)), secretFields, ancestors))
      : Object.fromEntries(Object.entries(value).map(([key, item]) => [this.redact(key), this.maskLeaves(item, at(key), secretFields, ancestors)]));
    ancestors.delete(value);
    return masked;
  }
}

/**
 * The forms a secret takes in printed text: as is; escaped in a JSON string (with and without
 * `\uXXXX` for non-ASCII, as Node and Python print it); percent-encoded in a URL or form, as
 * JavaScript and Python encode it; quoted for a POSIX shell; and each long enough line of a
 * multi-line value, in each of those forms.
 */
export function printedForms(secret: string): string[] {
  const forms = new Set([secret, ...escapedForms(secret)]);
  const lines = secret.split(/\r\n|\r|\n/);
  if (lines.length > 1) {
    for (const line of lines) {
      const trimmed = line.trim();
      if (trimmed.length < MIN_MASKED_LINE_LENGTH) continue;
      forms.add(trimmed);
      for (const form of escapedForms(trimmed)) forms.add(form);
    }
  }
  return [...forms].filter((form) => form.length >= MIN_MASKED_LENGTH);
}

function escapedForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const asciiJson = json.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const forms = [json, asciiJson, asciiJson.replace(/\\u[0-9a-f]{4}/g, (escape) => escape.toUpperCase().replace('\\U', '\\u'))];
  try {
    const url = encodeURIComponent(value);
    // Encoders differ on `!'()*` (Python's quote encodes them) and on spaces in forms (`+`).
    const strictUrl = url.replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
    forms.push(url, url.replace(/%20/g, '+'), strictUrl, strictUrl.replace(/%20/g, '+'));
  } catch {
    // A lone surrogate has no URL form.
  }
  forms.push(value.replace(/'/g, `'\\''`), value.replace(/["\\$`]/g, '\\$&'));
  return forms;
}
