import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordingsBackupResult } from '../../src/actions/frigate/recordingsBackup';
import type { RecordingsListResult } from '../../src/actions/frigate/recordingsList';
import type { RecordingsRestoreResult } from '../../src/actions/frigate/recordingsRestore';
import { createActionContext } from '../../src/core/actions/context';
import { PlanHandOver } from '../../src/core/actions/handOver';
import type { ActionContext, ProgressUpdate } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { frigateAction, runFrigateAction } from '../support/frigateActions';
import { filesUnder, inBackupLayout, utcDay } from '../support/recordings';
import { startTcpFaultProxy, type TcpFaultProxy } from '../testbed/faultProxy';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { startSshd, type Sshd } from '../testbed/sshd';

const CAMERAS = ['driveway', 'front_door', 'garden'] as const;

describe('Frigate recordings: backup, restore and list against the pod and a real sshd', function () {
  this.timeout(90_000);
  let kube: KubeApiSimulator;
  let sshd: Sshd;
  /** sshd behind a TCP proxy that can cut every connection mid-stream. */
  let proxy: TcpFaultProxy;
  let proxyKnownHosts: string;
  let kubeconfig: string;
  let workspace: string;
  let recordingsDir: string;
  /** What the pod held when the tests started, `DATE/HH/<camera>/MM.SS.mp4` → contents. */
  let original: Map<string, Buffer>;
  const backupRoot = () => join(sshd.remoteDir, 'recordings');

  function context(overrides: Partial<ActionContext> = {}, labelSelector = 'app=frigate'): ActionContext {
    return createActionContext({
      workspaceDir: workspace,
      inventory: {
        frigate: { home: { url: 'http://127.0.0.1:5000', files: { cluster: 'k3s', namespace: 'nvr', labelSelector } } },
        clusters: { k3s: { kubeconfig } },
        hosts: {
          nas: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath },
          'nas-flaky': { host: sshd.host, port: proxy.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: proxyKnownHosts },
        },
        locations: { 'nas-recordings': { host: 'nas', path: backupRoot() }, local: { path: 'backups' } },
      },
      ...overrides,
    });
  }

  const runAction = <Result>(id: string, params: Record<string, unknown>, ctx = context()) => runFrigateAction<Result>(id, params, ctx);
  const plan = async (id: string, params: Record<string, unknown>) => {
    const ctx = context();
    try {
      return await frigateAction(id).plan(frigateAction(id).params.parse(params), ctx);
    } finally {
      await ctx.clients.disposeAll();
    }
  };

  async function addRecording(date: string, hour: string, camera: string, file: string, bytes: number): Promise<void> {
    const dir = join(recordingsDir, date, hour, camera);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, file), randomBytes(bytes));
  }

  /** Runs an action and stops it (abort, or `interrupt`) once this many bytes of its stream went through. */
  async function interrupted<Result>(id: string, params: Record<string, unknown>, afterBytes: number, interrupt?: () => Promise<void>): Promise<Result> {
    const controller = new AbortController();
    let fired = false;
    const progress = {
      report(update: ProgressUpdate) {
        // Only mid-stream: the final report comes when the stream has ended and the hours are being moved into place.
        if (fired || (update.bytes ?? 0) < afterBytes || (update.bytes ?? 0) >= (update.totalBytes ?? 0)) return;
        fired = true;
        if (interrupt) void interrupt();
        else controller.abort();
      },
    };
    return runAction<Result>(id, params, context({ signal: controller.signal, progress }));
  }

  before(async () => {
    [kube, sshd] = await Promise.all([KubeApiSimulator.start(), startSshd()]);
    proxy = await startTcpFaultProxy(sshd.port);
    proxyKnownHosts = join(sshd.dir, 'known_hosts_proxy');
    await writeFile(proxyKnownHosts, `${sshd.knownHostsLine.replace(`:${sshd.port} `, `:${proxy.port} `)}\n`);
    const pod = kube.addPod({ namespace: 'nvr', name: 'frigate-0', labels: { app: 'frigate' }, containers: ['frigate'] });
    recordingsDir = join(pod.root, 'media', 'frigate', 'recordings');
    kubeconfig = await kube.writeKubeconfig();
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-recordings-'));
    const currentHour = new Date().toISOString().slice(11, 13);
    for (const [cameraIndex, camera] of CAMERAS.entries()) {
      for (const daysAgo of [0, 1, 2, 12]) {
        for (const hour of daysAgo === 0 ? [currentHour] : ['07', '13']) {
          for (let segment = 0; segment < 3; segment++) {
            await addRecording(utcDay(daysAgo), hour, camera, `${String(segment * 10).padStart(2, '0')}.00.mp4`, 2000 + ((cameraIndex * 7919 + segment * 3571 + daysAgo * 131) % 30000));
          }
        }
      }
    }
    original = await filesUnder(recordingsDir);
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all([kube?.stop(), sshd?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  const recent = (_camera: string, date: string) => date >= utcDay(7);

  it('plans the backup without writing anything, per camera and day', async () => {
    const planned = await plan('frigate.recordings.backup', { frigate: 'home', location: 'nas-recordings' });
    assert.match(planned.summary, /^Copy 45 recordings \(.*\) from pod nvr\/frigate-0:\/media\/frigate\/recordings to nas:.*\/recordings; 0 hours \(0 files\) already complete there are skipped; 18 recordings older than 7 days are left out$/);
    const creates = planned.operations.filter((operation) => operation.kind === 'create');
    assert.equal(creates.length, 9);
    assert.deepEqual(creates.map((operation) => operation.items), [3, 6, 6, 3, 6, 6, 3, 6, 6]);
    assert.equal(planned.destructive, false);
    await assert.rejects(stat(backupRoot()), { code: 'ENOENT' });
  });

  it('backs up every recording byte for byte in the camera/day/hour layout, deletes expired days, and a second run copies nothing', async () => {
    const oldDay = utcDay(30);
    await mkdir(join(backupRoot(), 'front_door', oldDay, '05'), { recursive: true });
    await writeFile(join(backupRoot(), 'front_door', oldDay, '05', '00.00.mp4'), 'an old recording');
    await mkdir(join(backupRoot(), 'attic', oldDay, '05'), { recursive: true });
    await writeFile(join(backupRoot(), 'attic', oldDay, '05', '00.00.mp4'), 'the only day of a retired camera');
    const planned = await plan('frigate.recordings.backup', { frigate: 'home', location: 'nas-recordings' });
    assert.equal(planned.destructive, true);
    assert.deepEqual(planned.operations.filter((operation) => operation.kind === 'delete').map((operation) => operation.target.split('/').slice(-2).join('/')), [`front_door/${oldDay}`]);

    const updates: ProgressUpdate[] = [];
    const result = await runAction<RecordingsBackupResult>('frigate.recordings.backup', { frigate: 'home', location: 'nas-recordings' }, context({ progress: { report: (update) => updates.push(update) } }));
    assert.equal(result.copiedFiles, 45);
    assert.equal(result.olderThanRetention, 18);
    assert.deepEqual(result.deletedDays.map((day) => `${day.camera}/${day.date}`), [`front_door/${oldDay}`]);
    const expected = inBackupLayout(original, recent);
    expected.set(`attic/${oldDay}/05/00.00.mp4`, Buffer.from('the only day of a retired camera'));
    assert.deepEqual(await filesUnder(backupRoot()), expected);
    assert.deepEqual(updates.at(-1), { message: 'Copying recordings', items: 45, totalItems: 45, bytes: updates.at(-1)?.totalBytes, totalBytes: updates.at(-1)?.totalBytes });

    const again = await runAction<RecordingsBackupResult>('frigate.recordings.backup', { frigate: 'home', location: 'nas-recordings' });
    assert.equal(again.copiedFiles, 0);
    assert.equal(again.skippedHours, 15);
    assert.equal(again.skippedFiles, 45);
    assert.deepEqual(await filesUnder(backupRoot()), expected);
  });

  it('refuses a backup folder another run is writing, naming that run, and copies and deletes nothing', async () => {
    await mkdir(backupRoot(), { recursive: true });
    const lock = join(backupRoot(), '.lifeboat-lock');
    const renewedAt = new Date().toISOString();
    await writeFile(lock, JSON.stringify({ format: 'lifeboat.lock/1', id: 'nas-run', host: 'nas', pid: 4121, user: 'backup', runbook: 'nightly.runbook.md', action: 'frigate.recordings.backup', startedAt: renewedAt, renewedAt }));
    const before = await filesUnder(backupRoot());
    try {
      await assert.rejects(
        runAction('frigate.recordings.backup', { frigate: 'home', location: 'nas-recordings' }),
        /nas:.*recordings is being written by another run: frigate\.recordings\.backup of nightly\.runbook\.md, pid 4121 of backup on nas/,
      );
      assert.deepEqual(await filesUnder(backupRoot()), before);
    } finally {
      await rm(lock);
    }
  });

  it('completes an hour that is only partly on the target', async () => {
    const hourDir = join(backupRoot(), 'garden', utcDay(1), '13');
    await rm(join(hourDir, '00.00.mp4'));
    await truncate(join(hourDir, '10.00.mp4'), 100);
    const result = await runAction<RecordingsBackupResult>('frigate.recordings.backup', { frigate: 'home', location: 'nas-recordings' });
    assert.equal(result.copiedFiles, 2);
    assert.equal(result.skippedHours, 14);
    const expected = inBackupLayout(original, recent);
    const backedUp = await filesUnder(backupRoot());
    backedUp.delete(`attic/${utcDay(30)}/05/00.00.mp4`);
    assert.deepEqual(backedUp, expected);
  });

  it('a run after its plan copies what the plan selected, not a recording added since', async () => {
    await rm(join(backupRoot(), 'garden', utcDay(1), '13', '00.00.mp4'));
    const action = frigateAction('frigate.recordings.backup');
    const params = action.params.parse({ frigate: 'home', location: 'nas-recordings' });
    const handOver = new PlanHandOver();
    const ctx = context({ handOver });
    const added = join(recordingsDir, utcDay(1), '13', 'garden', '55.00.mp4');
    try {
      const planned = await action.plan(params, ctx);
      assert.match(planned.summary, /^Copy 1 recordings /);
      // In the pod after the plan was shown: not what the person confirmed.
      await addRecording(utcDay(1), '13', 'garden', '55.00.mp4', 1000);
      const result = (await action.run(params, ctx)) as RecordingsBackupResult;
      assert.equal(result.copiedFiles, 1);
      assert.equal(existsSync(join(backupRoot(), 'garden', utcDay(1), '13', '00.00.mp4')), true);
      assert.equal(existsSync(join(backupRoot(), 'garden', utcDay(1), '13', '55.00.mp4')), false);
    } finally {
      await rm(added, { force: true });
      await handOver.dispose();
      await ctx.clients.disposeAll();
    }
  });

  it('backs up only the cameras and days asked for, to a host and path', async () => {
    const path = join(sshd.remoteDir, 'filtered');
    const result = await runAction<RecordingsBackupResult>('frigate.recordings.backup', { frigate: 'home', host: 'nas', path, cameras: ['garden', 'driveway'], from: utcDay(2), to: utcDay(1), retentionDays: 0 });
    assert.equal(result.copiedFiles, 24);
    assert.deepEqual(await filesUnder(path), inBackupLayout(original, (camera, date) => camera !== 'front_door' && (date === utcDay(1) || date === utcDay(2))));
    await assert.rejects(runAction('frigate.recordings.backup', { frigate: 'home', host: 'nas', path, cameras: ['porch'] }), /`cameras`: 'porch' has no recordings in pod nvr\/frigate-0; cameras there: driveway, front_door, garden/);
  });

  it('refuses bad parameters before acting', async () => {
    await assert.rejects(runAction('frigate.recordings.backup', { frigate: 'home', location: 'local' }), /location 'local' is not on an SSH host/);
    await assert.rejects(runAction('frigate.recordings.backup', { frigate: 'home', host: 'nas', path: 'relative/folder' }), /`path` must be an absolute folder on host 'nas'/);
    await assert.rejects(runAction('frigate.recordings.backup', { frigate: 'home', location: 'nas-recordings' }, context({}, 'app=gone')), /no running pod matches app=gone in namespace nvr/);
    assert.throws(() => frigateAction('frigate.recordings.backup').params.parse({ frigate: 'home', location: 'nas-recordings', from: '2026-02-09', to: '2026-02-08' }), /`from` \(2026-02-09\) is after `to` \(2026-02-08\)/);
    assert.throws(() => frigateAction('frigate.recordings.backup').params.parse({ frigate: 'home', host: 'nas' }), /`host` and `path` go together/);
    assert.throws(() => frigateAction('frigate.recordings.restore').params.parse({ frigate: 'home', location: 'nas-recordings', from: '2026-02-30' }), /not a calendar day/);
  });

  describe('interrupted transfers', () => {
    const bigDay = utcDay(3);
    before(async () => {
      for (let segment = 0; segment < 12; segment++) await addRecording(bigDay, '09', 'yard', `${String(segment * 5).padStart(2, '0')}.00.mp4`, 4 * 1024 * 1024);
    });
    after(async () => rm(join(recordingsDir, bigDay), { recursive: true, force: true }));
    // Slow enough, in both directions, that progress is reported while the stream is under way however fast the machine.
    beforeEach(() => proxy.throttle(16 * 1024 * 1024, 'both'));
    afterEach(() => proxy.throttle(undefined));

    it('a cancelled backup leaves no partial hour under a final name, and no staging folder', async () => {
      const path = join(sshd.remoteDir, 'cancelled');
      await assert.rejects(interrupted('frigate.recordings.backup', { frigate: 'home', host: 'nas-flaky', path, cameras: ['yard'] }, 8 * 1024 * 1024), CancelledError);
      assert.deepEqual(await readdir(path), []);
    });

    it('an SSH connection dropped mid-stream fails clearly, publishes nothing, and the next run reclaims the staging folder', async () => {
      const path = join(sshd.remoteDir, 'dropped');
      const cutMidStream = async () => proxy.cutAfter(4 * 1024 * 1024);
      await assert.rejects(interrupted('frigate.recordings.backup', { frigate: 'home', host: 'nas-flaky', path, cameras: ['yard'] }, 8 * 1024 * 1024, cutMidStream), (error: Error) => {
        assert.ok(!(error instanceof CancelledError));
        assert.ok(error.message.startsWith(`the transfer on nas-flaky:${path} failed: `), error.message);
        assert.match(error.message, /EPIPE|Broken pipe|closed|reset/i);
        return true;
      });
      assert.ok(!(await readdir(path)).includes('yard'), 'no hour of yard under its final name');
      assert.ok((await readdir(path)).some((name) => name.startsWith('.lifeboat-partial-')), 'the staging folder is left, as the host could not be reached to remove it');
      const result = await runAction<RecordingsBackupResult>('frigate.recordings.backup', { frigate: 'home', host: 'nas-flaky', path, cameras: ['yard'] });
      assert.equal(result.copiedFiles, 12);
      assert.deepEqual(await readdir(path), ['yard']);
      assert.deepEqual(await filesUnder(path), inBackupLayout(await filesUnder(recordingsDir), (camera) => camera === 'yard'));
    });

    it('a cancelled restore leaves no partial hour in the pod, and no staging folder', async () => {
      await rm(join(recordingsDir, bigDay), { recursive: true });
      const path = join(sshd.remoteDir, 'dropped');
      await assert.rejects(interrupted('frigate.recordings.restore', { frigate: 'home', host: 'nas-flaky', path, camera: 'yard' }, 8 * 1024 * 1024), CancelledError);
      assert.ok(!(await readdir(recordingsDir)).includes(bigDay), 'no hour of yard under its final name');
      assert.deepEqual((await readdir(recordingsDir)).filter((name) => name.startsWith('.')), [], 'the staging folder is removed');
    });
  });

  describe('restore', () => {
    const wipePod = () => rm(recordingsDir, { recursive: true, force: true });
    const restored = async () => inBackupLayout(await filesUnder(recordingsDir));

    it('lists what the pod and the backup hold per camera and day, newest first', async () => {
      const fromBackup = await runAction<RecordingsListResult>('frigate.recordings.list', { location: 'nas-recordings' });
      assert.equal(fromBackup.source, `nas:${backupRoot()}`);
      assert.deepEqual(fromBackup.cameras.map((camera) => camera.camera), ['attic', 'driveway', 'front_door', 'garden']);
      assert.deepEqual(fromBackup.cameras[1]?.days.map((day) => [day.date, day.hours, day.files]), [[utcDay(0), 1, 3], [utcDay(1), 2, 6], [utcDay(2), 2, 6]]);
      const fromPod = await runAction<RecordingsListResult>('frigate.recordings.list', { frigate: 'home' });
      assert.equal(fromPod.root, '/media/frigate/recordings');
      assert.deepEqual(fromPod.cameras.map((camera) => [camera.camera, camera.days.length]), [['driveway', 4], ['front_door', 4], ['garden', 4]]);
      const podBytes = [...original].filter(([entry]) => entry.includes('/garden/')).reduce((sum, [, data]) => sum + data.length, 0);
      assert.equal(fromPod.cameras[2]?.days.reduce((sum, day) => sum + day.bytes, 0), podBytes);
    });

    it('restores one camera, then all, byte for byte after the pod lost them, and a re-run copies nothing', async () => {
      await wipePod();
      const planned = await plan('frigate.recordings.restore', { frigate: 'home', location: 'nas-recordings', camera: 'garden' });
      assert.match(planned.summary, /^Restore 15 recordings .* into pod nvr\/frigate-0; 0 identical are skipped$/);
      await assert.rejects(stat(recordingsDir), { code: 'ENOENT' });
      const one = await runAction<RecordingsRestoreResult>('frigate.recordings.restore', { frigate: 'home', location: 'nas-recordings', camera: 'garden' });
      assert.equal(one.restoredFiles, 15);
      assert.deepEqual(await restored(), inBackupLayout(original, (camera, date) => camera === 'garden' && recent(camera, date)));
      assert.match(frigateAction('frigate.recordings.restore').render(one), /Frigate shows only recordings its database knows/);

      const all = await runAction<RecordingsRestoreResult>('frigate.recordings.restore', { frigate: 'home', location: 'nas-recordings', from: utcDay(7) });
      assert.equal(all.restoredFiles, 30);
      assert.equal(all.identical, 15);
      assert.deepEqual(await restored(), inBackupLayout(original, recent));
      const again = await runAction<RecordingsRestoreResult>('frigate.recordings.restore', { frigate: 'home', location: 'nas-recordings', from: utcDay(7) });
      assert.equal(again.restoredFiles, 0);
      assert.equal(again.identical, 45);
      assert.deepEqual((await readdir(recordingsDir)).filter((name) => name.startsWith('.')), [], 'no staging folder is left in the pod');
    });

    it('keeps and reports a recording that differs in the pod, and replaces it only with overwrite: true', async () => {
      const entry = `${utcDay(1)}/07/front_door/10.00.mp4`;
      await writeFile(join(recordingsDir, entry), 'edited in the pod');
      const when = new Date();
      await utimes(join(recordingsDir, entry), when, when);
      const kept = await runAction<RecordingsRestoreResult>('frigate.recordings.restore', { frigate: 'home', location: 'nas-recordings', camera: 'front_door' });
      assert.equal(kept.restoredFiles, 0);
      assert.deepEqual(kept.conflicts, [entry]);
      assert.equal(await readFile(join(recordingsDir, entry), 'utf8'), 'edited in the pod');

      const planned = await plan('frigate.recordings.restore', { frigate: 'home', location: 'nas-recordings', camera: 'front_door', overwrite: true });
      assert.equal(planned.destructive, true);
      assert.ok(planned.operations.some((operation) => operation.kind === 'overwrite' && operation.detail === entry));
      const replaced = await runAction<RecordingsRestoreResult>('frigate.recordings.restore', { frigate: 'home', location: 'nas-recordings', camera: 'front_door', overwrite: true });
      assert.equal(replaced.restoredFiles, 1);
      assert.equal(replaced.overwritten, 1);
      assert.deepEqual(await readFile(join(recordingsDir, entry)), original.get(entry));
    });
  });
});
