import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lifeboat } from '../support/cli';
import { REPO_ROOT } from '../support/paths';
import { filesUnder, inBackupLayout, utcDay } from '../support/recordings';
import { addFrigatePod, frigateInventoryLines, sshHostInventoryLines } from '../testbed/frigateLab';
import { FrigateSimulator } from '../testbed/frigateSim';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { startSshd, type Sshd } from '../testbed/sshd';

const RUNBOOKS = ['frigate-recordings-backup.runbook.md', 'frigate-recordings-restore.runbook.md'];

describe('Frigate recordings runbooks through the lifeboat CLI', function () {
  this.timeout(90_000);
  let frigate: FrigateSimulator;
  let kube: KubeApiSimulator;
  let sshd: Sshd;
  let workspace: string;
  let recordings: string;
  let original: Map<string, Buffer>;
  const backupRoot = () => join(sshd.remoteDir, 'recordings');

  before(async () => {
    [frigate, kube, sshd] = await Promise.all([FrigateSimulator.start(), KubeApiSimulator.start(), startSshd()]);
    await addFrigatePod(kube, frigate, 'frigate-5c6b');
    recordings = join(frigate.mediaDir, 'recordings');
    for (const camera of ['back_yard', 'front_door']) {
      for (const daysAgo of [1, 2]) {
        for (const hour of ['06', '18']) {
          const dir = join(recordings, utcDay(daysAgo), hour, camera);
          await mkdir(dir, { recursive: true });
          for (const minute of ['00', '10', '20']) await writeFile(join(dir, `${minute}.00.mp4`), randomBytes(3000 + Number(minute) * 97 + daysAgo));
        }
      }
    }
    original = await filesUnder(recordings);
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-cli-recordings-'));
    for (const runbook of RUNBOOKS) await copyFile(join(REPO_ROOT, 'runbooks', runbook), join(workspace, runbook));
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      [
        ...(await frigateInventoryLines('k3s', kube, frigate)),
        ...sshHostInventoryLines('nas', sshd),
        'locations:',
        '  nas-recordings:',
        '    host: nas',
        `    path: ${backupRoot()}`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await Promise.all([frigate?.stop(), kube?.stop(), sshd?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  const cli = (args: string[]) => lifeboat(args, { cwd: workspace, env: { LIFEBOAT_SECRET_FRIGATE_PASSWORD: 'frigate-admin-pass', LIFEBOAT_SECRETS_FILE: '', HOME: workspace } });

  it('both runbooks pass lifeboat check', async () => {
    for (const runbook of RUNBOOKS) {
      const result = await cli(['check', runbook]);
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    }
  });

  it('backs up every recording, loses the pod\'s, restores one camera and then the rest byte for byte', async () => {
    const backup = await cli(['run', 'frigate-recordings-backup.runbook.md', '--yes']);
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    assert.match(backup.stdout, /Copy 24 recordings .* to nas:/);
    assert.deepEqual(await filesUnder(backupRoot()), inBackupLayout(original));

    await rm(recordings, { recursive: true });
    const plan = await cli(['run', 'frigate-recordings-restore.runbook.md', '--dry-run', '--param', 'camera=front_door']);
    assert.equal(plan.code, 0, `${plan.stdout}\n${plan.stderr}`);
    assert.match(plan.stdout, /Restore 12 recordings .* into pod frigate\/frigate-5c6b; 0 identical are skipped/);
    assert.deepEqual(await filesUnder(recordings), new Map(), 'a dry run writes nothing');

    const one = await cli(['run', 'frigate-recordings-restore.runbook.md', '--yes', '--param', 'camera=front_door', '--param', `from=${utcDay(2)}`, '--param', `to=${utcDay(1)}`]);
    assert.equal(one.code, 0, `${one.stdout}\n${one.stderr}`);
    assert.deepEqual(await filesUnder(recordings), new Map([...original].filter(([entry]) => entry.includes('/front_door/'))));

    const all = await cli(['run', 'frigate-recordings-restore.runbook.md', '--yes']);
    assert.equal(all.code, 0, `${all.stdout}\n${all.stderr}`);
    assert.deepEqual(await filesUnder(recordings), original);
    assert.match(all.stdout, /Frigate shows only recordings its database knows/);
  });
});
