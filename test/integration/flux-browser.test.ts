import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { fluxPaletteCommands } from '../../src/actions/flux/palette';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode, Operation } from '../../src/core/browse/node';
import type { NodeStep } from '../../src/core/browse/palette';
import { assertListedUnder } from '../support/browseNodes';
import { lifeboat } from '../support/cli';
import { requireFiles, CLI } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';

const KS = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', kind: 'Kustomization' };
const registry = new ActionRegistry(builtinActions);

describe('Flux in the browse model: each cluster lists its Kustomizations, with their operations and the palette command', function () {
  this.timeout(30_000);
  let sim: KubeApiSimulator;
  let bare: KubeApiSimulator;
  let model: BrowseModel;
  let inventoryFile: string;
  let context: () => ActionContext;

  const contexts: ActionContext[] = [];
  const children = async (path: string) => assertListedUnder(path, await model.children(path, { limit: 50 }, track(context())));
  const track = (ctx: ActionContext) => (contexts.push(ctx), ctx);

  function create(namespace: string, name: string, spec: Record<string, unknown> = {}): void {
    sim.objects.create(KS, namespace, { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name }, spec: { interval: '10m', path: `./apps/${name}`, prune: true, ...spec } });
  }

  async function runOperation(operation: Operation | undefined): Promise<unknown> {
    assert.ok(operation?.kind === 'action');
    const spec = registry.get(operation.action);
    assert.ok(spec);
    return spec.run(spec.params.parse(operation.params), track(context()));
  }

  before(async () => {
    sim = await KubeApiSimulator.start({ controllerStepMs: 10 });
    bare = await KubeApiSimulator.start();
    bare.objects.uninstalledGroups.add(KS.group);
    const inventory = { clusters: { prod: { kubeconfig: await sim.writeKubeconfig() }, monit: { kubeconfig: await bare.writeKubeconfig() } } };
    inventoryFile = join(sim.dir, 'lifeboat.yaml');
    await writeFile(inventoryFile, ['clusters:', `  prod: { kubeconfig: ${inventory.clusters.prod.kubeconfig} }`, `  monit: { kubeconfig: ${inventory.clusters.monit.kubeconfig} }`, ''].join('\n'));
    context = () => createActionContext({ workspaceDir: sim.dir, inventory });
    model = new BrowseModel(builtinBrowsers, registry, inventoryFile);
    create('flux-system', 'cluster-apps');
    create('flux-system', 'pelican', { targetNamespace: 'pelican', suspend: true });
    create('immich', 'immich', { targetNamespace: 'immich', suspend: true });
    create('team', 'web');
    await new Promise((resolve) => setTimeout(resolve, 100));
  });

  after(async () => {
    await Promise.all(contexts.map((ctx) => ctx.clients.disposeAll()));
    await Promise.all([sim?.stop(), bare?.stop()]);
  });

  it('shows a Flux section under each cluster', async () => {
    const prod = model.roots(track(context())).find((node) => node.path === 'clusters/prod');
    assert.equal(prod?.hasChildren, true);
    const flux = (await children('clusters/prod')).nodes.find((node) => node.path === 'clusters/prod/flux');
    assert.deepEqual([flux?.kind, flux?.label, flux?.hasChildren], ['flux', 'Flux', true]);
  });

  it('lists the Kustomizations: suspended ones with a warning and Resume, the others Ready with their revision, Reconcile and Suspend', async () => {
    model.forget();
    const nodes = (await children('clusters/prod/flux')).nodes;
    assert.deepEqual(nodes.map((node) => [node.path, node.label]), [
      ['clusters/prod/flux/flux-system/cluster-apps', 'flux-system/cluster-apps'],
      ['clusters/prod/flux/flux-system/pelican', 'flux-system/pelican'],
      ['clusters/prod/flux/immich/immich', 'immich/immich'],
      ['clusters/prod/flux/team/web', 'team/web'],
    ]);
    const [apps, pelican] = nodes as [BrowseNode, BrowseNode];
    assert.equal(pelican.icon, 'warning');
    assert.deepEqual(pelican.status, { level: 'warning', reason: 'flux-system/pelican is suspended: Flux applies none of its changes until it is resumed (flux.resume)' });
    assert.match(pelican.description ?? '', /^suspended/);
    assert.deepEqual(pelican.operations.map((operation) => [operation.id, operation.kind === 'action' && operation.action, operation.kind === 'action' && operation.params]), [['resume', 'flux.resume', { cluster: 'prod', name: 'flux-system/pelican' }]]);
    assert.equal(apps.icon, 'pass');
    assert.equal(apps.status?.level, 'ok');
    assert.match(apps.description ?? '', /^Ready · main@sha1:[0-9a-f]{40}$/);
    assert.deepEqual(apps.operations.map((operation) => operation.id), ['reconcile', 'suspend']);
    assert.ok(apps.operations.every((operation) => operation.kind === 'action' && !operation.destructive));
    assert.deepEqual(apps.facts, { cluster: 'prod', namespace: 'flux-system', name: 'cluster-apps', ready: 'True', suspended: false, revision: String(apps.facts.revision) });
  });

  it('lists one namespace under its segment, finds a Kustomization by its path, and filters by label', async () => {
    assert.deepEqual((await children('clusters/prod/flux/team')).nodes.map((node) => node.label), ['team/web']);
    const found = await model.node('clusters/prod/flux/immich/immich', track(context()));
    assert.equal(found?.label, 'immich/immich');
    const filtered = await model.children('clusters/prod/flux', { limit: 50, filter: 'PELI' }, track(context()));
    assert.deepEqual(filtered.nodes.map((node) => node.label), ['flux-system/pelican']);
  });

  it("runs a node's operations with the parameters bound: suspend, then resume", async () => {
    model.forget();
    const web = (await children('clusters/prod/flux/team')).nodes[0];
    await runOperation(web?.operations.find((operation) => operation.id === 'suspend'));
    assert.equal(sim.objects.get(KS, 'team', 'web').spec?.suspend, true);
    model.forget();
    const suspended = (await children('clusters/prod/flux/team')).nodes[0];
    assert.deepEqual(suspended?.operations.map((operation) => operation.id), ['resume']);
    await runOperation(suspended?.operations[0]);
    model.forget();
    const resumed = (await children('clusters/prod/flux/team')).nodes[0];
    assert.deepEqual([resumed?.status?.level, resumed?.operations.map((operation) => operation.id)], ['ok', ['reconcile', 'suspend']]);
  });

  it('says Flux is not installed on a cluster without it, instead of failing', async () => {
    const nodes = (await children('clusters/monit/flux')).nodes;
    assert.deepEqual(nodes.map((node) => [node.kind, node.label]), [['empty', 'Flux is not installed on this cluster']]);
  });

  it('declares "Resume Suspended Flux Kustomizations…": a cluster, then its suspended Kustomizations, each a flux.resume step', async () => {
    const [command] = fluxPaletteCommands;
    assert.ok(command && builtinPaletteCommands.includes(command));
    assert.equal(command.action, 'flux.resume');
    const [cluster, kustomizations] = command.steps as [NodeStep, NodeStep];
    const clusters = (await children(cluster.under({}))).nodes.filter((node) => cluster.accept?.(node) ?? true);
    assert.deepEqual(clusters.map((node) => cluster.value?.(node)), ['prod', 'monit']);
    model.forget();
    const picked = { cluster: 'prod' };
    const offered = (await children(kustomizations.under(picked))).nodes.filter((node) => kustomizations.accept?.(node) ?? true);
    const values = offered.map((node) => kustomizations.value?.(node));
    assert.deepEqual(values, ['flux-system/pelican', 'immich/immich']);
    assert.equal(kustomizations.eachRun && kustomizations.many, true, 'several picked, one run with a step each');
    const resume = registry.get(command.action);
    assert.ok(resume);
    for (const value of values) await resume.run(resume.params.parse({ ...picked, [kustomizations.param]: value }), track(context()));
    assert.equal(sim.objects.get(KS, 'immich', 'immich').spec?.suspend, undefined);
    model.forget();
    const left = (await children(kustomizations.under(picked))).nodes.filter((node) => kustomizations.accept?.(node) ?? true);
    assert.deepEqual(left, []);
  });

  it('is reached by lifeboat ls and lifeboat do', async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs`']]);
    create('team', 'api', { suspend: true });
    const listed = await lifeboat(['ls', 'clusters/prod/flux/team'], { cwd: sim.dir });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^clusters\/prod\/flux\/team\/api\s+warning\s+suspended\s+resume$/m);
    const done = await lifeboat(['do', 'clusters/prod/flux/team/api', 'resume'], { cwd: sim.dir });
    assert.equal(done.code, 0, `${done.stdout}\n${done.stderr}`);
    assert.match(done.stdout, /Resumed on cluster 'prod', and Ready/);
    assert.equal(sim.objects.get(KS, 'team', 'api').spec?.suspend, undefined);
  });
});
