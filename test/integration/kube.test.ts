import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { CUSTOM_RESOURCES, KubeClient, KubeError, PodCommandError, kubeconfigFiles } from '../../src/clients/kube';
import type { KubeObject } from '../../src/clients/kube';
import { CancelledError } from '../../src/core/errors';
import { selfSignedCertificate } from '../testbed/certificate';
import { KubeApiSimulator } from '../testbed/kubeSim';

const run = promisify(execFile);

function collect(): Writable & { text(): string; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return Object.assign(sink, { bytes: () => Buffer.concat(chunks), text: () => Buffer.concat(chunks).toString('utf8') });
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('Kubernetes client against the API simulator', function () {
  this.timeout(30_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;

  before(async () => {
    sim = await KubeApiSimulator.start();
    sim.addPod({ namespace: 'frigate', name: 'frigate-7d9f', labels: { 'app.kubernetes.io/name': 'frigate', tier: 'nvr' }, containers: ['frigate'] });
    sim.addPod({ namespace: 'frigate', name: 'mqtt-0', labels: { 'app.kubernetes.io/name': 'mqtt' } });
    sim.addPod({ namespace: 'velero', name: 'velero-0', labels: { component: 'velero' } });
    kube = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig() });
  });

  after(async () => {
    await sim?.stop();
  });

  describe('kubeconfig and contexts', () => {
    it('reads KUBECONFIG as a list and picks the named context', async () => {
      const first = await sim.writeKubeconfig({ file: join(sim.dir, 'first'), context: 'prod' });
      const second = await sim.writeKubeconfig({ file: join(sim.dir, 'second'), context: 'monit' });
      const env = { KUBECONFIG: `${first}:${join(sim.dir, 'missing')}:${second}` };
      assert.deepEqual(kubeconfigFiles({}, env), [first, join(sim.dir, 'missing'), second]);
      assert.deepEqual(kubeconfigFiles({}, {}), [join(homedir(), '.kube', 'config')]);
      assert.deepEqual(kubeconfigFiles({ kubeconfig: '~/clusters/prod.yaml' }, env), [join(homedir(), 'clusters', 'prod.yaml')], 'the inventory file wins over KUBECONFIG');
      const monit = await KubeClient.connect({ context: 'monit' }, env);
      assert.equal(monit.context, 'monit');
      assert.equal(monit.server, sim.url);
      const current = await KubeClient.connect({}, env);
      assert.equal(current.context, 'prod', 'the first file sets the current context');
    });

    it('names the contexts there are when the wanted one is missing', async () => {
      await assert.rejects(
        KubeClient.connect({ kubeconfig: await sim.writeKubeconfig(), context: 'staging' }),
        (error: unknown) => error instanceof KubeError && error.failure === 'config' && /context 'staging' is not in .*contexts: sim/.test(error.message),
      );
    });

    it('says where it looked when there is no kubeconfig', async () => {
      await assert.rejects(KubeClient.connect({ kubeconfig: join(sim.dir, 'nothing-here') }), /no kubeconfig found at .*nothing-here/);
    });
  });

  describe('pods', () => {
    it('lists pods by label selector and finds the running one', async () => {
      const pods = await kube.listPods('frigate', 'app.kubernetes.io/name=frigate');
      assert.deepEqual(
        pods.map((pod) => [pod.name, pod.phase, pod.ready, pod.defaultContainer]),
        [['frigate-7d9f', 'Running', true, 'frigate']],
      );
      assert.equal((await kube.listPods('frigate')).length, 2);
      assert.equal((await kube.findPod('frigate', 'tier=nvr,app.kubernetes.io/name!=mqtt')).name, 'frigate-7d9f');
    });

    it('fails clearly when no pod matches', async () => {
      await assert.rejects(kube.findPod('frigate', 'app=nothing'), (error: unknown) => error instanceof KubeError && error.failure === 'not-found' && /no running pod matches app=nothing in namespace frigate/.test(error.message));
    });
  });

  describe('exec', () => {
    const pod = { namespace: 'frigate', pod: 'frigate-7d9f' };

    it('runs a command in the pod sandbox and returns its output', async () => {
      await mkdir(sim.podPath('frigate', 'frigate-7d9f', '/config'), { recursive: true });
      await writeFile(sim.podPath('frigate', 'frigate-7d9f', '/config/config.yml'), 'mqtt:\n  enabled: false\n');
      assert.equal(await kube.execText({ ...pod, command: ['cat', '/config/config.yml'] }), 'mqtt:\n  enabled: false\n');
    });

    it('streams stdin through the command and back, byte for byte', async () => {
      const input = randomBytes(5 * 1024 * 1024 + 17);
      const output = collect();
      await kube.exec({ ...pod, command: ['cat'], stdin: Readable.from([input.subarray(0, 1000), input.subarray(1000)]), stdout: output });
      assert.equal(output.bytes().length, input.length);
      assert.equal(sha256(output.bytes()), sha256(input));
    });

    it('reports a non-zero exit with its code and the end of stderr', async () => {
      const stderr = collect();
      await assert.rejects(kube.exec({ ...pod, command: ['sh', '-c', 'echo "disk full" >&2; exit 3'], stderr }), (error: unknown) => {
        assert.ok(error instanceof PodCommandError);
        assert.equal(error.exitCode, 3);
        assert.match(error.message, /`sh -c .*` in pod frigate\/frigate-7d9f \(container frigate\) .* exited with status 3: disk full/);
        return true;
      });
      assert.equal(stderr.text(), 'disk full\n');
    });

    it('reports a missing program as a failure of the command', async () => {
      await assert.rejects(kube.exec({ ...pod, command: ['no-such-program-here'] }), /no-such-program-here.*executable file not found/);
    });

    it('refuses a container the pod does not have', async () => {
      await assert.rejects(kube.exec({ ...pod, container: 'sidecar', command: ['true'] }), (error: unknown) => error instanceof KubeError && error.statusCode === 400);
    });

    it('fails with not-found for a pod that does not exist', async () => {
      await assert.rejects(kube.exec({ namespace: 'frigate', pod: 'gone-0', command: ['true'] }), (error: unknown) => error instanceof KubeError && error.failure === 'not-found');
    });

    it('stops the command when cancelled', async () => {
      const controller = new AbortController();
      const started = kube.exec({ ...pod, command: ['sleep', '20'], signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(started, (error: unknown) => error instanceof CancelledError);
    });
  });

  describe('tar through exec', () => {
    const pod = { namespace: 'frigate', pod: 'frigate-7d9f' };
    let local: string;

    before(async () => {
      local = await mkdtemp(join(tmpdir(), 'lifeboat-kube-tar-'));
    });

    after(async () => {
      await rm(local, { recursive: true, force: true });
    });

    it('copies a folder out of the pod and back in, byte-exact', async () => {
      const faces = sim.podPath('frigate', 'frigate-7d9f', '/media/frigate/clips/faces');
      const files: Record<string, Buffer> = { 'Asha/a 1.webp': randomBytes(70_000), 'G/g-1.webp': randomBytes(3 * 1024 * 1024), 'train/t.webp': randomBytes(10) };
      for (const [file, data] of Object.entries(files)) {
        await mkdir(join(faces, file, '..'), { recursive: true });
        await writeFile(join(faces, file), data);
      }
      const archive = join(local, 'faces.tar');
      await pipeline(kube.tarFromPod({ ...pod, directory: '/media/frigate/clips/faces' }), createWriteStream(archive));
      const listing = (await run('tar', ['tf', archive])).stdout.split('\n').filter((line) => line.endsWith('.webp')).sort();
      assert.deepEqual(listing, ['./Asha/a 1.webp', './G/g-1.webp', './train/t.webp']);

      await kube.tarIntoPod({ ...pod, directory: '/media/frigate/restored' }, createReadStream(archive));
      for (const [file, data] of Object.entries(files)) {
        const restored = await readFile(sim.podPath('frigate', 'frigate-7d9f', `/media/frigate/restored/${file}`));
        assert.equal(sha256(restored), sha256(data), file);
      }
    });

    it('fails the stream, not ends it, when tar fails in the pod', async () => {
      const stream = kube.tarFromPod({ ...pod, directory: '/media/frigate/nothing-here' });
      await assert.rejects(pipeline(stream, new PassThrough().resume()), (error: unknown) => error instanceof PodCommandError && error.exitCode === 2 && /nothing-here/.test(error.message));
    });

    it('fails when the archive sent in is not a tar', async () => {
      await assert.rejects(kube.tarIntoPod({ ...pod, directory: '/media/frigate/junk' }, Readable.from([randomBytes(4096)])), (error: unknown) => error instanceof PodCommandError && error.exitCode !== 0);
    });
  });

  describe('custom objects', () => {
    const namespace = 'velero';

    before(async () => {
      await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, namespace, {
        apiVersion: 'velero.io/v1',
        kind: 'BackupStorageLocation',
        metadata: { name: 'default' },
        spec: { provider: 'aws', objectStorage: { bucket: 'velero' }, default: true },
      });
    });

    const done = (object: KubeObject) => ['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'].includes(String(object.status?.phase));

    it('creates a Velero backup and follows it from New through InProgress to Completed', async () => {
      const created = await kube.createObject(CUSTOM_RESOURCES.veleroBackup, namespace, {
        apiVersion: 'velero.io/v1',
        kind: 'Backup',
        metadata: { name: 'nightly-20260701020000' },
        spec: { includedNamespaces: ['frigate'], storageLocation: 'default', ttl: '720h0m0s', defaultVolumesToFsBackup: true },
      });
      assert.equal(created.metadata.name, 'nightly-20260701020000');
      const phases = new Set<string>();
      const finished = await kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, namespace, 'nightly-20260701020000', {
        isDone: done,
        intervalMs: 10,
        timeoutMs: 5000,
        onUpdate: (object) => phases.add(String(object.status?.phase)),
      });
      assert.ok(phases.has('InProgress') || phases.has('New'));
      assert.equal(finished.status?.phase, 'Completed');
      assert.deepEqual(finished.status?.progress, { totalItems: 42, itemsBackedUp: 42 });
      assert.equal(finished.metadata.labels?.['velero.io/storage-location'], 'default');
      assert.ok(typeof finished.status?.expiration === 'string' && typeof finished.status?.completionTimestamp === 'string');

      const listed = await kube.listObjects(CUSTOM_RESOURCES.veleroBackup, namespace, 'velero.io/storage-location=default');
      assert.deepEqual(listed.map((backup) => backup.metadata.name), ['nightly-20260701020000']);
    });

    it('reports a partly failed backup with its warnings and errors', async () => {
      sim.objects.outcomes.set('partial-1', 'PartiallyFailed');
      await kube.createObject(CUSTOM_RESOURCES.veleroBackup, namespace, { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: 'partial-1' }, spec: { includedNamespaces: ['db'] } });
      const finished = await kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, namespace, 'partial-1', { isDone: done, intervalMs: 10, timeoutMs: 5000 });
      assert.deepEqual([finished.status?.phase, finished.status?.warnings, finished.status?.errors], ['PartiallyFailed', 1, 2]);
    });

    it('answers a second create of the same name with a conflict', async () => {
      const body = { apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: 'daily' }, spec: { schedule: '0 2 * * *', template: { includedNamespaces: ['*'] } } };
      await kube.createObject(CUSTOM_RESOURCES.veleroSchedule, namespace, body);
      await assert.rejects(kube.createObject(CUSTOM_RESOURCES.veleroSchedule, namespace, body), (error: unknown) => error instanceof KubeError && error.failure === 'conflict' && /schedules.velero.io "daily" already exists/.test(error.message));
      const enabled = await kube.waitForObject(CUSTOM_RESOURCES.veleroSchedule, namespace, 'daily', { isDone: (object) => object.status?.phase !== undefined, intervalMs: 10, timeoutMs: 5000 });
      assert.equal(enabled.status?.phase, 'Enabled');
    });

    it('restores from a completed backup and fails validation for a missing one', async () => {
      await kube.createObject(CUSTOM_RESOURCES.veleroRestore, namespace, { apiVersion: 'velero.io/v1', kind: 'Restore', metadata: { name: 'r1' }, spec: { backupName: 'nightly-20260701020000', restorePVs: true } });
      await kube.createObject(CUSTOM_RESOURCES.veleroRestore, namespace, { apiVersion: 'velero.io/v1', kind: 'Restore', metadata: { name: 'r2' }, spec: { backupName: 'never-made' } });
      const restored = await kube.waitForObject(CUSTOM_RESOURCES.veleroRestore, namespace, 'r1', { isDone: done, intervalMs: 10, timeoutMs: 5000 });
      assert.equal(restored.status?.phase, 'Completed');
      assert.deepEqual(restored.status?.progress, { totalItems: 42, itemsRestored: 42 });
      const refused = await kube.waitForObject(CUSTOM_RESOURCES.veleroRestore, namespace, 'r2', { isDone: done, intervalMs: 10, timeoutMs: 5000 });
      assert.equal(refused.status?.phase, 'FailedValidation');
      assert.match(String((refused.status?.validationErrors as string[])[0]), /never-made/);
    });

    it('suspends, resumes and reconciles a Flux kustomization with merge patches', async () => {
      const ks = CUSTOM_RESOURCES.fluxKustomization;
      await kube.createObject(ks, 'flux-system', { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps' }, spec: { interval: '10m', path: './apps', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } } });
      const suspended = await kube.patchObject(ks, 'flux-system', 'apps', { spec: { suspend: true } });
      assert.equal(suspended.spec?.suspend, true);
      assert.equal(suspended.spec?.path, './apps', 'a merge patch keeps the other fields');
      const requestedAt = new Date().toISOString();
      await kube.patchObject(ks, 'flux-system', 'apps', { spec: { suspend: null }, metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': requestedAt } } });
      const reconciled = await kube.waitForObject(ks, 'flux-system', 'apps', { isDone: (object) => object.status?.lastHandledReconcileAt === requestedAt, intervalMs: 10, timeoutMs: 5000 });
      assert.equal(reconciled.spec?.suspend, undefined);
      assert.equal(reconciled.status?.observedGeneration, reconciled.metadata.generation);
      assert.equal((reconciled.status?.conditions as { type: string; status: string }[])[0]?.status, 'True');
    });

    it('takes a CloudNativePG backup to completed', async () => {
      const backup = CUSTOM_RESOURCES.cnpgBackup;
      await kube.createObject(backup, 'db', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name: 'pg-backup-20260701020000' }, spec: { cluster: { name: 'pg' }, method: 'barmanObjectStore' } });
      const completed = await kube.waitForObject(backup, 'db', 'pg-backup-20260701020000', { isDone: (object) => ['completed', 'failed'].includes(String(object.status?.phase)), intervalMs: 10, timeoutMs: 5000 });
      assert.equal(completed.status?.phase, 'completed');
      assert.ok(completed.status?.backupId && completed.status?.stoppedAt && completed.status?.endLSN);
      await assert.rejects(kube.patchObject(backup, 'db', 'pg-backup-20260701020000', { spec: { method: 'volumeSnapshot' } }), (error: unknown) => error instanceof KubeError && error.failure === 'invalid' && /immutable/.test(error.message));
    });

    it('stops waiting for an object after the timeout, naming its phase', async () => {
      await kube.createObject(CUSTOM_RESOURCES.veleroSchedule, namespace, { apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: 'slow-1' }, spec: { schedule: '0 3 * * *', template: {} } });
      await assert.rejects(
        kube.waitForObject(CUSTOM_RESOURCES.veleroSchedule, namespace, 'slow-1', { isDone: () => false, intervalMs: 10, timeoutMs: 100 }),
        /Schedule velero\/slow-1 on cluster 'sim' .* did not finish within 100 ms/,
      );
    });

    it('reports a missing object as not found, with the server message', async () => {
      await assert.rejects(kube.getObject(CUSTOM_RESOURCES.veleroBackup, namespace, 'nope'), (error: unknown) => error instanceof KubeError && error.failure === 'not-found' && /backups.velero.io "nope" not found/.test(error.message));
    });
  });

  describe('failures users meet', () => {
    it('refuses a wrong token, for API calls and for exec', async () => {
      const wrong = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig({ file: join(sim.dir, 'wrong-token'), token: 'expired' }) });
      await assert.rejects(wrong.listPods('frigate'), (error: unknown) => error instanceof KubeError && error.failure === 'unauthorized' && /401 Unauthorized/.test(error.message));
      await assert.rejects(wrong.exec({ namespace: 'frigate', pod: 'frigate-7d9f', container: 'frigate', command: ['true'] }), (error: unknown) => error instanceof KubeError && error.failure === 'unauthorized');
    });

    it('refuses a server whose certificate the kubeconfig does not trust', async () => {
      const other = await selfSignedCertificate(sim.dir, 'other');
      const untrusting = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig({ file: join(sim.dir, 'wrong-ca'), certificateAuthority: other.cert }) });
      await assert.rejects(untrusting.listPods('frigate'), (error: unknown) => error instanceof KubeError && error.failure === 'tls' && /TLS verification of cluster 'sim'/.test(error.message));
      await assert.rejects(untrusting.exec({ namespace: 'frigate', pod: 'frigate-7d9f', container: 'frigate', command: ['true'] }), (error: unknown) => error instanceof KubeError && error.failure === 'tls');
    });

    it('says the cluster is unreachable when nothing listens', async () => {
      const file = await sim.writeKubeconfig({ file: join(sim.dir, 'unreachable') });
      await writeFile(file, (await readFile(file, 'utf8')).replace(sim.url, 'https://127.0.0.1:1'));
      const unreachable = await KubeClient.connect({ kubeconfig: file });
      await assert.rejects(unreachable.listPods('frigate'), (error: unknown) => error instanceof KubeError && error.failure === 'unreachable' && /ECONNREFUSED/.test(error.message));
    });

    it('needs v5 to stream stdin and says so when the server offers only v4', async () => {
      const old = await KubeApiSimulator.start({ execProtocols: ['v4.channel.k8s.io'] });
      try {
        old.addPod({ namespace: 'frigate', name: 'frigate-0' });
        const client = await KubeClient.connect({ kubeconfig: await old.writeKubeconfig() });
        assert.equal(await client.execText({ namespace: 'frigate', pod: 'frigate-0', command: ['echo', 'v4 output'] }), 'v4 output\n');
        await assert.rejects(client.exec({ namespace: 'frigate', pod: 'frigate-0', command: ['cat'], stdin: Readable.from([Buffer.from('x')]) }), /streaming stdin needs v5.channel.k8s.io/);
      } finally {
        await old.stop();
      }
    });
  });
});
