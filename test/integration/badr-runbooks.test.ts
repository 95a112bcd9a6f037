import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeBadrProject } from '../support/badrProject';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { startTwoHosts, type TwoHosts } from '../support/twoHosts';
import type { Sshd } from '../testbed/sshd';

const execute = promisify(execFile);
const LOCAL = 'badr-local-backup.runbook.md';
const RESTORE = 'badr-restore.runbook.md';
const VERIFY = 'badr-verify-backups.runbook.md';
/** The remote comes from lifeboat.yaml only: nobody's rclone.conf is read. */
const ENV = { RCLONE_CONFIG: '/dev/null', HOME: '' };
const ARCHIVE = /^badr_backup_\d{8}_\d{6}\.tar\.gz$/;

describe('runbooks badr-local-backup and badr-verify-backups, end to end with the CLI and a local rclone remote standing in for Google Drive', function () {
  this.timeout(120_000);
  let workspace: string;
  const archives = () => path.join(workspace, 'Backups', 'Badr');
  const drive = () => path.join(workspace, 'drive', 'BadrBackups');
  const run = async (runbook: string, ...params: string[]) => {
    const result = await lifeboat(['run', runbook, ...params.flatMap((param) => ['--param', param]), '--yes'], { cwd: workspace, env: { ...ENV, HOME: workspace } });
    const records = await readRecords(workspace);
    const steps = records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]);
    return { ...result, output: result.stderr + result.stdout, steps };
  };

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    workspace = await mkdtemp(path.join(tmpdir(), 'lifeboat-badr-'));
    await writeFile(path.join(workspace, 'lifeboat.yaml'), ['rcloneRemotes:', '  badr_gdrive: { type: local }', ''].join('\n'));
    for (const runbook of [LOCAL, VERIFY]) await writeFile(path.join(workspace, runbook), await readFile(path.join(REPO_ROOT, 'runbooks', runbook)));
    await writeBadrProject(workspace, 100_000);
  });

  after(async () => {
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('makes a checked archive of the project without logs and caches, keeps the newest, and lists them', async () => {
    for (let made = 0; made < 3; made++) {
      const result = await run(LOCAL, 'source=Badr', 'keep=2');
      assert.equal(result.code, 0, result.output);
      assert.deepEqual(result.steps, [
        ['archive.create', 'succeeded'],
        ['archive.list', 'succeeded'],
      ]);
      // Archive names tell seconds apart.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    const names = (await readdir(archives())).filter((name) => ARCHIVE.test(name)).sort();
    assert.equal(names.length, 2, names.join(', '));
    const { stdout } = await execute('tar', ['tzf', path.join(archives(), names.at(-1) as string)]);
    assert.deepEqual(stdout.split('\n').filter(Boolean).map((entry) => entry.replace(/^\.\//, '')).filter((entry) => !entry.endsWith('/')).sort(), ['config/receptionist.yaml', 'faces.db']);
  });

  it('verifies every local archive and finds the remote copies missing, naming them; once copied, both places check out', async () => {
    const missing = await run(VERIFY, 'remote=badr_gdrive:' + drive());
    assert.notEqual(missing.code, 0);
    assert.deepEqual(missing.steps, [
      ['archive.verify', 'succeeded'],
      ['rclone.check', 'failed'],
    ]);
    const local = (await readdir(archives())).filter((name) => ARCHIVE.test(name)).sort();
    for (const name of local) assert.match(missing.output, new RegExp(name.replace(/\./g, '\\.')));

    // What badr-gdrive-backup copies there (its own test runs it): the archives and their checksum files.
    await mkdir(drive(), { recursive: true });
    for (const name of await readdir(archives())) if (ARCHIVE.test(name.replace(/\.sha256$/, ''))) await writeFile(path.join(drive(), name), await readFile(path.join(archives(), name)));
    const checked = await run(VERIFY, 'remote=badr_gdrive:' + drive());
    assert.equal(checked.code, 0, checked.output);
    assert.deepEqual(checked.steps, [
      ['archive.verify', 'succeeded'],
      ['rclone.check', 'succeeded'],
    ]);

    // A damaged remote copy is named.
    const [first] = local;
    assert.ok(first);
    const damaged = path.join(drive(), first);
    const bytes = await readFile(damaged);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff;
    await writeFile(damaged, bytes);
    const failing = await run(VERIFY, 'remote=badr_gdrive:' + drive());
    assert.notEqual(failing.code, 0);
    assert.match(failing.output, new RegExp(first.replace(/\./g, '\\.')));
  });
});

describe('runbook badr-restore, end to end with the CLI: one archive back onto the controller and then the processor, two real sshd hosts reached as rclone sftp remotes', function () {
  this.timeout(120_000);
  let hosts: TwoHosts;
  let workspace: string;
  const project = (sshd: Sshd) => path.join(sshd.remoteDir, 'Badr');

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    hosts = await startTwoHosts();
    workspace = await mkdtemp(path.join(tmpdir(), 'lifeboat-badr-restore-'));
    const remote = (sshd: Sshd) =>
      `{ type: sftp, options: { host: "${sshd.host}", port: "${sshd.port}", user: "${sshd.user}", key_file: "${sshd.clientKey.privateKeyPath}", known_hosts_file: "${sshd.knownHostsPath}" } }`;
    await writeFile(path.join(workspace, 'lifeboat.yaml'), ['rcloneRemotes:', `  pi4: ${remote(hosts.pi4)}`, `  pi5: ${remote(hosts.pi5)}`, ''].join('\n'));
    await writeFile(path.join(workspace, RESTORE), await readFile(path.join(REPO_ROOT, 'runbooks', RESTORE)));
    await writeFile(path.join(workspace, LOCAL), await readFile(path.join(REPO_ROOT, 'runbooks', LOCAL)));
    await mkdir(path.join(workspace, 'Badr', 'config'), { recursive: true });
    await writeFile(path.join(workspace, 'Badr', 'config', 'receptionist.yaml'), 'greeting: "Ahlan"\n');
    await writeFile(path.join(workspace, 'Badr', 'faces.db'), Buffer.alloc(300_000, 9));
  });

  after(async () => {
    await hosts?.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('restores both devices from the archive badr-local-backup made, byte for byte, the controller first', async () => {
    const env = { ...ENV, HOME: workspace };
    const backup = await lifeboat(['run', LOCAL, '--param', 'source=Badr', '--yes'], { cwd: workspace, env });
    assert.equal(backup.code, 0, backup.stderr);
    const [archive] = (await readdir(path.join(workspace, 'Backups', 'Badr'))).filter((name) => ARCHIVE.test(name));
    assert.ok(archive);
    // The processor still has a stale copy; the controller nothing.
    await mkdir(project(hosts.pi5), { recursive: true });
    await writeFile(path.join(project(hosts.pi5), 'faces.db'), 'an old database');

    // Both test hosts share this machine's disk: each device's folder is its own here.
    const result = await lifeboat(
      ['run', RESTORE, '--param', `archive=Backups/Badr/${archive}`, '--param', `controllerProject=${project(hosts.pi4)}`, '--param', `processorProject=${project(hosts.pi5)}`, '--yes'],
      { cwd: workspace, env },
    );
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const records = await readRecords(workspace);
    const steps = records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]);
    assert.deepEqual(steps, [
      ['archive.verify', 'succeeded'],
      ['archive.restore', 'succeeded'],
      ['rclone.copy', 'succeeded'],
      ['rclone.check', 'succeeded'],
      ['rclone.copy', 'succeeded'],
      ['rclone.check', 'succeeded'],
    ]);
    for (const device of [hosts.pi4, hosts.pi5]) {
      for (const file of ['config/receptionist.yaml', 'faces.db']) assert.deepEqual(await readFile(path.join(project(device), file)), await readFile(path.join(workspace, 'Badr', file)), file);
    }
  });

  it('restores nothing anywhere from an archive that does not match its checksum', async () => {
    const [archive] = (await readdir(path.join(workspace, 'Backups', 'Badr'))).filter((name) => ARCHIVE.test(name));
    assert.ok(archive);
    const damaged = path.join(workspace, 'damaged', archive);
    await mkdir(path.dirname(damaged), { recursive: true });
    const bytes = await readFile(path.join(workspace, 'Backups', 'Badr', archive));
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0xff;
    await writeFile(damaged, bytes);
    await writeFile(`${damaged}.sha256`, await readFile(path.join(workspace, 'Backups', 'Badr', `${archive}.sha256`)));
    const target = path.join(hosts.pi5.remoteDir, 'untouched');
    const result = await lifeboat(['run', RESTORE, '--param', `archive=damaged/${archive}`, '--param', 'staging=restore/damaged', '--param', `controllerProject=${target}`, '--param', `processorProject=${target}`, '--yes'], { cwd: workspace, env: { ...ENV, HOME: workspace } });
    assert.notEqual(result.code, 0);
    const records = await readRecords(workspace);
    assert.deepEqual(
      records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]),
      [['archive.verify', 'failed']],
    );
    assert.equal(existsSync(path.join(workspace, 'restore', 'damaged')), false);
    assert.equal(existsSync(target), false);
  });
});
