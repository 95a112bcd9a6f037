import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CANARIES, canaryOccurrences, recordForScan } from '../support/canaries';
import { lifeboat, readRecords, type CliResult } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { startSshd, type Sshd } from '../testbed/sshd';

const run = promisify(execFile);
const RUNBOOK = 'backrest-plan-check.runbook.md';
const HOUR = 3_600_000;
/**
 * Backrest's repo passwords: the first is also a Lifeboat secret (the runbook's restic steps use the
 * repo through lifeboat.yaml); the other two are known to Backrest's config.json only, so nothing but
 * Lifeboat's care keeps them out of outputs and run records.
 */
const PASSWORDS = { 'garage-iac': CANARIES.quoted, 'garage-plex': CANARIES.unicode, 'garage-truenas': `${CANARIES.unicode}-truenas` } as const;
const SECRETS = { ...PASSWORDS, aws: `${CANARIES.quoted}-aws` };

type LsNode = { path: string; kind: string; label: string; description?: string; status: { level: string; reason: string } | null; operations: { id: string }[]; facts: Record<string, unknown> };
const jsonLines = (stdout: string) => stdout.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as LsNode);

function resticTime(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

describe('The Backrest plan check runbook and the Backrest tree through the lifeboat CLI', function () {
  this.timeout(180_000);
  let sshd: Sshd;
  let workspace: string;
  const outputs: CliResult[] = [];
  const repo = (id: string) => join(workspace, 'repos', id);

  before(async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs`']]);
    sshd = await startSshd();
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-backrest-runbook-'));
    await copyFile(join(REPO_ROOT, 'runbooks', RUNBOOK), join(workspace, RUNBOOK));
    const data = join(workspace, 'etc');
    await mkdir(data);
    await writeFile(join(data, 'hostname'), 'iac\n');
    const restic = (id: keyof typeof PASSWORDS, args: string[]) => run('restic', args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repo(id), RESTIC_PASSWORD: PASSWORDS[id] } });
    for (const id of Object.keys(PASSWORDS) as (keyof typeof PASSWORDS)[]) await restic(id, ['init']);
    const backup = (id: keyof typeof PASSWORDS, plan: string, time: Date) => restic(id, ['backup', '--time', resticTime(time), '--tag', `plan:${plan}`, '--tag', 'created-by:backrest-kernow', '--', data]);
    await backup('garage-iac', 'iac-daily', new Date(Date.now() - 5 * 60_000));
    await backup('garage-iac', 'iac-daily', new Date(Date.now() - 26 * HOUR));
    await backup('garage-iac', 'iac-notes', new Date(Date.now() - HOUR));
    await backup('garage-plex', 'plex-daily', new Date(Date.now() - 9 * 24 * HOUR));
    const config = JSON.parse(await readFile(join(REPO_ROOT, 'test/fixtures/backrest/config.json'), 'utf8')) as { repos: { id: keyof typeof PASSWORDS; uri: string; password: string; env: string[] }[] };
    for (const entry of config.repos) {
      entry.uri = repo(entry.id);
      entry.password = PASSWORDS[entry.id];
      entry.env = [`AWS_ACCESS_KEY_ID=GK31c2f218a2e44f485b94239e`, `AWS_SECRET_ACCESS_KEY=${SECRETS.aws}`];
    }
    await writeFile(join(workspace, 'backrest-config.json'), JSON.stringify(config, null, 2));
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      [
        'hosts:',
        '  backrest-host:',
        `    host: ${sshd.host}`,
        `    port: ${sshd.port}`,
        `    user: ${sshd.user}`,
        `    identityFile: ${sshd.clientKey.privateKeyPath}`,
        `    knownHosts: ${sshd.knownHostsPath}`,
        'backrest:',
        '  backrest:',
        `    config: ${join(workspace, 'backrest-config.json')}`,
        '    host: backrest-host',
        'repositories:',
        '  garage-iac:',
        `    repository: ${repo('garage-iac')}`,
        '    password: secret:backrest-garage-iac',
        '    host: backrest-host',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await sshd?.stop();
    const runs = join(workspace, '.lifeboat', 'runs');
    const records = (await Promise.all((await readdir(runs)).map((file) => readFile(join(runs, file), 'utf8')))).join('\n');
    await rm(workspace, { recursive: true, force: true });
    assert.ok(outputs.length >= 5 && records.includes('backrest.plans'));
    for (const output of outputs) assert.deepEqual(canaryOccurrences(`${output.stdout}\n${output.stderr}`, SECRETS), [], 'no Backrest secret in any output');
    assert.deepEqual(canaryOccurrences(records.split('\n').map(recordForScan).join('\n'), SECRETS), [], 'no Backrest secret in any run record');
  });

  const cli = async (args: string[]) => {
    const result = await lifeboat(args, { cwd: workspace, env: { LIFEBOAT_SECRET_BACKREST_GARAGE_IAC: PASSWORDS['garage-iac'], LIFEBOAT_SECRETS_FILE: '', HOME: workspace } });
    outputs.push(result);
    return result;
  };

  it('passes lifeboat check', async () => {
    const checked = await cli(['check', RUNBOOK]);
    assert.equal(checked.code, 0, checked.stderr);
  });

  it('runs end to end: the plans, their ages, one plan\'s snapshots and its repo\'s check', async () => {
    const result = await cli(['run', RUNBOOK, '--yes', '--param', 'failOnStale=false']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /Backrest instance backrest-kernow \(backrest-host:\/\S+backrest-config\.json, format 4\): 5 plan\(s\) in 3 repo\(s\)\./);
    assert.match(result.stdout, /\| iac-daily \| garage-iac \| \/home, \/root, \/etc \| cron 0 3 \* \* \* \(Backrest host's local time\) \| keep 14 daily, 4 weekly \| discord on snapshot error, any error \| {2}\| not checked \|/);
    assert.match(result.stdout, /password: secret:backrest-garage-plex/);
    assert.match(result.stdout, /- repo garage-plex: not given to restic here: --limit-upload\n- repo garage-truenas hooks: gotify on prune error, check error/);
    assert.match(result.stdout, /snapshots read by restic on host backrest-host/);
    assert.match(result.stdout, /\| plex-daily \| .* \| [0-9a-f]{8} \(9 d ago\) \| stale \|/);
    assert.match(result.stdout, /- truenas-weekly: no snapshot, the repo holds no snapshot of this plan/);
    assert.match(result.stdout, /2 snapshot\(s\) in garage-iac/);
    const records = (await readRecords(workspace)).filter((record) => record.runbook === RUNBOOK && record.status === 'succeeded');
    assert.deepEqual(records.slice(-4).map((record) => record.action), ['backrest.plans', 'backrest.plans', 'restic.snapshots', 'restic.check']);
  });

  it('stops at the ages step when plans are behind, naming each', async () => {
    const result = await cli(['run', RUNBOOK, '--yes']);
    assert.notEqual(result.code, 0);
    const output = `${result.stdout}\n${result.stderr}`;
    assert.match(output, /2 of 5 Backrest plan\(s\) of backrest-host:\S+ are behind their schedule: plex-daily \(stale: the last snapshot \(9 d ago\) is older than the run due at \S+\); truenas-weekly \(no snapshot: the repo holds no snapshot of this plan\)/);
    assert.doesNotMatch(output, /snapshot\(s\) in garage-iac/, 'the run stopped at the failed step');
  });

  it('lists the installation and its plans with their last snapshot\'s age in the tree', async () => {
    const roots = jsonLines((await cli(['ls', 'backrest', '--json'])).stdout);
    assert.deepEqual(roots.map((node) => [node.path, node.kind, node.operations.map((operation) => operation.id)]), [['backrest/backrest', 'backrest', ['plans', 'check']]]);
    const plans = jsonLines((await cli(['ls', 'backrest/backrest', '--json'])).stdout);
    assert.deepEqual(
      plans.map((node) => [node.label, node.status?.level, node.facts.state]),
      [
        ['iac-daily', 'ok', 'ok'],
        ['plex-daily', 'warning', 'stale'],
        ['truenas-weekly', 'warning', 'no snapshot'],
        ['unifi-daily', 'unknown', 'unscheduled'],
        ['iac-notes', 'ok', 'ok'],
      ],
    );
    assert.deepEqual(plans.map((node) => node.facts.age), [plans[0]?.facts.age, '9 d ago', null, null, plans[4]?.facts.age]);
    assert.match(plans[0]?.description ?? '', /^\d+ min ago · cron 0 3 \* \* \*/);
    assert.match(String(plans[4]?.facts.age), /^\d+ min ago$/);
    const table = await cli(['ls', 'backrest/backrest']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /plex-daily/);
  });
});
