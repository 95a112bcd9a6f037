import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scheduleActions } from '../../src/actions/schedule';
import type { CronInstallResult } from '../../src/actions/schedule/install';
import type { CronStatusResult, ScheduledRunStatus } from '../../src/actions/schedule/status';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, ActionSpec } from '../../src/core/actions/spec';
import { Redactor } from '../../src/core/redact';
import { RunRecorder } from '../../src/core/runner/records';
import { lifeboat } from '../support/cli';
import { crontabNow, keepCrontab, runAsCron, setCrontab } from '../support/cron';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import type { Sshd } from '../testbed/sshd';
import { startSshd } from '../testbed/sshd';

/** A user other than the one the tests log in as over SSH (root here). */
const OTHER_USER = 'nobody';
const OTHER_USER_CRONTAB = '17 4 * * * /usr/bin/true # nobody\'s own job\n';

const FOREIGN_CRONTAB = ['MAILTO=""', '# somebody else\'s jobs, kept byte for byte  ', '*/5 * * * * /usr/bin/true # not ours', '@reboot /bin/echo 100%% > /dev/null', ''].join('\n');

function action(id: string): ActionSpec {
  const found = scheduleActions.find((candidate) => candidate.id === id);
  assert.ok(found, `action ${id} is registered`);
  return found;
}

describe('schedule.cron.install and schedule.cron.status on a real sshd and crontab', function () {
  this.timeout(60_000);
  let sshd: Sshd;
  const restoreCrontabs: (() => Promise<void>)[] = [];
  let local: string;
  let hostWorkspace: string;
  const cliOnHost = [process.execPath, CLI];

  before(async () => {
    requireFiles([
      [CLI, 'built by `node esbuild.config.mjs`'],
      ['/usr/bin/crontab', 'install Debian cron (scripts/install-system-packages.sh cron)'],
    ]);
    restoreCrontabs.push(await keepCrontab(), await keepCrontab(OTHER_USER));
    sshd = await startSshd();
    local = await mkdtemp(join(tmpdir(), 'lifeboat-schedule-'));
    hostWorkspace = join(sshd.remoteDir, 'lifeboat workspace');
    await mkdir(hostWorkspace);
    await writeFile(join(hostWorkspace, 'lifeboat.yaml'), '# the backup host\'s own workspace\n');
    const shellRunbook = (title: string, script: string) => `---\ntitle: ${title}\nparams:\n  keep: { type: number, default: 7 }\n---\n\n\`\`\`bash {id=work}\n${script}\n\`\`\`\n`;
    await writeFile(join(hostWorkspace, 'nightly.runbook.md'), shellRunbook('Nightly', 'date -u +%s > done-at.txt'));
    await writeFile(join(hostWorkspace, 'broken.runbook.md'), shellRunbook('Broken', 'echo "disk full" >&2; exit 3'));
    await writeFile(join(hostWorkspace, 'invalid.runbook.md'), '```lifeboat\naction: no.such.action\n```\n');
  });

  after(async () => {
    await sshd?.stop();
    if (local) await rm(local, { recursive: true, force: true });
    for (const restore of restoreCrontabs) await restore();
  });

  beforeEach(async () => {
    await setCrontab(FOREIGN_CRONTAB);
  });

  function context(): ActionContext {
    return createActionContext({
      workspaceDir: local,
      inventory: { hosts: { backup: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } } },
    });
  }

  async function act<Result>(id: string, params: Record<string, unknown>): Promise<Result> {
    const spec = action(id);
    const ctx = context();
    try {
      return (await spec.run(spec.params.parse(params), ctx)) as Result;
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  const install = (params: Record<string, unknown>) => act<CronInstallResult>('schedule.cron.install', { host: 'backup', workspace: hostWorkspace, runbook: 'nightly.runbook.md', lifeboat: cliOnHost, ...params });
  const status = async (params: Record<string, unknown>) => act<CronStatusResult>('schedule.cron.status', { host: 'backup', ...params });
  const statusOf = async (runbook: string, params: Record<string, unknown> = {}): Promise<ScheduledRunStatus> => {
    const { schedules } = await status({ workspace: hostWorkspace, runbook, ...params });
    assert.equal(schedules.length, 1);
    return schedules[0] as ScheduledRunStatus;
  };
  const lifeboatLines = (crontab: string | undefined) => (crontab ?? '').split('\n').filter((line) => line.includes(' # lifeboat:'));

  it('installs one marked line and keeps every other line, and other users\' crontabs, byte for byte', async () => {
    await setCrontab(OTHER_USER_CRONTAB, OTHER_USER);
    const result = await install({});
    assert.equal(await crontabNow(OTHER_USER), OTHER_USER_CRONTAB);
    assert.equal(result.change, 'installed');
    assert.equal(result.schedule, '0 3 * * *');
    assert.match(result.lifeboatVersion, /^lifeboat \d+\.\d+\.\d+$/);
    const crontab = await crontabNow();
    assert.equal(crontab, `${FOREIGN_CRONTAB}${result.line}\n`);
    assert.ok(result.line.startsWith(`0 3 * * * ${process.execPath} ${CLI} run '${hostWorkspace}/nightly.runbook.md' >> '${hostWorkspace}/.lifeboat/logs/nightly.log' 2>&1;`), result.line);
    assert.ok(result.line.endsWith(` # lifeboat:${hostWorkspace}/nightly.runbook.md`), result.line);
    assert.match(result.line, /date -u \+\\%Y-\\%m-\\%dT\\%H:\\%M:\\%SZ/, 'every % is escaped for cron');
  });

  it('re-installing the same line writes nothing', async () => {
    await install({});
    const before = await crontabNow();
    const again = await install({});
    assert.equal(again.change, 'unchanged');
    assert.equal(await crontabNow(), before);
    assert.match(action('schedule.cron.install').render(again), /already installed/);
  });

  it('a changed schedule replaces only that runbook\'s line', async () => {
    const first = await install({});
    await install({ runbook: 'broken.runbook.md', schedule: '15 2 * * *' });
    const brokenLine = lifeboatLines(await crontabNow())[1];
    const changed = await install({ schedule: '30 4 * * mon-fri', params: { keep: 3 }, yes: true });
    assert.equal(changed.change, 'replaced');
    assert.equal(changed.previousLine, first.line);
    assert.match(changed.line, /^30 4 \* \* mon-fri .* run '[^']+\/nightly\.runbook\.md' --param keep=3 --yes >> /);
    assert.equal(await crontabNow(), `${FOREIGN_CRONTAB}${changed.line}\n${brokenLine}\n`);
  });

  it('the plan shows the line before and after and changes nothing', async () => {
    const first = await install({});
    const before = await crontabNow();
    const spec = action('schedule.cron.install');
    const ctx = context();
    try {
      const plan = await spec.plan(spec.params.parse({ host: 'backup', workspace: hostWorkspace, runbook: 'nightly.runbook.md', lifeboat: cliOnHost, schedule: '@hourly' }), ctx);
      assert.ok(plan.summary.includes(`before: ${first.line}`), plan.summary);
      assert.ok(plan.summary.includes(`after:  @hourly ${process.execPath}`), plan.summary);
      assert.deepEqual(plan.operations.map((operation) => operation.kind), ['run', 'overwrite']);
    } finally {
      await ctx.clients.disposeAll();
    }
    assert.equal(await crontabNow(), before);
  });

  it('refuses a bad cron expression, naming the field, before anything is written', async () => {
    const parsed = action('schedule.cron.install').params.safeParse({ host: 'backup', workspace: hostWorkspace, runbook: 'nightly.runbook.md', schedule: '0 25 * * *' });
    assert.equal(parsed.success, false);
    const issue = parsed.error?.issues[0];
    assert.deepEqual(issue?.path, ['schedule']);
    assert.match(issue?.message ?? '', /cron expression '0 25 \* \* \*': hour field: 25 is outside 0–23/);
    assert.equal(await crontabNow(), FOREIGN_CRONTAB);
  });

  it('refuses a CLI that does not run with cron\'s PATH, a runbook that fails its check, and a folder that is no workspace', async () => {
    await assert.rejects(install({ lifeboat: ['lifeboat-not-installed'] }), /^Error: lifeboat: `lifeboat-not-installed --version` does not run on .* with cron's PATH \(\/usr\/bin:\/bin\): exit code 127/);
    await assert.rejects(install({ runbook: 'invalid.runbook.md' }), (error: Error) => /^runbook: .*\/invalid\.runbook\.md does not pass `lifeboat check`/.test(error.message) && /no\.such\.action/.test(error.message));
    await assert.rejects(install({ workspace: sshd.remoteDir }), /^Error: workspace: .* has no .*\/remote\/lifeboat\.yaml/);
    assert.equal(await crontabNow(), FOREIGN_CRONTAB);
  });

  it('reports a runbook that is not scheduled, and one that never ran', async () => {
    const missing = await statusOf('nightly.runbook.md');
    assert.deepEqual([missing.installed, missing.state, missing.lastRun], [false, 'not installed', undefined]);
    await install({});
    const installed = await statusOf('nightly.runbook.md');
    assert.deepEqual([installed.installed, installed.schedule, installed.state, installed.stale], [true, '0 3 * * *', 'never ran', true]);
  });

  it('runs the installed line as cron would and reports its success, then a failed run, then one the log alone knows', async () => {
    const nightly = await install({});
    const started = Date.now();
    assert.equal(await runAsCron(nightly.line), 0);
    const ended = Date.now();
    const doneAt = Number(await readFile(join(hostWorkspace, 'done-at.txt'), 'utf8'));
    assert.ok(doneAt * 1000 >= started - 1000 && doneAt * 1000 <= ended, 'the runbook ran on the host');
    const log = await readFile(join(hostWorkspace, '.lifeboat', 'logs', 'nightly.log'), 'utf8');
    assert.match(log, /✔ \[cell 1\] .*succeeded/);
    assert.match(log, /^lifeboat run ended with exit code 0 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);

    const succeeded = await statusOf('nightly.runbook.md');
    assert.equal(succeeded.state, 'ok');
    assert.equal(succeeded.stale, false);
    assert.equal(succeeded.lastRun?.outcome, 'succeeded');
    const lastSuccess = Date.parse(succeeded.lastSuccess ?? '');
    assert.ok(lastSuccess >= started - 1000 && lastSuccess <= ended + 1000, `last success ${succeeded.lastSuccess} lies within the run`);

    const broken = await install({ runbook: 'broken.runbook.md' });
    assert.equal(await runAsCron(broken.line), 0, 'the line ends with the log entry, whatever the run did');
    const failed = await statusOf('broken.runbook.md');
    assert.deepEqual([failed.state, failed.lastRun?.outcome, failed.lastRun?.from, failed.lastSuccess], ['failed', 'failed', 'run records', undefined]);

    // A runbook broken after it was scheduled fails its check at 03:00: no step runs, no record is written.
    const runbookFile = join(hostWorkspace, 'nightly.runbook.md');
    const good = await readFile(runbookFile, 'utf8');
    await writeFile(runbookFile, '```lifeboat\naction: no.such.action\n```\n');
    try {
      assert.equal(await runAsCron(nightly.line), 0);
    } finally {
      await writeFile(runbookFile, good);
    }
    const afterCheckFailure = await statusOf('nightly.runbook.md');
    assert.deepEqual([afterCheckFailure.state, afterCheckFailure.lastRun?.outcome, afterCheckFailure.lastRun?.from], ['failed', 'failed', 'log']);
    assert.equal(afterCheckFailure.lastSuccess, succeeded.lastSuccess, 'the last success is still the recorded one');

    const everything = await status({});
    assert.deepEqual(everything.schedules.map((entry) => [entry.runbook, entry.state]), [
      [`${hostWorkspace}/nightly.runbook.md`, 'failed'],
      [`${hostWorkspace}/broken.runbook.md`, 'failed'],
    ]);
    const table = action('schedule.cron.status').render(everything);
    assert.match(table, /^\| runbook \| state \| schedule \| last run \| outcome \| last success \| age \| from \|$/m);
    assert.match(table, /nightly\.runbook\.md \| failed \| 0 3 \* \* \* \| [\d-]+ [\d:]+ \| failed \| [\d-]+ [\d:]+ \| \d+ s ago \| log \|/);
  });

  it('is stale when the last success is older than the latest due time', async () => {
    const now = new Date();
    const dueTwoHoursAgo = new Date(now.getTime() - 2 * 3600_000);
    await writeFile(join(hostWorkspace, 'dated.runbook.md'), '```bash\ntrue\n```\n');
    await install({ runbook: 'dated.runbook.md', schedule: `${dueTwoHoursAgo.getMinutes()} ${dueTwoHoursAgo.getHours()} * * *` });
    const record = async (endedAt: Date) => {
      const recorder = new RunRecorder(hostWorkspace, new Redactor(), new Date(endedAt.getTime() - 5000));
      await recorder.append({ runbook: 'dated.runbook.md', cell: 1, action: 'shell', params: {}, status: 'succeeded', durationMs: 5000 }, endedAt);
    };
    await record(new Date(now.getTime() - 26 * 3600_000));
    const stale = await statusOf('dated.runbook.md');
    assert.deepEqual([stale.state, stale.stale, stale.dueSince], ['stale', true, new Date(Math.floor(dueTwoHoursAgo.getTime() / 60_000) * 60_000).toISOString()]);
    await record(new Date(now.getTime() - 3600_000));
    const fresh = await statusOf('dated.runbook.md');
    assert.deepEqual([fresh.state, fresh.stale], ['ok', false]);
  });

  describe('the schedule runbook through the lifeboat CLI', () => {
    it('checks the host, installs the nightly face backup, shows its status; a second run changes nothing', async () => {
      const runbook = 'frigate-backup-schedule.runbook.md';
      await copyFile(join(REPO_ROOT, 'runbooks', runbook), join(local, runbook));
      await copyFile(join(REPO_ROOT, 'runbooks', 'frigate-faces-backup.runbook.md'), join(hostWorkspace, 'frigate-faces-backup.runbook.md'));
      await writeFile(join(hostWorkspace, 'lifeboat.yaml'), ['frigate:', '  frigate:', '    url: https://frigate.lan:8971', 'locations:', '  frigate-faces:', '    path: backups/frigate', ''].join('\n'));
      await writeFile(
        join(local, 'lifeboat.yaml'),
        ['hosts:', '  backup-host:', `    host: ${sshd.host}`, `    port: ${sshd.port}`, `    user: ${sshd.user}`, `    identityFile: ${sshd.clientKey.privateKeyPath}`, `    knownHosts: ${sshd.knownHostsPath}`, ''].join('\n'),
      );
      const cli = (args: string[]) => lifeboat(args, { cwd: local, env: { HOME: local, SSH_AUTH_SOCK: '' } });
      const args = ['run', runbook, '--param', `workspace=${hostWorkspace}`, '--param', `cli=${CLI}`];
      assert.equal((await cli(['check', runbook])).code, 0);

      const first = await cli(args);
      assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
      const [line] = lifeboatLines(await crontabNow());
      assert.equal(await crontabNow(), `${FOREIGN_CRONTAB}${line}\n`);
      assert.equal(line, `0 3 * * * ${CLI} run '${hostWorkspace}/frigate-faces-backup.runbook.md' --yes >> '${hostWorkspace}/.lifeboat/logs/frigate-faces-backup.log' 2>&1; echo "lifeboat run ended with exit code $? at $(date -u +\\%Y-\\%m-\\%dT\\%H:\\%M:\\%SZ)" >> '${hostWorkspace}/.lifeboat/logs/frigate-faces-backup.log' # lifeboat:${hostWorkspace}/frigate-faces-backup.runbook.md`);
      assert.match(first.stdout, /\| backup-host \| frigate-faces-backup\.runbook\.md \| 0 3 \* \* \* \| installed \|/);
      assert.match(first.stdout, /frigate-faces-backup\.runbook\.md \| never ran \| 0 3 \* \* \* \|/);

      const second = await cli(args);
      assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
      assert.match(second.stdout, /\| already installed \|/);
      assert.equal(await crontabNow(), `${FOREIGN_CRONTAB}${line}\n`);

      const plan = await cli([...args, '--param', 'schedule=30 2 * * *', '--dry-run']);
      assert.equal(plan.code, 0, `${plan.stdout}\n${plan.stderr}`);
      assert.ok(plan.stdout.includes(`before: ${line}`), plan.stdout);
      assert.ok(plan.stdout.includes(`after:  30 2 * * * ${CLI} run`), plan.stdout);
      assert.equal(await crontabNow(), `${FOREIGN_CRONTAB}${line}\n`, 'a dry run writes nothing');
    });
  });
});
