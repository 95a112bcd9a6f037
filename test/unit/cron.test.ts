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
    ['0 3 * * fry', 'day-of-week', /fry.*allowed: 0–7 or sun–sat/],
    ['*/0 3 * * *', 'minute', /stepping: 0/],
    ['5/10 3 * * *', 'minute', /'5\/10'.*Use wildcard \(\*\/step\) or range/],
    ['0 5-2 * * *', 'hour', /'5-2'/],
    ['0 1,,2 * * *', 'hour', /empty/],
    ['@reboot', undefined, /'@reboot' is not a shorthand with a due time/],
    // What croner reads but a host's cron does not (crontab(5) has no L, W, # or ?).
    ['0 3 L * *', 'day-of-month', /character this scheduler does not read/],
    ['0 3 * * 5#2', 'day-of-week', /character this scheduler does not read/],
    ['0 3 ? * *', 'day-of-month', /character this scheduler does not read/],
  ];
  for (const [expression, field, message] of refused) {
    it(`refuses '${expression}' naming ${field ?? 'the expression'}`, () => {
      assert.throws(
        () => parseCronExpression(expression),
        (error: unknown) => error instanceof CronExpressionError && error.field === field && message.test(error.message) && error.message.includes(expression),
      );
    });
  }

  describe('crontab(5) examples, on a host\'s cron', () => {
    // 2026-02-08 is a Sunday.
    const cases: [string, string, Date, Date][] = [
      ['five minutes after midnight, every day', '5 0 * * *', at(2026, 2, 8, 12), at(2026, 2, 8, 0, 5)],
      ['at 2:15pm on the first of every month', '15 14 1 * *', at(2026, 2, 8, 12), at(2026, 2, 1, 14, 15)],
      ['at 10 pm on weekdays', '0 22 * * 1-5', at(2026, 2, 8, 23), at(2026, 2, 6, 22)],
      ['23 minutes after midnight, 2am, 4am …, every day', '23 0-23/2 * * *', at(2026, 2, 8, 11), at(2026, 2, 8, 10, 23)],
      ['at 5 after 4 every Sunday', '5 4 * * sun', at(2026, 2, 10), at(2026, 2, 8, 4, 5)],
      ['Sunday as 7', '5 4 * * 7', at(2026, 2, 10), at(2026, 2, 8, 4, 5)],
      ['Sunday as 0', '5 4 * * 0', at(2026, 2, 10), at(2026, 2, 8, 4, 5)],
      ['names of months, any case', '0 12 1 Jan,JUL *', at(2026, 6, 30), at(2026, 1, 1, 12)],
      ['4:30 am on the 1st and 15th, plus every Friday', '30 4 1,15 * 5', at(2026, 2, 14, 12), at(2026, 2, 13, 4, 30)],
      ['… the 15th too', '30 4 1,15 * 5', at(2026, 2, 15, 12), at(2026, 2, 15, 4, 30)],
      ['a step over a range of names', '0 6 * * mon-fri/2', at(2026, 2, 8, 12), at(2026, 2, 6, 6)],
      ['@yearly', '@yearly', at(2026, 2, 8), at(2026, 1, 1)],
      ['@annually', '@annually', at(2026, 2, 8), at(2026, 1, 1)],
      ['@monthly', '@monthly', at(2026, 2, 8), at(2026, 2, 1)],
      ['@weekly (Sunday midnight)', '@weekly', at(2026, 2, 7), at(2026, 2, 1)],
      ['@daily', '@daily', at(2026, 2, 8, 12), at(2026, 2, 8)],
      ['@midnight', '@midnight', at(2026, 2, 8, 12), at(2026, 2, 8)],
      ['@hourly', '@hourly', at(2026, 2, 8, 12, 59), at(2026, 2, 8, 12)],
    ];
    for (const [what, expression, now, due] of cases) {
      it(`${what}: '${expression}'`, () => {
        assert.deepEqual(previousDueTime(parseCronExpression(expression, 'crontab'), now), due);
      });
    }
  });

  describe('CloudNativePG ScheduledBackup: six fields, seconds first, in UTC', () => {
    const utc = (month: number, day: number, hours = 0, minutes = 0, seconds = 0) => new Date(Date.UTC(2026, month - 1, day, hours, minutes, seconds));

    it('reads the documented daily example and seconds', () => {
      const daily = parseCronExpression('0 0 0 * * *', 'seconds');
      assert.deepEqual(sorted(daily.seconds), [0]);
      assert.deepEqual(previousDueTime(daily, utc(2, 8, 1, 30)), utc(2, 8));
      assert.deepEqual(previousDueTime(parseCronExpression('30 */10 * * * *', 'seconds'), utc(2, 8, 1, 30, 29)), utc(2, 8, 1, 20, 30));
      assert.deepEqual(previousDueTime(parseCronExpression('0 0 2 * * sun', 'seconds'), utc(2, 10)), utc(2, 8, 2));
      assert.deepEqual(previousDueTime(parseCronExpression('@daily', 'seconds'), utc(2, 8, 1)), utc(2, 8));
    });

    it('takes ? for any day and N/step from N to the end', () => {
      assert.deepEqual(previousDueTime(parseCronExpression('0 0 4 ? * mon', 'seconds'), utc(2, 8)), utc(2, 2, 4));
      assert.deepEqual(sorted(parseCronExpression('0 5/20 * * * *', 'seconds').minutes), [5, 25, 45]);
    });

    it('refuses five fields, which it would read with seconds first', () => {
      assert.throws(() => parseCronExpression('0 3 * * *', 'seconds'), /expected 6 fields \(second minute hour day-of-month month day-of-week\), got 5/);
      assert.throws(() => parseCronExpression('60 0 0 * * *', 'seconds'), (error: unknown) => error instanceof CronExpressionError && error.field === 'second');
    });
  });

  describe('Velero Schedule: robfig/cron\'s standard five fields, in UTC', () => {
    const utc = (month: number, day: number, hours = 0, minutes = 0) => new Date(Date.UTC(2026, month - 1, day, hours, minutes));

    it('is read in UTC unless the expression names a zone', () => {
      assert.deepEqual(previousDueTime(parseCronExpression('0 1 * * *', 'velero'), utc(2, 8, 12)), utc(2, 8, 1));
      // 03:00 in Paris is 02:00 UTC in February.
      assert.deepEqual(previousDueTime(parseCronExpression('CRON_TZ=Europe/Paris 0 3 * * *', 'velero'), utc(2, 8, 12)), utc(2, 8, 2));
      assert.throws(() => parseCronExpression('CRON_TZ=Mars/Olympus 0 3 * * *', 'velero'), /unknown time zone 'Mars\/Olympus'/);
    });

    it('ORs the day fields when a * has a step, where a host\'s cron ANDs them', () => {
      // 2026-02-08 is a Sunday; 2026-02-07 (odd day) a Saturday, 2026-02-06 a Friday.
      assert.deepEqual(previousDueTime(parseCronExpression('0 3 */2 * fri', 'velero'), utc(2, 8, 12)), utc(2, 7, 3));
      assert.deepEqual(previousDueTime(parseCronExpression('0 3 */2 * fri', 'crontab'), utc(2, 8, 12), 0), utc(1, 23, 3));
    });

    it('refuses @every, which has no due time to check', () => {
      assert.throws(() => parseCronExpression('@every 6h', 'velero'), /'@every 6h' is not a shorthand with a due time/);
    });
  });

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
