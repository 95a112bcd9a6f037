import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cronLine, parseLifeboatLine, runsInLog, withLine, type ScheduledRunSpec } from '../../src/actions/schedule/crontab';
import { commandAsCronRunsIt, runAsCron } from '../support/cron';

describe('schedule crontab lines', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-cronline-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const spec = (overrides: Partial<ScheduledRunSpec> = {}): ScheduledRunSpec => ({
    schedule: '0 3 * * *',
    lifeboat: ['lifeboat'],
    workspace: '/srv/lifeboat',
    runbook: 'nightly.runbook.md',
    params: {},
    yes: false,
    logFile: join(dir, 'run.log'),
    ...overrides,
  });

  it('hands every argument, quotes, % and backslashes included, to the program exactly as given', async () => {
    // printf stands in for the CLI: it writes each argument it receives on a line of the log.
    const awkward = { label: "it's 100% done", pattern: 'a\\%b \\\\ $HOME `id` ; #x', count: 3, dry: false };
    const line = cronLine(spec({ lifeboat: ['printf', '[%s]\\n'], workspace: '/srv/life boat', params: awkward, secretsFile: '/etc/lifeboat/secrets 100%.yaml', yes: true }));
    assert.equal(await runAsCron(line), 0);
    const logged = (await readFile(join(dir, 'run.log'), 'utf8')).split('\n');
    assert.deepEqual(logged.slice(0, 13), [
      '[run]',
      '[/srv/life boat/nightly.runbook.md]',
      '[--param]',
      "[label=it's 100% done]",
      '[--param]',
      '[pattern=a\\%b \\\\ $HOME `id` ; #x]',
      '[--param]',
      '[count=3]',
      '[--param]',
      '[dry=false]',
      '[--secrets]',
      '[/etc/lifeboat/secrets 100%.yaml]',
      '[--yes]',
    ]);
    assert.match(logged[13] ?? '', /^lifeboat run ended with exit code 0 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(runsInLog(logged.join('\n')).map((entry) => entry.exitCode), [0]);
  });

  it('reads its own lines back: runbook, schedule and log file; other lines are not its own', () => {
    const logFile = "/var/log/life boat/it's.log";
    const line = cronLine(spec({ schedule: '*/30 1-5 * * mon', workspace: '/srv/100%', logFile }));
    assert.deepEqual(parseLifeboatLine(line), { line, runbookPath: '/srv/100%/nightly.runbook.md', schedule: '*/30 1-5 * * mon', logFile });
    assert.equal(parseLifeboatLine('*/5 * * * * /usr/bin/true'), undefined);
    assert.equal(parseLifeboatLine(`# ${line}`), undefined, 'a commented-out line is not installed');
    assert.equal(parseLifeboatLine('MAILTO=""'), undefined);
    assert.ok(commandAsCronRunsIt(line).endsWith(' # lifeboat:/srv/100%/nightly.runbook.md'));
  });

  it('replaces only the runbook\'s own line, appends a new one, and ends the crontab with a line break', () => {
    const other = '15 1 * * * /usr/bin/backup-other  # trailing spaces kept  ';
    const old = cronLine(spec());
    const next = cronLine(spec({ schedule: '@daily' }));
    const another = cronLine(spec({ runbook: 'weekly.runbook.md' }));
    const crontab = `${other}\n${old}\n${another}`;
    assert.deepEqual(withLine(crontab, '/srv/lifeboat/nightly.runbook.md', next), { text: `${other}\n${next}\n${another}\n`, previous: old });
    assert.deepEqual(withLine('', '/srv/lifeboat/nightly.runbook.md', next), { text: `${next}\n` });
  });

  it('refuses a value with a line break and a command too long for cron', () => {
    assert.throws(() => cronLine(spec({ params: { note: 'two\nlines' } })), /params\.note: cannot be written in a crontab line: it holds a line break/);
    assert.throws(() => cronLine(spec({ workspace: `/${'x'.repeat(400)}` })), /would be \d+ characters; cron cuts commands at 999/);
  });
});
