import type { ProgressUpdate } from './actions/spec';

/** How results and progress read for a person, in the notebook and in a terminal. */

/**
 * Control characters, line breaks, lone surrogates and invisible format characters (bidi
 * overrides, zero-width marks), plus the backslash that starts an escape.
 */
const UNPRINTABLE = /[\\\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/**
 * Text from outside (archive entry names, file names, link targets) made safe to print in any
 * message: a name can neither forge lines of output nor reorder or hide what is shown around it.
 * Escapes read like JavaScript's (`\n`, `\x1b`, `\u202e`), so the original is recoverable.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (character) => {
    const named = NAMED_ESCAPES[character];
    if (named !== undefined) return named;
    const code = character.codePointAt(0) ?? 0;
    if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
    return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

export function markdownTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(headers), `|${headers.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n');
}

function escapeCell(value: unknown): string {
  const text = value === undefined || value === null ? '' : String(value);
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${BYTE_UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** "1 image", "3 images": a count with its noun (plural by an added s). */
export function formatCount(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** "3 h ago", "2 d ago": the age of a backup at a glance. */
export function formatAge(date: Date, now = new Date()): string {
  const seconds = Math.max(0, (now.getTime() - date.getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/** One line of progress: a bar and percentage when the total is known, then counts and the message. */
export function describeProgress(update: ProgressUpdate): string {
  const parts: string[] = [];
  if (update.totalBytes) {
    const done = update.bytes ?? 0;
    parts.push(`${bar(done / update.totalBytes)} ${Math.floor((100 * done) / update.totalBytes)}% ${formatBytes(done)}/${formatBytes(update.totalBytes)}`);
  } else if (update.bytes !== undefined) {
    parts.push(formatBytes(update.bytes));
  }
  if (update.items !== undefined) parts.push(update.totalItems ? `${update.items}/${update.totalItems} items` : `${update.items} items`);
  if (update.message) parts.push(update.message);
  return parts.join('  ');
}

function bar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Local time, as archive names and run files carry it: `2026-01-24 06:51`. */
export function formatLocalDateTime(date: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** Text shown literally inside Markdown (a file name with `_` or `*` in it). */
export function markdownEscape(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
