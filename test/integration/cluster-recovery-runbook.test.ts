import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { CUSTOM_RESOURCES } from '../../src/clients/kube';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { makeBackup, startVeleroCluster, type SimulatedVelero } from '../support/veleroLab';

const RUNBOOK = 'cluster-full-recovery.runbook.md';
const APPS = ['pocket-id', 'n8n', 'immich'];

/** A rebuilt cluster: Velero and its object store running, a Flux Kustomization per application, and last night's backups in the location. */
async function rebuiltCluster(): Promise<SimulatedVelero> {
  const cluster = await startVeleroCluster(10);
  cluster.sim.objects.workloads.add('apps/v1', 'Deployment', 'seaweedfs', 'seaweedfs-master');
  cluster.sim.addPod({ namespace: 'seaweedfs', name: 'seaweedfs-master-0', containers: ['master'] });
  for (const app of APPS) {
    await cluster.kube.createObject(CUSTOM_RESOURCES.fluxKustomization, 'flux-system', {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: app },
      spec: { interval: '1h', path: `./kubernetes/apps/${app}`, prune: true, targetNamespace: app, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
    });
    await makeBackup(cluster.kube, `${app}-daily-20261205020000`, { includedNamespaces: [app], storageLocation: 'default', defaultVolumesToFsBackup: true }, { 'velero.io/schedule-name': `${app}-daily` });
  }
  return cluster;
}

describe('runbook cluster-full-recovery, end to end with the CLI against the Kubernetes simulator', function () {
  this.timeout(120_000);
  let prod: SimulatedVelero;
  let dr: SimulatedVelero;
  let workspace: string;

  const suspended = async (cluster: SimulatedVelero, app: string) => (await cluster.kube.getObject(CUSTOM_RESOURCES.fluxKustomization, 'flux-system', app)).spec?.suspend === true;
  const restoredApps = async (cluster: SimulatedVelero) => (await cluster.kube.listObjects(CUSTOM_RESOURCES.veleroRestore, 'velero')).map((restore) => String(restore.spec?.backupName).replace(/-daily-\d+$/, '')).sort();

  /** The steps of the workspace's last recorded run, in order, with how each ended. */
  async function lastRun(): Promise<string[]> {
    const records = await readRecords(workspace);
    return records.filter((record) => record.run === records.at(-1)?.run).map((record) => `${String(record.step)} ${String(record.status)}`);
  }

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    [prod, dr] = await Promise.all([rebuiltCluster(), rebuiltCluster()]);
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-recovery-runbook-'));
    await writeFile(join(workspace, 'lifeboat.yaml'), `clusters:\n  prod:\n    kubeconfig: ${prod.kubeconfig}\n  dr:\n    kubeconfig: ${dr.kubeconfig}\n`);
    // The workspace's copy of the shipped runbook: runs are recorded beside it, not in the repository.
    await writeFile(join(workspace, RUNBOOK), await readFile(join(REPO_ROOT, 'runbooks', RUNBOOK)));
  });

  after(async () => {
    await prod?.sim.stop();
    await dr?.sim.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it("is offered on each cluster's Velero node in the Backups tree, bound to that cluster", async () => {
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), join(workspace, 'lifeboat.yaml'));
    const ctx = createActionContext({ workspaceDir: workspace, inventory: { clusters: { prod: { kubeconfig: prod.kubeconfig } } } });
    try {
      const velero = (await model.children('clusters/prod', { limit: 10 }, ctx)).nodes.find((node) => node.kind === 'velero');
      assert.deepEqual(velero?.operations.find((operation) => operation.id === 'recover'), { kind: 'runbook', id: 'recover', label: "Recover the Cluster's Applications…", runbook: RUNBOOK, params: { cluster: 'prod' } });
    } finally {
      await ctx.clients.disposeAll();
    }
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[]; menus: Record<string, { command: string; when?: string }[]> } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === 'lifeboat.backups.recover')?.title, "Recover the Cluster's Applications…");
    assert.ok(manifest.contributes.menus['view/item/context']?.some((entry) => entry.command === 'lifeboat.backups.recover' && entry.when?.includes('op:recover(')));
  });

  it('plans every step in a dry run, touching nothing', async () => {
    const result = await lifeboat(['run', RUNBOOK, '--param', 'cluster=prod', '--dry-run'], { cwd: workspace });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    for (const app of APPS) assert.match(result.stdout, new RegExp(`Restore backup '${app}-daily-20261205020000' into ${app} on cluster 'prod' with volume data`));
    assert.match(result.stdout, /Check that everything in pocket-id on cluster 'prod' runs, waiting up to 10 min 0 s for them to become ready/);
    assert.match(result.stdout, /Check that everything in seaweedfs, pocket-id, n8n, immich on cluster 'prod' runs/);
    assert.deepEqual(await restoredApps(prod), []);
    assert.equal(await suspended(prod, 'pocket-id'), false);
  });

  it('restores the applications one after the other, each checked running before Flux takes it back, then checks them all', async () => {
    const result = await lifeboat(['run', RUNBOOK, '--param', 'cluster=prod', '--yes'], { cwd: workspace });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.deepEqual(await lastRun(), [
      'flux succeeded',
      'storage succeeded',
      'location succeeded',
      ...[1, 2, 3].flatMap((app) => [`suspend${app} succeeded`, `restore${app} succeeded`, `verify${app} succeeded`, `resume${app} succeeded`]),
      'fluxAfter succeeded',
      'everything succeeded',
    ]);
    assert.deepEqual(await restoredApps(prod), [...APPS].sort());
    for (const app of APPS) {
      assert.equal(await suspended(prod, app), false, `${app} is Flux's again`);
      assert.equal(prod.sim.objects.workloads.get('v1', 'PersistentVolumeClaim', app, `${app}-data`)?.metadata.labels?.['velero.io/backup-name' as keyof object], `${app}-daily-20261205020000`);
    }
    assert.match(result.stdout, /Everything in seaweedfs, pocket-id, n8n, immich on cluster 'prod' is ready\./);
  });

  it('stops at the first application that does not come back: its Flux stays suspended, the ones after it are not touched', async () => {
    // n8n's volume cannot be bound on the rebuilt cluster (a storage class that is not there yet).
    dr.sim.objects.workloads.heldBack.add('PersistentVolumeClaim n8n/n8n-data');
    const result = await lifeboat(['run', RUNBOOK, '--param', 'cluster=dr', '--param', 'waitMinutes=0.05', '--yes'], { cwd: workspace });
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stderr + result.stdout, /1 object not ready in namespace n8n on cluster 'dr' after waiting 3\.\d s:\n- PersistentVolumeClaim n8n\/n8n-data: Pending, not Bound/);
    assert.deepEqual(await lastRun(), ['flux succeeded', 'storage succeeded', 'location succeeded', 'suspend1 succeeded', 'restore1 succeeded', 'verify1 succeeded', 'resume1 succeeded', 'suspend2 succeeded', 'restore2 succeeded', 'verify2 failed']);
    assert.deepEqual(await restoredApps(dr), ['n8n', 'pocket-id']);
    assert.equal(await suspended(dr, 'pocket-id'), false);
    assert.equal(await suspended(dr, 'n8n'), true, 'n8n stays suspended until someone looks');
    assert.equal(await suspended(dr, 'immich'), false);
    assert.equal(dr.sim.objects.workloads.get('v1', 'Namespace', undefined, 'immich'), undefined, 'immich is not restored');
  });

  it('stops before any application when the backup storage does not run', async () => {
    const result = await lifeboat(['run', RUNBOOK, '--param', 'cluster=dr', '--param', 'storageNamespace=garage', '--param', 'waitMinutes=0', '--yes'], { cwd: workspace });
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stderr + result.stdout, /namespace garage does not exist/);
    assert.deepEqual(await lastRun(), ['flux succeeded', 'storage failed']);
  });
});
