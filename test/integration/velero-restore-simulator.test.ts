/**
 * The simulator's side of restores and deletions, held against EXTERNAL-SYSTEMS.md §2 (Velero):
 * DeleteBackupRequest processing (§2.7), a backup's resource list behind a DownloadRequest (§2.6),
 * and a restore that ends PartiallyFailed (§2.2).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CUSTOM_RESOURCES, KubeClient, type CustomResource, type KubeObject } from '../../src/clients/kube';
import { CONTRACT_FIXTURES } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';

const contract = readFileSync(join(CONTRACT_FIXTURES, 'EXTERNAL-SYSTEMS.md'), 'utf8');
const contractSection = (heading: string) => {
  const start = contract.indexOf(heading);
  assert.ok(start >= 0, `EXTERNAL-SYSTEMS.md has ${heading}`);
  const end = contract.indexOf('\n### ', start + heading.length);
  return contract.slice(start, end < 0 ? undefined : end);
};

const DELETE_REQUEST: CustomResource = { group: 'velero.io', version: 'v1', plural: 'deletebackuprequests', kind: 'DeleteBackupRequest' };
const DOWNLOAD_REQUEST: CustomResource = { group: 'velero.io', version: 'v1', plural: 'downloadrequests', kind: 'DownloadRequest' };

describe('Kubernetes simulator: Velero deletions, resource lists and partly failed restores as the contract gives them', function () {
  this.timeout(20_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;

  const states = new Map<string, string[]>();
  /** Polls an object until `done`, recording each phase seen. */
  async function follow(resource: CustomResource, name: string, done: (object: KubeObject) => boolean): Promise<KubeObject> {
    const seen: string[] = [];
    states.set(`${resource.kind}/${name}`, seen);
    return kube.waitForObject(resource, 'velero', name, {
      isDone: done,
      intervalMs: 2,
      timeoutMs: 10_000,
      onUpdate: (object) => {
        const phase = String(object.status?.phase ?? '');
        if (phase && seen.at(-1) !== phase) seen.push(phase);
      },
    });
  }

  /**
   * Every phase an object goes through from its creation, read from a watch started before it is
   * created (polling could miss a phase that lasts one controller step), until `done`.
   */
  async function phasesFromCreation(resource: CustomResource, name: string, create: () => Promise<unknown>, done: (phase: string) => boolean): Promise<string[]> {
    const { resourceVersion } = await kube.listObjectsForWatch(resource, 'velero', `metadata.name=${name}`);
    const phases: string[] = [];
    let stop: AbortController | undefined;
    const finished = new Promise<void>((resolve, reject) => {
      void kube
        .watchObjects(resource, 'velero', { resourceVersion, fieldSelector: `metadata.name=${name}` }, (_type, object) => {
          const phase = String(object.status?.phase ?? '');
          if (phase && phases.at(-1) !== phase) phases.push(phase);
          if (done(phase)) resolve();
        }, (error) => (error ? reject(error) : resolve()))
        .then((controller) => (stop = controller), reject);
    });
    await create();
    await finished;
    stop?.abort();
    return phases;
  }

  async function completedBackup(name: string, namespaces: string[]): Promise<KubeObject> {
    await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name }, spec: { includedNamespaces: namespaces, storageLocation: 'default' } });
    return follow(CUSTOM_RESOURCES.veleroBackup, name, (object) => object.status?.phase === 'Completed');
  }

  before(async () => {
    sim = await KubeApiSimulator.start({ controllerStepMs: 5 });
    kube = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig() });
    await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name: 'default' }, spec: { provider: 'aws', objectStorage: { bucket: 'velero' } } });
  });

  after(async () => {
    await sim?.stop();
  });

  it('processes a DeleteBackupRequest as `velero backup delete` makes it: the backup Deleting, then gone with its restores, the request Processed', async () => {
    const section = contractSection('### 2.7 Deletion: DeleteBackupRequest');
    const backup = await completedBackup('doomed', ['shop']);
    await kube.createObject(CUSTOM_RESOURCES.veleroRestore, 'velero', { apiVersion: 'velero.io/v1', kind: 'Restore', metadata: { name: 'doomed-restore' }, spec: { backupName: 'doomed' } });
    await follow(CUSTOM_RESOURCES.veleroRestore, 'doomed-restore', (object) => object.status?.phase === 'Completed');
    const request = await kube.createObject(DELETE_REQUEST, 'velero', {
      apiVersion: 'velero.io/v1',
      kind: 'DeleteBackupRequest',
      metadata: { name: '', generateName: 'doomed-', labels: { 'velero.io/backup-name': 'doomed', 'velero.io/backup-uid': String(backup.metadata.uid) } },
      spec: { backupName: 'doomed' },
    });
    assert.match(request.metadata.name, /^doomed-[0-9a-z]{5}$/, 'the API server completes generateName');
    const backupPhases: string[] = [];
    const processed = await kube.waitForObject(DELETE_REQUEST, 'velero', request.metadata.name, {
      isDone: (object) => object.status?.phase === 'Processed',
      intervalMs: 1,
      timeoutMs: 10_000,
      onUpdate: () => void kube.getObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'doomed').then((found) => backupPhases.push(String(found.status?.phase)), () => backupPhases.push('gone')),
    });
    assert.deepEqual(processed.status, { phase: 'Processed' });
    for (const phase of ['New', 'InProgress', 'Processed']) assert.ok(section.includes(phase), `${phase} is a DeleteBackupRequest phase in the contract`);
    assert.ok(contractSection('### 2.1 Backup').includes('Deleting'), 'Deleting is a backup phase in the contract');
    assert.ok(backupPhases.includes('Deleting') || backupPhases.includes('gone'));
    await assert.rejects(kube.getObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'doomed'), /not found/);
    await assert.rejects(kube.getObject(CUSTOM_RESOURCES.veleroRestore, 'velero', 'doomed-restore'), /not found/);
  });

  it('records errors in the request, and keeps the backup, when it cannot be deleted', async () => {
    for (const [backupName, expected] of [
      ['never-made', 'backup not found'],
      ['still-running', 'backup is still in progress'],
    ] as const) {
      if (backupName === 'still-running') {
        sim.objects.outcomes.set('still-running', 'Stuck');
        await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: backupName }, spec: { storageLocation: 'default' } });
        await follow(CUSTOM_RESOURCES.veleroBackup, backupName, (object) => object.status?.phase === 'InProgress');
      }
      const request = await kube.createObject(DELETE_REQUEST, 'velero', { apiVersion: 'velero.io/v1', kind: 'DeleteBackupRequest', metadata: { name: '', generateName: `${backupName}-` }, spec: { backupName } });
      const processed = await follow(DELETE_REQUEST, request.metadata.name, (object) => object.status?.phase === 'Processed');
      assert.deepEqual(processed.status, { phase: 'Processed', errors: [expected] });
    }
    assert.equal((await kube.getObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'still-running')).status?.phase, 'InProgress');
    // Velero runs one backup at a time: the stuck one has to end for the next tests' backups to start.
    sim.objects.outcomes.set('still-running', 'Completed');
    await follow(CUSTOM_RESOURCES.veleroBackup, 'still-running', (object) => object.status?.phase === 'Completed');
  });

  it('serves a backup\'s resource list behind a DownloadRequest, gzip-compressed, kinds to namespace/name entries', async () => {
    assert.ok(contractSection('### 2.6 Logs: DownloadRequest').includes('BackupResourceList'));
    await completedBackup('listed', ['pelican', 'shop']);
    await kube.createObject(DOWNLOAD_REQUEST, 'velero', { apiVersion: 'velero.io/v1', kind: 'DownloadRequest', metadata: { name: 'listed-0f1e' }, spec: { target: { kind: 'BackupResourceList', name: 'listed' } } });
    const processed = await follow(DOWNLOAD_REQUEST, 'listed-0f1e', (object) => object.status?.phase === 'Processed');
    const answer = await fetch(String(processed.status?.downloadURL));
    assert.equal(answer.status, 200);
    const list = JSON.parse(gunzipSync(Buffer.from(await answer.arrayBuffer())).toString('utf8')) as Record<string, string[]>;
    assert.deepEqual(list['v1/Namespace'], ['pelican', 'shop']);
    assert.deepEqual(list['apps/v1/Deployment'], ['pelican/pelican', 'shop/shop']);
    for (const [kind, entries] of Object.entries(list)) {
      assert.match(kind, /^([a-z0-9.]+\/)?v\d\w*\/[A-Z]\w+$/, `${kind} is group/version/Kind`);
      for (const entry of entries) assert.match(entry, kind === 'v1/Namespace' ? /^[a-z0-9-]+$/ : /^[a-z0-9-]+\/[a-z0-9-]+$/);
    }
  });

  it('ends a restore asked to fail partly PartiallyFailed with warning and error counts, all fields of the contract', async () => {
    const section = contractSection('### 2.2 Restore');
    sim.objects.outcomes.set('partly', 'PartiallyFailed');
    const create = () => kube.createObject(CUSTOM_RESOURCES.veleroRestore, 'velero', { apiVersion: 'velero.io/v1', kind: 'Restore', metadata: { name: 'partly' }, spec: { backupName: 'listed', namespaceMapping: { shop: 'shop-copy' }, existingResourcePolicy: 'update' } });
    assert.deepEqual(await phasesFromCreation(CUSTOM_RESOURCES.veleroRestore, 'partly', create, (phase) => phase === 'PartiallyFailed'), ['New', 'InProgress', 'PartiallyFailed']);
    const restore = await kube.getObject(CUSTOM_RESOURCES.veleroRestore, 'velero', 'partly');
    assert.equal(restore.status?.warnings, 3);
    assert.equal(restore.status?.errors, 1);
    for (const field of [...Object.keys(restore.status ?? {}), 'namespaceMapping', 'existingResourcePolicy']) assert.match(section, new RegExp(`\`${field}[\`:]`), `${field} is in the contract`);
  });

  it("serves a finished restore's messages behind a RestoreResults DownloadRequest, as many as its counts", async () => {
    assert.ok(contractSection('### 2.6 Logs: DownloadRequest').includes('RestoreResults'));
    await kube.createObject(DOWNLOAD_REQUEST, 'velero', { apiVersion: 'velero.io/v1', kind: 'DownloadRequest', metadata: { name: 'partly-results' }, spec: { target: { kind: 'RestoreResults', name: 'partly' } } });
    const processed = await follow(DOWNLOAD_REQUEST, 'partly-results', (object) => object.status?.phase === 'Processed');
    const url = new URL(String(processed.status?.downloadURL));
    assert.equal(url.pathname, '/velero/restores/partly/restore-partly-results.gz', "Velero's layout: restores/<name>/restore-<name>-results.gz");
    const answer = await fetch(url);
    assert.equal(answer.status, 200);
    const results = JSON.parse(gunzipSync(Buffer.from(await answer.arrayBuffer())).toString('utf8')) as Record<string, { velero?: string[]; cluster?: string[]; namespaces?: Record<string, string[]> }>;
    assert.deepEqual(Object.keys(results).sort(), ['errors', 'warnings']);
    assert.deepEqual(results.errors, { namespaces: { pelican: ['error restoring persistentvolumeclaims/pelican/pelican-data: simulated failure'] } });
    assert.deepEqual(results.warnings?.velero, ['simulated warning 1', 'simulated warning 2', 'simulated warning 3']);
    const restore = await kube.getObject(CUSTOM_RESOURCES.veleroRestore, 'velero', 'partly');
    const counted = (result: { velero?: string[]; cluster?: string[]; namespaces?: Record<string, string[]> } = {}) => (result.velero?.length ?? 0) + (result.cluster?.length ?? 0) + Object.values(result.namespaces ?? {}).flat().length;
    assert.deepEqual([counted(results.warnings), counted(results.errors)], [restore.status?.warnings, restore.status?.errors]);
  });

  it('restores into the mapped namespace with the labels the contract gives, skipping what exists or updating it as existingResourcePolicy says', async () => {
    const labels = contractSection('### 2.1 Backup');
    for (const label of ['velero.io/backup-name', 'velero.io/restore-name']) assert.ok(labels.includes(label), `${label} in the contract`);
    assert.ok(contractSection('### 2.2 Restore').includes('`"update"`'));
    sim.objects.workloads.add('v1', 'ConfigMap', 'pelican-b', 'pelican-config', { kept: 'yes' });
    sim.objects.workloads.add('v1', 'Service', 'pelican-c', 'pelican', { kept: 'yes' });
    const restore = async (name: string, spec: Record<string, unknown>) => {
      await kube.createObject(CUSTOM_RESOURCES.veleroRestore, 'velero', { apiVersion: 'velero.io/v1', kind: 'Restore', metadata: { name }, spec: { backupName: 'listed', includedNamespaces: ['pelican'], ...spec } });
      return follow(CUSTOM_RESOURCES.veleroRestore, name, (object) => object.status?.phase === 'Completed');
    };
    const skipping = await restore('into-b', { namespaceMapping: { pelican: 'pelican-b' } });
    assert.equal(skipping.status?.warnings, 2, 'the namespace and the ConfigMap were there: one warning each');
    assert.deepEqual(sim.objects.workloads.get('v1', 'ConfigMap', 'pelican-b', 'pelican-config')?.metadata.labels, { kept: 'yes' });
    assert.deepEqual(sim.objects.workloads.get('apps/v1', 'Deployment', 'pelican-b', 'pelican')?.metadata.labels, { 'velero.io/backup-name': 'listed', 'velero.io/restore-name': 'into-b' });
    assert.equal(sim.objects.workloads.get('apps/v1', 'Deployment', 'shop-b', 'shop'), undefined, 'shop was not included');
    const updating = await restore('into-c', { namespaceMapping: { pelican: 'pelican-c' }, existingResourcePolicy: 'update' });
    assert.equal(updating.status?.warnings, 0);
    assert.deepEqual(sim.objects.workloads.get('v1', 'Service', 'pelican-c', 'pelican')?.metadata.labels, { kept: 'yes', 'velero.io/backup-name': 'listed', 'velero.io/restore-name': 'into-c' });
    const served = await kube.objectExists('apps/v1', 'Deployment', 'pelican-c', 'pelican');
    assert.deepEqual([served, await kube.objectExists('apps/v1', 'Deployment', 'pelican-d', 'pelican'), await kube.objectExists('v1', 'Namespace', undefined, 'pelican-c'), await kube.objectExists('example.com/v1', 'Widget', 'pelican-c', 'w')], [true, false, true, undefined]);
  });
});
