import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fluxActions } from '../../src/actions/flux';
import type { FluxResumeResult, FluxSuspendResult } from '../../src/actions/flux/change';
import type { FluxReconcileResult } from '../../src/actions/flux/reconcile';
import type { FluxStatusResult } from '../../src/actions/flux/status';
import { selectionTarget, type KustomizationSelection } from '../../src/actions/flux/target';
import { createActionContext } from '../../src/core/actions/context';
import { renderPlan } from '../../src/core/actions/plan';
import type { ActionContext, ActionSpec, ProgressUpdate } from '../../src/core/actions/spec';
import { errorMessage, isCancellationError } from '../../src/core/errors';
import { KubeApiSimulator } from '../testbed/kubeSim';
import type { SimObject } from '../testbed/kubeSimObjects';

const KS = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', kind: 'Kustomization' };

function action(id: string): ActionSpec {
  const found = fluxActions.find((candidate) => candidate.id === id);
  assert.ok(found, `${id} is registered`);
  return found;
}

describe('Flux actions against the Kubernetes API simulator', function () {
  this.timeout(30_000);
  let sim: KubeApiSimulator;
  let kubeconfig: string;

  const context = (overrides: Partial<ActionContext> = {}) => createActionContext({ workspaceDir: sim.dir, inventory: { clusters: { prod: { kubeconfig } } }, ...overrides });

  async function run<Result>(id: string, params: Record<string, unknown>, ctx = context()): Promise<Result> {
    const spec = action(id);
    try {
      return (await spec.run(spec.params.parse(params), ctx)) as Result;
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  async function plan(id: string, params: Record<string, unknown>): Promise<string> {
    const spec = action(id);
    const ctx = context();
    try {
      return renderPlan(await spec.plan(spec.params.parse(params), ctx));
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  const stored = (namespace: string, name: string): SimObject => sim.objects.get(KS, namespace, name);

  function create(namespace: string, name: string, spec: Record<string, unknown> = {}): void {
    sim.objects.create(KS, namespace, { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name }, spec: { interval: '10m', path: `./apps/${name}`, prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec } });
  }

  /** Until the simulated kustomize-controller has reconciled what exists. */
  async function settled(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 150));
  }

  before(async () => {
    sim = await KubeApiSimulator.start({ controllerStepMs: 20 });
    kubeconfig = await sim.writeKubeconfig();
    create('flux-system', 'cluster-apps');
    create('flux-system', 'pelican', { targetNamespace: 'pelican', suspend: true });
    create('immich', 'immich', { targetNamespace: 'immich' });
    create('flux-system', 'round-trip');
    create('flux-system', 'broken', { suspend: true });
    create('team', 'web');
    create('team', 'worker');
    sim.objects.kustomizationFailures.set('broken', 'kustomize build failed: accumulating resources from ./deploy.yaml: no such file');
    await settled();
  });

  after(async () => {
    await sim?.stop();
  });

  describe('flux.status', () => {
    it('lists every namespace with Ready, revision and suspended, and warns about each suspended one', async () => {
      const warned: string[] = [];
      const ctx = context({ log: { debug() {}, info() {}, warn: (message) => warned.push(message), error() {} } });
      const result = await run<FluxStatusResult>('flux.status', { cluster: 'prod' }, ctx);
      const byId = new Map(result.kustomizations.map((state) => [`${state.namespace}/${state.name}`, state]));
      assert.deepEqual([...byId.keys()], ['flux-system/broken', 'flux-system/cluster-apps', 'flux-system/pelican', 'flux-system/round-trip', 'immich/immich', 'team/web', 'team/worker']);
      assert.equal(byId.get('flux-system/cluster-apps')?.ready, 'True');
      assert.match(byId.get('flux-system/cluster-apps')?.revision ?? '', /^main@sha1:[0-9a-f]{40}$/);
      assert.equal(byId.get('flux-system/pelican')?.suspended, true);
      assert.equal(byId.get('flux-system/pelican')?.ready, 'Unknown', 'never reconciled while suspended');
      assert.deepEqual(result.warnings, [
        'flux-system/broken is suspended: Flux applies none of its changes until it is resumed (flux.resume)',
        'flux-system/pelican is suspended: Flux applies none of its changes until it is resumed (flux.resume)',
      ]);
      assert.deepEqual(warned, result.warnings, 'each warning is logged as a warning too');
      const text = action('flux.status').render(result);
      assert.match(text, /5 of 7 Kustomizations on cluster 'prod' \(all namespaces\) are Ready, 2 suspended/);
      assert.match(text, /⚠ flux-system\/pelican is suspended/);
    });

    it('lists one namespace, and says when it has none', async () => {
      const result = await run<FluxStatusResult>('flux.status', { cluster: 'prod', namespace: 'team' });
      assert.deepEqual(result.kustomizations.map((state) => state.name), ['web', 'worker']);
      assert.deepEqual(result.warnings, []);
      const empty = await run<FluxStatusResult>('flux.status', { cluster: 'prod', namespace: 'nowhere' });
      assert.equal(action('flux.status').render(empty), "No Flux Kustomizations on cluster 'prod' in namespace nowhere.");
    });
  });

  describe('flux.suspend and flux.resume', () => {
    it('suspends and resumes with the merge patches flux sends, and resume waits for Ready on the resumed spec', async () => {
      assert.match(await plan('flux.suspend', { cluster: 'prod', name: 'round-trip' }), /overwrite \| Kustomization flux-system\/round-trip on cluster prod \|[^\n]*merge patch \{"spec":\{"suspend":true\}\}/);
      const before = stored('flux-system', 'round-trip').metadata.generation;
      const suspended = await run<FluxSuspendResult>('flux.suspend', { cluster: 'prod', name: 'round-trip' });
      assert.deepEqual(suspended, { cluster: 'prod', suspended: ['flux-system/round-trip'], alreadySuspended: [] });
      assert.equal(stored('flux-system', 'round-trip').spec?.suspend, true);
      assert.deepEqual(stored('flux-system', 'round-trip').metadata.annotations ?? {}, {}, 'suspend adds no annotation');

      assert.match(await plan('flux.resume', { cluster: 'prod', name: 'flux-system/round-trip' }), /merge patch \{"spec":\{"suspend":null\}\}: then waits up to 5 min 0 s for Ready/);
      const progress: ProgressUpdate[] = [];
      const resumed = await run<FluxResumeResult>('flux.resume', { cluster: 'prod', name: 'flux-system/round-trip' }, context({ progress: { report: (update) => progress.push(update) } }));
      const after = stored('flux-system', 'round-trip');
      assert.equal(Object.hasOwn(after.spec ?? {}, 'suspend'), false, 'the key is removed, as the omitempty merge patch does');
      assert.equal(after.metadata.generation, before + 2);
      assert.equal(after.status?.observedGeneration, after.metadata.generation);
      assert.equal(resumed.resumed.length, 1);
      assert.equal(resumed.resumed[0]?.ready, 'True');
      assert.equal(resumed.resumed[0]?.observed, true);
      assert.ok(progress.some((update) => update.message === 'waiting for flux-system/round-trip to be Ready'), JSON.stringify(progress));
      assert.match(action('flux.resume').render(resumed), /Resumed on cluster 'prod', and Ready/);
    });

    it('leaves alone what is already as asked, and says so in the plan', async () => {
      assert.match(await plan('flux.suspend', { cluster: 'prod', name: 'pelican' }), /read \| Kustomization flux-system\/pelican on cluster prod \|[^\n]*suspended now: left as it is, unless an earlier step changes that/);
      assert.match(await plan('flux.reconcile', { cluster: 'prod', name: 'pelican' }), /suspended now: refused, unless an earlier step changes that/);
      assert.deepEqual(await run<FluxSuspendResult>('flux.suspend', { cluster: 'prod', name: 'pelican' }), { cluster: 'prod', suspended: [], alreadySuspended: ['flux-system/pelican'] });
      const resumed = await run<FluxResumeResult>('flux.resume', { cluster: 'prod', name: 'cluster-apps' });
      assert.deepEqual(resumed, { cluster: 'prod', resumed: [], notSuspended: ['flux-system/cluster-apps'] });
    });

    it('suspends and resumes every Kustomization of a namespace with name all', async () => {
      const suspended = await run<FluxSuspendResult>('flux.suspend', { cluster: 'prod', name: 'all', namespace: 'team' });
      assert.deepEqual(suspended.suspended, ['team/web', 'team/worker']);
      assert.equal(stored('team', 'worker').spec?.suspend, true);
      const resumed = await run<FluxResumeResult>('flux.resume', { cluster: 'prod', name: 'all', namespace: 'team' });
      assert.deepEqual(resumed.resumed.map((state) => [state.name, state.ready, state.suspended]), [
        ['web', 'True', false],
        ['worker', 'True', false],
      ]);
    });

    it('times out on a Kustomization that never becomes Ready, saying its Ready condition', async () => {
      const started = Date.now();
      await assert.rejects(run('flux.resume', { cluster: 'prod', name: 'broken', timeoutSeconds: 1 }), (error: unknown) => {
        assert.match(errorMessage(error), /^Kustomization flux-system\/broken on cluster 'sim' \(https:\/\/127\.0\.0\.1:\d+\) did not finish within 1\.0 s: it is not Ready: Ready False \(ReconciliationFailed: kustomize build failed: accumulating resources from \.\/deploy\.yaml: no such file\)/);
        return true;
      });
      assert.ok(Date.now() - started < 5000);
      assert.equal(stored('flux-system', 'broken').spec?.suspend, undefined, 'it was resumed; only its readiness failed');
      await run('flux.suspend', { cluster: 'prod', name: 'broken' });
    });

    it('stops waiting when cancelled', async () => {
      const controller = new AbortController();
      const progress = { report: (update: ProgressUpdate) => update.message?.startsWith('waiting for flux-system/broken to be Ready:') && controller.abort() };
      const started = Date.now();
      await assert.rejects(run('flux.resume', { cluster: 'prod', name: 'broken', timeoutSeconds: 600 }, context({ signal: controller.signal, progress })), (error: unknown) => isCancellationError(error));
      assert.ok(Date.now() - started < 5000, 'stopped at once, not at the timeout');
      await run('flux.suspend', { cluster: 'prod', name: 'broken' });
    });
  });

  describe('flux.reconcile', () => {
    it('sets requestedAt as flux does and waits until lastHandledReconcileAt is that value and Ready', async () => {
      assert.match(
        await plan('flux.reconcile', { cluster: 'prod', name: 'immich/immich' }),
        /overwrite \| Kustomization immich\/immich on cluster prod \|[^\n]*merge patch \{"metadata":\{"annotations":\{"reconcile\.fluxcd\.io\/requestedAt":"<now, RFC 3339>"\}\}\}: then waits up to 5 min 0 s for status\.lastHandledReconcileAt to be that time, and Ready/,
      );
      const progress: ProgressUpdate[] = [];
      const result = await run<FluxReconcileResult>('flux.reconcile', { cluster: 'prod', name: 'immich', namespace: 'immich' }, context({ progress: { report: (update) => progress.push(update) } }));
      const requestedAt = stored('immich', 'immich').metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
      assert.match(requestedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/, 'RFC 3339 with the fraction Go writes');
      assert.equal(result.reconciled[0]?.lastHandledReconcileAt, requestedAt);
      assert.equal(result.reconciled[0]?.ready, 'True');
      assert.ok(progress.some((update) => /reconcile request not handled yet/.test(update.message ?? '')), 'it saw the request still unhandled and waited');
      const again = await run<FluxReconcileResult>('flux.reconcile', { cluster: 'prod', name: 'immich', namespace: 'immich' });
      assert.notEqual(again.reconciled[0]?.lastHandledReconcileAt, requestedAt, 'each run asks anew');
    });

    it('refuses a suspended Kustomization, and skips the suspended ones of all', async () => {
      await assert.rejects(run('flux.reconcile', { cluster: 'prod', name: 'pelican' }), /Kustomization flux-system\/pelican on cluster 'prod' is suspended, and Flux does not reconcile a suspended Kustomization: resume it \(flux.resume\)/);
      const result = await run<FluxReconcileResult>('flux.reconcile', { cluster: 'prod', name: 'all' });
      assert.deepEqual(result.skippedSuspended, ['flux-system/broken', 'flux-system/pelican']);
      assert.deepEqual(result.reconciled.map((state) => state.name), ['cluster-apps', 'round-trip']);
    });
  });

  describe('bad input', () => {
    const noStack = (message: string) => assert.doesNotMatch(message, /\n\s+at |ApiException|HTTP-Code/);

    it('names the clusters there are for an unknown cluster', async () => {
      await assert.rejects(run('flux.status', { cluster: 'staging' }), (error: unknown) => {
        assert.equal(errorMessage(error), "`cluster` names 'staging', which is not under `clusters:`; lifeboat.yaml names 'prod'");
        return true;
      });
    });

    it('names the Kustomizations there are for an unknown name or namespace', async () => {
      await assert.rejects(run('flux.suspend', { cluster: 'prod', name: 'pelicna' }), (error: unknown) => {
        const message = errorMessage(error);
        assert.match(message, /^there is no Kustomization flux-system\/pelicna on cluster 'sim' \([^)]*\); namespace flux-system has broken, cluster-apps, pelican, round-trip$/);
        noStack(message);
        return true;
      });
      await assert.rejects(run('flux.resume', { cluster: 'prod', name: 'pelican', namespace: 'pelicans' }), /there is no Kustomization pelicans\/pelican on cluster 'sim' .*; the cluster's Kustomizations: flux-system\/broken, flux-system\/cluster-apps, .*team\/worker$/);
      await assert.rejects(run('flux.reconcile', { cluster: 'prod', name: 'all', namespace: 'pelicans' }), /there are no Kustomizations in namespace pelicans on cluster 'sim' .*; the cluster's Kustomizations: /);
    });

    it('refuses names that are not Kubernetes names, and a namespace given twice differently', async () => {
      for (const name of ['Pelican', 'a/b/c', '', '../flux-system', 'pelican ; rm -rf /', '-pelican', 'a..b', 'a.-b', 'x'.repeat(254)]) {
        const parsed = action('flux.suspend').params.safeParse({ cluster: 'prod', name });
        assert.equal(parsed.success, false, `'${name}' is refused`);
      }
      assert.equal(action('flux.suspend').params.safeParse({ cluster: 'prod', name: 'pelican', namespace: 'Flux_System' }).success, false);
      await assert.rejects(run('flux.suspend', { cluster: 'prod', name: 'immich/immich', namespace: 'flux-system' }), /`name` 'immich\/immich' is in namespace 'immich' but `namespace` is 'flux-system': give one of them/);
    });

    it('takes only Kubernetes names into the API path, whatever name is written', () => {
      const hostile = fc.oneof(fc.string(), fc.constantFrom('..', '../x', 'a/../b', 'a%2Fb', 'a b', 'a\nb', '/a', 'a/', 'ns/name/extra', 'a?watch=1', 'a#b'), fc.tuple(fc.string(), fc.string()).map(([a, b]) => `${a}/${b}`));
      fc.assert(
        fc.property(hostile, fc.option(fc.string(), { nil: undefined }), (name, namespace) => {
          const parsed = action('flux.resume').params.safeParse({ cluster: 'prod', name, ...(namespace === undefined ? {} : { namespace }) });
          if (!parsed.success) return;
          let target: { namespace: string; name: string };
          try {
            target = selectionTarget(parsed.data as KustomizationSelection);
          } catch {
            return;
          }
          assert.match(target.namespace, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
          assert.match(target.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
        }),
        { numRuns: 2000 },
      );
    });

    it('says Flux is not installed on a cluster without its kind, in one line', async () => {
      const bare = await KubeApiSimulator.start();
      try {
        bare.objects.uninstalledGroups.add('kustomize.toolkit.fluxcd.io');
        const ctx = createActionContext({ workspaceDir: bare.dir, inventory: { clusters: { bare: { kubeconfig: await bare.writeKubeconfig() } } } });
        for (const [id, params] of [
          ['flux.status', { cluster: 'bare' }],
          ['flux.suspend', { cluster: 'bare', name: 'pelican' }],
          ['flux.resume', { cluster: 'bare', name: 'all' }],
        ] as const) {
          await assert.rejects(run(id, params, ctx), (error: unknown) => {
            const message = errorMessage(error);
            assert.match(message, /^cluster 'sim' \(https:\/\/127\.0\.0\.1:\d+\) does not serve kustomize\.toolkit\.fluxcd\.io\/v1 Kustomizations: Flux \(kustomize-controller\) is not installed there$/, id);
            noStack(message);
            return true;
          });
        }
      } finally {
        await bare.stop();
      }
    });
  });
});
