import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import type { FacesBackupResult } from '../../src/actions/frigate/backup';
import { openS3Store } from '../../src/clients/s3';
import { createActionContext, environmentSecrets, silentLogger } from '../../src/core/actions/context';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { runFrigateAction } from '../support/frigateActions';
import { startTcpFaultProxy, type TcpFaultProxy } from '../testbed/faultProxy';
import { FrigateSimulator } from '../testbed/frigateSim';
import { runFrigateInPod } from '../testbed/frigatePod';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';
import { solidWebp } from '../testbed/webp';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const PEOPLE = { Adil: 4, Asha: 15, G: 38, Waffles: 2 } as const;
const IMAGES = Object.values(PEOPLE).reduce((sum, count) => sum + count, 0);
/** Face archives already on the host, kept by `keep: 2` only as long as no new archive is published. */
const EARLIER_ARCHIVES = ['frigate-faces-20260110-030000.tar.gz', 'frigate-faces-20260111-030000.tar.gz'];

/** Every file of a folder (hidden ones too) with the sha256 of its contents. */
async function snapshot(folder: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const name of (await readdir(folder)).sort()) found.set(name, sha256(await readFile(join(folder, name))));
  return found;
}

/** Reads until the value equals `wanted` or 5 s have passed; returns the last value read. */
async function eventually<Value>(read: () => Promise<Value>, wanted: Value): Promise<Value> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (Date.now() > deadline || isDeepStrictEqual(value, wanted)) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Frigate faces: faults of the backup host, the network and the archive', function () {
  this.timeout(90_000);
  let frigate: FrigateSimulator;
  let sshd: Sshd;
  let s3: RunningS3rver;
  let kube: KubeApiSimulator;
  let kubeconfig: string;
  /** sshd behind a TCP proxy that slows down or cuts the connection. */
  let proxy: TcpFaultProxy;
  let proxyKnownHosts: string;
  let workspace: string;
  let libraryBytes = 0;

  const hostFolder = () => join(sshd.remoteDir, 'frigate-faces');

  function inventory({ frigateTimeoutSeconds }: { frigateTimeoutSeconds?: number } = {}): Inventory {
    const host = { host: sshd.host, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath };
    const files = { cluster: 'k3s', namespace: 'frigate', labelSelector: 'app.kubernetes.io/name=frigate' };
    return {
      frigate: { home: { url: frigate.url, auth: { username: 'admin', password: 'secret:frigate_password' }, tls: { insecure: true }, files, ...(frigateTimeoutSeconds ? { timeoutSeconds: frigateTimeoutSeconds } : {}) } },
      clusters: { k3s: { kubeconfig } },
      hosts: { piglet: { ...host, port: sshd.port, knownHosts: sshd.knownHostsPath }, 'piglet-flaky': { ...host, port: proxy.port, knownHosts: proxyKnownHosts } },
      stores: { garage: { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3_secret' } } },
      locations: {
        piglet: { host: 'piglet', path: hostFolder(), keep: 2 },
        'piglet-flaky': { host: 'piglet-flaky', path: hostFolder(), keep: 2 },
        'piglet-damaged': { host: 'piglet', path: join(sshd.remoteDir, 'damaged') },
        'offsite-damaged': { store: 'garage', prefix: 'damaged' },
      },
    };
  }

  function context(overrides: Partial<ActionContext> = {}): ActionContext {
    const secrets = environmentSecrets({ LIFEBOAT_SECRET_FRIGATE_PASSWORD: 'frigate-admin-pass', LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey });
    return createActionContext({ workspaceDir: workspace, inventory: inventory(), secrets, ...overrides });
  }

  const runAction = <Result>(id: string, params: Record<string, unknown>, ctx = context()): Promise<Result> => runFrigateAction<Result>(id, params, ctx);

  /** The face library as it is in the pod, `<person>/<file>` → sha256. */
  async function podLibrary(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const person of await readdir(frigate.facesDir)) {
      for (const file of await readdir(join(frigate.facesDir, person))) found.set(`${person}/${file}`, sha256(await readFile(join(frigate.facesDir, person, file))));
    }
    return found;
  }

  before(async () => {
    [frigate, sshd, s3, kube] = await Promise.all([FrigateSimulator.start(), startSshd(), startS3rver({ buckets: ['backups'] }), KubeApiSimulator.start()]);
    proxy = await startTcpFaultProxy(sshd.port);
    proxyKnownHosts = join(sshd.dir, 'known_hosts_proxy');
    await writeFile(proxyKnownHosts, `${sshd.knownHostsLine.replace(`:${sshd.port} `, `:${proxy.port} `)}\n`);
    await runFrigateInPod(kube, frigate);
    kubeconfig = await kube.writeKubeconfig();
    for (const [person, count] of Object.entries(PEOPLE)) {
      for (let index = 1; index <= count; index++) {
        // Random padding does not compress: the archive is as large as the images, which keeps its upload long enough to interrupt.
        const image = solidWebp({ width: 112, height: 112, padding: randomBytes(8192 + ((index * 7919) % 8192)) });
        libraryBytes += image.length;
        await frigate.addFace(person, `${person}-${1700000000 + index}.webp`, image);
      }
    }
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-faces-faults-'));
  });

  after(async () => {
    await proxy?.stop();
    await Promise.all([frigate?.stop(), sshd?.stop(), s3?.stop(), kube?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  beforeEach(async () => {
    proxy.throttle(undefined);
    frigate.clearFaults();
    await rm(hostFolder(), { recursive: true, force: true });
    await mkdir(hostFolder());
    for (const name of EARLIER_ARCHIVES) {
      await writeFile(join(hostFolder(), name), `an earlier archive, ${name}`);
      await writeFile(join(hostFolder(), `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
    }
  });

  it('fails clearly when the SSH connection drops while the archive is uploaded, and publishes nothing', async () => {
    const before = await snapshot(hostFolder());
    assert.ok(libraryBytes > 600 * 1024, 'the archive is larger than what passes before the cut');
    // Login, listings and the folder check send a few KiB; the upload sends the archive.
    proxy.cutAfter(300 * 1024);
    await assert.rejects(runAction('frigate.faces.backup', { frigate: 'home', location: 'piglet-flaky' }), /the upload of frigate-faces-\d{8}-\d{6}\.tar\.gz to piglet-flaky:.* broke off/);
    // Nobody is connected any more: the host removes the short file by itself, once sshd has noticed.
    // The run's lock stays, as nobody can remove it.
    const withoutLock = async () => new Map([...(await snapshot(hostFolder()))].filter(([name]) => name !== '.lifeboat-lock'));
    assert.deepEqual(await eventually(withoutLock, before), before);
    assert.ok((await snapshot(hostFolder())).has('.lifeboat-lock'));
    // The next run takes over the lock the dropped one left, and says whose it was.
    const warnings: string[] = [];
    const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'piglet' }, context({ log: { ...silentLogger, warn: (message) => warnings.push(message) } }));
    assert.match(warnings.join('\n'), /taking over the lock of piglet:.*, left by a run that stopped \(a run of this process ended without releasing it .*\): frigate\.faces\.backup, pid \d+ of \w+ on /);
    assert.ok((await snapshot(hostFolder())).has(result.name));
    assert.equal((await snapshot(hostFolder())).has('.lifeboat-lock'), false, 'released at the end');
  });

  it('cancelled while the archive is uploaded to an SSH host, leaves the host as it was', async () => {
    const before = await snapshot(hostFolder());
    // Slow enough that the cancel lands while the staged upload is on the host.
    proxy.throttle(192 * 1024);
    const stop = new AbortController();
    let cancelled = false;
    const watch = setInterval(() => {
      void readdir(hostFolder()).then((names) => {
        if (!stop.signal.aborted && names.some((name) => name.startsWith('.frigate-faces-'))) {
          cancelled = true;
          stop.abort();
        }
      });
    }, 20);
    try {
      await assert.rejects(runAction('frigate.faces.backup', { frigate: 'home', location: 'piglet-flaky' }, context({ signal: stop.signal })), CancelledError);
    } finally {
      clearInterval(watch);
    }
    assert.ok(cancelled, 'the upload had started when the run was cancelled');
    assert.deepEqual(await snapshot(hostFolder()), before);
  });

  it('publishes nothing on a host whose copy of the upload is not the archive written here, and keeps the earlier archives', async () => {
    // The host's sha256sum is the one check of the copy there: this one finds every copy different.
    const bin = join(workspace, 'lying-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'sha256sum'), `#!/bin/sh\ncat > /dev/null\necho "${'0'.repeat(64)}  -"\n`, { mode: 0o755 });
    const liar = await startSshd({ config: [`SetEnv PATH=${bin}:/usr/bin:/bin`] });
    try {
      const folder = join(liar.remoteDir, 'faces');
      await mkdir(folder);
      for (const name of EARLIER_ARCHIVES) await writeFile(join(folder, name), `an earlier archive, ${name}`);
      const before = await snapshot(folder);
      const usual = inventory();
      const lying: Inventory = {
        ...usual,
        hosts: { ...usual.hosts, liar: { host: liar.host, port: liar.port, user: liar.user, identityFile: liar.clientKey.privateKeyPath, knownHosts: liar.knownHostsPath } },
        locations: { ...usual.locations, liar: { host: 'liar', path: folder, keep: 1 } },
      };
      await assert.rejects(
        runAction('frigate.faces.backup', { frigate: 'home', location: 'liar' }, context({ inventory: lying })),
        /frigate-faces-\d{8}-\d{6}\.tar\.gz could not be checked and published on liar:.*: the uploaded copy has sha256 0{64}, not the verified [0-9a-f]{64}/,
      );
      // keep: 1 would have deleted both earlier archives after a publication.
      assert.deepEqual(await eventually(() => snapshot(folder), before), before);
    } finally {
      await liar.stop();
    }
  });

  it('waits out slow Frigate answers and still publishes a verified archive', async () => {
    frigate.injectFault({ kind: 'slow', delayMs: 1500, path: /^\/clips\/faces\//, times: 10 });
    const result = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'piglet' });
    assert.equal(result.images, IMAGES);
    assert.ok(result.durationMs >= 1500, 'the slow answers were waited for');
    await run('sha256sum', ['-c', `${result.name}.sha256`], { cwd: hostFolder() });
    const { stdout } = await run('tar', ['tzf', join(hostFolder(), result.name)]);
    assert.equal(stdout.split('\n').filter((entry) => entry.endsWith('.webp')).length, IMAGES);
    // keep: 2 counts the new archive: the older of the two earlier ones goes.
    assert.deepEqual(result.deleted.map((archive) => archive.name), [EARLIER_ARCHIVES[0]]);
  });

  it('with a timeout, fails clearly on an image Frigate does not send in time, and leaves the host as it was', async () => {
    const before = await snapshot(hostFolder());
    // Slower than the timeout on every attempt: curl's, then each of the Frigate client's.
    frigate.injectFault({ kind: 'slow', delayMs: 3000, path: /^\/clips\/faces\/Asha\/Asha-1700000007\.webp$/, times: 10 });
    await assert.rejects(
      runAction('frigate.faces.backup', { frigate: 'home', location: 'piglet' }, context({ inventory: inventory({ frigateTimeoutSeconds: 0.5 }) })),
      /Frigate 'home' .* did not answer GET \/clips\/faces\/Asha\/Asha-1700000007\.webp within 500 ms/,
    );
    assert.deepEqual(await snapshot(hostFolder()), before);
  });

  it('refuses a truncated archive on an SSH host or in an S3 store before anything in the pod is deleted', async () => {
    const good = await runAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', location: 'piglet' });
    const damagedFolder = join(sshd.remoteDir, 'damaged');
    await mkdir(damagedFolder, { recursive: true });
    const damaged = join(damagedFolder, good.name);
    await copyFile(join(hostFolder(), good.name), damaged);
    await copyFile(join(hostFolder(), `${good.name}.sha256`), `${damaged}.sha256`);
    await truncate(damaged, Math.floor((await stat(damaged)).size / 2));
    const store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: S3RVER_CREDENTIALS });
    try {
      await store.putFile(`damaged/${good.name}`, damaged);
    } finally {
      store.dispose();
    }

    const library = await podLibrary();
    assert.equal(library.size, IMAGES);
    for (const location of ['piglet-damaged', 'offsite-damaged']) {
      await assert.rejects(
        runAction('frigate.faces.restore', { frigate: 'home', location, clean: true }),
        new RegExp(`archive ${good.name.replace(/\./g, '\\.')} is damaged or cut short .*; nothing was restored`),
        location,
      );
      assert.deepEqual(await podLibrary(), library, `${location}: the pod's library is untouched`);
    }
    await assert.rejects(readdir(join(workspace, '.lifeboat', 'frigate-safety')), { code: 'ENOENT' }, 'no safety backup was needed');
  });
});
