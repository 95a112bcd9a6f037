import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openS3Store, type S3Store } from '../../src/clients/s3';
import { lifeboat } from '../support/cli';
import { crontabNow, keepCrontab, runAsCron } from '../support/cron';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { FrigateSimulator } from '../testbed/frigateSim';
import { startLifecycleStandIn, type LifecycleStandIn } from '../testbed/s3LifecycleStandIn';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';

const SETUP = 'frigate-s3-mirror-setup.runbook.md';
const MIRROR = 'frigate-s3-mirror.runbook.md';
const BUCKET = 'nvr-snapshots';
const T0 = 1_765_000_000.25;

describe('runbook frigate-s3-mirror-setup: bucket, lifecycle, a first run on the host and its cron schedule, through the lifeboat CLI', function () {
  this.timeout(180_000);
  let restoreCrontab: (() => Promise<void>) | undefined;
  let sshd: Sshd;
  let frigate: FrigateSimulator;
  let s3: RunningS3rver;
  let standIn: LifecycleStandIn;
  let reader: S3Store;
  let local: string;
  let hostWorkspace: string;
  let hostCli: string;
  let hostSecrets: string;

  const addEvents = (from: number, count: number) => {
    for (let index = from; index < from + count; index++) {
      frigate.events.push({ id: `${T0 + index}-ev${index}`, camera: index % 2 ? 'driveway' : 'porch', label: 'person', start_time: T0 + index, end_time: T0 + index + 4, has_snapshot: true, has_clip: false });
    }
  };

  async function keys(): Promise<string[]> {
    const found: string[] = [];
    for await (const object of reader.listObjects()) found.push(object.key);
    return found.sort();
  }

  before(async () => {
    requireFiles([
      [CLI, 'built by `node esbuild.config.mjs`'],
      ['/usr/bin/crontab', 'install Debian cron (scripts/install-system-packages.sh cron)'],
    ]);
    restoreCrontab = await keepCrontab();
    [sshd, frigate, s3] = await Promise.all([startSshd(), FrigateSimulator.start(), startS3rver({ buckets: [BUCKET] })]);
    standIn = await startLifecycleStandIn(s3.endpoint);
    reader = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS } });
    local = await mkdtemp(join(tmpdir(), 'lifeboat-mirror-setup-'));
    const store = ['stores:', '  snapshots:', `    endpoint: ${standIn.endpoint}`, `    bucket: ${BUCKET}`, '    credentials:', `      accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}`, '      secretAccessKey: secret:s3'];
    await writeFile(join(local, 'lifeboat.yaml'), [...store, 'hosts:', '  backup-host:', `    host: ${sshd.host}`, `    port: ${sshd.port}`, `    user: ${sshd.user}`, `    identityFile: ${sshd.clientKey.privateKeyPath}`, `    knownHosts: ${sshd.knownHostsPath}`, ''].join('\n'));
    await copyFile(join(REPO_ROOT, 'runbooks', SETUP), join(local, SETUP));

    // The host: its own workspace (the same Frigate and store), and the CLI as a wrapper that gives it its secrets file, as cron runs it.
    hostWorkspace = join(sshd.remoteDir, 'lifeboat workspace');
    await mkdir(hostWorkspace);
    await writeFile(join(hostWorkspace, 'lifeboat.yaml'), ['frigate:', '  frigate:', `    url: ${frigate.internalUrl}`, ...store, ''].join('\n'));
    await copyFile(join(REPO_ROOT, 'runbooks', MIRROR), join(hostWorkspace, MIRROR));
    hostSecrets = join(sshd.remoteDir, 'secrets.yaml');
    await writeFile(hostSecrets, `s3: ${S3RVER_CREDENTIALS.secretAccessKey}\n`, { mode: 0o600 });
    hostCli = join(sshd.remoteDir, 'lifeboat');
    await writeFile(hostCli, `#!/bin/sh\nLIFEBOAT_SECRETS_FILE='${hostSecrets}' exec '${process.execPath}' '${CLI}' "$@"\n`);
    await chmod(hostCli, 0o755);
  });

  after(async () => {
    reader?.dispose();
    await Promise.all([sshd?.stop(), frigate?.stop(), standIn?.stop(), s3?.stop()]);
    if (local) await rm(local, { recursive: true, force: true });
    await restoreCrontab?.();
  });

  const setup = () =>
    lifeboat(['run', SETUP, '--param', `workspace=${hostWorkspace}`, '--param', `cli=${hostCli}`, '--param', 'days=14'], {
      cwd: local,
      env: { HOME: local, SSH_AUTH_SOCK: '', LIFEBOAT_SECRET_S3: S3RVER_CREDENTIALS.secretAccessKey, LIFEBOAT_SECRETS_FILE: '' },
    });

  it('checks the bucket, sets the rule, mirrors everything on the host, schedules it; cron then mirrors what came since, and a second setup uploads nothing', async () => {
    addEvents(0, 10);
    const first = await setup();
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assert.match(first.stdout, /\| put \| s3:PutObject \| yes \| ok \|/);
    assert.match(first.stdout, /rule Frigate snapshots \(enabled\): prefix frigate\/snapshots\/: expire after 14 days was added/);
    assert.match(first.stdout, /10 snapshots uploaded/);
    assert.match(first.stdout, /\| backup-host \| frigate-s3-mirror\.runbook\.md \| \*\/10 \* \* \* \* \| installed \|/);
    const snapshots = await keys();
    assert.equal(snapshots.length, 10);
    assert.ok(snapshots.every((key) => /^frigate\/snapshots\/(porch|driveway)\/2025-12-0\d\/\d+\.\d+-ev\d+-\d{8}_\d{6}\.jpg$/.test(key)), snapshots.join('\n'));

    // What cron runs, run as cron would (its PATH and HOME): the events since the setup, and only those.
    const [line] = (await crontabNow() ?? '').split('\n').filter((entry) => entry.includes(`# lifeboat:${hostWorkspace}/${MIRROR}`));
    assert.ok(line, 'the crontab holds the mirror line');
    addEvents(10, 3);
    assert.equal(await runAsCron(line), 0);
    assert.equal((await keys()).length, 13);

    const again = await setup();
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    assert.match(again.stdout, /\| already installed \|/);
    assert.match(again.stdout, /0 snapshots uploaded|nothing new/);
    assert.equal((await keys()).length, 13);
  });
  it('with watch, the mirror runbook keeps mirroring new events as they come, until interrupted', async () => {
    const before = (await keys()).length;
    let stop: (() => void) | undefined;
    const watching = lifeboat(['run', MIRROR, '--param', 'watch=true'], {
      cwd: hostWorkspace,
      env: { HOME: hostWorkspace, LIFEBOAT_SECRETS_FILE: hostSecrets },
      onStart: (child) => (stop = () => child.kill('SIGINT')),
    });
    let settled = false;
    void watching.finally(() => (settled = true));
    // Once it has asked Frigate for events and found nothing new, two events happen.
    const asked = frigate.requests.length;
    const askedForEvents = () => frigate.requests.slice(asked).some((request) => request.path === '/api/events');
    for (const deadline = Date.now() + 30_000; !askedForEvents() && !settled && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(askedForEvents(), 'the watching run asked Frigate for events');
    addEvents(100, 2);
    // Frigate is asked again every ten seconds: the new events arrive without a new run.
    for (const deadline = Date.now() + 60_000; (await keys()).length < before + 2 && !settled && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(settled, false, 'the watching run keeps going');
    assert.equal((await keys()).length, before + 2);
    stop?.();
    const ended = await watching;
    assert.equal(ended.code, 130, ended.stderr);
    assert.doesNotMatch(ended.stderr, /^\s+at /m, 'no stack trace');
  });
});
