import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinActions } from '../../src/actions';
import { claimProblem, podProblem, postgresProblem, replicasProblem } from '../../src/actions/k8s/health';
import type { VerifyResult } from '../../src/actions/k8s/verify';
import { CUSTOM_RESOURCES, type KubeObject } from '../../src/clients/kube';
import type { ActionContext, ProgressUpdate } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { CONTRACT_FIXTURES } from '../support/paths';
import { startVeleroCluster, veleroWorkspace, type SimulatedVelero } from '../support/veleroLab';

const verify = builtinActions.find((action) => action.id === 'k8s.verify');

/** Validates the parameters through the action's schema, as the runner does, runs it, then closes its connections. */
async function runVerify(params: Record<string, unknown>, ctx: ActionContext): Promise<VerifyResult> {
  assert.ok(verify, 'k8s.verify is registered');
  try {
    return (await verify.run(verify.params.parse(params), ctx)) as VerifyResult;
  } finally {
    await ctx.clients.disposeAll();
  }
}

function addPostgres(cluster: SimulatedVelero, namespace: string, name: string, instances: number): Promise<KubeObject> {
  return cluster.kube.createObject(CUSTOM_RESOURCES.cnpgCluster, namespace, { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name }, spec: { instances, storage: { size: '1Gi' } } });
}

/** A healthy application: a web Deployment with its pod, a Completed migration pod, its claim, a StatefulSet and a Postgres Cluster. */
async function addHealthyApp(cluster: SimulatedVelero, namespace: string): Promise<void> {
  const { workloads } = cluster.sim.objects;
  workloads.add('apps/v1', 'Deployment', namespace, 'web');
  workloads.add('apps/v1', 'StatefulSet', namespace, 'cache');
  workloads.add('v1', 'PersistentVolumeClaim', namespace, `${namespace}-data`);
  cluster.sim.addPod({ namespace, name: 'web-5d8f7-abcde', containers: ['web', 'sidecar'] });
  cluster.sim.addPod({ namespace, name: 'migrate-x7k2p', phase: 'Succeeded' });
  await addPostgres(cluster, namespace, `${namespace}-postgres`, 2);
}

describe('k8s.verify against the Kubernetes simulator', function () {
  this.timeout(30_000);
  let prod: SimulatedVelero;
  let bare: SimulatedVelero;
  let workspace: Awaited<ReturnType<typeof veleroWorkspace>>;

  before(async () => {
    prod = await startVeleroCluster(20);
    bare = await startVeleroCluster(20);
    bare.sim.objects.uninstalledGroups.add('postgresql.cnpg.io');
    workspace = await veleroWorkspace({ prod: prod.kubeconfig, bare: bare.kubeconfig });
    await addHealthyApp(prod, 'pelican');
    await addHealthyApp(prod, 'n8n');

    const { workloads, outcomes } = prod.sim.objects;
    for (const held of ['Deployment broken/web', 'StatefulSet broken/cache', 'PersistentVolumeClaim broken/broken-data']) workloads.heldBack.add(held);
    workloads.add('apps/v1', 'Deployment', 'broken', 'web');
    workloads.add('apps/v1', 'StatefulSet', 'broken', 'cache');
    workloads.add('v1', 'PersistentVolumeClaim', 'broken', 'broken-data');
    prod.sim.addPod({ namespace: 'broken', name: 'web-crashing', containers: ['web'], waiting: 'CrashLoopBackOff' });
    prod.sim.addPod({ namespace: 'broken', name: 'web-pending', containers: ['web'], phase: 'Pending' });
    prod.sim.addPod({ namespace: 'broken', name: 'migrate-failed', containers: ['migrate'], phase: 'Failed' });
    outcomes.set('broken-postgres', 'Failed');
    await addPostgres(prod, 'broken', 'broken-postgres', 3);

    bare.sim.objects.workloads.add('apps/v1', 'Deployment', 'pelican', 'web');
    bare.sim.addPod({ namespace: 'pelican', name: 'web-1' });
    // Every Cluster past its setup before the checks that expect them healthy.
    await prod.kube.waitForObject(CUSTOM_RESOURCES.cnpgCluster, 'n8n', 'n8n-postgres', { isDone: (object) => object.status?.readyInstances === 2, intervalMs: 10, timeoutMs: 5_000 });
    await prod.kube.waitForObject(CUSTOM_RESOURCES.cnpgCluster, 'broken', 'broken-postgres', { isDone: (object) => typeof object.status?.phaseReason === 'string', intervalMs: 10, timeoutMs: 5_000 });
  });

  after(async () => {
    await prod?.sim.stop();
    await bare?.sim.stop();
    await workspace?.remove();
  });

  it('passes namespaces whose pods run or completed, claims are Bound, workloads ready and Postgres Clusters healthy, counting each', async () => {
    const result = await runVerify({ cluster: 'prod', namespaces: ['pelican', 'n8n'] }, workspace.context());
    assert.deepEqual(
      result.namespaces.map((health) => [health.namespace, health.pods, health.persistentVolumeClaims, health.deployments, health.statefulSets, health.postgresClusters, health.problems]),
      ['pelican', 'n8n'].map((namespace) => [namespace, { ready: 2, total: 2 }, { ready: 1, total: 1 }, { ready: 1, total: 1 }, { ready: 1, total: 1 }, { ready: 1, total: 1 }, []]),
    );
    assert.equal(result.looks, 1);
    const rendered = verify?.render(result) ?? '';
    assert.match(rendered, /^Everything in pelican, n8n on cluster 'prod' is ready\./);
    assert.match(rendered, /\| pelican \| 2\/2 \| 1\/1 \| 1\/1 \| 1\/1 \| 1\/1 \|/);
  });

  it('fails listing every object that is not ready and why, one per line', async () => {
    await assert.rejects(runVerify({ cluster: 'prod', namespaces: ['pelican', 'broken'] }, workspace.context()), (error: Error) => {
      assert.equal(
        error.message,
        [
          "7 objects not ready in namespaces pelican, broken on cluster 'prod':",
          '- pod broken/web-crashing: Running (ContainersNotReady; container web waiting: CrashLoopBackOff, 5 restarts)',
          '- pod broken/web-pending: Pending (ContainersNotReady; container web waiting: ContainerCreating)',
          '- pod broken/migrate-failed: Failed (ContainersNotReady; container migrate terminated: Error (exit code 1))',
          '- PersistentVolumeClaim broken/broken-data: Pending, not Bound',
          '- Deployment broken/web: 0 of 1 replicas ready (Available: MinimumReplicasUnavailable: Deployment does not have minimum availability.)',
          '- StatefulSet broken/cache: 0 of 1 replicas ready',
          '- CloudNativePG Cluster broken/broken-postgres: Cluster is in an unrecoverable state, needs manual intervention, 0 of 3 instances ready (simulated failure: the primary instance cannot start)',
        ].join('\n'),
      );
      return true;
    });
  });

  it('fails on a namespace that does not exist instead of finding nothing wrong in it', async () => {
    await assert.rejects(runVerify({ cluster: 'prod', namespaces: ['pelican', 'pelicann'] }, workspace.context()), {
      message: "1 object not ready in namespaces pelican, pelicann on cluster 'prod':\n- namespace pelicann does not exist",
    });
  });

  it('leaves CloudNativePG out on a cluster without it, and says so', async () => {
    const result = await runVerify({ cluster: 'bare', namespaces: ['pelican'] }, workspace.context());
    assert.equal(result.namespaces[0]?.postgresClusters, undefined);
    assert.match(verify?.render(result) ?? '', /\| pelican \| 1\/1 \| 0\/0 \| 1\/1 \| 0\/0 \| no CloudNativePG \|/);
  });

  it('with waitMinutes looks again until a Deployment that is still starting is ready, reporting what it waits for', async () => {
    const { workloads } = prod.sim.objects;
    workloads.heldBack.add('Deployment immich/server');
    workloads.add('apps/v1', 'Deployment', 'immich', 'server');
    // Its pods come up a moment later, as the Deployment controller catches up.
    setTimeout(() => {
      workloads.heldBack.delete('Deployment immich/server');
      workloads.add('apps/v1', 'Deployment', 'immich', 'server');
    }, 500);
    const updates: ProgressUpdate[] = [];
    const result = await runVerify({ cluster: 'prod', namespaces: ['immich'], waitMinutes: 1 }, workspace.context({ progress: { report: (update) => updates.push(update) } }));
    assert.ok(result.looks >= 2, `looked ${result.looks} times`);
    assert.deepEqual(result.namespaces[0]?.deployments, { ready: 1, total: 1 });
    assert.equal(updates[0]?.message, '1 object not ready yet, e.g. Deployment immich/server: 0 of 1 replicas ready (Available: MinimumReplicasUnavailable: Deployment does not have minimum availability.)');
  });

  it('gives up when the wait is over, saying how long it waited', async () => {
    await assert.rejects(runVerify({ cluster: 'prod', namespaces: ['broken'], waitMinutes: 0.05 }, workspace.context()), (error: Error) => {
      assert.match(error.message, /^7 objects not ready in namespace broken on cluster 'prod' after waiting 3\.\d s:\n- pod broken\/web-crashing/);
      return true;
    });
  });

  it('stops waiting when cancelled', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(runVerify({ cluster: 'prod', namespaces: ['broken'], waitMinutes: 10 }, workspace.context({ signal: controller.signal })), CancelledError);
  });

  it('refuses bad input with the field named: an unknown cluster, a namespace that is no name, none at all', async () => {
    await assert.rejects(runVerify({ cluster: 'staging', namespaces: ['pelican'] }, workspace.context()), /`cluster` names 'staging', which is not under `clusters:`; lifeboat.yaml names 'prod', 'bare'/);
    for (const namespaces of [['Pelican'], ['a;rm -rf /'], [], ['pelican', 'pelican']]) {
      const parsed = verify?.params.safeParse({ cluster: 'prod', namespaces });
      assert.equal(parsed?.success, false, JSON.stringify(namespaces));
      assert.deepEqual(parsed?.error?.issues[0]?.path.slice(0, 1), ['namespaces']);
    }
  });
});

describe('the simulated workloads conform to kubernetes-api.md', () => {
  const contract = readFileSync(join(CONTRACT_FIXTURES, 'kubernetes-api.md'), 'utf8');
  const section = contract.slice(contract.indexOf('## Workload status'));
  const words = new Set([...section.matchAll(/`([^`]+)`/g)].flatMap((match) => (match[1] ?? '').split(/[^A-Za-z0-9]+/)).filter(Boolean));
  /** Every key of an object, nested, and every string value that is a phase, reason or type. */
  const keysOf = (value: unknown, path = ''): string[] =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner, `${path}.${key}`)]) : Array.isArray(value) ? value.flatMap((item) => keysOf(item, path)) : [];
  const namedValues = (value: unknown): string[] =>
    value && typeof value === 'object' ? Object.entries(value).flatMap(([key, inner]) => (['phase', 'reason', 'type'].includes(key) && typeof inner === 'string' ? [inner] : namedValues(inner))) : [];

  it('writes only the status and spec fields, phases and reasons the contract names, for ready and held-back objects alike', async function () {
    this.timeout(15_000);
    const cluster = await startVeleroCluster(5);
    try {
      const { workloads, outcomes } = cluster.sim.objects;
      for (const held of ['Deployment held/web', 'StatefulSet held/db', 'PersistentVolumeClaim held/data']) workloads.heldBack.add(held);
      outcomes.set('stuck', 'Stuck');
      outcomes.set('lost', 'Failed');
      for (const namespace of ['ready', 'held']) {
        workloads.add('apps/v1', 'Deployment', namespace, 'web');
        workloads.add('apps/v1', 'StatefulSet', namespace, 'db');
        workloads.add('v1', 'PersistentVolumeClaim', namespace, 'data');
      }
      for (const [name, phase, waiting] of [['a', 'Running'], ['b', 'Pending'], ['c', 'Succeeded'], ['d', 'Failed'], ['e', 'Running', 'CrashLoopBackOff']] as const) {
        cluster.sim.addPod({ namespace: 'ready', name, phase, ...(waiting ? { waiting } : {}) });
      }
      for (const name of ['healthy', 'stuck', 'lost']) await addPostgres(cluster, 'ready', name, 2);
      await cluster.kube.waitForObject(CUSTOM_RESOURCES.cnpgCluster, 'ready', 'healthy', { isDone: (object) => object.status?.readyInstances === 2, intervalMs: 10, timeoutMs: 5_000 });
      await cluster.kube.waitForObject(CUSTOM_RESOURCES.cnpgCluster, 'ready', 'lost', { isDone: (object) => object.status?.phaseReason !== undefined, intervalMs: 10, timeoutMs: 5_000 });

      const objects: unknown[] = [];
      for (const namespace of ['ready', 'held']) {
        for (const [apiVersion, kind] of [['v1', 'Pod'], ['v1', 'PersistentVolumeClaim'], ['apps/v1', 'Deployment'], ['apps/v1', 'StatefulSet']] as const) {
          const items = (await cluster.kube.listKind(apiVersion, kind, namespace)) ?? [];
          assert.ok(namespace === 'held' && kind === 'Pod' ? items.length === 0 : items.length > 0, `${kind}s listed in ${namespace}`);
          objects.push(...items.map((item) => ({ spec: kind === 'Pod' ? {} : item.spec, status: item.status })));
        }
      }
      objects.push(...(await cluster.kube.listObjects(CUSTOM_RESOURCES.cnpgCluster, 'ready')).map((item) => ({ spec: { instances: item.spec?.instances }, status: item.status })));
      objects.push(...['ready', 'held'].map((namespace) => ({ status: cluster.sim.objects.workloads.get('v1', 'Namespace', undefined, namespace)?.status })));
      // Pod names and images are the test's own; the contract names the fields.
      const unknownKeys = [...new Set(objects.flatMap((object) => keysOf(object)))].filter((key) => !words.has(key));
      assert.deepEqual(unknownKeys, []);
      const values = [...new Set(objects.flatMap(namedValues))];
      assert.deepEqual(values.filter((value) => !section.includes(`\`${value}\``) && !section.includes(value)), []);
      for (const phase of ['Running', 'Pending', 'Succeeded', 'Failed', 'Bound', 'Active', 'Setting up primary', 'Cluster in healthy state', 'Cluster is in an unrecoverable state, needs manual intervention']) {
        assert.ok(values.includes(phase), `the simulator reaches ${phase}`);
      }
    } finally {
      await cluster.sim.stop();
    }
  });
});

describe('what k8s.verify counts as ready, on objects shaped as the API server returns them', () => {
  const object = (kind: string, spec: Record<string, unknown>, status: Record<string, unknown>, generation?: number): KubeObject => ({ apiVersion: 'v1', kind, metadata: { name: 'x', namespace: 'ns', ...(generation === undefined ? {} : { generation }) }, spec, status });

  it('a Deployment whose controller has not seen its latest spec is not ready yet, whatever its counts', () => {
    const counts = { replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 };
    assert.equal(replicasProblem(object('Deployment', { replicas: 2 }, { observedGeneration: 3, ...counts }, 3)), undefined);
    assert.equal(replicasProblem(object('Deployment', { replicas: 2 }, { observedGeneration: 2, ...counts }, 3)), "Deployment ns/x: 2 of 2 replicas ready; its controller has not seen generation 3 yet");
    assert.equal(replicasProblem(object('Deployment', { replicas: 3 }, { observedGeneration: 3, ...counts }, 3)), 'Deployment ns/x: 2 of 3 replicas ready');
    assert.equal(replicasProblem(object('Deployment', { replicas: 2 }, { observedGeneration: 1, replicas: 2, readyReplicas: 2, availableReplicas: 1 }, 1)), 'Deployment ns/x: 2 of 2 replicas ready, 1 available');
  });

  it('a workload scaled to zero is ready; replicas default to 1 and missing counts are zero, as omitempty leaves them out', () => {
    assert.equal(replicasProblem(object('StatefulSet', { replicas: 0 }, { observedGeneration: 1 }, 1)), undefined);
    assert.equal(replicasProblem(object('StatefulSet', {}, { observedGeneration: 1 }, 1)), 'StatefulSet ns/x: 0 of 1 replicas ready');
    assert.equal(replicasProblem(object('StatefulSet', {}, {}, 1)), 'StatefulSet ns/x: 0 of 1 replicas ready; its controller has not seen generation 1 yet');
  });

  it('a pod is judged by its phase, its containers and its Ready condition; an evicted one says why', () => {
    assert.equal(podProblem(object('Pod', {}, { phase: 'Succeeded' })), undefined);
    assert.equal(podProblem(object('Pod', {}, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })), undefined);
    assert.equal(podProblem(object('Pod', {}, { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] })), 'pod ns/x: Running, not ready');
    assert.equal(podProblem(object('Pod', {}, { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' })), 'pod ns/x: Failed (Evicted)');
    assert.equal(podProblem(object('Pod', {}, {})), 'pod ns/x: Unknown');
    assert.equal(podProblem(object('Pod', {}, { phase: 'Running', containerStatuses: [{ name: 'app', ready: false, restartCount: 0, state: { running: {} } }] })), 'pod ns/x: Running (container app not ready)');
  });

  it('a claim is ready once Bound, a Postgres Cluster once healthy with every instance ready, and text from the cluster is printed as data', () => {
    assert.equal(claimProblem(object('PersistentVolumeClaim', {}, { phase: 'Lost' })), 'PersistentVolumeClaim ns/x: Lost, not Bound');
    assert.equal(postgresProblem(object('Cluster', { instances: 3 }, { phase: 'Cluster in healthy state', readyInstances: 3 })), undefined);
    assert.equal(postgresProblem(object('Cluster', { instances: 3 }, { phase: 'Cluster in healthy state', readyInstances: 2 })), 'CloudNativePG Cluster ns/x: Cluster in healthy state, 2 of 3 instances ready');
    assert.equal(postgresProblem(object('Cluster', { instances: 1 }, { phase: 'Waiting for user action', phaseReason: 'line one\n- pod forged: fine' })), 'CloudNativePG Cluster ns/x: Waiting for user action, 0 of 1 instances ready (line one\\n- pod forged: fine)');
  });
});
