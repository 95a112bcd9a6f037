import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openS3Store, type S3Store } from '../../src/clients/s3';
import { lifeboat, type CliResult } from '../support/cli';
import { FrigateSimulator } from '../testbed/frigateSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';
import { solidWebp } from '../testbed/webp';

const PASSWORD = 'frigate-admin-pass';
const ARCHIVE = /^frigate-faces-\d{8}-\d{6}\.tar\.gz$/;

describe('One writer per location: face backups of two runs at once', function () {
  this.timeout(120_000);
  let frigate: FrigateSimulator;
  let sshd: Sshd;
  let s3: RunningS3rver;
  let store: S3Store;
  let workspace: string;

  const hostFolder = () => join(sshd.remoteDir, 'faces');

  before(async () => {
    [frigate, sshd, s3] = await Promise.all([FrigateSimulator.start({ users: { admin: { password: PASSWORD, role: 'admin' } } }), startSshd(), startS3rver({ buckets: ['backups'] })]);
    for (let index = 1; index <= 40; index++) await frigate.addFace('Asha', `Asha-${1700000000 + index}.webp`, solidWebp({ width: 64, height: 64, padding: randomBytes(4096) }));
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-locks-'));
    // The runs' own temporary files, a killed run's among them, go with the workspace.
    await mkdir(join(workspace, 'tmp'));
    const inventory = {
      frigate: { home: { url: frigate.url, auth: { username: 'admin', password: 'secret:frigate_password' }, tls: { insecure: true } } },
      hosts: { piglet: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
      stores: { garage: { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3_secret' } } },
      locations: { piglet: { host: 'piglet', path: hostFolder() }, local: { path: 'backups' }, offsite: { store: 'garage', prefix: 'faces/' } },
    };
    await writeFile(join(workspace, 'lifeboat.yaml'), JSON.stringify(inventory));
    for (const location of ['piglet', 'local', 'offsite']) {
      await writeFile(join(workspace, `${location}.runbook.md`), ['---', `title: Faces to ${location}`, '---', '', '```lifeboat {id=faces}', 'action: frigate.faces.backup', 'frigate: home', `location: ${location}`, '```', ''].join('\n'));
    }
    store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey } });
  });

  after(async () => {
    store?.dispose();
    await Promise.all([frigate?.stop(), sshd?.stop(), s3?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  afterEach(() => frigate.clearFaults());

  const backup = (location: string, onStart?: (child: ChildProcess) => void): Promise<CliResult> =>
    lifeboat(['run', `${location}.runbook.md`, '--yes'], { cwd: workspace, env: { HOME: workspace, TMPDIR: join(workspace, 'tmp'), LIFEBOAT_SECRET_FRIGATE_PASSWORD: PASSWORD, LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey, LIFEBOAT_SECRETS_FILE: '' }, onStart });

  /** A lock of a run on another machine, as Lifeboat writes it. */
  const foreignLock = (renewedAt: Date) =>
    JSON.stringify({ format: 'lifeboat.lock/1', id: 'nas-run', host: 'nas', pid: 4121, user: 'backup', runbook: 'nightly.runbook.md', action: 'frigate.faces.backup', startedAt: '2026-12-06T03:00:00.000Z', renewedAt: renewedAt.toISOString() });

  it('lets one of two runs started at once write an SSH location, and refuses the other, naming it, before it changes anything', async () => {
    // Downloads slow enough that both runs hold their plan while the other takes the lock.
    frigate.injectFault({ kind: 'slow', delayMs: 150, path: /^\/clips\/faces\//, times: 80 });
    const pids: number[] = [];
    const results = await Promise.all([backup('piglet', (child) => pids.push(child.pid as number)), backup('piglet', (child) => pids.push(child.pid as number))]);
    const succeeded = results.filter((result) => result.code === 0);
    const refused = results.filter((result) => result.code !== 0);
    assert.equal(succeeded.length, 1, results.map((result) => result.stderr).join('\n'));
    const other = pids[results.indexOf(succeeded[0] as CliResult)];
    assert.match(refused[0]?.stderr ?? '', new RegExp(`piglet:${hostFolder()} is being written by another run: frigate\\.faces\\.backup of piglet\\.runbook\\.md, pid ${other} of \\S+ on \\S+, since .* UTC, renewed \\d+ s ago`));
    const names = await readdir(hostFolder());
    assert.equal(names.filter((name) => ARCHIVE.test(name)).length, 1, `one archive: ${names.join(', ')}`);
    assert.deepEqual(names.filter((name) => name.startsWith('.')), [], 'no lock and no partial file left');
  });

  it('a run killed while it holds a local location leaves its lock, which the next run takes over, saying whose it was', async () => {
    frigate.injectFault({ kind: 'slow', delayMs: 300, path: /^\/clips\/faces\//, times: 80 });
    const lock = join(workspace, 'backups', '.lifeboat-lock');
    let killed: number | undefined;
    const killedRun = await backup('local', (child) => {
      const poll = setInterval(() => {
        if (!existsSync(lock) || !readFileSync(lock, 'utf8').includes('"local.runbook.md"')) return;
        clearInterval(poll);
        killed = child.pid;
        child.kill('SIGKILL');
      }, 20);
    });
    assert.equal(killedRun.code, null, 'killed');
    assert.ok(existsSync(lock), 'the lock stays');
    frigate.clearFaults();
    const next = await backup('local');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout + next.stderr, new RegExp(`taking over the lock of .*backups, left by a run that stopped \\(its process ${killed} is gone\\): frigate\\.faces\\.backup of local\\.runbook\\.md, pid ${killed}`));
    const names = await readdir(join(workspace, 'backups'));
    assert.equal(names.filter((name) => ARCHIVE.test(name)).length, 1, names.join(', '));
    assert.equal(existsSync(lock), false, 'released');
  });

  it("refuses an S3 location another machine's run holds, and takes over its lock once it has not been renewed for long", async () => {
    await store.putBytes('faces/.lifeboat-lock', foreignLock(new Date()));
    const refused = await backup('offsite');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /s3:\/\/backups\/faces\/ \(store 'garage'\) is being written by another run: frigate\.faces\.backup of nightly\.runbook\.md, pid 4121 of backup on nas, since 2026-12-06 03:00:00 UTC/);
    const keys = async () => {
      const found: string[] = [];
      for await (const object of store.listObjects({ prefix: 'faces/' })) found.push(object.key);
      return found;
    };
    assert.deepEqual(await keys(), ['faces/.lifeboat-lock']);

    await store.putBytes('faces/.lifeboat-lock', foreignLock(new Date(Date.now() - 10 * 60_000)));
    const next = await backup('offsite');
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout + next.stderr, /taking over the lock of s3:\/\/backups\/faces\/ \(store 'garage'\), left by a run that stopped \(it was last renewed 10 min ago\)/);
    const left = await keys();
    assert.equal(left.filter((key) => ARCHIVE.test(key.slice('faces/'.length))).length, 1, left.join(', '));
    assert.equal(left.includes('faces/.lifeboat-lock'), false, 'released');
  });

  it('refuses an SSH location whose folder holds a fresh lock of another machine, and leaves the folder as it was', async () => {
    await rm(hostFolder(), { recursive: true, force: true });
    await mkdir(hostFolder());
    await writeFile(join(hostFolder(), '.lifeboat-lock'), foreignLock(new Date()));
    const refused = await backup('piglet');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is being written by another run: frigate\.faces\.backup of nightly\.runbook\.md, pid 4121 of backup on nas/);
    assert.deepEqual(await readdir(hostFolder()), ['.lifeboat-lock']);
  });
});
