import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FacesRestoreResult } from '../../src/actions/frigate/restore';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext } from '../../src/core/actions/spec';
import { frigateAction, runFrigateAction } from '../support/frigateActions';
import { FrigateSimulator } from '../testbed/frigateSim';
import { startSshd, type Sshd } from '../testbed/sshd';
import { solidWebp } from '../testbed/webp';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const PEOPLE = { Adil: 3, Asha: 12, G: 30, Waffles: 3 } as const;
const TRAIN_FILE = '1700000000.1-abc123-1700000001.2-person-0.81.webp';

/**
 * Frigate in Docker on a host, the common case: `files: { host, path }` names the host and the media
 * folder its container mounts as /media/frigate. The host is a real sshd on loopback whose media
 * folder is the simulator's, so what the restore writes over SSH is what Frigate's API lists.
 */
describe('Frigate faces: restore into the face folder on an SSH host', function () {
  this.timeout(60_000);
  let frigate: FrigateSimulator;
  let sshd: Sshd;
  let workspace: string;
  const library = new Map<string, Buffer>();


  const expected = () => new Map([...[...library].map(([entry, data]) => [entry, sha256(data)] as const), [`train/${TRAIN_FILE}`, sha256(solidWebp({ width: 60, height: 60 }))]]);


  /** What the restore leaves beside the face folder: nothing, once it has ended. */
  async function besideFaces(): Promise<string[]> {
    return (await readdir(join(frigate.mediaDir, 'clips'))).filter((name) => name !== 'faces');
  }

  function context(mediaPath = frigate.mediaDir): ActionContext {
    return createActionContext({
      workspaceDir: workspace,
      inventory: {
        frigate: { home: { url: frigate.internalUrl, files: { host: 'nas', path: mediaPath } } },
        hosts: { nas: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
      },
    });
  }

  const restore = (params: Record<string, unknown>, ctx = context()) => runFrigateAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups', ...params }, ctx);

  before(async () => {
    [frigate, sshd] = await Promise.all([FrigateSimulator.start(), startSshd()]);
    for (const [person, count] of Object.entries(PEOPLE)) {
      for (let index = 1; index <= count; index++) {
        const image = solidWebp({ width: 112, height: 112, padding: randomBytes(300 + ((index * 4099) % 7000)) });
        library.set(`${person}/${person}-${index}.webp`, image);
        await frigate.addFace(person, `${person}-${index}.webp`, image);
      }
    }
    await frigate.addFace('train', TRAIN_FILE, solidWebp({ width: 60, height: 60 }));
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-faces-host-'));
    await runFrigateAction('frigate.faces.backup', { frigate: 'home', destination: 'backups' }, context());
  });

  after(async () => {
    await Promise.all([frigate?.stop(), sshd?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  it('restores the lost library byte for byte over SSH, staged beside the face folder, and a second run finds it all there', async () => {
    await frigate.removePeople();
    const spec = frigateAction('frigate.faces.restore');
    const planContext = context();
    const plan = await spec.plan(spec.params.parse({ frigate: 'home', folder: 'backups' }), planContext).finally(() => planContext.clients.disposeAll());
    assert.match(plan.summary, /^Restore 48 of 48 images from frigate-faces-\S+ into host 'nas'$/);
    assert.ok(plan.operations.some((operation) => operation.kind === 'create' && operation.target === `host 'nas':${frigate.facesDir}` && operation.items === 48 && /through SSH/.test(operation.detail ?? '')));

    const result = await restore({});
    assert.equal(result.restored, 48);
    assert.deepEqual(await frigate.facesOnDisk(), expected());
    assert.deepEqual(result.people.map((person) => [person.name, person.archived, person.present]), [['Adil', 3, 3], ['Asha', 12, 12], ['G', 30, 30], ['Waffles', 3, 3]]);
    assert.equal(result.classifierRefreshed, true);
    assert.deepEqual(await besideFaces(), []);

    const again = await restore({});
    assert.deepEqual([again.restored, again.skipped], [0, 48]);
    assert.deepEqual(await frigate.facesOnDisk(), expected());
  });

  it('adds only the missing images to people who are there, and checks every count', async () => {
    await rm(join(frigate.facesDir, 'G', 'G-7.webp'));
    await rm(join(frigate.facesDir, 'Waffles'), { recursive: true });
    const result = await restore({});
    assert.deepEqual([result.restored, result.skipped], [4, 44]);
    assert.deepEqual(await frigate.facesOnDisk(), expected());

    // Same name, other bytes: kept as it is, and the count check fails the run.
    await writeFile(join(frigate.facesDir, 'Asha', 'Asha-1.webp'), 'edited');
    await assert.rejects(restore({}), /restore of frigate-faces-\S+ incomplete: Asha has 11 of 12 images/);
    await writeFile(join(frigate.facesDir, 'Asha', 'Asha-1.webp'), library.get('Asha/Asha-1.webp') as Buffer);
  });

  it('with clean: true, saves the library into .lifeboat/frigate-safety first, then replaces the people and keeps train', async () => {
    await frigate.addFace('Intruder', 'Intruder-1.webp', solidWebp({ width: 100, height: 100 }));
    const result = await restore({ clean: true });
    assert.equal(result.deleted, 49);
    assert.equal(result.restored, 48);
    assert.deepEqual(await frigate.facesOnDisk(), expected());
    const safetyBackup = result.safetyBackup ?? '';
    assert.ok(safetyBackup.startsWith(join(workspace, '.lifeboat', 'frigate-safety', 'home-faces-before-restore-')));
    const { stdout } = await run('tar', ['tzf', safetyBackup]);
    assert.match(stdout, /^\.\/Intruder\/Intruder-1\.webp$/m);
    assert.match(stdout, new RegExp(`^\\./train/${TRAIN_FILE.replaceAll('.', '\\.')}$`, 'm'));
  });

  it('fails clearly when a person cannot be put in place, removes what it staged, and completes once the cause is gone', async () => {
    await frigate.removePeople();
    await writeFile(join(frigate.facesDir, 'G'), 'a file where the folder of G goes');
    await assert.rejects(restore({}), (error: Error) => /127\.0\.0\.1/.test(error.message) && /cannot overwrite non-directory|File exists|Not a directory/.test(error.message));
    assert.deepEqual(await besideFaces(), []);
    await rm(join(frigate.facesDir, 'G'));
    const result = await restore({});
    assert.equal(result.people.every((person) => person.present === person.archived), true);
    assert.deepEqual(await frigate.facesOnDisk(), expected());
  });

  it('refuses a media folder that is not absolute, before connecting', async () => {
    await assert.rejects(restore({}, context('srv/frigate')), /`frigate\.home\.files\.path` must be an absolute folder on host 'nas' .*not 'srv\/frigate'/);
  });
});
