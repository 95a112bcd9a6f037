import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lifeboat } from '../support/cli';
import { REPO_ROOT } from '../support/paths';
import { FrigateSimulator } from '../testbed/frigateSim';
import { runFrigateInPod } from '../testbed/frigatePod';
import { frigateInventoryLines } from '../testbed/inventoryLines';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { solidWebp } from '../testbed/webp';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const RUNBOOKS = ['frigate-faces-backup.runbook.md', 'frigate-faces-restore.runbook.md'];

/** The library of the 2026-02-08 incident: 580 images of four people, and a train folder. */
const PEOPLE = { Adil: 36, Asha: 153, G: 380, Waffles: 11 } as const;

describe('Frigate face runbooks through the lifeboat CLI', function () {
  this.timeout(90_000);
  let frigate: FrigateSimulator;
  let kube: KubeApiSimulator;
  let workspace: string;
  const library = new Map<string, string>();


  before(async () => {
    [frigate, kube] = await Promise.all([FrigateSimulator.start(), KubeApiSimulator.start()]);
    await runFrigateInPod(kube, frigate, 'frigate-5c6b');
    for (const [person, count] of Object.entries(PEOPLE)) {
      for (let index = 1; index <= count; index++) {
        const image = solidWebp({ width: 112, height: 112, padding: randomBytes(200 + ((index * 6151) % 7000)) });
        library.set(`${person}/${person}_${1738800000 + index}.webp`, sha256(image));
        await frigate.addFace(person, `${person}_${1738800000 + index}.webp`, image);
      }
    }
    await frigate.addFace('train', '1700000000.1-abc123-1700000001.2-person-0.81.webp', solidWebp({ width: 60, height: 60 }));
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-cli-faces-'));
    for (const runbook of RUNBOOKS) await copyFile(join(REPO_ROOT, 'runbooks', runbook), join(workspace, runbook));
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      [
        ...(await frigateInventoryLines('k3s', kube, frigate)),
        'locations:',
        '  frigate-faces:',
        '    path: backups/frigate',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await Promise.all([frigate?.stop(), kube?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  const env = { LIFEBOAT_SECRET_FRIGATE_PASSWORD: 'frigate-admin-pass', LIFEBOAT_SECRETS_FILE: '', HOME: '' };
  const cli = (args: string[]) => lifeboat(args, { cwd: workspace, env: { ...env, HOME: workspace } });

  it('both runbooks pass lifeboat check', async () => {
    for (const runbook of RUNBOOKS) {
      const result = await cli(['check', runbook]);
      assert.equal(result.code, 0, result.stderr);
    }
  });

  it('backs up, loses the library, plans and restores it byte for byte, then restores through the API', async () => {
    const backup = await cli(['run', 'frigate-faces-backup.runbook.md', '--yes']);
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    const archives = (await readdir(join(workspace, 'backups', 'frigate'))).filter((name) => name.endsWith('.tar.gz'));
    assert.equal(archives.length, 1);
    assert.match(archives[0] ?? '', /^frigate-faces-\d{8}-\d{6}\.tar\.gz$/);

    for (const person of Object.keys(PEOPLE)) await rm(join(frigate.facesDir, person), { recursive: true });
    const plan = await cli(['run', 'frigate-faces-restore.runbook.md', '--dry-run']);
    assert.equal(plan.code, 0, `${plan.stdout}\n${plan.stderr}`);
    assert.match(plan.stdout, /Restore 580 of 580 images from frigate-faces-\d{8}-\d{6}\.tar\.gz into pod frigate\/frigate-5c6b/);
    assert.equal((await frigate.facesOnDisk({ train: false })).size, 0, 'a dry run writes nothing');

    const restore = await cli(['run', 'frigate-faces-restore.runbook.md', '--yes']);
    assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
    assert.deepEqual(await frigate.facesOnDisk({ train: false }), library);

    for (const person of Object.keys(PEOPLE)) await rm(join(frigate.facesDir, person), { recursive: true });
    const api = await cli(['run', 'frigate-faces-restore.runbook.md', '--yes', '--param', 'method=api']);
    assert.equal(api.code, 0, `${api.stdout}\n${api.stderr}`);
    const counts = new Map<string, number>();
    for (const entry of (await frigate.facesOnDisk({ train: false })).keys()) counts.set(entry.split('/')[0] as string, (counts.get(entry.split('/')[0] as string) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), PEOPLE);
  });
});
