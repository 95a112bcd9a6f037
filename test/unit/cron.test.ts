import assert from 'node:assert/strict';
import { CronExpressionError, parseCronExpression, previousDueTime } from '../../src/core/cron';

/** Local time, as cron reads its expressions. */
const at = (year: number, month: number, day: number, hours = 0, minutes = 0) => new Date(year, month - 1, day, hours, minutes);
const sorted = (values: ReadonlySet<number>) => [...values].sort((a, b) => a - b);

describe('cron expressions', () => {
  it('reads lists, ranges, steps and names', () => {
    const schedule = parseCronExpression('0,15-20,*/25 1-7/3 1,15 jan-mar,DEC mon-fri');
    assert.deepEqual(sorted(schedule.minutes), [0, 15, 16, 17, 18, 19, 20, 25, 50]);
    assert.deepEqual(sorted(schedule.hours), [1, 4, 7]);
    assert.deepEqual(sorted(schedule.daysOfMonth), [1, 15]);
    assert.deepEqual(sorted(schedule.months), [1, 2, 3, 12]);
    assert.deepEqual(sorted(schedule.daysOfWeek), [1, 2, 3, 4, 5]);
    assert.equal(schedule.eitherDay, true);
  });

  it('takes 7 as Sunday and expands the shorthands', () => {
    assert.deepEqual(sorted(parseCronExpression('0 0 * * 5-7').daysOfWeek), [0, 5, 6]);
    const daily = parseCronExpression('@daily');
    assert.equal(daily.expression, '@daily');
    assert.deepEqual([sorted(daily.minutes), sorted(daily.hours), daily.daysOfMonth.size, daily.eitherDay], [[0], [0], 31, false]);
    assert.deepEqual(sorted(parseCronExpression('@weekly').daysOfWeek), [0]);
  });

  const refused: [string, string | undefined, RegExp][] = [
    ['0 3 * *', undefined, /expected 5 fields/],
    ['60 3 * * *', 'minute', /60 is outside 0–59/],
    ['0 24 * * *', 'hour', /24 is outside 0–23/],
    ['0 3 0 * *', 'day-of-month', /0 is outside 1–31/],
    ['0 3 * 13 *', 'month', /13 is outside 1–12/],
    ['0 3 * * 8', 'day-of-week', /8 is outside 0–7/],
    ['0 3 * * fry', 'day-of-week', /'fry' is not a number or a name/],
    ['*/0 3 * * *', 'minute', /step '0' is not a positive whole number/],
    ['5/10 3 * * *', 'minute', /a step needs a range/],
    ['0 5-2 * * *', 'hour', /runs backwards/],
    ['0 1,,2 * * *', 'hour', /empty list item/],
    ['@reboot', undefined, /unknown shorthand/],
  ];
  for (const [expression, field, message] of refused) {
    it(`refuses '${expression}' naming ${field ?? 'the expression'}`, () => {
      assert.throws(
        () => parseCronExpression(expression),
        (error: unknown) => error instanceof CronExpressionError && error.field === field && message.test(error.message) && error.message.includes(expression),
      );
    });
  }

  describe('previous due time', () => {
    it('is today when the time has passed, else yesterday', () => {
      const nightly = parseCronExpression('0 3 * * *');
      assert.deepEqual(previousDueTime(nightly, at(2026, 2, 8, 3, 0)), at(2026, 2, 8, 3, 0));
      assert.deepEqual(previousDueTime(nightly, at(2026, 2, 8, 14, 30)), at(2026, 2, 8, 3, 0));
      assert.deepEqual(previousDueTime(nightly, at(2026, 2, 8, 2, 59)), at(2026, 2, 7, 3, 0));
    });

    it('takes the latest minute and hour of the lists', () => {
      assert.deepEqual(previousDueTime(parseCronExpression('*/15 9-17 * * *'), at(2026, 3, 10, 12, 44)), at(2026, 3, 10, 12, 30));
      assert.deepEqual(previousDueTime(parseCronExpression('*/15 9-17 * * *'), at(2026, 3, 10, 8, 0)), at(2026, 3, 9, 17, 45));
    });

    it('matches both day fields when one is *, either when both are restricted', () => {
      // 2026-02-08 is a Sunday; 2026-02-06 a Friday.
      assert.deepEqual(previousDueTime(parseCronExpression('0 3 * * mon-fri'), at(2026, 2, 8, 12)), at(2026, 2, 6, 3));
      assert.deepEqual(previousDueTime(parseCronExpression('0 3 13 * fri'), at(2026, 2, 8, 12)), at(2026, 2, 6, 3));
      assert.deepEqual(previousDueTime(parseCronExpression('0 3 1 * *'), at(2026, 2, 8, 12)), at(2026, 2, 1, 3));
      // A step on day-of-month starts with '*': it does not make the day fields an either-or.
      assert.deepEqual(previousDueTime(parseCronExpression('0 3 */2 * fri'), at(2026, 2, 8, 12)), at(2026, 1, 23, 3));
    });

    it('reaches back to the last leap day', () => {
      assert.deepEqual(previousDueTime(parseCronExpression('0 0 29 feb *'), at(2026, 2, 8)), at(2024, 2, 29));
    });

    it('reads the expression on the host\'s wall clock', () => {
      const now = new Date(Date.UTC(2026, 1, 8, 1, 30));
      const nightly = parseCronExpression('0 3 * * *');
      // 01:30 UTC is 02:30 at UTC+1 (before 03:00: yesterday's run) and 03:30 at UTC+2 (today's).
      assert.deepEqual(previousDueTime(nightly, now, 60), new Date(Date.UTC(2026, 1, 7, 2, 0)));
      assert.deepEqual(previousDueTime(nightly, now, 120), new Date(Date.UTC(2026, 1, 8, 1, 0)));
      assert.deepEqual(previousDueTime(nightly, now, -300), new Date(Date.UTC(2026, 1, 7, 8, 0)));
    });

    it('is undefined for a date that never comes', () => {
      assert.equal(previousDueTime(parseCronExpression('0 0 31 feb *'), at(2026, 2, 8)), undefined);
    });
  });
});
