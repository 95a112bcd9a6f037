import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeContents, summarizeArchives } from '../../src/actions/frigate/archiveSummaries';
import type { FacesBackupResult } from '../../src/actions/frigate/backup';
import { openArchiveLocation } from '../../src/actions/frigate/destinations';
import type { FrigateHealthResult } from '../../src/actions/frigate/health';
import type { FacesListResult } from '../../src/actions/frigate/list';
import type { FacesRestoreResult } from '../../src/actions/frigate/restore';
import { FrigateClient } from '../../src/clients/frigate';
import { openS3Store } from '../../src/clients/s3';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import { PlanHandOver } from '../../src/core/actions/handOver';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { frigateAction, runFrigateAction } from '../support/frigateActions';
import { FrigateSimulator } from '../testbed/frigateSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';
import { solidWebp } from '../testbed/webp';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const ARCHIVE_NAME = /^frigate-faces-\d{8}-\d{6}\.tar\.gz$/;

/** A smaller copy of the incident library: four people, their images of varied sizes, and a `train` folder. */
const PEOPLE = { Adil: 4, Asha: 15, G: 38, Waffles: 2 } as const;

async function files(folder: string): Promise<string[]> {
  return (await readdir(folder)).sort();
}

describe('Frigate faces: health, list and backup against the simulators', function () {
  this.timeout(60_000);
  let sim: FrigateSimulator;
  let s3: RunningS3rver;
  let sshd: Sshd;
  let workspace: string;
  /** `<person>/<file>` → sha256 of every image in the simulated library. */
  const library = new Map<string, string>();

  before(async () => {
    [sim, s3, sshd] = await Promise.all([FrigateSimulator.start(), startS3rver({ buckets: ['backups'] }), startSshd()]);
    for (const [person, count] of Object.entries(PEOPLE)) {
      for (let index = 1; index <= count; index++) {
        const image = solidWebp({ width: 112, height: 112, padding: randomBytes(500 + ((index * 7919) % 9000)) });
        const file = `${person}-${1700000000 + index}.webp`;
        library.set(`${person}/${file}`, sha256(image));
        await sim.addFace(person, file, image);
      }
    }
    await sim.addFace('train', '1700000000.1-abc123-1700000001.2-person-0.81.webp', solidWebp({ width: 60, height: 60 }));
  });

  after(async () => {
    await Promise.all([sim?.stop(), s3?.stop(), sshd?.stop()]);
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-faces-'));
  });

  afterEach(async () => {
    // A fault for every attempt outlasts the attempts made: the next test starts without it.
    sim.clearFaults();
    await rm(workspace, { recursive: true, force: true });
  });

  function inventory(password = 'secret:frigate_password'): Inventory {
    return {
      frigate: { home: { url: sim.url, auth: { username: 'admin', password }, tls: { insecure: true } } },
      stores: { garage: { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3_secret' } } },
      hosts: { piglet: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
      locations: { local: { path: 'backups' }, offsite: { store: 'garage', prefix: 'frigate/faces', keep: 2 }, planned: { store: 'garage', prefix: 'frigate/planned' }, piglet: { host: 'piglet', path: join(sshd.remoteDir, 'frigate-backups'), keep: 2 } },
    };
  }

  function context(overrides: Partial<ActionContext> = {}, env: NodeJS.ProcessEnv = {}): ActionContext {
    const secrets = environmentSecrets({ LIFEBOAT_SECRET_FRIGATE_PASSWORD: 'frigate-admin-pass', LIFEBOAT_SECRET_WRONG: 'nope', LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey, ...env });
    return createActionContext({ workspaceDir: workspace, inventory: inventory(), secrets, ...overrides });
  }

  const runAction = <Result>(id: string, params: Record<string, unknown>, ctx = context()): Promise<Result> => runFrigateAction<Result>(id, params, ctx);

  /** Extracts an archive with the system's tar and checks every image against the library, byte for byte. */
  async function assertByteExact(archive: string, expected: Map<string, string>): Promise<Record<string, unknown>> {
    const out = join(workspace, 'extracted');
    await mkdir(out);
    await run('tar', ['xzf', archive, '-C', out]);
    const found = new Map<string, string>();
    for (const person of await files(join(out, 'faces'))) {
      for (const file of await files(join(out, 'faces', person))) found.set(`${person}/${file}`, sha256(await readFile(join(out, 'faces', person, file))));
    }
    assert.deepEqual([...found].sort(), [...expected].sort());
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { images: { person: string; file: string; sha256: string }[] };
    assert.deepEqual(new Map(manifest.images.map((image) => [`${image.person}/${image.file}`, image.sha256])), found);
    await rm(out, { recursive: true });
    return manifest;
  }

  /** The archives of a location as the restore pick list shows them: contents read from each archive's first bytes. */
  async function summaries(location: string): Promise<{ name: string; people: string; head: number }[]> {
    const ctx = context();
    try {
      const { destination } = await openArchiveLocation({ folder: undefined, folderField: 'folder', location }, ctx);
      const archives = await summarizeArchives(destination, ctx.signal);
      return await Promise.all(archives.map(async (archive) => ({ name: archive.name, people: describeContents(archive.contents), head: (await destination.readHead(archive.name, 100, ctx.signal)).length })));
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  const PEOPLE_LINE = 'Adil 4 · Asha 15 · G 38 · Waffles 2';

  it('checks health and lists people with the train folder apart', async () => {
    const health = await runAction<FrigateHealthResult>('frigate.health', { frigate: 'home' });
    assert.equal(health.version, '0.16.0-c2f8de9');
    assert.deepEqual(health.checks.map((check) => [check.check, check.ok]).slice(0, 3), [['version', true], ['auth', true], ['faces', true]]);
    assert.match(frigateAction('frigate.health').render(health), /TLS certificate verification is off for Frigate 'home'/);

    const listed = await runAction<FacesListResult>('frigate.faces.list', { frigate: 'home' });
    assert.deepEqual(listed.people, Object.entries(PEOPLE).map(([name, images]) => ({ name, images })));
    assert.equal(listed.images, 59);
    assert.equal(listed.train, 1);
    assert.match(frigateAction('frigate.faces.list').render(listed), /\| G \| 38 \|[\s\S]*1 recent recognition attempt/);
  });

  it('reports a refused login clearly, and writes nothing', async () => {
    const ctx = context({ inventory: inventory('secret:wrong') });
    await assert.rejects(runAction('frigate.health', { frigate: 'home' }, ctx), /not healthy: auth: Frigate 'home' .* refused the login of user 'admin'/);
    await assert.rejects(runAction('frigate.faces.backup', { frigate: 'home', destination: 'out' }, context({ inventory: inventory('secret:wrong') })), /refused the login of user 'admin': wrong user or password/);
    await assert.rejects(readdir(join(workspace, 'out')), { code: 'ENOENT' });
    await assert.rejects(runAction('frigate.faces.list', { frigate: 'attic' }), /no Frigate instance 'attic' in the inventory; lifeboat.yaml names 'home'/);
  });

  it('backs up every image byte for byte into a verified archive with a manifest and a sha256 file', async () => {
    const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups' });
    assert.match(result.name, ARCHIVE_NAME);
    assert.equal(result.images, 59);
    assert.deepEqual(result.people, Object.entries(PEOPLE).map(([name, images]) => ({ name, images })));
    const folder = join(workspace, 'backups');
    assert.deepEqual(await files(folder), ['.lifeboat-verified.json', result.name, `${result.name}.sha256`]);
    await run('sha256sum', ['-c', `${result.name}.sha256`], { cwd: folder });
    const manifest = await assertByteExact(join(folder, result.name), library);
    assert.equal(manifest.includesTrain, false);
    // The summary comes first, so a listing reads who is in an archive from its first KiB.
    const { stdout: entries } = await run('tar', ['tzf', join(folder, result.name)]);
    assert.equal(entries.split('\n')[0], 'summary.json');
    const { stdout: summary } = await run('tar', ['xzOf', join(folder, result.name), 'summary.json']);
    assert.deepEqual(JSON.parse(summary), { format: 'lifeboat.frigate-faces/1', frigate: 'home', createdAt: manifest.createdAt, people: PEOPLE, train: 0 });
    const verified = JSON.parse(await readFile(join(folder, '.lifeboat-verified.json'), 'utf8')) as Record<string, { ok: boolean; sha256: string }>;
    assert.equal(verified[result.name]?.sha256, result.sha256);
  });

  it('includes the train folder only when asked', async () => {
    const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups', includeTrain: true });
    assert.equal(result.images, 60);
    const withTrain = new Map(library);
    withTrain.set('train/1700000000.1-abc123-1700000001.2-person-0.81.webp', sha256(solidWebp({ width: 60, height: 60 })));
    await assertByteExact(join(workspace, 'backups', result.name), withTrain);
    const listed = await summaries('local');
    assert.deepEqual(listed, [{ name: result.name, people: `${PEOPLE_LINE} · train 1`, head: 100 }]);
  });

  it('retries 5xx answers and cut-off downloads midway', async () => {
    sim.injectFault({ kind: 'status', status: 502, path: /^\/clips\/faces\/G\//, times: 3 });
    sim.injectFault({ kind: 'truncate', path: /^\/clips\/faces\/Asha\//, times: 2 });
    const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups' });
    await assertByteExact(join(workspace, 'backups', result.name), library);
  });

  it('fails clearly and leaves nothing behind when an image keeps failing', async () => {
    // Every attempt: curl's, then each of the Frigate client's.
    sim.injectFault({ kind: 'status', status: 500, path: /^\/clips\/faces\/Asha\/Asha-1700000007\.webp$/, times: 10 });
    await assert.rejects(runAction('frigate.faces.backup', { frigate: 'home', destination: 'backups' }), /Frigate 'home' .* failed face image Asha\/Asha-1700000007\.webp with HTTP 500/);
    assert.deepEqual(await files(join(workspace, 'backups')), []);
  });

  it('backs up a person with no images as an empty person, with a warning', async () => {
    await mkdir(join(sim.facesDir, 'Nobody'));
    const warnings: string[] = [];
    try {
      const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups' }, context({ log: { debug() {}, info() {}, error() {}, warn: (message) => warnings.push(message) } }));
      assert.deepEqual(result.people.find((person) => person.name === 'Nobody'), { name: 'Nobody', images: 0 });
      assert.equal(result.images, 59);
      assert.match(warnings.join('\n'), /Nobody has no images in Frigate 'home'/);
    } finally {
      await rm(join(sim.facesDir, 'Nobody'), { recursive: true });
    }
  });

  it('leaves no archive and no partial file when cancelled midway', async () => {
    sim.injectFault({ kind: 'slow', delayMs: 400, path: /^\/clips\/faces\//, times: 20 });
    const stop = new AbortController();
    const ctx = context({ signal: stop.signal, progress: { report: (update) => void ((update.items ?? 0) >= 3 && stop.abort()) } });
    await assert.rejects(runAction('frigate.faces.backup', { frigate: 'home', destination: 'backups' }, ctx), CancelledError);
    assert.deepEqual(await files(join(workspace, 'backups')), []);
  });

  it('keeps the newest 7 face archives by default and never touches the old script archives', async () => {
    const folder = join(workspace, 'backups');
    await mkdir(folder);
    const older = Array.from({ length: 8 }, (_, index) => `frigate-faces-202601${String(index + 10)}-030000.tar.gz`);
    for (const name of [...older, 'frigate-faces-20260206.tar.gz']) {
      await writeFile(join(folder, name), 'old');
      await writeFile(join(folder, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
    }
    const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups' });
    assert.deepEqual(result.deleted.map((archive) => archive.name), older.slice(0, 2).reverse());
    const archives = (await files(folder)).filter((name) => name.endsWith('.tar.gz'));
    assert.deepEqual(archives, ['frigate-faces-20260206.tar.gz', ...older.slice(2), result.name].sort());
  });

  it('backs up to an S3 location with its sha256 file and the location\'s retention', async () => {
    const names: string[] = [];
    for (let run = 0; run < 3; run++) {
      const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'offsite' });
      assert.equal(result.location, `s3://backups/frigate/faces/${result.name}`);
      names.push(result.name);
      // Archive names have a one-second resolution.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    const store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: S3RVER_CREDENTIALS });
    try {
      const keys: string[] = [];
      for await (const object of store.listObjects({ prefix: 'frigate/faces/' })) keys.push(object.key);
      assert.deepEqual(keys.sort(), names.slice(1).flatMap((name) => [`frigate/faces/${name}`, `frigate/faces/${name}.sha256`]).sort());
      const latest = names.at(-1) as string;
      const local = join(workspace, latest);
      await store.downloadFile(`frigate/faces/${latest}`, local);
      const sidecar = await store.getStream(`frigate/faces/${latest}.sha256`);
      const chunks: Buffer[] = [];
      for await (const chunk of sidecar.body) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), `${sha256(await readFile(local))}  ${latest}\n`);
      await assertByteExact(local, library);
    } finally {
      store.dispose();
    }
    assert.deepEqual(await summaries('offsite'), names.slice(1).reverse().map((name) => ({ name, people: PEOPLE_LINE, head: 100 })));
  });

  const backup = frigateAction('frigate.faces.backup');
  const backupParams = (where: Record<string, unknown>) => backup.params.parse({ frigate: 'home', ...where });
  const imageRequests = (from: number) => sim.requests.slice(from).filter((request) => request.path.startsWith('/clips/faces/'));

  it('a plan a run follows starts the downloads; the run archives what the plan listed, fetching each image once', async () => {
    const handOver = new PlanHandOver();
    const ctx = context({ handOver });
    const from = sim.requests.length;
    try {
      const plan = await backup.plan(backupParams({ location: 'piglet' }), ctx);
      // Added after the plan was shown: not what the person confirmed, so not in this archive.
      await sim.addFace('Zed', 'Zed-1.webp', solidWebp({ width: 60, height: 60 }));
      const result = (await backup.run(backupParams({ location: 'piglet' }), ctx)) as FacesBackupResult;
      assert.equal(plan.operations.find((operation) => operation.kind === 'create')?.target, result.location);
      assert.equal(result.images, library.size);
      const fetched = imageRequests(from).map((request) => request.path);
      assert.equal(fetched.length, library.size);
      assert.equal(new Set(fetched).size, library.size);
      await assertByteExact(join(sshd.remoteDir, 'frigate-backups', result.name), library);
      await rm(join(sshd.remoteDir, 'frigate-backups'), { recursive: true });
    } finally {
      await rm(join(sim.facesDir, 'Zed'), { recursive: true, force: true });
      await handOver.dispose();
      await ctx.clients.disposeAll();
    }
  });

  it('a plan a run follows writes the archive for an S3 location while it waits; the run uploads it', async () => {
    const handOver = new PlanHandOver();
    const ctx = context({ handOver });
    const store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: S3RVER_CREDENTIALS });
    const planned = async () => {
      const keys: string[] = [];
      for await (const object of store.listObjects({ prefix: 'frigate/planned/' })) keys.push(object.key);
      return keys.sort();
    };
    try {
      await backup.plan(backupParams({ location: 'planned' }), ctx);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(await planned(), [], 'nothing reaches the store before the run');
      const result = (await backup.run(backupParams({ location: 'planned' }), ctx)) as FacesBackupResult;
      assert.deepEqual(await planned(), [`frigate/planned/${result.name}`, `frigate/planned/${result.name}.sha256`]);
      const local = join(workspace, result.name);
      await store.downloadFile(`frigate/planned/${result.name}`, local);
      await assertByteExact(local, library);
    } finally {
      store.dispose();
      await handOver.dispose();
      await ctx.clients.disposeAll();
    }
  });

  it('a run after its plan deletes by retention exactly the archives the plan listed', async () => {
    const folder = join(workspace, 'backups');
    await mkdir(folder);
    const older = ['frigate-faces-20260110-030000.tar.gz', 'frigate-faces-20260111-030000.tar.gz'];
    for (const name of older) await writeFile(join(folder, name), 'old');
    const handOver = new PlanHandOver();
    const ctx = context({ handOver });
    try {
      const plan = await backup.plan(backupParams({ destination: 'backups', keep: 2 }), ctx);
      assert.deepEqual(plan.operations.filter((operation) => operation.kind === 'delete').map((operation) => operation.target), [join(folder, older[0] as string)]);
      // One more old archive after the plan: the run deletes what was shown, nothing more.
      await writeFile(join(folder, 'frigate-faces-20260109-030000.tar.gz'), 'old');
      const result = (await backup.run(backupParams({ destination: 'backups', keep: 2 }), ctx)) as FacesBackupResult;
      assert.deepEqual(result.deleted.map((archive) => archive.name), [older[0]]);
      assert.deepEqual((await files(folder)).filter((name) => name.endsWith('.tar.gz')), ['frigate-faces-20260109-030000.tar.gz', older[1], result.name].sort());
    } finally {
      await handOver.dispose();
      await ctx.clients.disposeAll();
    }
  });

  it('a plan that is only shown downloads nothing', async () => {
    const ctx = context();
    const from = sim.requests.length;
    try {
      const plan = await backup.plan(backupParams({ destination: 'backups' }), ctx);
      assert.equal(plan.operations[0]?.items, library.size);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(imageRequests(from), []);
    } finally {
      await ctx.clients.disposeAll();
    }
  });

  it('a refused plan stops its downloads and writes nothing', async () => {
    sim.injectFault({ kind: 'slow', delayMs: 300, path: /^\/clips\/faces\//, times: 1000 });
    const handOver = new PlanHandOver();
    const ctx = context({ handOver });
    const from = sim.requests.length;
    try {
      await backup.plan(backupParams({ destination: 'backups', concurrency: 4 }), ctx);
      while (imageRequests(from).length < 4) await new Promise((resolve) => setTimeout(resolve, 10));
      await handOver.dispose();
      await new Promise((resolve) => setTimeout(resolve, 800));
      // The first four were under way; none started after the refusal.
      assert.equal(imageRequests(from).length, 4);
      assert.equal(existsSync(join(workspace, 'backups')), false);
    } finally {
      sim.clearFaults();
      await ctx.clients.disposeAll();
    }
  });

  it('a refused plan for a host leaves the host as it was, though the upload was made ready', async () => {
    const remote = join(sshd.remoteDir, 'frigate-backups');
    await rm(remote, { recursive: true, force: true });
    const handOver = new PlanHandOver();
    const ctx = context({ handOver });
    try {
      await backup.plan(backupParams({ location: 'piglet' }), ctx);
      // Time for the whole archive to be written here, waiting for the host.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await handOver.dispose();
      assert.equal(existsSync(remote), false);
    } finally {
      await ctx.clients.disposeAll();
    }
  });

  // Last: it restores through the API, which renames every image of the simulated library.
  it('backs up to a folder on an SSH host with retention, and restores from there', async () => {
    const names: string[] = [];
    for (let run = 0; run < 3; run++) {
      const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'piglet' });
      assert.equal(result.location, `piglet:${join(sshd.remoteDir, 'frigate-backups', result.name)}`);
      names.push(result.name);
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    const remote = join(sshd.remoteDir, 'frigate-backups');
    assert.deepEqual(await files(remote), names.slice(1).flatMap((name) => [name, `${name}.sha256`]).sort());
    await run('sha256sum', ['-c', `${names[2]}.sha256`], { cwd: remote });
    await assertByteExact(join(remote, names[2] as string), library);
    await writeFile(join(remote, 'frigate-faces-20260101-000000.tar.gz'), 'not gzip');
    const listed = await summaries('piglet');
    assert.deepEqual(listed.slice(0, 2), names.slice(1).reverse().map((name) => ({ name, people: PEOPLE_LINE, head: 100 })));
    assert.match(listed[2]?.people ?? '', /^contents unknown: frigate-faces-20260101-000000\.tar\.gz does not start like a tar\.gz/);
    assert.equal(listed[2]?.head, 8);
    await rm(join(remote, 'frigate-faces-20260101-000000.tar.gz'));

    for (const person of Object.keys(PEOPLE)) await rm(join(sim.facesDir, person), { recursive: true });
    const restored = await runAction<FacesRestoreResult>('frigate.faces.restore', { frigate: 'home', location: 'piglet', method: 'api' });
    assert.equal(restored.archive, names[2]);
    assert.deepEqual(restored.people.map((person) => [person.name, person.present]), Object.entries(PEOPLE));
  });
});

describe('Frigate faces: abort listeners while many images download at once', function () {
  this.timeout(60_000);
  const IMAGES = 240;
  let sim: FrigateSimulator;
  let workspace: string;

  before(async () => {
    sim = await FrigateSimulator.start();
    for (let index = 1; index <= IMAGES; index++) await sim.addFace(`P${index % 6}`, `P-${index}.webp`, solidWebp({ width: 112, height: 112, padding: randomBytes(200 + index) }));
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-faces-listeners-'));
  });

  after(async () => {
    await sim?.stop();
    await rm(workspace, { recursive: true, force: true });
  });

  /** Runs `work`, collecting every process warning emitted meanwhile (and for a tick after, as Node emits them on the next tick). */
  async function warningsDuring(work: () => Promise<unknown>): Promise<string[]> {
    const warnings: string[] = [];
    const collect = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', collect);
    try {
      await work();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', collect);
    }
    return warnings;
  }

  it('backs up hundreds of images, 8 and 32 at a time, without a listener warning, the run\'s signal keeping no listener per request', async () => {
    for (const concurrency of [8, 32]) {
      const stop = new AbortController();
      let most = 0;
      const ctx = createActionContext({
        workspaceDir: workspace,
        inventory: { frigate: { home: { url: sim.internalUrl } } },
        signal: stop.signal,
        progress: { report: () => void (most = Math.max(most, getEventListeners(stop.signal, 'abort').length)) },
      });
      const warnings = await warningsDuring(async () => {
        const result = await runFrigateAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: `backups-${concurrency}`, concurrency }, ctx);
        assert.equal(result.images, IMAGES);
      });
      assert.deepEqual(warnings, [], `concurrency ${concurrency}`);
      assert.ok(most <= 1, `at most one abort listener on the run's signal at once, saw ${most}`);
      assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
    }
  });

  it('the client adds one listener to a signal shared by requests in flight however many there are, and leaves none behind', async () => {
    const client = new FrigateClient({ url: sim.internalUrl });
    const shared = new AbortController();
    sim.injectFault({ kind: 'slow', delayMs: 300, path: /^\/clips\/faces\//, times: 24 });
    const warnings = await warningsDuring(async () => {
      const downloads = Array.from({ length: 24 }, (_, index) => client.downloadFace(`P${(index + 1) % 6}`, `P-${index + 1}.webp`, shared.signal));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(getEventListeners(shared.signal, 'abort').length, 1, 'while 24 requests wait for their answers');
      for (const { stream } of await Promise.all(downloads)) for await (const chunk of stream) assert.ok(chunk);
    });
    assert.deepEqual(warnings, []);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
  });
});

describe('Frigate faces: an archive larger than what is held for the host while the plan waits', function () {
  this.timeout(120_000);
  let sim: FrigateSimulator;
  let sshd: Sshd;
  let workspace: string;
  const images = new Map<string, string>();

  before(async () => {
    [sim, sshd] = await Promise.all([FrigateSimulator.start(), startSshd()]);
    // 24 MiB of random padding: more than the 16 MiB kept for the host before the run begins.
    for (let index = 1; index <= 24; index++) {
      const image = solidWebp({ width: 64, height: 64, padding: randomBytes(1024 * 1024) });
      images.set(`Big/Big-${index}.webp`, sha256(image));
      await sim.addFace('Big', `Big-${index}.webp`, image);
    }
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-faces-large-'));
  });

  after(async () => {
    await Promise.all([sim?.stop(), sshd?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  it('waits for the run to begin once that much is written, then uploads all of it', async () => {
    const backup = frigateAction('frigate.faces.backup');
    const params = backup.params.parse({ frigate: 'home', location: 'piglet' });
    const handOver = new PlanHandOver();
    const remote = join(sshd.remoteDir, 'faces');
    const ctx = createActionContext({
      workspaceDir: workspace,
      inventory: {
        frigate: { home: { url: sim.internalUrl } },
        hosts: { piglet: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
        locations: { piglet: { host: 'piglet', path: remote } },
      },
      handOver,
    });
    try {
      await backup.plan(params, ctx);
      // Time for the downloads and the archive to get as far as they can before the run begins.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(existsSync(remote), false, 'nothing reaches the host before the run begins');
      const result = (await backup.run(params, ctx)) as FacesBackupResult;
      assert.equal(result.images, images.size);
      await run('sha256sum', ['-c', `${result.name}.sha256`], { cwd: remote });
      const out = join(workspace, 'extracted');
      await mkdir(out);
      await run('tar', ['xzf', join(remote, result.name), '-C', out]);
      for (const [file, digest] of images) assert.equal(sha256(await readFile(join(out, 'faces', file))), digest, file);
    } finally {
      await handOver.dispose();
      await ctx.clients.disposeAll();
    }
  });
});
