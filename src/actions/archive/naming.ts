import * as z from 'zod';
import { escapeRegExp } from '../../core/regexp';

/** Archive names: the pattern `archive.create` writes, and the dates `archive.list` reads back. */

export const DEFAULT_NAME_PATTERN = '{prefix}-{YYYY}{MM}{DD}-{hh}{mm}{ss}.tar.gz';

/** A prefix is one part of a file name: no separators, no leading dot (that would hide it). */
const SAFE_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** An archive name prefix: safe as part of a file name, and what retention and filters match on. */
export const archivePrefix = z.string().regex(SAFE_PREFIX, 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"');

const TIME_TOKENS = ['YYYY', 'MM', 'DD', 'hh', 'mm', 'ss'] as const;
type TimeToken = (typeof TIME_TOKENS)[number];
const TOKEN_WIDTH: Record<TimeToken, number> = { YYYY: 4, MM: 2, DD: 2, hh: 2, mm: 2, ss: 2 };
const TOKEN = /\{([^{}]*)\}/g;
const SAFE_LITERAL = /^[A-Za-z0-9._-]*$/;

/** Why a name pattern is unusable, or undefined when it is fine. */
export function namePatternProblem(pattern: string): string | undefined {
  const tokens = [...pattern.matchAll(TOKEN)].map((match) => match[1] ?? '');
  const unknown = tokens.filter((token) => token !== 'prefix' && !(TIME_TOKENS as readonly string[]).includes(token));
  if (unknown.length > 0) {
    return `unknown placeholder ${unknown.map((token) => `{${token}}`).join(', ')}; use {prefix}, ${TIME_TOKENS.map((t) => `{${t}}`).join(', ')}`;
  }
  if (!tokens.includes('prefix')) return 'must contain {prefix}, so retention only ever touches archives of this prefix';
  if (!SAFE_LITERAL.test(pattern.replace(TOKEN, ''))) return 'may only contain letters, digits, ".", "_" and "-" besides placeholders';
  if (pattern.startsWith('.')) return 'must not start with "." (that would hide the archive)';
  if (!/\.(tar\.gz|tgz)$/.test(pattern)) return 'must end with .tar.gz or .tgz';
  return undefined;
}

export function formatArchiveName(pattern: string, prefix: string, date: Date): string {
  const parts: Record<TimeToken, number> = {
    YYYY: date.getFullYear(),
    MM: date.getMonth() + 1,
    DD: date.getDate(),
    hh: date.getHours(),
    mm: date.getMinutes(),
    ss: date.getSeconds(),
  };
  return pattern.replace(TOKEN, (_, token: string) =>
    token === 'prefix' ? prefix : String(parts[token as TimeToken]).padStart(TOKEN_WIDTH[token as TimeToken], '0'),
  );
}

/**
 * Recognises names this pattern produced for this prefix, and returns for each a key that sorts
 * by the time in the name (YYYYMMDDhhmmss, absent parts as zeros); undefined for any other name.
 */
export function compileNameMatcher(pattern: string, prefix: string): (name: string) => string | undefined {
  const order: TimeToken[] = [];
  let source = '';
  let last = 0;
  for (const match of pattern.matchAll(TOKEN)) {
    source += escapeRegExp(pattern.slice(last, match.index));
    const token = match[1] as TimeToken | 'prefix';
    if (token === 'prefix') {
      source += escapeRegExp(prefix);
    } else {
      source += `(\\d{${TOKEN_WIDTH[token]}})`;
      order.push(token);
    }
    last = match.index + match[0].length;
  }
  source += escapeRegExp(pattern.slice(last));
  const regex = new RegExp(`^${source}$`);
  return (name) => {
    const match = regex.exec(name);
    if (!match) return undefined;
    const captured = new Map(order.map((token, index) => [token, match[index + 1] ?? '']));
    return TIME_TOKENS.map((token) => captured.get(token) ?? '0'.repeat(TOKEN_WIDTH[token])).join('');
  };
}

/** Archive files as `archive.list`/`archive.verify` see them; dot-files are temporaries or state. */
export function isArchiveFileName(name: string): boolean {
  return !name.startsWith('.') && /\.(tar\.gz|tgz)$/.test(name);
}

/** `frigate-faces` selects `frigate-faces-20260124.tar.gz` but not `frigate-facesX…` or `frigate-…`. */
export function hasPrefix(name: string, prefix: string | undefined): boolean {
  if (prefix === undefined || prefix === '') return true;
  return name.startsWith(prefix) && /^[-_.]/.test(name.slice(prefix.length));
}

const NAME_TIMESTAMP = /(?:^|\D)(\d{4})(\d{2})(\d{2})(?:[-_T](\d{2})(\d{2})(\d{2}))?(?=\D|$)/;

/**
 * The local time in a name like `x-20260124-065100.tar.gz`, `badr_backup_20260124_065100.tar.gz`
 * or the legacy `frigate-faces-20260124.tar.gz` (date only, midnight); undefined when absent.
 */
export function timestampFromName(name: string): Date | undefined {
  const match = NAME_TIMESTAMP.exec(name);
  if (!match) return undefined;
  const [year, month, day, hours = 0, minutes = 0, seconds = 0] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part)));
  if (year === undefined || month === undefined || day === undefined) return undefined;
  const date = new Date(year, month - 1, day, hours, minutes, seconds);
  const valid =
    date.getFullYear() === year && date.getMonth() === month - 1 && date.getDate() === day && date.getHours() === hours && date.getMinutes() === minutes && date.getSeconds() === seconds;
  return valid ? date : undefined;
}

/**
 * The prefix an archive was made with, read back from its name: what comes before the name's
 * timestamp (`app-data-20260124-065100.tar.gz` → `app-data`), or the whole stem of an undated name.
 * Undefined when that is not a usable prefix. Lets a caller that holds one archive (a tree node)
 * fill in a runbook's `prefix` parameter so the archive is among those it lists.
 */
export function prefixOfArchiveName(name: string): string | undefined {
  const stem = name.replace(/\.(tar\.gz|tgz)$/, '');
  const timestamp = NAME_TIMESTAMP.exec(stem);
  const prefix = (timestamp ? stem.slice(0, timestamp.index) : stem).replace(/[-_.]+$/, '');
  return SAFE_PREFIX.test(prefix) && hasPrefix(name, prefix) ? prefix : undefined;
}

/**
 * Archives newest first by the time in their names, undated ones last; archives of the same time
 * by name, the later first.
 */
export function newestFirst<Archive extends { name: string }>(archives: readonly Archive[]): (Archive & { date: Date | undefined })[] {
  return archives
    .map((archive) => ({ ...archive, date: timestampFromName(archive.name) }))
    .sort((a, b) => (b.date?.getTime() ?? 0) - (a.date?.getTime() ?? 0) || b.name.localeCompare(a.name));
}
