import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { KubeClient, KubeError } from '../../src/clients/kube';
import { ObjectStore, SIM_RESOURCES, type SimObject, type SimResource } from '../testbed/kubeSimObjects';
import { CONTRACT_FIXTURES } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';

const contract = readFileSync(join(CONTRACT_FIXTURES, 'EXTERNAL-SYSTEMS.md'), 'utf8');

/** The Velero subsection of the contract whose heading starts with `heading` (`### 2.1`). */
function veleroSection(heading: string): string {
  const start = contract.indexOf(`\n${heading} `);
  assert.ok(start >= 0, `EXTERNAL-SYSTEMS.md has ${heading}`);
  const end = contract.indexOf('\n### ', start + 1);
  return contract.slice(start, end < 0 ? undefined : end);
}

/** Asserts the contract names each word as code (`word`, or inside a code span such as `status.downloadURL`). */
function assertInContract(section: string, words: readonly string[], what: string): void {
  const spans = [...section.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
  for (const word of words) assert.ok(spans.some((span) => span.split(/[^A-Za-z0-9-]+/).includes(word)), `${what}: '${word}' is in the contract`);
}

const resource = (plural: string) => SIM_RESOURCES.find((candidate) => candidate.group === 'velero.io' && candidate.plural === plural) as SimResource;
const BACKUPS = resource('backups');
const LOCATIONS = resource('backupstoragelocations');
const DOWNLOADS = resource('downloadrequests');
const POD_VOLUME_BACKUPS = resource('podvolumebackups');
const NAMESPACE = 'velero';

describe('Kubernetes simulator: Velero 1.18 queue, pod volume backups and download requests, against EXTERNAL-SYSTEMS.md §2', function () {
  this.timeout(20_000);
  let store: ObjectStore;

  const create = (target: SimResource, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) =>
    store.create(target, NAMESPACE, { apiVersion: 'velero.io/v1', kind: target.kind, metadata: { name, labels }, spec });

  /** Every state of the named objects until `done` holds for all of them. */
  async function follow(target: SimResource, names: readonly string[], done: (object: SimObject) => boolean): Promise<Map<string, SimObject[]>> {
    const states = new Map<string, SimObject[]>(names.map((name) => [name, []]));
    for (let tick = 0; tick < 2000; tick++) {
      const current = names.map((name) => store.get(target, NAMESPACE, name));
      current.forEach((object, index) => states.get(names[index] as string)?.push(structuredClone(object)));
      if (current.every(done)) return states;
      await sleep(2);
    }
    assert.fail(`${names.join(', ')} did not finish`);
  }

  const finished = (object: SimObject) => ['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'].includes(String(object.status?.phase));

  beforeEach(() => {
    store = new ObjectStore(15);
    create(LOCATIONS, 'default', { provider: 'aws', objectStorage: { bucket: 'velero', prefix: 'prod' } });
  });

  afterEach(() => store.stop());

  it('queues backups as 1.18 does: Queued with queuePosition, ReadyToStart, then one InProgress at a time with items counted up', async () => {
    const names = ['first', 'second', 'third'];
    for (const name of names) create(BACKUPS, name, { includedNamespaces: ['shop'] });
    const states = await follow(BACKUPS, names, finished);
    const phases = (name: string) => (states.get(name) ?? []).map((state) => String(state.status?.phase)).filter((phase, index, all) => phase !== all[index - 1]);
    for (const name of names) assert.deepEqual(phases(name), ['New', 'Queued', 'ReadyToStart', 'InProgress', 'Completed'], name);
    assert.ok((states.get('third') ?? []).some((state) => state.status?.queuePosition === 2), 'the third waits behind the second');
    for (const state of [...states.values()].flat()) {
      if (state.status?.queuePosition !== undefined) assert.equal(state.status.phase, 'Queued', 'queuePosition only while Queued');
    }
    for (let tick = 0; tick < (states.get('first') ?? []).length; tick++) {
      const running = names.filter((name) => ['ReadyToStart', 'InProgress'].includes(String(states.get(name)?.[tick]?.status?.phase)));
      assert.ok(running.length <= 1, `one backup at a time, not ${running.join(' and ')}`);
    }
    const items = (states.get('first') ?? []).filter((state) => state.status?.phase === 'InProgress').map((state) => (state.status?.progress as { itemsBackedUp: number }).itemsBackedUp);
    assert.ok(new Set(items).size >= 2 && items.every((count, index) => index === 0 || count >= (items[index - 1] ?? 0)), `items counted up: ${items.join(', ')}`);
    const text = veleroSection('### 2.1');
    assertInContract(text, ['New', 'Queued', 'ReadyToStart', 'InProgress', 'Completed', 'queuePosition', 'progress', 'totalItems', 'itemsBackedUp'], 'Backup');
  });

  it('keeps a backup asked to be stuck InProgress until the outcome changes, and fails or partly fails one on request', async () => {
    store.outcomes.set('stuck', 'Stuck');
    store.outcomes.set('broken', 'Failed');
    store.outcomes.set('partial', 'PartiallyFailed');
    create(BACKUPS, 'stuck', {});
    await sleep(300);
    assert.equal(store.get(BACKUPS, NAMESPACE, 'stuck').status?.phase, 'InProgress');
    store.outcomes.set('stuck', 'Completed');
    create(BACKUPS, 'broken', {});
    create(BACKUPS, 'partial', {});
    const states = await follow(BACKUPS, ['stuck', 'broken', 'partial'], finished);
    const last = (name: string) => states.get(name)?.at(-1)?.status ?? {};
    assert.equal(last('stuck').phase, 'Completed');
    assert.deepEqual([last('broken').phase, last('broken').failureReason], ['Failed', 'simulated failure']);
    assert.deepEqual([last('partial').phase, last('partial').warnings, last('partial').errors], ['PartiallyFailed', 1, 2]);
    assertInContract(veleroSection('### 2.1'), ['failureReason', 'warnings', 'errors', 'PartiallyFailed', 'Failed'], 'Backup');
  });

  it('counts the exec hooks of a backup in hookStatus', async () => {
    create(BACKUPS, 'hooked', { hooks: { resources: [{ name: 'db', includedNamespaces: ['shop'], pre: [{ exec: { command: ['sync'] } }], post: [{ exec: { command: ['true'] } }, { exec: { command: ['true'] } }] }] } });
    const states = await follow(BACKUPS, ['hooked'], finished);
    assert.deepEqual(states.get('hooked')?.at(-1)?.status?.hookStatus, { hooksAttempted: 3, hooksFailed: 0 });
    assertInContract(veleroSection('### 2.1'), ['hookStatus', 'hooksAttempted', 'hooksFailed', 'pre', 'post', 'exec'], 'Backup hooks');
  });

  it('backs up the pod volumes of the included namespaces with kopia, one PodVolumeBackup each, bytes counted', async () => {
    store.podVolumes.push({ namespace: 'shop', pod: 'db-0', volume: 'data', bytes: 5_000_000 }, { namespace: 'shop', pod: 'web-1', volume: 'uploads', bytes: 1234 }, { namespace: 'other', pod: 'x-0', volume: 'data', bytes: 99 });
    create(BACKUPS, 'fs', { includedNamespaces: ['shop'], defaultVolumesToFsBackup: true });
    await follow(BACKUPS, ['fs'], finished);
    const podVolumeBackups = (store.list(POD_VOLUME_BACKUPS, NAMESPACE, (labels) => labels['velero.io/backup-name'] === 'fs').items as SimObject[]).map((item) => store.get(POD_VOLUME_BACKUPS, NAMESPACE, item.metadata.name));
    const done = await follow(POD_VOLUME_BACKUPS, podVolumeBackups.map((item) => item.metadata.name), (object) => object.status?.phase === 'Completed');
    const summary = [...done.values()].map((states) => {
      const final = states.at(-1) as SimObject;
      const pod = final.spec?.pod as { namespace: string; name: string };
      return [`${pod.namespace}/${pod.name}`, final.spec?.volume, final.spec?.uploaderType, (final.status?.progress as { bytesDone: number }).bytesDone, typeof final.status?.snapshotID];
    });
    assert.deepEqual(summary.sort(), [
      ['shop/db-0', 'data', 'kopia', 5_000_000, 'string'],
      ['shop/web-1', 'uploads', 'kopia', 1234, 'string'],
    ]);
    const phases = [...done.values()].flatMap((states) => states.map((state) => String(state.status?.phase)));
    const text = veleroSection('### 2.5');
    assert.match(text, /`uploaderType` \(kopia\|restic\)/);
    assertInContract(text, [...new Set(phases), 'uploaderType', 'pod', 'volume', 'node', 'backupStorageLocation', 'repoIdentifier', 'tags', 'progress', 'totalBytes', 'bytesDone', 'snapshotID', 'path', 'startTimestamp', 'completionTimestamp'], 'PodVolumeBackup');
    assert.ok(text.includes('label `velero.io/backup-name`'), 'PodVolumeBackups are linked by the label velero.io/backup-name');
  });

  it('answers a DownloadRequest for a BackupLog with a signed URL to the gzipped log, once the backup has finished', async () => {
    store.outcomes.set('logged', 'PartiallyFailed');
    create(BACKUPS, 'logged', { includedNamespaces: ['shop'] });
    create(DOWNLOADS, 'logged-1', { target: { kind: 'BackupLog', name: 'logged' } });
    assert.equal(store.get(DOWNLOADS, NAMESPACE, 'logged-1').status?.phase, 'New');
    const states = await follow(DOWNLOADS, ['logged-1'], (object) => object.status?.phase === 'Processed');
    assert.ok(finished(store.get(BACKUPS, NAMESPACE, 'logged')), 'the URL comes once the backup has finished');
    const status = states.get('logged-1')?.at(-1)?.status ?? {};
    const url = new URL(String(status.downloadURL));
    assert.equal(url.pathname, '/velero/prod/backups/logged/logged-logs.gz');
    assert.ok(url.searchParams.get('X-Amz-Signature'), 'a presigned URL');
    assert.ok(Date.parse(String(status.expiration)) > Date.now());
    const answer = await fetch(url);
    assert.equal(answer.status, 200);
    const log = gunzipSync(Buffer.from(await answer.arrayBuffer())).toString('utf8');
    assert.match(log, /^time="[^"]+" level=info msg="Setting up backup temp file" backup=velero\/logged /);
    assert.equal(log.match(/level=warning/g)?.length, 1);
    assert.equal(log.match(/level=error/g)?.length, 2);
    assert.equal((await fetch(new URL('/velero/prod/backups/logged/nothing.gz', url))).status, 404);
    assertInContract(veleroSection('### 2.6'), ['DownloadRequest', 'target', 'kind', 'name', 'BackupLog', 'downloadURL', 'phase', 'New', 'Processed', 'expiration'], 'DownloadRequest');
  });

  it("points the signed URL at the location's publicUrl, or its s3Url, when it has one", async () => {
    create(LOCATIONS, 'minio', { provider: 'aws', objectStorage: { bucket: 'backups' }, config: { s3Url: 'http://minio.velero.svc:9000' } });
    create(LOCATIONS, 'public', { provider: 'aws', objectStorage: { bucket: 'backups' }, config: { s3Url: 'http://minio.velero.svc:9000', publicUrl: 'https://s3.example.org' } });
    create(BACKUPS, 'in-cluster', { storageLocation: 'minio' });
    create(BACKUPS, 'published', { storageLocation: 'public' });
    create(DOWNLOADS, 'in-cluster-1', { target: { kind: 'BackupLog', name: 'in-cluster' } });
    create(DOWNLOADS, 'published-1', { target: { kind: 'BackupLog', name: 'published' } });
    const states = await follow(DOWNLOADS, ['in-cluster-1', 'published-1'], (object) => object.status?.phase === 'Processed');
    const host = (name: string) => new URL(String(states.get(name)?.at(-1)?.status?.downloadURL)).host;
    assert.deepEqual([host('in-cluster-1'), host('published-1')], ['minio.velero.svc:9000', 's3.example.org']);
    assertInContract(veleroSection('### 2.6'), ['s3Url', 'publicUrl'], 'DownloadRequest URL');
  });

  it('answers 404 for every Velero resource when Velero is not installed, as without its CRDs', async () => {
    const sim = await KubeApiSimulator.start();
    try {
      sim.objects.uninstalledGroups.add('velero.io');
      const kube = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig() });
      await assert.rejects(kube.listObjects(BACKUPS, NAMESPACE), (error: unknown) => error instanceof KubeError && error.statusCode === 404 && /the server could not find the requested resource/.test(error.message));
      sim.objects.uninstalledGroups.delete('velero.io');
      assert.deepEqual(await kube.listObjects(BACKUPS, NAMESPACE), []);
    } finally {
      await sim.stop();
    }
  });
});
