import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { veleroRestorePaletteCommands } from '../../src/actions/velero/restorePalette';
import { CUSTOM_RESOURCES, KubeClient } from '../../src/clients/kube';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import type { NodeStep } from '../../src/core/browse/palette';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';

const RUNBOOK = join(REPO_ROOT, 'runbooks', 'velero-restore-app.runbook.md');

describe('runbook velero-restore-app, end to end with the CLI against the Kubernetes simulator', function () {
  this.timeout(60_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;
  let workspace: string;
  let kubeconfig: string;

  const suspended = async () => (await kube.getObject(CUSTOM_RESOURCES.fluxKustomization, 'flux-system', 'pelican')).spec?.suspend === true;

  async function completedBackup(name: string, namespaces: string[]): Promise<void> {
    await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name, labels: { 'velero.io/schedule-name': 'pelican-daily' } }, spec: { includedNamespaces: namespaces, storageLocation: 'default' } });
    await kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', name, { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 10, timeoutMs: 10_000 });
  }

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    sim = await KubeApiSimulator.start({ controllerStepMs: 10 });
    kubeconfig = await sim.writeKubeconfig();
    kube = await KubeClient.connect({ kubeconfig });
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-velero-runbook-'));
    await writeFile(join(workspace, 'lifeboat.yaml'), `clusters:\n  prod:\n    kubeconfig: ${kubeconfig}\n`);
    // The workspace's copy of the shipped runbook: runs are recorded beside it, not in the repository.
    await writeFile(join(workspace, 'velero-restore-app.runbook.md'), await readFile(RUNBOOK));
    await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name: 'default' }, spec: { provider: 'aws', objectStorage: { bucket: 'velero' }, default: true } });
    await kube.createObject(CUSTOM_RESOURCES.fluxKustomization, 'flux-system', {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'pelican' },
      spec: { interval: '10m', path: './kubernetes/apps/pelican', prune: true, targetNamespace: 'pelican', sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
    });
    await completedBackup('pelican-daily-20261204020000', ['pelican']);
    await completedBackup('pelican-daily-20261205020000', ['pelican']);
  });

  after(async () => {
    await sim?.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('plans every step in a dry run without changing the cluster', async () => {
    const result = await lifeboat(['run', 'velero-restore-app.runbook.md', '--param', 'cluster=prod', '--param', 'namespace=pelican', '--dry-run'], { cwd: workspace });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.equal(await suspended(), false);
    assert.deepEqual(await kube.listObjects(CUSTOM_RESOURCES.veleroRestore, 'velero'), []);
  });

  it('checks the location, suspends Flux, restores the newest backup, checks the restore and resumes Flux', async () => {
    const result = await lifeboat(['run', 'velero-restore-app.runbook.md', '--param', 'cluster=prod', '--param', 'namespace=pelican', '--yes', '--json'], { cwd: workspace });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const restores = await kube.listObjects(CUSTOM_RESOURCES.veleroRestore, 'velero');
    assert.deepEqual(
      restores.map((restore) => [restore.spec?.backupName, restore.spec?.includedNamespaces, restore.spec?.restorePVs, restore.status?.phase]),
      [['pelican-daily-20261205020000', ['pelican'], true, 'Completed']],
    );
    assert.equal(await suspended(), false, 'Flux manages the namespace again');
    const records = await readRecords(workspace);
    const lastRun = records.filter((record) => record.run === records.at(-1)?.run);
    assert.deepEqual(
      lastRun.map((record) => [record.action, record.status]),
      ['velero.locations.check', 'velero.backups.list', 'flux.suspend', 'velero.restore.create', 'velero.restores.list', 'flux.resume'].map((action) => [action, 'succeeded']),
    );
  });

  it('stops at a PartiallyFailed restore with its reasons and leaves Flux suspended', async () => {
    sim.objects.outcomes.set('pelican-partly', 'PartiallyFailed');
    const runbook = 'partly.runbook.md';
    // The same runbook with the restore named, so the simulator can be told how it ends.
    await writeFile(join(workspace, runbook), (await readFile(RUNBOOK, 'utf8')).replace('restorePVs: true\n', 'restorePVs: true\nname: pelican-partly\n'));
    const result = await lifeboat(['run', runbook, '--param', 'cluster=prod', '--param', 'namespace=pelican', '--param', 'backup=pelican-daily-20261204020000', '--yes'], { cwd: workspace });
    assert.equal(result.code, 1, result.stderr + result.stdout);
    // Velero's 3 warnings, and one for each of the 5 objects the restore before left there.
    assert.match(result.stderr + result.stdout, /Velero restore 'pelican-partly' ended PartiallyFailed: 1 error\(s\), 8 warning\(s\)/);
    assert.match(result.stderr + result.stdout, /Errors:\n- namespace pelican: error restoring persistentvolumeclaims\/pelican\/pelican-data: simulated failure\nWarnings:\n- velero: simulated warning 1\n/);
    assert.equal(await suspended(), true, 'Flux stays suspended until someone looks');
  });

  it("restores from a backup's node in the tree through the runbook, with the backup, cluster and namespace bound", async () => {
    const listed = await lifeboat(['ls', 'clusters/prod/velero/backups', '--json'], { cwd: workspace });
    assert.equal(listed.code, 0, listed.stderr);
    const node = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { path: string; operations: { id: string; runbook?: string; action?: string; params: Record<string, unknown> }[] }).find((candidate) => candidate.path.endsWith('/pelican-daily-20261205020000'));
    assert.ok(node, listed.stdout);
    assert.deepEqual(node.operations.find((operation) => operation.id === 'restore'), { id: 'restore', label: 'Restore…', runbook: 'velero-restore-app.runbook.md', params: { cluster: 'prod', backup: 'pelican-daily-20261205020000', namespace: 'pelican' } });
    assert.equal(node.operations.find((operation) => operation.id === 'delete')?.action, 'velero.backup.delete');
    const before = (await kube.listObjects(CUSTOM_RESOURCES.veleroRestore, 'velero')).length;
    const done = await lifeboat(['do', node.path, 'restore', '--yes'], { cwd: workspace });
    assert.equal(done.code, 0, done.stderr + done.stdout);
    const restores = await kube.listObjects(CUSTOM_RESOURCES.veleroRestore, 'velero');
    assert.equal(restores.length, before + 1);
    assert.equal(await suspended(), false);
  });

  it('deletes a backup from its node, and refuses the newest of its schedule there too', async () => {
    const refused = await lifeboat(['do', 'clusters/prod/velero/backups/pelican-daily-20261205020000', 'delete', '--yes'], { cwd: workspace });
    assert.equal(refused.code, 1, refused.stderr + refused.stdout);
    assert.match(refused.stderr + refused.stdout, /newest Completed backup of Schedule 'pelican-daily'/);
    const done = await lifeboat(['do', 'clusters/prod/velero/backups/pelican-daily-20261204020000', 'delete', '--yes'], { cwd: workspace });
    assert.equal(done.code, 0, done.stderr + done.stdout);
    assert.deepEqual((await kube.listObjects(CUSTOM_RESOURCES.veleroBackup, 'velero')).map((backup) => backup.metadata.name), ['pelican-daily-20261205020000']);
  });

  it("offers the palette's picks from the tree: the clusters, then the cluster's Completed backups", async () => {
    const [command] = veleroRestorePaletteCommands;
    assert.ok(command);
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), join(workspace, 'lifeboat.yaml'));
    const ctx = createActionContext({ workspaceDir: workspace, inventory: { clusters: { prod: { kubeconfig } } } });
    try {
      const picks = async (step: NodeStep, picked: Record<string, unknown>) => (await model.children(step.under(picked), { limit: 100 }, ctx)).nodes.filter((node) => step.accept?.(node) ?? true).map((node) => step.value?.(node) ?? node.label);
      const [cluster, backup] = command.steps as NodeStep[];
      assert.ok(cluster && backup);
      assert.deepEqual(await picks(cluster, {}), ['prod']);
      const completed = (await kube.listObjects(CUSTOM_RESOURCES.veleroBackup, 'velero')).filter((object) => object.status?.phase === 'Completed').map((object) => object.metadata.name);
      assert.ok(completed.length > 0);
      assert.deepEqual((await picks(backup, { cluster: 'prod' })).sort(), completed.sort());
      assert.equal(command.action, 'velero.restore.create');
      const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
      assert.equal(manifest.contributes.commands.find((entry) => entry.command === command.command)?.title, 'Restore Namespace from Velero Backup…');
    } finally {
      await ctx.clients.disposeAll();
    }
  });
});
