import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseBackrestConfig } from '../../src/actions/backrest/config';
import { describeHooks, describeRetention, describeSchedule, expectation, isStale, summarizeHook } from '../../src/actions/backrest/describe';
import { REPO_ROOT } from '../support/paths';

const HOUR = 3_600_000;
const FIXTURE = readFileSync(path.join(REPO_ROOT, 'test/fixtures/backrest/config.json'), 'utf8');

describe('Backrest config.json and its plans in words', () => {
  it('reads the fixture as Backrest v1.14.1 writes it, keeping fields it does not use', () => {
    const config = parseBackrestConfig(FIXTURE, 'config.json');
    assert.equal(config.version, 4);
    assert.deepEqual(config.repos.map((repo) => repo.id), ['garage-iac', 'garage-plex', 'garage-truenas']);
    assert.deepEqual(config.plans.map((plan) => [plan.id, plan.repo]), [['iac-daily', 'garage-iac'], ['plex-daily', 'garage-plex'], ['truenas-weekly', 'garage-truenas'], ['unifi-daily', 'garage-iac'], ['iac-notes', 'garage-iac']]);
    assert.deepEqual(config.plans[0]?.backup_flags, ['--one-file-system']);
  });

  it('names the field at fault: a duplicate plan id, a plan of no repo, a count of the wrong type', () => {
    const config = JSON.parse(FIXTURE) as { plans: Record<string, unknown>[] };
    config.plans.push({ ...config.plans[0] });
    assert.throws(() => parseBackrestConfig(JSON.stringify(config), 'c.json'), /^ValidationError: c\.json, `plans\[5\]\.id`: a second plan has this id$/);
    (config.plans[5] as Record<string, unknown>).id = 'x';
    (config.plans[2] as Record<string, unknown>).retention = { policyKeepLastN: 'seven' };
    assert.throws(() => parseBackrestConfig(JSON.stringify(config), 'c.json'), /c\.json, `plans\[2\]\.retention\.policyKeepLastN`: Invalid input: expected number/);
    assert.throws(() => parseBackrestConfig('{"version": 2}', 'old.json'), /old\.json, `version`: format version 2 predates Backrest 1\.0/);
    assert.throws(() => parseBackrestConfig('{"version": 4, "plans": [{"id": "p", "repo": ""}]}', 'e.json'), /e\.json, `plans\[0\]\.repo`: is empty/);
  });

  it('says what each schedule and retention means', () => {
    assert.equal(describeSchedule({ cron: '0 6 * * 0', clock: 'CLOCK_UTC' }), 'cron 0 6 * * 0 (UTC)');
    assert.equal(describeSchedule({ maxFrequencyDays: 1 }), 'at most every 1 day');
    assert.equal(describeSchedule(undefined), 'disabled (runs only when started by hand)');
    assert.equal(describeSchedule({ clock: 'CLOCK_LOCAL' }), 'no schedule set (runs only when started by hand)');
    assert.equal(describeRetention({ policyTimeBucketed: { hourly: 24, daily: 0, yearly: 1, keepLastN: 3 } }), 'keep 24 hourly, 1 yearly, the last 3');
    assert.equal(describeRetention(undefined), 'none set: every snapshot is kept');
    assert.equal(describeRetention({ policyKeepLastN: 1 }), 'keep the last 1 snapshot');
  });

  it('shows a hook by kind and condition only, whatever its action holds', () => {
    const hook = summarizeHook({ conditions: ['CONDITION_CHECK_ERROR', 1], onError: 'ON_ERROR_RETRY_10MINUTES', actionWebhook: { webhookUrl: 'https://hooks.example/secret-token', method: 'POST' } });
    assert.deepEqual(hook, { kind: 'webhook', conditions: ['check error', 'condition 1'], onError: 'retry 10minutes' });
    assert.equal(describeHooks([hook, summarizeHook({ conditions: [], actionTelegram: { botToken: 't' } })]), 'webhook on check error, condition 1 (retry 10minutes); telegram on no condition');
  });

  it('a cron plan is stale when a due run has passed (after the grace) with no snapshot since; a max-frequency plan when its snapshot is older than allowed', () => {
    const now = new Date(Date.UTC(2026, 11, 6, 3, 30));
    const daily = expectation({ cron: '0 3 * * *', clock: 'CLOCK_UTC' }, now, HOUR, undefined);
    assert.deepEqual(daily, { kind: 'due', dueSince: new Date(Date.UTC(2026, 11, 5, 3, 0)) }, 'within the grace, the run of 03:00 today may still be running');
    assert.equal(isStale(daily, new Date(Date.UTC(2026, 11, 5, 3, 0, 4)), now), false);
    assert.equal(isStale(daily, new Date(Date.UTC(2026, 11, 5, 2, 59)), now), true);
    assert.equal(isStale(daily, undefined, now), true);
    const later = new Date(Date.UTC(2026, 11, 6, 4, 30));
    assert.equal(isStale(expectation({ cron: '0 3 * * *', clock: 'CLOCK_UTC' }, later, HOUR, undefined), new Date(Date.UTC(2026, 11, 5, 3, 0, 4)), later), true);
    const local = expectation({ cron: '0 3 * * *' }, now, 0, 120);
    assert.deepEqual(local, { kind: 'due', dueSince: new Date(Date.UTC(2026, 11, 6, 1, 0)) }, 'the host is at UTC+2');
    const hours = expectation({ maxFrequencyHours: 6 }, now, HOUR, undefined);
    assert.deepEqual(hours, { kind: 'within', maxAgeMs: 7 * HOUR });
    assert.equal(isStale(hours, new Date(now.getTime() - 6.5 * HOUR), now), false);
    assert.equal(isStale(hours, new Date(now.getTime() - 7.5 * HOUR), now), true);
    assert.equal(expectation({ disabled: true }, now, 0, undefined).kind, 'none');
    const bad = expectation({ cron: '61 * * * *' }, now, 0, undefined);
    assert.equal(bad.kind, 'unknown');
    assert.equal(isStale(bad, undefined, now), false);
  });
});
