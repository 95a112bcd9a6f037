import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describeContents, summarizeArchives } from '../../src/actions/frigate/archiveSummaries';
import type { FacesBackupResult } from '../../src/actions/frigate/backup';
import { openArchiveLocation } from '../../src/actions/frigate/destinations';
import type { FacesRestoreResult } from '../../src/actions/frigate/restore';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext } from '../../src/core/actions/spec';
import { frigateAction, runFrigateAction } from '../support/frigateActions';
import { FrigateSimulator } from '../testbed/frigateSim';
import { runFrigateInPod } from '../testbed/frigatePod';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { solidWebp } from '../testbed/webp';
import { rawTarGz, type RawTarEntry } from '../unit/archiveSupport';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const PEOPLE = { Adil: 3, Asha: 12, G: 30, Waffles: 2 } as const;
const TRAIN_FILE = '1700000000.1-abc123-1700000001.2-person-0.81.webp';
const HOSTILE_ARCHIVE = 'frigate-faces-20260101-000000.tar.gz';

/** A name segment of any characters a file name can hold (control characters and newlines too), never `.` or `..`. */
const segment = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }).filter((name) => !/[/\0]/.test(name) && name !== '.' && name !== '..');

/** Entries no restore may write, each of its own kind: `..`, absolute paths, links that lead out, a write through a link, a device. */
const hostileEntries = fc.oneof(
  fc.tuple(fc.constantFrom('', 'faces/', 'faces/Asha/'), fc.integer({ min: 1, max: 4 }), segment).map(([top, ups, name]): RawTarEntry[] => [{ path: `${top}${'../'.repeat(ups)}${name}.webp`, content: 'escaped' }]),
  fc.tuple(fc.constantFrom('/', '/tmp/', '/media/frigate/clips/faces/Asha/'), segment).map(([top, name]): RawTarEntry[] => [{ path: `${top}${name}.webp`, content: 'absolute' }]),
  fc.tuple(segment, fc.constantFrom('/etc/passwd', '../../../etc', '../../..', '/')).map(([name, target]): RawTarEntry[] => [{ path: `faces/Asha/${name}.webp`, type: 'SymbolicLink', linkpath: target }]),
  segment.map((name): RawTarEntry[] => [
    { path: `faces/${name}`, type: 'SymbolicLink', linkpath: '/tmp' },
    { path: `faces/${name}/x.webp`, content: 'through a link' },
  ]),
  fc.tuple(segment, fc.constantFrom('../../etc/passwd', '/etc/passwd')).map(([name, target]): RawTarEntry[] => [{ path: `faces/Asha/${name}.webp`, type: 'Link', linkpath: target }]),
  segment.map((name): RawTarEntry[] => [{ path: `faces/Asha/${name}.webp`, type: 'CharacterDevice' }]),
);

describe('Frigate faces: restore against the simulators', function () {
  this.timeout(60_000);
  let frigate: FrigateSimulator;
  let kube: KubeApiSimulator;
  let kubeconfig: string;
  let workspace: string;
  /** `<person>/<file>` → contents of every image of the library as it was backed up. */
  const library = new Map<string, Buffer>();
  let backup: FacesBackupResult;


  const expected = () => new Map([...[...library].map(([entry, data]) => [entry, sha256(data)] as const), [`train/${TRAIN_FILE}`, sha256(solidWebp({ width: 60, height: 60 }))]]);


  function context(overrides: Partial<ActionContext> = {}): ActionContext {
    return createActionContext({
      workspaceDir: workspace,
      inventory: {
        frigate: { home: { url: frigate.internalUrl, files: { cluster: 'k3s', namespace: 'frigate', labelSelector: 'app.kubernetes.io/name=frigate' } } },
        clusters: { k3s: { kubeconfig } },
      },
      ...overrides,
    });
  }

  const runAction = <Result>(id: string, params: Record<string, unknown>, ctx = context()): Promise<Result> => runFrigateAction<Result>(id, params, ctx);

  before(async () => {
    [frigate, kube] = await Promise.all([FrigateSimulator.start(), KubeApiSimulator.start()]);
    await runFrigateInPod(kube, frigate);
    kubeconfig = await kube.writeKubeconfig();
    for (const [person, count] of Object.entries(PEOPLE)) {
      for (let index = 1; index <= count; index++) {
        const image = solidWebp({ width: 112, height: 112, padding: randomBytes(400 + ((index * 4099) % 6000)) });
        library.set(`${person}/${person}-${index}.webp`, image);
        await frigate.addFace(person, `${person}-${index}.webp`, image);
      }
    }
    // Too small to hold a face: Frigate's register refuses it.
    const tiny = solidWebp({ width: 24, height: 24 });
    library.set('Tiny/Tiny-1.webp', tiny);
    await frigate.addFace('Tiny', 'Tiny-1.webp', tiny);
    await frigate.addFace('train', TRAIN_FILE, solidWebp({ width: 60, height: 60 }));
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-faces-restore-'));
    backup = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups' });
  });

  after(async () => {
    await Promise.all([frigate?.stop(), kube?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  it('restores the lost library byte for byte into the pod, and a second run changes nothing', async () => {
    await frigate.removePeople();
    const plan = await frigateAction('frigate.faces.restore').plan(frigateAction('frigate.faces.restore').params.parse({ frigate: 'home', folder: 'backups' }), context());
    assert.match(plan.summary, new RegExp(`Restore 48 of 48 images from ${backup.name} into pod frigate/frigate-7d9f`));
    const result = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups' });
    assert.equal(result.archive, backup.name);
    assert.equal(result.restored, 48);
    assert.equal(result.ignored, 0, 'summary.json and manifest.json are part of the layout, not stray entries');
    assert.deepEqual(await frigate.facesOnDisk(), expected());
    assert.deepEqual(result.people.map((person) => [person.name, person.archived, person.present]), [['Adil', 3, 3], ['Asha', 12, 12], ['G', 30, 30], ['Tiny', 1, 1], ['Waffles', 2, 2]]);
    assert.equal(result.classifierRefreshed, true);
    assert.deepEqual(frigate.requests.filter((request) => /^\/api\/faces\/[^/]+\/delete$/.test(request.path)).length, 1, 'one call that rebuilds the classifier, deleting nothing');

    const again = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups', archive: 'latest' });
    assert.equal(again.restored, 0);
    assert.equal(again.skipped, 48);
    assert.deepEqual(await frigate.facesOnDisk(), expected());
  });

  it('with clean: true, takes a safety backup, then replaces the people and keeps train', async () => {
    await frigate.addFace('Intruder', 'Intruder-1.webp', solidWebp({ width: 100, height: 100 }));
    await rm(join(frigate.facesDir, 'G', 'G-1.webp'));
    const plan = await frigateAction('frigate.faces.restore').plan(frigateAction('frigate.faces.restore').params.parse({ frigate: 'home', folder: 'backups', clean: true }), context());
    assert.equal(plan.destructive, true);
    assert.ok(plan.operations.some((operation) => operation.kind === 'delete' && operation.target.endsWith('/Intruder') && operation.items === 1));
    const result = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups', clean: true });
    assert.equal(result.deleted, 48);
    assert.deepEqual(await frigate.facesOnDisk(), expected());
    assert.ok(result.safetyBackup);
    const { stdout } = await run('tar', ['tzf', result.safetyBackup]);
    assert.match(stdout, /Intruder\/Intruder-1\.webp/);
  });

  it('restores through the API, lists the images Frigate rejects, and is idempotent', async () => {
    await frigate.removePeople();
    const plan = await frigateAction('frigate.faces.restore').plan(frigateAction('frigate.faces.restore').params.parse({ frigate: 'home', folder: 'backups', method: 'api' }), context());
    assert.match(plan.summary, /crops every image .* new name, .* rejects images in which it detects no face/);
    const result = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups', method: 'api', concurrency: 6 });
    assert.deepEqual(result.rejected.map((entry) => entry.image), ['Tiny/Tiny-1.webp']);
    assert.match(result.rejected[0]?.reason ?? '', /No face was detected/);
    assert.equal(result.restored, 47);
    const counts = Object.fromEntries((await readdir(frigate.facesDir)).filter((person) => person !== 'train').map((person) => [person, 0]));
    for (const entry of (await frigate.facesOnDisk()).keys()) {
      const person = entry.split('/')[0] as string;
      if (person in counts) counts[person] = (counts[person] ?? 0) + 1;
    }
    assert.deepEqual(counts, { Adil: 3, Asha: 12, G: 30, Tiny: 0, Waffles: 2 });
    assert.match(frigateAction('frigate.faces.restore').render(result), /Rejected by Frigate[\s\S]*Tiny\/Tiny-1\.webp/);

    const again = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups', method: 'api' });
    assert.equal(again.restored, 0);
    assert.equal((await frigate.facesOnDisk()).size, 48);
  });

  it('restores an archive of the old backup script by its date, leaving out ._ files', async () => {
    await frigate.removePeople();
    const old = join(workspace, 'old');
    const top = join(old, 'faces-backup');
    for (const [entry, data] of library) {
      await mkdir(join(top, entry.split('/')[0] as string), { recursive: true });
      await writeFile(join(top, entry), data);
    }
    await writeFile(join(top, 'Asha', '._Asha-1.webp'), 'AppleDouble');
    await mkdir(join(workspace, 'legacy'));
    await run('tar', ['czf', join(workspace, 'legacy', 'frigate-faces-20260206.tar.gz'), '-C', old, 'faces-backup']);
    const result = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'legacy', archive: '2026-02-06' });
    assert.equal(result.archive, 'frigate-faces-20260206.tar.gz');
    assert.equal(result.ignored, 1);
    const { destination } = await openArchiveLocation({ folder: 'legacy', folderField: 'folder', location: undefined }, context());
    assert.deepEqual((await summarizeArchives(destination, context().signal)).map((archive) => [archive.name, describeContents(archive.contents)]), [['frigate-faces-20260206.tar.gz', 'old script format']]);
    assert.equal(result.restored, 48);
    assert.deepEqual(await frigate.facesOnDisk(), expected());
  });

  it('refuses every archive with an entry that escapes, as archive.restore does, by either method and in the plan, and changes nothing', async () => {
    const before = await frigate.facesOnDisk();
    const valid: RawTarEntry[] = [...library].slice(0, 4).map(([entry]) => ({ path: `faces/${entry}`, content: `image ${entry}` }));
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(hostileEntries, fc.nat(valid.length), fc.constantFrom('files', 'api'), async (hostile, at, method) => {
        const folder = join(workspace, `hostile-${++tried}`);
        await mkdir(folder);
        await writeFile(join(folder, HOSTILE_ARCHIVE), rawTarGz([...valid.slice(0, at), ...hostile, ...valid.slice(at)]));
        const registered = frigate.requests.filter((request) => request.path.endsWith('/register')).length;
        const refused = new RegExp(`refusing to restore ${HOSTILE_ARCHIVE}; nothing was written:\\n  '`);
        await assert.rejects(runAction('frigate.faces.restore', { frigate: 'home', folder, method, clean: false }), refused);
        const spec = frigateAction('frigate.faces.restore');
        await assert.rejects(spec.plan(spec.params.parse({ frigate: 'home', folder, method }), context()), refused);
        assert.equal(frigate.requests.filter((request) => request.path.endsWith('/register')).length, registered);
        assert.deepEqual(await frigate.facesOnDisk(), before);
      }),
      { numRuns: 60 },
    );
  });

  it('restores an archive made with `tar -C <faces folder> .` and one of the absolute path, whatever folder the people are in', async () => {
    const source = join(workspace, 'source', 'media', 'frigate', 'clips', 'faces');
    for (const [entry, data] of library) {
      await mkdir(join(source, entry.split('/')[0] as string), { recursive: true });
      await writeFile(join(source, entry), data);
    }
    const archives = [
      ['frigate-faces-20260207.tar.gz', ['-C', source, '.']],
      ['frigate-faces-20260208.tar.gz', ['-C', join(workspace, 'source'), 'media']],
    ] as const;
    await mkdir(join(workspace, 'dotted'));
    for (const [name, args] of archives) {
      await run('tar', ['czf', join(workspace, 'dotted', name), ...args]);
      await frigate.removePeople();
      const result = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'dotted', archive: name });
      assert.equal(result.restored, 48, name);
      assert.deepEqual(await frigate.facesOnDisk(), expected());
    }
    const { stdout } = await run('tar', ['tzf', join(workspace, 'dotted', archives[0][0])]);
    assert.deepEqual([stdout.split('\n')[0], stdout.includes('\n./Asha/Asha-1.webp\n')], ['./', true], 'entries are ./<person>/<file>, with ./ itself first');
  });

  it('fails when an archive that holds images restores none of them, and says why; a run that finds them all there succeeds and says so', async () => {
    await frigate.removePeople();
    const folder = join(workspace, 'unusable');
    await mkdir(folder);
    const tinyLibrary = join(workspace, 'tiny', 'old', 'Tiny');
    await mkdir(tinyLibrary, { recursive: true });
    for (const index of [1, 2, 3]) await writeFile(join(tinyLibrary, `Tiny-${index}.webp`), solidWebp({ width: 20, height: 20 }));
    await run('tar', ['czf', join(folder, 'frigate-faces-20260301.tar.gz'), '-C', join(workspace, 'tiny'), 'old']);
    const archive = (name: string, entries: RawTarEntry[]) => writeFile(join(folder, name), rawTarGz(entries));
    await assert.rejects(
      runAction('frigate.faces.restore', { frigate: 'home', folder, archive: '2026-03-01', method: 'api' }),
      /restore of frigate-faces-20260301\.tar\.gz restored none of its 3 images: Frigate rejected 3 \(Tiny\/Tiny-\d\.webp: .*No face was detected/,
    );
    await archive('frigate-faces-20260302.tar.gz', [{ path: 'train/1.webp', content: 'a recognition attempt' }]);
    await assert.rejects(runAction('frigate.faces.restore', { frigate: 'home', folder, archive: '2026-03-02', method: 'api' }), /restored none of its 1 images: 1 are in the train folder, which the API cannot restore/);
    await archive('frigate-faces-20260303.tar.gz', [{ path: 'a/Asha/1.webp', content: 'x' }, { path: 'b/G/2.webp', content: 'y' }]);
    await assert.rejects(runAction('frigate.faces.restore', { frigate: 'home', folder, archive: '2026-03-03' }), /has face images under different folders \(a\/Asha\/1\.webp, b\/G\/2\.webp\).*nothing was restored/);
    await archive('frigate-faces-20260304.tar.gz', [{ path: 'faces/notes.txt', content: 'not an image' }, { path: 'faces/Asha/._1.webp', content: 'AppleDouble' }]);
    await assert.rejects(runAction('frigate.faces.restore', { frigate: 'home', folder, archive: '2026-03-04' }), /holds no face images: its 2 files \(faces\/notes\.txt, faces\/Asha\/\._1\.webp\) are not <person>\/<file> images/);
    assert.deepEqual([...(await frigate.facesOnDisk()).keys()], [`train/${TRAIN_FILE}`]);

    await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups' });
    const again = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', folder: 'backups' });
    assert.deepEqual([again.restored, again.skipped], [0, 48]);
    assert.match(frigateAction('frigate.faces.restore').render(again), /Nothing to restore: all 48 images of the archive are already in Frigate/);
  });

  it('refuses a truncated archive before anything is deleted', async () => {
    await mkdir(join(workspace, 'damaged'));
    const damaged = join(workspace, 'damaged', backup.name);
    await copyFile(join(workspace, 'backups', backup.name), damaged);
    await truncate(damaged, Math.floor((await stat(damaged)).size / 2));
    const before = await frigate.facesOnDisk();
    await assert.rejects(runAction('frigate.faces.restore', { frigate: 'home', folder: 'damaged', clean: true }), new RegExp(`archive ${backup.name} is damaged or cut short .*; nothing was restored`));
    assert.deepEqual(await frigate.facesOnDisk(), before);
    await assert.rejects(runAction('frigate.faces.restore', { frigate: 'home', folder: 'backups', archive: '2025-01-01' }), /no face archive of 2025-01-01 in .*backups; there are frigate-faces-/);
  });
});
