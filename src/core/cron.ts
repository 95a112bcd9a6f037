/**
 * Cron expressions as Debian's cron reads them: five fields (minute, hour, day of month, month, day
 * of week) of lists, ranges, steps and names, or one of the `@daily`-style shorthands. Used to check
 * an expression before it is installed and to tell when a scheduled job was last due.
 */

export interface CronSchedule {
  /** The expression as given, trimmed. */
  expression: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  /** 1–12. */
  months: ReadonlySet<number>;
  /** 0–6, Sunday 0 (a 7 in the expression is Sunday too). */
  daysOfWeek: ReadonlySet<number>;
  /**
   * When both day fields are restricted (neither starts with `*`), cron runs on a day matching
   * either of them; otherwise a day must match both.
   */
  eitherDay: boolean;
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
  min: number;
  max: number;
  names?: readonly string[];
  /** The first name's number: months count from 1, weekdays from 0. */
  namesFrom?: number;
}

const FIELDS: readonly FieldRule[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], namesFrom: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], namesFrom: 0 },
];

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
export function parseCronExpression(text: string): CronSchedule {
  const expression = text.trim();
  if (expression.startsWith('@')) {
    const expanded = SHORTHANDS[expression.toLowerCase()];
    if (!expanded) throw new CronExpressionError(expression, undefined, `unknown shorthand (use one of ${Object.keys(SHORTHANDS).join(', ')}, or five fields)`);
    return { ...parseCronExpression(expanded), expression };
  }
  const parts = expression.split(/\s+/).filter(Boolean);
  if (parts.length !== FIELDS.length) {
    throw new CronExpressionError(expression, undefined, `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  }
  const [minutes, hours, daysOfMonth, months, weekdays] = FIELDS.map((rule, index) => parseField(expression, rule, parts[index] as string));
  const daysOfWeek = new Set([...(weekdays as Set<number>)].map((day) => day % 7));
  return {
    expression,
    minutes: minutes as Set<number>,
    hours: hours as Set<number>,
    daysOfMonth: daysOfMonth as Set<number>,
    months: months as Set<number>,
    daysOfWeek,
    eitherDay: !(parts[2] as string).startsWith('*') && !(parts[4] as string).startsWith('*'),
  };
}

function parseField(expression: string, rule: FieldRule, text: string): Set<number> {
  const fail = (reason: string): never => {
    throw new CronExpressionError(expression, rule.name, reason);
  };
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') fail(`empty list item in '${text}'`);
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined) fail(`'${item}' has more than one step`);
    let low: number;
    let high: number;
    if (range === '*') {
      [low, high] = [rule.min, rule.max];
    } else {
      const [first, last, beyond] = (range as string).split('-');
      if (beyond !== undefined) fail(`'${range}' is not a range (use low-high)`);
      low = fieldValue(rule, first as string, fail);
      high = last === undefined ? low : fieldValue(rule, last, fail);
      if (high < low) fail(`range '${range}' runs backwards`);
      if (stepText !== undefined && last === undefined) fail(`a step needs a range or '*' before it, as in '*/${stepText}' or '${range}-${rule.max}/${stepText}'`);
    }
    const step = stepText === undefined ? 1 : Number(stepText);
    if (stepText !== undefined && (!/^\d+$/.test(stepText) || step < 1)) fail(`step '${stepText}' is not a positive whole number`);
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

function fieldValue(rule: FieldRule, text: string, fail: (reason: string) => never): number {
  const named = rule.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (rule.namesFrom ?? 0);
  if (!/^\d+$/.test(text)) fail(`'${text}' is not a number${rule.names ? ` or a name (${rule.names.join(', ')})` : ''}`);
  const value = Number(text);
  if (value < rule.min || value > rule.max) fail(`${value} is outside ${rule.min}–${rule.max}`);
  return value;
}

/** How far back a schedule is searched: long enough for `29 2` (leap days) with room to spare. */
const SEARCH_DAYS = 8 * 366;
const MINUTE_MS = 60_000;

/**
 * The latest minute at or before `now` at which the schedule was due, on the wall clock of a host
 * `utcOffsetMinutes` ahead of UTC (this machine's offset unless given: cron reads its expressions in
 * the host's local time); undefined when there is none in eight years.
 */
export function previousDueTime(schedule: CronSchedule, now: Date, utcOffsetMinutes = -now.getTimezoneOffset()): Date | undefined {
  // The host's wall clock, read through the UTC getters.
  const wall = new Date(now.getTime() + utcOffsetMinutes * MINUTE_MS);
  const latestMinutes = [...schedule.minutes].sort((a, b) => b - a);
  const latestHours = [...schedule.hours].sort((a, b) => b - a);
  for (let back = 0; back <= SEARCH_DAYS; back++) {
    const day = new Date(Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate() - back));
    if (!dayMatches(schedule, day)) continue;
    for (const hour of latestHours) {
      for (const minute of latestMinutes) {
        const due = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hour, minute);
        if (due <= wall.getTime()) return new Date(due - utcOffsetMinutes * MINUTE_MS);
      }
    }
  }
  return undefined;
}

function dayMatches(schedule: CronSchedule, day: Date): boolean {
  if (!schedule.months.has(day.getUTCMonth() + 1)) return false;
  const byMonthDay = schedule.daysOfMonth.has(day.getUTCDate());
  const byWeekday = schedule.daysOfWeek.has(day.getUTCDay());
  return schedule.eitherDay ? byMonthDay || byWeekday : byMonthDay && byWeekday;
}
