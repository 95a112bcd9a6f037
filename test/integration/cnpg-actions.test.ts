import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { CnpgBackupResult } from '../../src/actions/cnpg/backup';
import type { CnpgBackupsListResult } from '../../src/actions/cnpg/backups';
import { cnpgRestore, type CnpgRestoreResult } from '../../src/actions/cnpg/restore';
import { CUSTOM_RESOURCES, type KubeObject } from '../../src/clients/kube';
import type { ProgressUpdate } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { addCnpgCluster, IN_TREE_BACKUP, planCnpgAction, PLUGIN_BACKUP, renderCnpgResult, runCnpgAction, SNAPSHOT_BACKUP, startCnpgCluster, type SimulatedCnpg } from '../support/cnpgLab';
import { veleroWorkspace } from '../support/veleroLab';

describe('CloudNativePG actions against the Kubernetes simulator', function () {
  this.timeout(30_000);
  let prod: SimulatedCnpg;
  let bare: SimulatedCnpg;
  let workspace: Awaited<ReturnType<typeof veleroWorkspace>>;

  const run = <Result>(id: string, params: Record<string, unknown>, overrides = {}) => runCnpgAction<Result>(id, { cluster: 'prod', namespace: 'db', ...params }, workspace.context(overrides));
  const plan = (id: string, params: Record<string, unknown>) => planCnpgAction(id, { cluster: 'prod', namespace: 'db', ...params }, workspace.context());
  const backupObject = (name: string) => prod.kube.getObject(CUSTOM_RESOURCES.cnpgBackup, 'db', name);

  before(async () => {
    // Steps longer than the 250 ms polling, so every phase is seen.
    prod = await startCnpgCluster(300);
    bare = await startCnpgCluster(30);
    bare.sim.objects.uninstalledGroups.add('postgresql.cnpg.io');
    workspace = await veleroWorkspace({ prod: prod.kubeconfig, bare: bare.kubeconfig });
    await addCnpgCluster(prod.kube, 'db', 'pg-plugin', PLUGIN_BACKUP);
    await addCnpgCluster(prod.kube, 'db', 'pg-legacy', IN_TREE_BACKUP);
    await addCnpgCluster(prod.kube, 'db', 'pg-snap', SNAPSHOT_BACKUP);
    await addCnpgCluster(prod.kube, 'db', 'pg-none', {});
  });

  after(async () => {
    await prod?.sim.stop();
    await bare?.sim.stop();
    await workspace?.remove();
  });

  it("backs up with the Barman Cloud plugin a Cluster is configured with, named as kubectl cnpg names it, and waits for completed", async () => {
    const planned = await plan('cnpg.backup', { clusterName: 'pg-plugin' });
    assert.match(planned.operations[0]?.detail ?? '', /method plugin \(barman-cloud\.cloudnative-pg\.io\), as the Cluster is configured/);
    const updates: ProgressUpdate[] = [];
    const result = await run<CnpgBackupResult>('cnpg.backup', { clusterName: 'pg-plugin' }, { progress: { report: (update: ProgressUpdate) => updates.push(update) } });
    assert.match(result.backup.name, /^pg-plugin-\d{14}$/);
    assert.equal(result.backup.phase, 'completed');
    assert.equal(result.backup.method, 'plugin');
    assert.deepEqual(result.phases.filter((phase) => ['started', 'running', 'completed'].includes(phase)), ['started', 'running', 'completed']);
    const object = await backupObject(result.backup.name);
    assert.deepEqual(object.spec, { cluster: { name: 'pg-plugin' }, method: 'plugin', pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io', parameters: { barmanObjectName: 'minio-store' } } });
    assert.ok(updates.some((update) => /backup pg-plugin-\d+: running/.test(update.message ?? '')));
    assert.match(renderCnpgResult('cnpg.backup', result), /: completed, method plugin\.\n\n- Phases: .*started → running → completed/);
  });

  it('backs up an in-tree Barman Cluster with barmanObjectStore, saying it is deprecated, and a snapshot Cluster with volumeSnapshot', async () => {
    const planned = await plan('cnpg.backup', { clusterName: 'pg-legacy', name: 'legacy-now' });
    assert.match(planned.operations[0]?.detail ?? '', /method barmanObjectStore, as the Cluster is configured; the in-tree barmanObjectStore method is deprecated since CloudNativePG 1.26 in favour of the Barman Cloud plugin/);
    const legacy = await run<CnpgBackupResult>('cnpg.backup', { clusterName: 'pg-legacy', name: 'legacy-now' });
    assert.equal((await backupObject('legacy-now')).spec?.method, 'barmanObjectStore');
    assert.match(renderCnpgResult('cnpg.backup', legacy), /Note: the in-tree barmanObjectStore method is deprecated/);
    const snapshot = await run<CnpgBackupResult>('cnpg.backup', { clusterName: 'pg-snap', name: 'snap-now' });
    assert.ok(snapshot.phases.includes('finalizing'), `phases: ${snapshot.phases.join(', ')}`);
    assert.equal(snapshot.backup.method, 'volumeSnapshot');
  });

  it("fails with the Backup's error when it fails, and refuses a Cluster with no backup configured", async () => {
    prod.sim.objects.outcomes.set('plugin-broken', 'Failed');
    await assert.rejects(run('cnpg.backup', { clusterName: 'pg-plugin', name: 'plugin-broken' }), /CloudNativePG Backup plugin-broken of Cluster pg-plugin in cluster prod ended failed: simulated failure: barman-cloud-backup exited with status 1/);
    await assert.rejects(run('cnpg.backup', { clusterName: 'pg-none' }), /CloudNativePG Cluster pg-none in namespace db of cluster prod has no backup configured/);
  });

  it('stops waiting for a Backup when cancelled, says it keeps running and deletes nothing; a timeout says the same', async () => {
    prod.sim.objects.outcomes.set('plugin-stuck', 'Stuck');
    const cancel = new AbortController();
    const progress = { report: (update: ProgressUpdate) => /running/.test(update.message ?? '') && cancel.abort() };
    await assert.rejects(run('cnpg.backup', { clusterName: 'pg-plugin', name: 'plugin-stuck' }, { signal: cancel.signal, progress }), (error: unknown) => {
      assert.ok(error instanceof CancelledError);
      assert.match(error.message, /Stopped waiting: CloudNativePG Backup plugin-stuck keeps running in namespace db of cluster prod \(phase running\); nothing was deleted/);
      return true;
    });
    assert.equal((await backupObject('plugin-stuck')).status?.phase, 'running');
    prod.sim.objects.outcomes.set('plugin-slow', 'Stuck');
    await assert.rejects(run('cnpg.backup', { clusterName: 'pg-plugin', name: 'plugin-slow', timeoutMinutes: 0.01 }), /CloudNativePG did not finish within .*Backup plugin-slow keeps running/);
  });

  it("lists a Cluster's Backups newest first with phase, method, times and backup id, and only that Cluster's", async () => {
    const result = await run<CnpgBackupsListResult>('cnpg.backups.list', { clusterName: 'pg-plugin' });
    assert.ok(result.backups.length >= 3);
    assert.ok(result.backups.every((backup) => backup.cluster === 'pg-plugin'));
    const starts = result.backups.map((backup) => backup.started ?? '');
    assert.deepEqual(starts, [...starts].sort().reverse());
    const completed = result.backups.find((backup) => backup.phase === 'completed');
    assert.ok(completed?.backupId && completed.stopped && completed.method === 'plugin');
    const rendered = renderCnpgResult('cnpg.backups.list', result);
    assert.match(rendered, /Backups of CloudNativePG Cluster db\/pg-plugin in cluster prod:/);
    assert.match(rendered, /plugin-broken \| failed: simulated failure/);
    assert.equal(renderCnpgResult('cnpg.backups.list', await run<CnpgBackupsListResult>('cnpg.backups.list', { clusterName: 'pg-none' })), 'No Backups of CloudNativePG Cluster db/pg-none in cluster prod.');
  });

  const restoreSpec = (result: CnpgRestoreResult) => (parse(result.manifest) as KubeObject).spec as Record<string, unknown>;

  it('writes a recovery Cluster from a Backup to a GitOps file, copying the original shape, with and without a recovery target', async () => {
    await run('cnpg.backup', { clusterName: 'pg-plugin', name: 'plugin-good' });
    const planned = await plan('cnpg.restore', { newClusterName: 'pg-restored', backup: 'plugin-good', file: 'clusters/prod/db/pg-restored.yaml' });
    assert.match(planned.operations[0]?.detail ?? '', /manifest:\n.*bootstrap:\n\s+recovery:\n\s+backup:\n\s+name: plugin-good/s);
    assert.equal(planned.destructive, false);
    const result = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-restored', backup: 'plugin-good', file: 'clusters/prod/db/pg-restored.yaml' });
    assert.equal(result.file, join('clusters', 'prod', 'db', 'pg-restored.yaml'));
    const written = parse(await readFile(join(workspace.dir, 'clusters/prod/db/pg-restored.yaml'), 'utf8')) as KubeObject;
    assert.deepEqual(written, {
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { name: 'pg-restored', namespace: 'db' },
      spec: { instances: 3, imageName: 'ghcr.io/cloudnative-pg/postgresql:17.5', storage: { size: '20Gi', storageClass: 'longhorn' }, bootstrap: { recovery: { backup: { name: 'plugin-good' } } } },
    });
    const targeted = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-at-lsn', backup: 'plugin-good', recoveryTarget: { targetLSN: '0/5000060', exclusive: true }, file: 'pg-at-lsn.yaml' });
    assert.deepEqual(restoreSpec(targeted).bootstrap, { recovery: { backup: { name: 'plugin-good' }, recoveryTarget: { targetLSN: '0/5000060', exclusive: true } } });
  });

  it('writes a recovery Cluster from a Barman Cloud plugin object store and from a volume snapshot, with and without a target', async () => {
    const store = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-from-store', objectStore: 'minio-store', serverName: 'pg-plugin', file: 'store.yaml' });
    assert.deepEqual(restoreSpec(store).bootstrap, { recovery: { source: 'pg-plugin-origin' } });
    assert.deepEqual(restoreSpec(store).externalClusters, [{ name: 'pg-plugin-origin', plugin: { name: 'barman-cloud.cloudnative-pg.io', parameters: { barmanObjectName: 'minio-store', serverName: 'pg-plugin' } } }]);
    assert.equal(restoreSpec(store).instances, 3);
    const storeAt = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-store-at', objectStore: 'minio-store', serverName: 'gone', recoveryTarget: { targetTime: '2026-07-01 02:00:00.00000+00' }, instances: 2, file: 'store-at.yaml' });
    assert.deepEqual(restoreSpec(storeAt).bootstrap, { recovery: { source: 'gone-origin', recoveryTarget: { targetTime: '2026-07-01 02:00:00.00000+00' } } });
    assert.deepEqual([restoreSpec(storeAt).instances, restoreSpec(storeAt).storage], [2, { size: '1Gi' }]);
    const snapshot = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-from-snap', volumeSnapshot: 'snap-now', file: 'snap.yaml' });
    assert.deepEqual(restoreSpec(snapshot).bootstrap, { recovery: { volumeSnapshots: { storage: { name: 'snap-now', kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' } } } });
    assert.deepEqual([restoreSpec(snapshot).instances, restoreSpec(snapshot).storage], [1, { size: '1Gi' }]);
    const snapshotNow = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-snap-now', volumeSnapshot: 'snap-now', sourceCluster: 'pg-snap', recoveryTarget: { targetImmediate: true }, file: 'snap-now.yaml' });
    assert.deepEqual([restoreSpec(snapshotNow).instances, restoreSpec(snapshotNow).storage], [3, { size: '20Gi', storageClass: 'longhorn' }]);
    assert.deepEqual(restoreSpec(snapshotNow).bootstrap, { recovery: { volumeSnapshots: { storage: { name: 'snap-now', kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' } }, recoveryTarget: { targetImmediate: true } } });
  });

  it('refuses to overwrite a GitOps file, and to write outside the workspace', async () => {
    await mkdir(join(workspace.dir, 'kept'), { recursive: true });
    await writeFile(join(workspace.dir, 'kept/pg.yaml'), '# mine\n');
    await assert.rejects(run('cnpg.restore', { newClusterName: 'pg-x', backup: 'plugin-good', file: 'kept/pg.yaml' }), /kept\/pg\.yaml already exists; refusing to overwrite it/);
    assert.equal(await readFile(join(workspace.dir, 'kept/pg.yaml'), 'utf8'), '# mine\n');
    await assert.rejects(run('cnpg.restore', { newClusterName: 'pg-x', backup: 'plugin-good', file: '../outside.yaml' }), /`file`: \.\.\/outside\.yaml is outside the workspace/);
  });

  it('applies a recovery Cluster, refuses to replace an existing Cluster unless forced, and plans the replacement as destructive', async () => {
    const applied = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-applied', backup: 'plugin-good' });
    assert.deepEqual([applied.applied, applied.replaced, applied.file], [true, false, undefined]);
    const object = await prod.kube.getObject(CUSTOM_RESOURCES.cnpgCluster, 'db', 'pg-applied');
    assert.deepEqual((object.spec?.bootstrap as Record<string, unknown>).recovery, { backup: { name: 'plugin-good' } });
    await assert.rejects(run('cnpg.restore', { newClusterName: 'pg-plugin', backup: 'plugin-good' }), /CloudNativePG Cluster pg-plugin already exists in namespace db of cluster prod; a restore makes a new Cluster/);
    assert.equal((await prod.kube.getObject(CUSTOM_RESOURCES.cnpgCluster, 'db', 'pg-plugin')).spec?.bootstrap, undefined);
    const planned = await plan('cnpg.restore', { newClusterName: 'pg-applied', backup: 'plugin-good', force: true });
    assert.deepEqual([planned.destructive, planned.operations[0]?.kind], [true, 'overwrite']);
    const replaced = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-applied', backup: 'plugin-good', recoveryTarget: { targetName: 'before-migration' }, force: true });
    assert.equal(replaced.replaced, true);
    const now = await prod.kube.getObject(CUSTOM_RESOURCES.cnpgCluster, 'db', 'pg-applied');
    assert.deepEqual((now.spec?.bootstrap as Record<string, unknown>).recovery, { backup: { name: 'plugin-good' }, recoveryTarget: { targetName: 'before-migration' } });
  });

  it("recovers from the newest completed Backup of a Cluster with backup: latest, written for GitOps and applied in one step", async () => {
    const planned = await plan('cnpg.restore', { newClusterName: 'pg-latest', backup: 'latest', sourceCluster: 'pg-plugin', file: 'latest.yaml', apply: true });
    assert.deepEqual(planned.operations.map((operation) => [operation.kind, operation.target]), [['create', 'file latest.yaml'], ['create', 'Cluster db/pg-latest in cluster prod']]);
    const newest = (await run<CnpgBackupsListResult>('cnpg.backups.list', { clusterName: 'pg-plugin' })).backups.find((backup) => backup.phase === 'completed');
    assert.match(planned.summary, new RegExp(`from Backup ${newest?.name ?? '?'}$`));
    const result = await run<CnpgRestoreResult>('cnpg.restore', { newClusterName: 'pg-latest', backup: 'latest', sourceCluster: 'pg-plugin', file: 'latest.yaml', apply: true });
    assert.deepEqual([result.backup, result.file, result.applied], [newest?.name, 'latest.yaml', true]);
    const applied = await prod.kube.getObject(CUSTOM_RESOURCES.cnpgCluster, 'db', 'pg-latest');
    assert.deepEqual(applied.spec, (parse(await readFile(join(workspace.dir, 'latest.yaml'), 'utf8')) as KubeObject).spec);
    await assert.rejects(run('cnpg.restore', { newClusterName: 'pg-l2', backup: 'latest', sourceCluster: 'pg-none', file: 'l2.yaml' }), /`backup`: CloudNativePG Cluster pg-none in namespace db of cluster prod has no completed Backup to recover from/);
  });

  it('refuses a Backup that is not completed, and bad sources and targets naming the field', async () => {
    await assert.rejects(run('cnpg.restore', { newClusterName: 'pg-y', backup: 'plugin-broken', file: 'y.yaml' }), /`backup`: CloudNativePG Backup plugin-broken in namespace db of cluster prod is failed, not completed/);
    const issues = (params: Record<string, unknown>) => (cnpgRestore.params.safeParse({ cluster: 'prod', namespace: 'db', ...params }).error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`).join(' | ');
    assert.match(issues({ newClusterName: 'pg-y' }), /^backup: give exactly one source/);
    assert.match(issues({ newClusterName: 'pg-y', backup: 'a', volumeSnapshot: 'b' }), /^backup: give exactly one source/);
    assert.match(issues({ newClusterName: 'pg-y', objectStore: 'minio-store' }), /serverName: `objectStore` needs/);
    assert.match(issues({ newClusterName: 'pg-y', backup: 'a', recoveryTarget: { targetTime: 'x', targetLSN: '0/1' } }), /recoveryTarget: give exactly one of targetTime/);
    assert.match(issues({ newClusterName: 'pg-y', backup: 'a', recoveryTarget: { targetLSN: '0/1; drop' } }), /recoveryTarget.targetLSN: an LSN/);
    assert.match(issues({ newClusterName: 'Pg_Y', backup: 'a' }), /^newClusterName: a Kubernetes object name/);
    assert.match(issues({ newClusterName: 'pg-y', backup: 'a', file: 'f.yaml', force: true }), /^force: `force` is for applying/);
    assert.match(issues({ newClusterName: 'pg-y', backup: 'latest' }), /^sourceCluster: `backup: latest` needs the `sourceCluster`/);
    assert.match(issues({ newClusterName: 'pg-y', backup: 'a', apply: false }), /^apply: give a `file` to write, or apply the Cluster/);
  });

  it('names unknown clusters, namespaces, Clusters and Backups, and says when CloudNativePG is not installed', async () => {
    await assert.rejects(run('cnpg.backups.list', { cluster: 'nowhere', clusterName: 'pg-plugin' }), /`cluster` names 'nowhere', which is not under `clusters:`; lifeboat.yaml names 'prod', 'bare'/);
    await assert.rejects(run('cnpg.backups.list', { clusterName: 'pg-missing' }), /no CloudNativePG Cluster 'pg-missing' in namespace db of cluster prod; there are: pg-applied, pg-latest, pg-legacy, pg-none, pg-plugin, pg-snap/);
    await assert.rejects(run('cnpg.backups.list', { namespace: 'other', clusterName: 'pg-plugin' }), /no CloudNativePG Cluster 'pg-plugin' in namespace other of cluster prod; there is none/);
    await assert.rejects(run('cnpg.restore', { newClusterName: 'pg-z', backup: 'no-such', file: 'z.yaml' }), /no CloudNativePG Backup 'no-such' in namespace db of cluster prod; there are: /);
    for (const [id, params] of [['cnpg.backups.list', { clusterName: 'pg' }], ['cnpg.backup', { clusterName: 'pg' }], ['cnpg.restore', { newClusterName: 'pg', backup: 'b', file: 'b.yaml' }]] as const) {
      await assert.rejects(run(id, { cluster: 'bare', ...params }), (error: unknown) => {
        assert.equal((error as Error).message, 'CloudNativePG is not installed in cluster bare (no postgresql.cnpg.io/v1 Cluster resource)');
        return true;
      });
    }
  });
});

