import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResticRepository } from '../../src/clients/restic';
import { joinPath } from '../../src/core/browse/node';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';

const RUNBOOK = 'restic-browse-restore.runbook.md';
const PASSWORD = 'restic runbook password';

describe('runbook restic-browse-restore, end to end with the CLI and the real restic', function () {
  this.timeout(120_000);
  let workspace: string;
  let source: string;
  let snapshot: string;
  const env = { LIFEBOAT_SECRET_RESTIC_HOME: PASSWORD };

  async function lastRun(): Promise<[unknown, unknown][]> {
    const records = await readRecords(workspace);
    return records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]);
  }

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-restic-runbook-'));
    source = join(workspace, 'home', 'anna');
    await mkdir(join(source, 'photos'), { recursive: true });
    await writeFile(join(source, 'photos', 'beach.jpg'), 'sand');
    await writeFile(join(source, 'photos', 'hills.jpg'), 'grass');
    await writeFile(join(source, 'todo.txt'), 'buy milk\n');
    const repository = join(workspace, 'repo');
    await writeFile(join(workspace, 'lifeboat.yaml'), `repositories:\n  home:\n    repository: ${repository}\n    password: secret:restic_home\n`);
    await writeFile(join(workspace, RUNBOOK), await readFile(join(REPO_ROOT, 'runbooks', RUNBOOK)));
    const restic = new ResticRepository({ repository, password: PASSWORD });
    await restic.init();
    snapshot = (await restic.backup([source])).summary.snapshotId ?? '';
    assert.ok(snapshot);
  });
  after(() => rm(workspace, { recursive: true, force: true }));

  it('passes lifeboat check', async () => {
    const result = await lifeboat(['check', RUNBOOK], { cwd: workspace, env });
    assert.equal(result.code, 0, result.stderr + result.stdout);
  });

  it('dry-runs a folder restore into another folder, naming each file, then restores it', async () => {
    const target = join(workspace, 'restored');
    const params = ['--param', 'repository=home', '--param', `path=${join(source, 'photos')}`, '--param', `target=${target}`];
    const dry = await lifeboat(['run', RUNBOOK, ...params, '--dry-run'], { cwd: workspace, env });
    assert.equal(dry.code, 0, dry.stderr + dry.stdout);
    for (const file of ['beach.jpg', 'hills.jpg']) assert.ok(dry.stdout.includes(`create | ${join(target, source, 'photos', file)}`), dry.stdout);
    assert.equal(existsSync(target), false, 'a dry run writes nothing');

    const run = await lifeboat(['run', RUNBOOK, ...params, '--yes'], { cwd: workspace, env });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.deepEqual(await lastRun(), [['restic.check', 'succeeded'], ['restic.snapshots', 'succeeded'], ['restic.ls', 'succeeded'], ['restic.restore', 'succeeded']]);
    assert.equal(await readFile(join(target, source, 'photos', 'beach.jpg'), 'utf8'), 'sand');
    assert.equal(existsSync(join(target, source, 'todo.txt')), false);
    assert.ok(!JSON.stringify(await readRecords(workspace)).includes(PASSWORD), 'the password is in no run record');
  });

  it('restores a file into its place from the Backups tree\'s Restore… (lifeboat ls, lifeboat do)', async () => {
    const listed = await lifeboat(['ls', 'restic/home', '--json'], { cwd: workspace, env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(listed.stdout.includes(snapshot), listed.stdout);
    const folder = await lifeboat(['ls', joinPath('restic', 'home', snapshot, ...source.split('/').filter(Boolean))], { cwd: workspace, env });
    assert.equal(folder.code, 0, folder.stderr);
    assert.match(folder.stdout, /photos/);
    assert.match(folder.stdout, /todo\.txt/);
    await writeFile(join(source, 'todo.txt'), 'overwritten by mistake');
    const file = joinPath('restic', 'home', snapshot, ...join(source, 'todo.txt').split('/').filter(Boolean));
    const done = await lifeboat(['do', file, 'restore', '--yes'], { cwd: workspace, env });
    assert.equal(done.code, 0, done.stderr + done.stdout);
    assert.equal(await readFile(join(source, 'todo.txt'), 'utf8'), 'buy milk\n');
  });

  it('lists a folder with one restic run and leaves none behind: lifeboat ls reads nothing ahead', async () => {
    // The real restic, behind a script that notes each run's arguments.
    const bin = join(workspace, 'bin');
    const calls = join(workspace, 'restic-calls.log');
    await mkdir(bin, { recursive: true });
    const realRestic = execFileSync('sh', ['-c', 'command -v restic'], { encoding: 'utf8' }).trim();
    await writeFile(join(bin, 'restic'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexec '${realRestic}' "$@"\n`, { mode: 0o755 });
    const folder = joinPath('restic', 'home', snapshot, ...source.split('/').filter(Boolean));
    const listed = await lifeboat(['ls', folder], { cwd: workspace, env: { ...env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /todo\.txt/);
    // A read of the whole tree, had one started, would be noted by now: the shell script runs before restic does.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const runs = (await readFile(calls, 'utf8')).trim().split('\n');
    assert.equal(runs.length, 1, runs.join('\n'));
    assert.match(runs[0] ?? '', /^ls --json -- \S+ \//);
    assert.doesNotMatch(runs[0] ?? '', /--recursive/);
  });

  it('stops before writing anything when the path is not in the snapshot, without a stack trace', async () => {
    const target = join(workspace, 'never');
    const result = await lifeboat(['run', RUNBOOK, '--param', 'repository=home', '--param', `path=${join(source, 'missing')}`, '--param', `target=${target}`, '--yes'], { cwd: workspace, env });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr + result.stdout, /has no .*missing/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.equal(existsSync(target), false);
    assert.deepEqual((await lastRun()).at(-1), ['restic.ls', 'failed']);
  });
});
