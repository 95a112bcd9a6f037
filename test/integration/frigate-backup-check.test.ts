import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkFrigateBackups, renderBackupCheck } from '../../src/actions/frigate/backupCheck';
import { DEFAULT_FACE_BACKUP_MAX_AGE_HOURS } from '../../src/actions/frigate/backupLocations';
import { timestampFromName } from '../../src/actions/archive/naming';
import type { FacesBackupResult } from '../../src/actions/frigate/backup';
import { VERIFIED_STATE_FILE } from '../../src/actions/archive';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext } from '../../src/core/actions/spec';
import { runFrigateAction } from '../support/frigateActions';
import { FrigateSimulator } from '../testbed/frigateSim';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { startSshd, type Sshd } from '../testbed/sshd';
import { solidWebp } from '../testbed/webp';

const PEOPLE = { Asha: 5, G: 8 } as const;

describe('Frigate backups: the check behind "Check Frigate Backups"', function () {
  this.timeout(60_000);
  let sim: FrigateSimulator;
  let workspace: string;

  before(async () => {
    sim = await FrigateSimulator.start();
    for (const [person, count] of Object.entries(PEOPLE)) {
      for (let index = 1; index <= count; index++) await sim.addFace(person, `${person}-${index}.webp`, solidWebp({ width: 112, height: 112, padding: randomBytes(300 + index) }));
    }
  });

  after(async () => {
    await sim?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-check-'));
    // A folder of other archives: not a face backup location, so not part of the verdict.
    await mkdir(join(workspace, 'app-backups'));
    await writeFile(join(workspace, 'app-backups', 'app-20260101-030000.tar.gz'), 'app');
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  function context(url = sim.internalUrl): ActionContext {
    return createActionContext({
      workspaceDir: workspace,
      inventory: { frigate: { home: { url } }, locations: { 'frigate-faces': { path: 'faces' }, apps: { path: 'app-backups' } } },
    });
  }

  async function check(ctx = context()) {
    try {
      return await checkFrigateBackups(ctx, 'home', { maxAgeHours: DEFAULT_FACE_BACKUP_MAX_AGE_HOURS, now: new Date() });
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  it('calls a missing face backup stale, a fresh complete one ok', async () => {
    // Not created yet, then created and empty: no backup either way.
    for (const prepare of [async () => undefined, () => mkdir(join(workspace, 'faces'))]) {
      await prepare();
      const missing = await check();
      assert.equal(missing.verdict, 'stale');
      assert.deepEqual(missing.reasons, [`no face backup in ${join(workspace, 'faces')}`]);
      assert.deepEqual(missing.faceLocations.map((location) => location.location), ['frigate-faces']);
    }

    const backup = await runFrigateAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'frigate-faces' }, context());
    const fresh = await check();
    assert.equal(fresh.verdict, 'ok', fresh.reasons.join('; '));
    assert.equal(fresh.health.ok, true);
    const newest = fresh.faceLocations[0]?.newest;
    assert.equal(newest?.name, backup.name);
    assert.equal(newest?.bytes, backup.bytes);
    assert.equal(newest?.verification.state, 'ok');
    const report = renderBackupCheck(fresh);
    assert.match(report, /\*\*Verdict: ok\*\*/);
    assert.match(report, new RegExp(`\\| frigate-faces \\| .*faces \\| ${backup.name} \\| \\d+ s ago \\| .* \\| verified \\d+ s ago \\| Asha 5 · G 8 \\| ok \\|`));
    assert.match(report, /is healthy, version 0\.16\.0/);
  });

  it('calls a backup that lacks images added since stale, an old one stale, a failed verification failing', async () => {
    const backup = await runFrigateAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'frigate-faces' }, context());
    await sim.addFace('Asha', 'Asha-new.webp', solidWebp({ width: 112, height: 112 }));
    try {
      const behind = await check();
      assert.equal(behind.verdict, 'stale');
      assert.deepEqual(behind.reasons, [`images added since the newest backup: Asha: 6 live, 5 in ${backup.name}`]);
    } finally {
      await rm(join(sim.facesDir, 'Asha', 'Asha-new.webp'));
    }

    const old = 'frigate-faces-20260101-030000.tar.gz';
    await rename(join(workspace, 'faces', backup.name), join(workspace, 'faces', old));
    const aged = await check();
    assert.equal(aged.verdict, 'stale');
    assert.match(aged.reasons[0] ?? '', new RegExp(`the newest backup ${old} is from \\d+ d ago`));

    await writeFile(join(workspace, 'faces', VERIFIED_STATE_FILE), JSON.stringify({ [old]: { verifiedAt: new Date().toISOString(), ok: false, bytes: backup.bytes } }));
    const failed = await check();
    assert.equal(failed.verdict, 'failing');
    assert.equal(failed.faceLocations[0]?.newest?.verification.detail.startsWith('verification failed'), true);
  });

  it('checks the locations the instance names, against the allowed age it is given', async () => {
    const inventory = { frigate: { home: { url: sim.internalUrl, backups: { faces: ['nightly', 'weekly'] } } }, locations: { nightly: { path: 'nightly' }, weekly: { path: 'weekly' }, 'frigate-faces': { path: 'faces' } } };
    const named = () => createActionContext({ workspaceDir: workspace, inventory });
    const backup = await runFrigateAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'nightly' }, named());
    const inThreeHours = new Date((timestampFromName(backup.name)?.getTime() ?? Number.NaN) + 3 * 3_600_000);
    const checkAt = async (maxAgeHours: number) => {
      const ctx = named();
      try {
        return await checkFrigateBackups(ctx, 'home', { maxAgeHours, now: inThreeHours });
      } finally {
        await ctx.clients.disposeAll();
      }
    };

    const withinDay = await checkAt(26);
    assert.deepEqual(withinDay.faceLocations.map((location) => [location.location, location.verdict]), [['nightly', 'ok'], ['weekly', 'stale']]);
    assert.deepEqual(withinDay.reasons, [`no face backup in ${join(workspace, 'weekly')}`]);
    const strict = await checkAt(2);
    assert.equal(strict.faceLocations[0]?.verdict, 'stale');
    assert.match(strict.faceLocations[0]?.reasons[0] ?? '', new RegExp(`the newest backup ${backup.name} is from 3 h ago`));
  });

  it('calls the backups failing when Frigate cannot be reached', async () => {
    const result = await check(context('http://127.0.0.1:9'));
    assert.equal(result.verdict, 'failing');
    assert.equal(result.health.ok, false);
    assert.match(result.reasons[0] ?? '', /^Frigate 'home': /);
    assert.match(renderBackupCheck(result), /The live face library could not be read/);
  });

  describe('recordings', () => {
    let kube: KubeApiSimulator;
    let sshd: Sshd;
    let kubeconfig: string;
    const DAY_MS = 24 * 3600 * 1000;
    const utcDay = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);

    before(async () => {
      [kube, sshd] = await Promise.all([KubeApiSimulator.start(), startSshd()]);
      const pod = kube.addPod({ namespace: 'nvr', name: 'frigate-0', labels: { app: 'frigate' }, containers: ['frigate'] });
      kubeconfig = await kube.writeKubeconfig();
      for (const camera of ['driveway', 'garden']) {
        for (const daysAgo of [0, 3]) {
          const folder = join(pod.root, 'media', 'frigate', 'recordings', utcDay(daysAgo), '07', camera);
          await mkdir(folder, { recursive: true });
          await writeFile(join(folder, '00.00.mp4'), randomBytes(2048));
        }
      }
    });

    after(async () => {
      await Promise.all([kube?.stop(), sshd?.stop()]);
    });

    function recordingsContext(): ActionContext {
      return createActionContext({
        workspaceDir: workspace,
        inventory: {
          frigate: { home: { url: sim.internalUrl, files: { cluster: 'k3s', namespace: 'nvr', labelSelector: 'app=frigate' } } },
          clusters: { k3s: { kubeconfig } },
          hosts: { nas: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
          locations: { 'frigate-faces': { path: 'faces' }, 'frigate-recordings': { host: 'nas', path: join(sshd.remoteDir, 'recordings') } },
        },
      });
    }

    it('compares the newest backed-up day of every camera with the pod', async () => {
      await runFrigateAction('frigate.faces.backup', { frigate: 'home', location: 'frigate-faces' }, recordingsContext());
      await runFrigateAction('frigate.recordings.backup', { frigate: 'home', location: 'frigate-recordings', to: utcDay(3) }, recordingsContext());
      const behind = await check(recordingsContext());
      assert.equal(behind.verdict, 'stale');
      assert.deepEqual(behind.recordings?.locations[0]?.cameras.map((camera) => [camera.camera, camera.podNewest, camera.backupNewest, camera.verdict]), [
        ['driveway', utcDay(0), utcDay(3), 'stale'],
        ['garden', utcDay(0), utcDay(3), 'stale'],
      ]);
      assert.match(behind.reasons[0] ?? '', new RegExp(`^recordings of driveway in frigate-recordings: newest day ${utcDay(3)}, the pod has ${utcDay(0)}$`));

      await runFrigateAction('frigate.recordings.backup', { frigate: 'home', location: 'frigate-recordings' }, recordingsContext());
      const current = await check(recordingsContext());
      assert.equal(current.verdict, 'ok', current.reasons.join('; '));
      assert.match(renderBackupCheck(current), new RegExp(`\\| frigate-recordings \\| nas:.*recordings \\| garden \\| ${utcDay(0)} \\| ${utcDay(0)} \\| ok \\|`));
    });
  });
});
