import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { veleroChangeActions } from '../../src/actions/velero/changeActions';
import type { BackupDeleteResult } from '../../src/actions/velero/delete';
import type { RestoreCreateResult } from '../../src/actions/velero/restore';
import type { RestoresListResult } from '../../src/actions/velero/restores';
import { CUSTOM_RESOURCES, KubeClient, type KubeObject } from '../../src/clients/kube';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, ActionPlan, ProgressUpdate } from '../../src/core/actions/spec';
import { KubeApiSimulator } from '../testbed/kubeSim';

const SCHEDULE_LABEL = 'velero.io/schedule-name';

describe('Velero restores and deletions against the Kubernetes simulator', function () {
  this.timeout(30_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;
  let kubeconfig: string;
  let workspace: string;

  const context = (overrides: Partial<ActionContext> = {}): ActionContext =>
    createActionContext({ workspaceDir: workspace, inventory: { clusters: { prod: { kubeconfig } } }, ...overrides });

  const action = (id: string) => {
    const found = veleroChangeActions.find((candidate) => candidate.id === id);
    assert.ok(found, `${id} is registered`);
    return found;
  };
  async function run<Result>(id: string, params: Record<string, unknown>, ctx = context()): Promise<Result> {
    try {
      return (await action(id).run(action(id).params.parse(params), ctx)) as Result;
    } finally {
      await ctx.clients.disposeAll();
    }
  }
  async function plan(id: string, params: Record<string, unknown>): Promise<ActionPlan> {
    const ctx = context();
    try {
      return await action(id).plan(action(id).params.parse(params), ctx);
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  /** A backup the way Velero makes one, waited for until it is Completed (or the outcome asked for). */
  async function backup(name: string, namespaces: string[], schedule?: string): Promise<KubeObject> {
    await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', {
      apiVersion: 'velero.io/v1',
      kind: 'Backup',
      metadata: { name, ...(schedule ? { labels: { [SCHEDULE_LABEL]: schedule } } : {}) },
      spec: { includedNamespaces: namespaces, storageLocation: 'default', ttl: '720h0m0s' },
    });
    return kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', name, { isDone: (object) => ['Completed', 'PartiallyFailed', 'Failed'].includes(String(object.status?.phase)), intervalMs: 20, timeoutMs: 10_000 });
  }

  const backupNames = async () => (await kube.listObjects(CUSTOM_RESOURCES.veleroBackup, 'velero')).map((object) => object.metadata.name).sort();

  before(async () => {
    sim = await KubeApiSimulator.start({ controllerStepMs: 10 });
    kubeconfig = await sim.writeKubeconfig();
    kube = await KubeClient.connect({ kubeconfig });
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-velero-restore-'));
    await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', {
      apiVersion: 'velero.io/v1',
      kind: 'BackupStorageLocation',
      metadata: { name: 'default' },
      spec: { provider: 'aws', objectStorage: { bucket: 'velero' }, default: true },
    });
    await kube.createObject(CUSTOM_RESOURCES.veleroSchedule, 'velero', { apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: 'shop-daily' }, spec: { schedule: '0 2 * * *', template: { includedNamespaces: ['shop'] } } });
    await backup('shop-daily-20261203020000', ['shop'], 'shop-daily');
    await backup('shop-daily-20261204020000', ['shop'], 'shop-daily');
    await backup('shop-daily-20261205020000', ['shop'], 'shop-daily');
    await backup('pelican-manual', ['pelican', 'shop']);
  });

  after(async () => {
    await sim?.stop();
    await rm(workspace, { recursive: true, force: true });
  });

  describe('velero.backup.delete', () => {
    it('refuses the newest Completed backup of a schedule, in the plan and the run, and leaves it there', async () => {
      const params = { cluster: 'prod', backup: 'shop-daily-20261205020000' };
      await assert.rejects(plan('velero.backup.delete', params), /refusing to delete 'shop-daily-20261205020000': it is the newest Completed backup of Schedule 'shop-daily'.*force: true/);
      await assert.rejects(run('velero.backup.delete', params), /newest Completed backup of Schedule 'shop-daily'/);
      assert.ok((await backupNames()).includes('shop-daily-20261205020000'));
      const requests = await kube.listObjects({ group: 'velero.io', version: 'v1', plural: 'deletebackuprequests', kind: 'DeleteBackupRequest' }, 'velero');
      assert.equal(requests.length, 0, 'nothing was asked of Velero');
    });

    it('deletes an older backup of the schedule through a DeleteBackupRequest as `velero backup delete` makes it', async () => {
      const planned = await plan('velero.backup.delete', { cluster: 'prod', backup: 'shop-daily-20261203020000' });
      assert.equal(planned.destructive, true);
      assert.match(planned.operations[0]?.detail ?? '', /phase Completed, expires /);
      const result = await run<BackupDeleteResult>('velero.backup.delete', { cluster: 'prod', backup: 'shop-daily-20261203020000' });
      assert.ok(!(await backupNames()).includes('shop-daily-20261203020000'));
      const request = await kube.getObject({ group: 'velero.io', version: 'v1', plural: 'deletebackuprequests', kind: 'DeleteBackupRequest' }, 'velero', result.request);
      assert.match(request.metadata.name, /^shop-daily-20261203020000-/, 'generateName is the backup name and a dash');
      assert.equal(request.metadata.labels?.['velero.io/backup-name'], 'shop-daily-20261203020000');
      assert.match(request.metadata.labels?.['velero.io/backup-uid'] ?? '', /^[0-9a-f-]{36}$/);
      assert.deepEqual(request.spec, { backupName: 'shop-daily-20261203020000' });
      assert.equal(request.status?.phase, 'Processed');
    });

    it('deletes the newest of a schedule when forced, and says so', async () => {
      await backup('shop-daily-20261206020000', ['shop'], 'shop-daily');
      const planned = await plan('velero.backup.delete', { cluster: 'prod', backup: 'shop-daily-20261206020000', force: true });
      assert.match(planned.operations[0]?.detail ?? '', /the newest Completed backup of Schedule 'shop-daily' \(forced\)/);
      const result = await run<BackupDeleteResult>('velero.backup.delete', { cluster: 'prod', backup: 'shop-daily-20261206020000', force: true });
      assert.equal(result.newestOf, 'shop-daily');
      assert.ok(!(await backupNames()).includes('shop-daily-20261206020000'));
      assert.match(action('velero.backup.delete').render(result), /newest Completed backup of Schedule 'shop-daily'/);
    });

    it("fails with Velero's errors when the request is processed without deleting", async () => {
      await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', {
        apiVersion: 'velero.io/v1',
        kind: 'BackupStorageLocation',
        metadata: { name: 'archive' },
        spec: { provider: 'aws', objectStorage: { bucket: 'archive' }, accessMode: 'ReadOnly' },
      });
      await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: 'kept-read-only' }, spec: { includedNamespaces: ['shop'], storageLocation: 'archive' } });
      await kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'kept-read-only', { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 20, timeoutMs: 10_000 });
      await assert.rejects(run('velero.backup.delete', { cluster: 'prod', backup: 'kept-read-only' }), /Velero could not delete backup 'kept-read-only'.*backup storage location archive is currently in read-only mode/);
      assert.ok((await backupNames()).includes('kept-read-only'));
    });
  });

  describe('velero.restore.create', () => {
    it('plans from the backup\'s resource list per kind, with the namespace mapping, and restores with progress', async () => {
      const params = { cluster: 'prod', backup: 'pelican-manual', includeNamespaces: ['pelican'], namespaceMapping: { pelican: 'pelican-copy' }, name: 'pelican-copy-restore' };
      sim.objects.workloads.add('v1', 'ConfigMap', 'pelican-copy', 'pelican-config', { owner: 'someone' });
      const planned = await plan('velero.restore.create', params);
      assert.match(planned.summary, /Restore backup 'pelican-manual' into pelican → pelican-copy on cluster 'prod' with volume data/);
      const byKind = Object.fromEntries(planned.operations.map((operation) => [operation.target, operation]));
      assert.deepEqual(Object.keys(byKind).sort(), ['apps/v1/Deployment', 'v1/ConfigMap', 'v1/Namespace', 'v1/PersistentVolumeClaim', 'v1/Service']);
      assert.equal(byKind['apps/v1/Deployment']?.items, 1, 'the shop namespace of the backup is not restored');
      assert.equal(byKind['v1/ConfigMap']?.detail, 'pelican-copy/pelican-config (from pelican); already there: pelican-copy/pelican-config (from pelican) (skipped: left as they are)');
      assert.equal(byKind['v1/Namespace']?.detail, 'pelican-copy (from pelican); already there: pelican-copy (from pelican) (skipped: left as they are)');
      assert.equal(byKind['apps/v1/Deployment']?.detail, 'pelican-copy/pelican (from pelican); none there yet');
      assert.equal(byKind['apps/v1/Deployment']?.kind, 'create');
      assert.equal(planned.destructive, false, 'existing objects are skipped: nothing existing changes');
      const updating = await plan('velero.restore.create', { ...params, existingResourcePolicy: 'update' });
      assert.equal(updating.destructive, true);
      assert.equal(updating.operations.find((operation) => operation.target === 'v1/ConfigMap')?.kind, 'overwrite');
      assert.match(updating.operations.find((operation) => operation.target === 'v1/ConfigMap')?.detail ?? '', /\(updated\)$/);

      const updates: ProgressUpdate[] = [];
      const result = await run<RestoreCreateResult>('velero.restore.create', params, context({ progress: { report: (update) => updates.push(update) } }));
      const messages = { warnings: ['cluster: could not restore, Namespace "pelican-copy" already exists. Warning: the in-cluster version is different than the backed-up version', 'namespace pelican-copy: could not restore, ConfigMap "pelican-config" already exists. Warning: the in-cluster version is different than the backed-up version'], errors: [] };
      assert.deepEqual({ ...result }, { cluster: 'prod', restore: 'pelican-copy-restore', backup: 'pelican-manual', phase: 'Completed', namespaces: ['pelican-copy'], itemsRestored: 42, totalItems: 42, warnings: 2, errors: 0, messages });
      assert.match(action('velero.restore.create').render(result), /\*\*Warnings\*\*\n\n- cluster: could not restore, Namespace "pelican\\-copy" already exists\\. /);
      assert.deepEqual(sim.objects.workloads.get('apps/v1', 'Deployment', 'pelican-copy', 'pelican')?.metadata.labels, { 'velero.io/backup-name': 'pelican-manual', 'velero.io/restore-name': 'pelican-copy-restore' });
      assert.deepEqual(sim.objects.workloads.get('v1', 'ConfigMap', 'pelican-copy', 'pelican-config')?.metadata.labels, { owner: 'someone' }, 'left as it was');
      assert.equal(sim.objects.workloads.get('apps/v1', 'Deployment', 'pelican', 'pelican'), undefined, 'nothing lands in the namespace mapped away from');
      assert.ok(updates.some((update) => update.totalItems === 42), 'progress counts items');
      const restore = await kube.getObject(CUSTOM_RESOURCES.veleroRestore, 'velero', 'pelican-copy-restore');
      assert.deepEqual(restore.spec, { backupName: 'pelican-manual', includedNamespaces: ['pelican'], namespaceMapping: { pelican: 'pelican-copy' }, restorePVs: true, existingResourcePolicy: 'none' });
    });

    it('restores the newest Completed backup of a schedule', async () => {
      const result = await run<RestoreCreateResult>('velero.restore.create', { cluster: 'prod', fromSchedule: 'shop-daily', restorePVs: false });
      assert.equal(result.backup, 'shop-daily-20261205020000');
      assert.match(result.restore, /^shop-daily-\d{14}$/, 'named as `velero restore create --from-schedule` names it');
      const restore = await kube.getObject(CUSTOM_RESOURCES.veleroRestore, 'velero', result.restore);
      assert.equal(restore.spec?.restorePVs, false);
    });

    it('takes `backup: latest` as the newest Completed backup holding the namespaces restored', async () => {
      const planned = await plan('velero.restore.create', { cluster: 'prod', backup: 'latest', includeNamespaces: ['pelican'] });
      assert.match(planned.summary, /^Restore backup 'pelican-manual' into pelican /);
      await assert.rejects(plan('velero.restore.create', { cluster: 'prod', backup: 'latest', includeNamespaces: ['immich'] }), /`backup`: there is no Completed backup holding immich in namespace velero of cluster prod/);
    });

    it('fails the step with the reasons of a PartiallyFailed restore', async () => {
      sim.objects.outcomes.set('shop-partial', 'PartiallyFailed');
      await assert.rejects(run('velero.restore.create', { cluster: 'prod', backup: 'shop-daily-20261205020000', name: 'shop-partial' }), (error: Error) => {
        // Velero's 3 warnings, and one for each of the 5 objects an earlier restore of shop left there, read from the restore's results.
        const skipped = (kind: string, name: string, scope = 'namespace shop') => `- ${scope}: could not restore, ${kind} "${name}" already exists. Warning: the in-cluster version is different than the backed-up version`;
        assert.equal(
          error.message,
          [
            "Velero restore 'shop-partial' ended PartiallyFailed: 1 error(s), 8 warning(s) (see `velero restore describe shop-partial --details`)",
            'Errors:',
            '- namespace shop: error restoring persistentvolumeclaims/shop/shop-data: simulated failure',
            'Warnings:',
            '- velero: simulated warning 1',
            '- velero: simulated warning 2',
            '- velero: simulated warning 3',
            skipped('Namespace', 'shop', 'cluster'),
            skipped('Deployment', 'shop'),
            skipped('Service', 'shop'),
            skipped('ConfigMap', 'shop-config'),
            skipped('PersistentVolumeClaim', 'shop-data'),
          ].join('\n'),
        );
        return true;
      });
      const listed = await run<RestoresListResult>('velero.restores.list', { cluster: 'prod', phase: 'PartiallyFailed' });
      assert.deepEqual(listed.restores.map((restore) => [restore.name, restore.backup, restore.warnings, restore.errors]), [['shop-partial', 'shop-daily-20261205020000', 8, 1]]);
    });

    it('stops waiting when cancelled, saying the restore keeps running in Velero', async () => {
      const slow = await KubeApiSimulator.start({ controllerStepMs: 500 });
      const slowKube = await KubeClient.connect({ kubeconfig: await slow.writeKubeconfig({ file: join(slow.dir, 'slow') }) });
      try {
        await slowKube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name: 'default' }, spec: { provider: 'aws', objectStorage: { bucket: 'velero' } } });
        await slowKube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: 'slow' }, spec: { includedNamespaces: ['shop'], storageLocation: 'default' } });
        await slowKube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'slow', { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 100, timeoutMs: 20_000 });
        const cancel = new AbortController();
        const ctx = createActionContext({
          workspaceDir: workspace,
          inventory: { clusters: { slow: { kubeconfig: join(slow.dir, 'slow') } } },
          signal: cancel.signal,
          progress: { report: (update) => (/^Restore slow-restore/.test(update.message ?? '') ? cancel.abort() : undefined) },
        });
        await assert.rejects(run('velero.restore.create', { cluster: 'slow', backup: 'slow', name: 'slow-restore' }, ctx), (error: Error) => {
          assert.equal(error.name, 'CancelledError');
          assert.match(error.message, /Velero restore 'slow-restore' keeps running in namespace velero of cluster slow/);
          return true;
        });
        const restore = await slowKube.waitForObject(CUSTOM_RESOURCES.veleroRestore, 'velero', 'slow-restore', { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 100, timeoutMs: 20_000 });
        assert.equal(restore.status?.phase, 'Completed', 'Velero finished it after the wait was cancelled');
      } finally {
        await slow.stop();
      }
    });

    it('is refused while a Kustomization that is not suspended manages a target namespace, and allowed once it is suspended', async () => {
      const ks = CUSTOM_RESOURCES.fluxKustomization;
      await kube.createObject(ks, 'flux-system', {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'shop' },
        spec: { interval: '10m', path: './apps/shop', prune: true, targetNamespace: 'shop', sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
      });
      const before = (await kube.listObjects(CUSTOM_RESOURCES.veleroRestore, 'velero')).length;
      const params = { cluster: 'prod', backup: 'shop-daily-20261205020000', name: 'shop-while-flux' };
      const planned = await plan('velero.restore.create', params);
      assert.match(planned.operations[0]?.detail ?? '', /^refusing to restore into namespace shop on cluster prod: Flux Kustomization flux-system\/shop \(spec.targetNamespace\) manages it and is not suspended.*\(unless a step before this one suspends it\)$/);
      await assert.rejects(run('velero.restore.create', params), /^Error: refusing to restore into namespace shop on cluster prod: Flux Kustomization flux-system\/shop \(spec.targetNamespace\) manages it and is not suspended/);
      assert.equal((await kube.listObjects(CUSTOM_RESOURCES.veleroRestore, 'velero')).length, before, 'no Restore was created');
      await kube.patchObject(ks, 'flux-system', 'shop', { spec: { suspend: true } });
      const result = await run<RestoreCreateResult>('velero.restore.create', params);
      assert.equal(result.phase, 'Completed');
    });

    it('says the resource list could not be read, naming the storage location\'s host, and still plans', async () => {
      await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', {
        apiVersion: 'velero.io/v1',
        kind: 'BackupStorageLocation',
        metadata: { name: 'in-cluster' },
        spec: { provider: 'aws', objectStorage: { bucket: 'velero' }, config: { s3Url: 'http://127.0.0.1:9/' } },
      });
      await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: 'unreachable' }, spec: { includedNamespaces: ['pelican'], storageLocation: 'in-cluster' } });
      await kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'unreachable', { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 20, timeoutMs: 10_000 });
      const planned = await plan('velero.restore.create', { cluster: 'prod', backup: 'unreachable' });
      assert.equal(planned.operations.length, 1);
      assert.match(planned.operations[0]?.detail ?? '', /what it holds could not be read: its storage location at 127\.0\.0\.1:9 is not reachable from here/);
      assert.match(planned.summary, /into pelican on cluster 'prod'/, 'the namespaces come from the backup\'s spec then');
    });
  });

  describe('bad input', () => {
    it("says the restore's messages could not be read, naming the storage location's host, and still reports the restore", async () => {
      const warned: string[] = [];
      const ctx = () => context({ log: { debug: () => {}, info: () => {}, warn: (message) => warned.push(message), error: () => {} } });
      await run<RestoreCreateResult>('velero.restore.create', { cluster: 'prod', backup: 'unreachable', name: 'unreachable-first' }, ctx());
      // The first restore left every object there: the second warns about each.
      const result = await run<RestoreCreateResult>('velero.restore.create', { cluster: 'prod', backup: 'unreachable', name: 'unreachable-again' }, ctx());
      assert.equal(result.phase, 'Completed');
      assert.equal(result.warnings, 5);
      assert.equal(result.messages, undefined);
      assert.match(result.messagesUnread ?? '', /^its storage location at 127\.0\.0\.1:9 is not reachable from here/);
      assert.match(warned.at(-1) ?? '', /^Velero restore 'unreachable-again' completed with 5 warning\(s\)\nVelero's messages could not be read: its storage location at 127\.0\.0\.1:9/);
    });

    it('names the clusters, backups, schedules and namespaces there are', async () => {
      await assert.rejects(plan('velero.restore.create', { cluster: 'staging', backup: 'pelican-manual' }), /`cluster` names 'staging', which is not under `clusters:`; lifeboat.yaml names 'prod'/);
      await assert.rejects(plan('velero.restore.create', { cluster: 'prod', backup: 'pelican-nope' }), /no Backup 'pelican-nope' in namespace velero of cluster prod; there are: .*pelican-manual/);
      await assert.rejects(plan('velero.restore.create', { cluster: 'prod', fromSchedule: 'nightly' }), /no Schedule 'nightly' in namespace velero of cluster prod; there are: shop-daily/);
      await assert.rejects(plan('velero.restore.create', { cluster: 'prod', backup: 'pelican-manual', includeNamespaces: ['immich'] }), /`includeNamespaces`: backup 'pelican-manual' holds no namespace immich; it holds pelican, shop/);
      await assert.rejects(plan('velero.backup.delete', { cluster: 'prod', backup: 'gone' }), /no Backup 'gone' in namespace velero of cluster prod/);
      assert.throws(() => action('velero.restore.create').params.parse({ cluster: 'prod' }), /give either `backup` or `fromSchedule`/);
      assert.throws(() => action('velero.restore.create').params.parse({ cluster: 'prod', backup: 'a', fromSchedule: 'b' }), /give either `backup` or `fromSchedule`/);
      assert.throws(() => action('velero.restore.create').params.parse({ cluster: 'prod', backup: 'a', existingResourcePolicy: 'replace' }), /existingResourcePolicy/);
    });

    it('says in one sentence that Velero is not installed', async () => {
      const bare = await KubeApiSimulator.start({ controllerStepMs: 10 });
      try {
        bare.objects.uninstalledGroups.add('velero.io');
        const ctx = () => createActionContext({ workspaceDir: workspace, inventory: { clusters: { bare: { kubeconfig: bare.dir + '/kubeconfig' } } } });
        await bare.writeKubeconfig();
        for (const [id, params] of [
          ['velero.restore.create', { cluster: 'bare', backup: 'x' }],
          ['velero.backup.delete', { cluster: 'bare', backup: 'x' }],
          ['velero.restores.list', { cluster: 'bare' }],
        ] as const) {
          await assert.rejects(run(id, params, ctx()), (error: Error) => {
            assert.equal(error.message, 'Velero is not installed in cluster bare (no velero.io/v1 Backup resource)');
            return true;
          });
        }
      } finally {
        await bare.stop();
      }
    });
  });
});
