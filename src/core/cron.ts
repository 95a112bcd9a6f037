/**
 * Cron expressions, read by croner in the dialect of the scheduler that runs them:
 * - `crontab`: a host's cron (Vixie cron, as Debian ships it): five fields, names, `@daily`-style
 *   shorthands; day of month and day of week are OR'ed when both are restricted (neither starts with `*`).
 * - `seconds`: CloudNativePG's ScheduledBackup (robfig/cron with a seconds field): six fields, seconds first.
 * - `velero`: a Velero Schedule (robfig/cron's standard parser): five fields, `CRON_TZ=` prefix allowed.
 * The robfig dialects also take `?` for "any" and `N/step` for `N-max/step`, and OR the day fields
 * unless one of them is `*` or `?`. Used to check an expression before it is installed and to tell when
 * a scheduled job was last due.
 */
import { Cron, CronPattern } from 'croner';
import type { CronOptions } from 'croner';

export type CronDialect = 'crontab' | 'seconds' | 'velero';

export interface CronSchedule {
  /** The expression as given, trimmed. */
  expression: string;
  dialect: CronDialect;
  /** 0–59; only `0` outside the `seconds` dialect. */
  seconds: ReadonlySet<number>;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  /** 1–12. */
  months: ReadonlySet<number>;
  /** 0–6, Sunday 0 (a 7 in the expression is Sunday too). */
  daysOfWeek: ReadonlySet<number>;
  /** Both day fields are restricted, so a day matching either of them is due. */
  eitherDay: boolean;
  /** The time zone the expression names (`CRON_TZ=` in the robfig dialects), if any. */
  timeZone?: string;
  /** What croner reads: the fields, with `?` as `*`. */
  pattern: string;
}

export class CronExpressionError extends Error {
  constructor(
    readonly expression: string,
    /** The field at fault (`minute`, `hour`, …), or undefined when the whole expression is. */
    readonly field: string | undefined,
    reason: string,
  ) {
    super(`cron expression '${expression}': ${field ? `${field} field: ` : ''}${reason}`);
    this.name = 'CronExpressionError';
  }
}

interface FieldRule {
  name: string;
  allowed: string;
}

const MINUTE_FIELDS: readonly FieldRule[] = [
  { name: 'minute', allowed: '0–59' },
  { name: 'hour', allowed: '0–23' },
  { name: 'day-of-month', allowed: '1–31' },
  { name: 'month', allowed: '1–12 or jan–dec' },
  { name: 'day-of-week', allowed: '0–7 or sun–sat, Sunday being 0 and 7' },
];

interface DialectRule {
  fields: readonly FieldRule[];
  /** What a field may hold: croner also reads `L`, `W` and `#`, which these schedulers refuse; letters only as names. */
  field: RegExp;
  /** robfig/cron: `?` is `*`, `N/step` is `N-max/step`, a `*` with a step restricts the field. */
  robfig: boolean;
}

const DIALECTS: Readonly<Record<CronDialect, DialectRule>> = {
  crontab: { fields: MINUTE_FIELDS, field: /^(?:[0-9*,/-]|[a-z]{3})+$/i, robfig: false },
  seconds: { fields: [{ name: 'second', allowed: '0–59' }, ...MINUTE_FIELDS], field: /^(?:[0-9*?,/-]|[a-z]{3})+$/i, robfig: true },
  velero: { fields: MINUTE_FIELDS, field: /^(?:[0-9*?,/-]|[a-z]{3})+$/i, robfig: true },
};

/** The shorthands Vixie cron and robfig/cron both know (crontab(5)); `@reboot` and `@every` have no due time to check. */
const SHORTHANDS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Parses a cron expression; a mistake is a CronExpressionError naming the field and the fault. */
export function parseCronExpression(text: string, dialect: CronDialect = 'crontab'): CronSchedule {
  const expression = text.trim();
  const rule = DIALECTS[dialect];
  let body = expression;
  let timeZone: string | undefined;
  const zoned = rule.robfig ? /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(expression) : null;
  if (zoned) {
    timeZone = zoned[1];
    body = zoned[2] ?? '';
    if (!isTimeZone(timeZone ?? '')) throw new CronExpressionError(expression, undefined, `unknown time zone '${timeZone}'`);
  }
  if (body.startsWith('@')) {
    const expanded = SHORTHANDS[body.toLowerCase()];
    if (!expanded) throw new CronExpressionError(expression, undefined, `'${body}' is not a shorthand with a due time (use ${Object.keys(SHORTHANDS).join(', ')}, or ${rule.fields.length} fields)`);
    return read(expression, dialect, dialect === 'seconds' ? `0 ${expanded}` : expanded, timeZone);
  }
  const parts = body.split(/\s+/).filter(Boolean);
  if (parts.length !== rule.fields.length) {
    throw new CronExpressionError(expression, undefined, `expected ${rule.fields.length} fields (${rule.fields.map((field) => field.name).join(' ')}), got ${parts.length}`);
  }
  const fields = parts.map((part, index) => {
    const field = rule.fields[index] as FieldRule;
    if (!rule.field.test(part)) throw new CronExpressionError(expression, field.name, `'${part}' holds a character this scheduler does not read (allowed: ${field.allowed})`);
    return rule.robfig ? part.replaceAll('?', '*') : part;
  });
  // Each field on its own, so a mistake is reported with the field it is in.
  fields.forEach((part, index) => {
    const probe = fields.map((_, other) => (other === index ? part : '*')).join(' ');
    try {
      patternOf(probe, dialect);
    } catch (error) {
      const field = rule.fields[index] as FieldRule;
      const reason = reasonOf(error);
      // croner names the value counted from 0 (a day 0 is "-1"): name the field's text instead.
      const outOfRange = /^Invalid value for /.test(reason) ? (/^\d+$/.test(part) ? `${part} is outside ${field.allowed}` : `'${part}' holds a value outside ${field.allowed}`) : undefined;
      throw new CronExpressionError(expression, field.name, outOfRange ?? `${reason} (allowed: ${field.allowed})`);
    }
  });
  return read(expression, dialect, fields.join(' '), timeZone, eitherDay(fields.slice(-3), rule));
}

/** Whether the day of month and day of week fields are both restricted, which makes a day due when either matches. */
function eitherDay([dayOfMonth, , dayOfWeek]: string[], rule: DialectRule): boolean {
  // Vixie cron counts a field as unrestricted when it starts with `*` (so `*/2` too); robfig/cron only
  // `*` or `?`, with no step or a step of 1.
  const unrestricted = (field = '') => (rule.robfig ? /^\*(?:\/1)?$/.test(field) : field.startsWith('*'));
  return !unrestricted(dayOfMonth) && !unrestricted(dayOfWeek);
}

function read(expression: string, dialect: CronDialect, pattern: string, timeZone: string | undefined, either = false): CronSchedule {
  let parsed: CronPattern;
  try {
    parsed = patternOf(pattern, dialect);
  } catch (error) {
    throw new CronExpressionError(expression, undefined, reasonOf(error));
  }
  const set = (flags: readonly number[], first = 0) => new Set(flags.flatMap((flag, index) => (flag ? [index + first] : [])));
  return {
    expression,
    dialect,
    seconds: set(parsed.second),
    minutes: set(parsed.minute),
    hours: set(parsed.hour),
    daysOfMonth: set(parsed.day, 1),
    months: set(parsed.month, 1),
    daysOfWeek: set(parsed.dayOfWeek),
    eitherDay: either,
    timeZone,
    pattern,
  };
}

function patternOf(pattern: string, dialect: CronDialect): CronPattern {
  return new CronPattern(pattern, undefined, { mode: dialect === 'seconds' ? '6-part' : '5-part', sloppyRanges: DIALECTS[dialect].robfig });
}

function reasonOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^CronPattern: /, '');
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The latest time at or before `now` at which the schedule was due; undefined when there is none.
 * A host's cron reads its expressions in the host's local time: give that host's UTC offset in
 * minutes (this machine's local time when left out). Velero and CloudNativePG read theirs in UTC
 * unless the expression names a zone (`CRON_TZ=`).
 */
export function previousDueTime(schedule: CronSchedule, now: Date, utcOffsetMinutes?: number): Date | undefined {
  const options: CronOptions = { domAndDow: !schedule.eitherDay, mode: schedule.dialect === 'seconds' ? '6-part' : '5-part', sloppyRanges: DIALECTS[schedule.dialect].robfig };
  if (schedule.timeZone) options.timezone = schedule.timeZone;
  else if (utcOffsetMinutes !== undefined) options.utcOffset = utcOffsetMinutes;
  else if (schedule.dialect !== 'crontab') options.timezone = 'UTC';
  // croner counts a run earlier in the reference's second as past: a run due this very second is.
  const reference = new Date(Math.floor(now.getTime() / 1000) * 1000 + 999);
  return new Cron(schedule.pattern, options).previousRuns(1, reference)[0];
}
