import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { CUSTOM_RESOURCES, type KubeObject } from '../../src/clients/kube';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import { assertListedUnder } from '../support/browseNodes';
import { addCnpgCluster, PLUGIN_BACKUP, SNAPSHOT_BACKUP, startCnpgCluster, type SimulatedCnpg } from '../support/cnpgLab';
import { lifeboat } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';

describe('CloudNativePG in the browse model: each cluster lists its Clusters and their Backups, with Back Up Now and Restore…', function () {
  this.timeout(60_000);
  let prod: SimulatedCnpg;
  let bare: SimulatedCnpg;
  let model: BrowseModel;
  let context: () => ActionContext;
  const contexts: ActionContext[] = [];
  const track = (ctx: ActionContext) => (contexts.push(ctx), ctx);
  const children = async (path: string) => assertListedUnder(path, await model.children(path, { limit: 50 }, track(context())));

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    prod = await startCnpgCluster(10);
    bare = await startCnpgCluster(10);
    bare.sim.objects.uninstalledGroups.add('postgresql.cnpg.io');
    const inventory = { clusters: { prod: { kubeconfig: prod.kubeconfig }, monit: { kubeconfig: bare.kubeconfig } } };
    await writeFile(join(prod.sim.dir, 'lifeboat.yaml'), ['clusters:', `  prod: { kubeconfig: ${prod.kubeconfig} }`, `  monit: { kubeconfig: ${bare.kubeconfig} }`, ''].join('\n'));
    await writeFile(join(prod.sim.dir, 'cnpg-restore.runbook.md'), await readFile(join(REPO_ROOT, 'runbooks', 'cnpg-restore.runbook.md')));
    context = () => createActionContext({ workspaceDir: prod.sim.dir, inventory });
    model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), join(prod.sim.dir, 'lifeboat.yaml'));
    await addCnpgCluster(prod.kube, 'immich', 'immich-postgres', PLUGIN_BACKUP);
    await addCnpgCluster(prod.kube, 'paperless', 'paperless-db', SNAPSHOT_BACKUP);
    await addCnpgCluster(prod.kube, 'paperless', 'scratch', {});
  });

  after(async () => {
    await Promise.all(contexts.map((ctx) => ctx.clients.disposeAll()));
    await Promise.all([prod?.sim.stop(), bare?.sim.stop()]);
  });

  it('shows a CloudNativePG section under each cluster, and says so where it is not installed', async () => {
    const section = (await children('clusters/prod')).nodes.find((node) => node.path === 'clusters/prod/cnpg');
    assert.deepEqual([section?.kind, section?.label, section?.hasChildren], ['cnpg', 'CloudNativePG', true]);
    assert.deepEqual((await children('clusters/monit/cnpg')).nodes.map((node) => node.label), ['CloudNativePG is not installed on this cluster']);
  });

  it('lists the Clusters of every namespace with their backup method and Back Up Now; one without backups is a warning', async () => {
    const nodes = (await children('clusters/prod/cnpg')).nodes;
    assert.deepEqual(
      nodes.map((node) => [node.path, node.description, node.status?.level, node.operations.map((operation) => operation.id)]),
      [
        ['clusters/prod/cnpg/immich/immich-postgres', 'backs up by plugin', undefined, ['backUp', 'dumpRestore']],
        ['clusters/prod/cnpg/paperless/paperless-db', 'backs up by volumeSnapshot', undefined, ['backUp', 'dumpRestore']],
        ['clusters/prod/cnpg/paperless/scratch', 'no backup configured', 'warning', ['dumpRestore']],
      ],
    );
    assert.deepEqual(nodes[0]?.operations[0], { kind: 'action', id: 'backUp', label: 'Back Up Now', action: 'cnpg.backup', destructive: false, params: { cluster: 'prod', namespace: 'immich', clusterName: 'immich-postgres' } });
    assert.deepEqual((await children('clusters/prod/cnpg/immich/immich-postgres')).nodes.map((node) => node.label), ['No Backups']);
  });

  it("backs a Cluster up from its node with the CLI, then lists its Backups with phase icons and Restore… on completed ones", async () => {
    const done = await lifeboat(['do', 'clusters/prod/cnpg/immich/immich-postgres', 'backUp', '--yes'], { cwd: prod.sim.dir });
    assert.equal(done.code, 0, done.stderr + done.stdout);
    prod.sim.objects.outcomes.set('immich-postgres-broken', 'Failed');
    await prod.kube.createObject(CUSTOM_RESOURCES.cnpgBackup, 'immich', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name: 'immich-postgres-broken' }, spec: { cluster: { name: 'immich-postgres' }, method: 'plugin' } });
    await prod.kube.waitForObject(CUSTOM_RESOURCES.cnpgBackup, 'immich', 'immich-postgres-broken', { isDone: (object: KubeObject) => object.status?.phase === 'failed', intervalMs: 10, timeoutMs: 10_000 });
    model.forget();
    const backups = (await children('clusters/prod/cnpg/immich/immich-postgres')).nodes;
    const completed = backups.find((node) => node.facts.phase === 'completed');
    const failed = backups.find((node) => node.label === 'immich-postgres-broken');
    assert.ok(completed && failed, backups.map((node) => node.label).join());
    assert.match(completed.label, /^immich-postgres-\d{14}$/);
    assert.deepEqual([completed.icon, completed.operations], ['pass', [{ kind: 'runbook', id: 'restore', label: 'Restore…', runbook: 'cnpg-restore.runbook.md', params: { cluster: 'prod', namespace: 'immich', clusterName: 'immich-postgres', backup: completed.label } }]]);
    assert.deepEqual([failed.icon, failed.status, failed.operations], ['error', { level: 'error', reason: 'failed: simulated failure: barman-cloud-backup exited with status 1' }, []]);
  });

  it("restores from a Backup's node through the runbook with its cluster, namespace and Backup bound", async () => {
    model.forget();
    const completed = (await children('clusters/prod/cnpg/immich/immich-postgres')).nodes.find((node) => node.facts.phase === 'completed');
    assert.ok(completed);
    const done = await lifeboat(['do', completed.path, 'restore', '--yes'], { cwd: prod.sim.dir });
    assert.equal(done.code, 0, done.stderr + done.stdout);
    const manifest = parse(await readFile(join(prod.sim.dir, 'kubernetes/apps/immich/immich-postgres-restored.yaml'), 'utf8')) as KubeObject;
    assert.deepEqual((manifest.spec?.bootstrap as Record<string, unknown>).recovery, { backup: { name: completed.label } });
  });

  it('contributes Back Up Now for op:backUp in the tree, out of the palette', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[]; menus: Record<string, { command: string; when?: string }[]> } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === 'lifeboat.backups.backUp')?.title, 'Back Up Now');
    assert.ok(manifest.contributes.menus['view/item/context']?.some((entry) => entry.command === 'lifeboat.backups.backUp' && /op:backUp\b/.test(entry.when ?? '')));
    assert.ok(manifest.contributes.menus.commandPalette?.some((entry) => entry.command === 'lifeboat.backups.backUp' && entry.when === 'false'));
  });
});
