/**
 * A Backrest plan in words (schedule, retention, hooks), and whether its last snapshot is as recent as
 * its schedule says it should be. Hooks are shown by kind and condition only: their commands, webhook
 * URLs and tokens are never read.
 */
import { CronExpressionError, parseCronExpression, previousDueTime } from '../../core/cron';
import { errorMessage } from '../../core/errors';
import { printable } from '../../core/render';
import type { BackrestHook, BackrestRetention, BackrestSchedule } from './config';

export interface HookSummary {
  /** `command`, `webhook`, `discord`, `gotify`, `slack`, `shoutrrr`, `healthchecks`, `telegram`. */
  kind: string;
  conditions: string[];
  onError?: string;
}

/** When the plan should have last run, as far as its schedule tells. */
export type Expectation =
  | { kind: 'none'; reason: string }
  | { kind: 'due'; dueSince: Date }
  | { kind: 'within'; maxAgeMs: number }
  | { kind: 'unknown'; reason: string };

const HOUR_MS = 3_600_000;

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function clockName(value: BackrestSchedule['clock']): string {
  if (value === undefined || value === 0 || value === 'CLOCK_DEFAULT' || value === 1 || value === 'CLOCK_LOCAL') return 'local';
  if (value === 2 || value === 'CLOCK_UTC') return 'utc';
  if (value === 3 || value === 'CLOCK_LAST_RUN_TIME') return 'last-run';
  return printable(String(value));
}

export function describeSchedule(schedule: BackrestSchedule | undefined): string {
  if (!schedule || schedule.disabled) return 'disabled (runs only when started by hand)';
  const clock = clockName(schedule.clock);
  const counted = clock === 'last-run' ? ', counted from the last run' : '';
  if (schedule.cron !== undefined) return `cron ${printable(schedule.cron)} (${clock === 'utc' ? 'UTC' : clock === 'last-run' ? 'next match after the last run' : "Backrest host's local time"})`;
  if (schedule.maxFrequencyHours !== undefined) return `at most every ${plural(schedule.maxFrequencyHours, 'hour')}${counted}`;
  if (schedule.maxFrequencyDays !== undefined) return `at most every ${plural(schedule.maxFrequencyDays, 'day')}${counted}`;
  return 'no schedule set (runs only when started by hand)';
}

/**
 * What the schedule expects at `now`, allowing `graceMs` for a run to finish. A cron schedule is read
 * in the Backrest host's local time (`utcOffsetMinutes`) unless its clock is UTC; a schedule counted
 * from the last run is due again once a match has passed since then, which is the same test.
 */
export function expectation(schedule: BackrestSchedule | undefined, now: Date, graceMs: number, utcOffsetMinutes: number | undefined): Expectation {
  if (!schedule || schedule.disabled || (schedule.cron === undefined && schedule.maxFrequencyHours === undefined && schedule.maxFrequencyDays === undefined)) {
    return { kind: 'none', reason: 'the plan has no schedule' };
  }
  if (schedule.cron !== undefined) {
    try {
      const offset = clockName(schedule.clock) === 'utc' ? 0 : utcOffsetMinutes;
      const due = previousDueTime(parseCronExpression(schedule.cron, 'crontab'), new Date(now.getTime() - graceMs), offset);
      return due ? { kind: 'due', dueSince: due } : { kind: 'unknown', reason: 'the cron expression never matched before now' };
    } catch (error) {
      if (error instanceof CronExpressionError) return { kind: 'unknown', reason: `the cron expression is not understood: ${errorMessage(error)}` };
      throw error;
    }
  }
  const hours = schedule.maxFrequencyHours ?? (schedule.maxFrequencyDays ?? 0) * 24;
  return { kind: 'within', maxAgeMs: hours * HOUR_MS + graceMs };
}

/** Whether a snapshot taken at `last` (none: undefined) is older than the expectation allows. */
export function isStale(expected: Expectation, last: Date | undefined, now: Date): boolean {
  if (expected.kind === 'due') return last === undefined || last < expected.dueSince;
  if (expected.kind === 'within') return last === undefined || now.getTime() - last.getTime() > expected.maxAgeMs;
  return false;
}

export function describeRetention(policy: BackrestRetention | undefined): string {
  if (!policy) return 'none set: every snapshot is kept';
  if (policy.policyKeepAll) return 'keep all snapshots';
  if (policy.policyKeepLastN !== undefined) return `keep the last ${plural(policy.policyKeepLastN, 'snapshot')}`;
  const buckets = policy.policyTimeBucketed;
  if (buckets) {
    const kept = (['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const).filter((bucket) => (buckets[bucket] ?? 0) > 0).map((bucket) => `${buckets[bucket]} ${bucket}`);
    if (buckets.keepLastN) kept.push(`the last ${buckets.keepLastN}`);
    return kept.length > 0 ? `keep ${kept.join(', ')}` : 'time buckets all zero: every snapshot is kept';
  }
  return 'none set: every snapshot is kept';
}

function conditionName(value: string | number): string {
  return typeof value === 'number' ? `condition ${value}` : printable(value.replace(/^CONDITION_/, '').toLowerCase().replaceAll('_', ' '));
}

/** A hook by the kind of its `action…` field and its conditions; nothing inside the action is read. */
export function summarizeHook(entry: BackrestHook): HookSummary {
  const actionField = Object.keys(entry).find((key) => /^action[A-Z]/.test(key));
  const kind = actionField ? printable(actionField.slice('action'.length).toLowerCase()) : 'unknown';
  const summary: HookSummary = { kind, conditions: entry.conditions.map(conditionName) };
  if (entry.onError !== undefined && entry.onError !== 'ON_ERROR_IGNORE' && entry.onError !== 0) summary.onError = typeof entry.onError === 'number' ? `on error ${entry.onError}` : printable(entry.onError.replace(/^ON_ERROR_/, '').toLowerCase().replaceAll('_', ' '));
  return summary;
}

export function describeHooks(hooks: readonly HookSummary[]): string {
  if (hooks.length === 0) return 'none';
  return hooks.map((entry) => `${entry.kind} on ${entry.conditions.join(', ') || 'no condition'}${entry.onError ? ` (${entry.onError})` : ''}`).join('; ');
}
