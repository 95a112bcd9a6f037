import { CUSTOM_RESOURCES, KubeError, type KubeClient, type KubeObject } from '../../clients/kube';
import { printable } from '../../core/render';

/** How many of a kind are ready out of how many there are. */
export interface Tally {
  ready: number;
  total: number;
}

/** One namespace as `kubectl get pods,pvc,deploy,sts,cluster` would show it, and what in it is not ready. */
export interface NamespaceHealth {
  namespace: string;
  exists: boolean;
  pods: Tally;
  persistentVolumeClaims: Tally;
  deployments: Tally;
  statefulSets: Tally;
  /** CloudNativePG Clusters; absent when the cluster has no CloudNativePG. */
  postgresClusters?: Tally;
  /** One line per object that is not ready, saying why. */
  problems: string[];
}

/** CloudNativePG's phase for a Cluster with every instance up and nothing pending (`PhaseHealthy`, api/v1/cluster_types.go). */
export const CNPG_HEALTHY_PHASE = 'Cluster in healthy state';

type Fields = Record<string, unknown>;
const fields = (value: unknown): Fields => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : {});
const list = (value: unknown): Fields[] => (Array.isArray(value) ? value.map(fields) : []);
const count = (value: unknown): number => (typeof value === 'number' ? value : 0);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? printable(value) : undefined);

function tally(objects: readonly KubeObject[], problem: (object: KubeObject) => string | undefined, problems: string[]): Tally {
  let ready = 0;
  for (const object of objects) {
    const found = problem(object);
    if (found === undefined) ready++;
    else problems.push(found);
  }
  return { ready, total: objects.length };
}

/** What keeps a container from being ready: its waiting or terminated state, and its restarts. */
function containerProblem(status: Fields): string | undefined {
  if (status.ready === true) return undefined;
  const state = fields(status.state);
  const waiting = fields(state.waiting);
  const terminated = fields(state.terminated);
  const why =
    text(waiting.reason) !== undefined
      ? `waiting: ${text(waiting.reason)}`
      : text(terminated.reason) !== undefined || terminated.exitCode !== undefined
        ? `terminated: ${text(terminated.reason) ?? 'exited'}${terminated.exitCode === undefined ? '' : ` (exit code ${count(terminated.exitCode)})`}`
        : 'not ready';
  const restarts = count(status.restartCount);
  return `container ${text(status.name) ?? '?'} ${why}${restarts > 0 ? `, ${restarts} restarts` : ''}`;
}

/** A pod is fine Completed (`Succeeded`), or Running with every container ready. */
export function podProblem(pod: KubeObject): string | undefined {
  const status = pod.status ?? {};
  const phase = text(status.phase) ?? 'Unknown';
  if (phase === 'Succeeded') return undefined;
  const containers = list(status.containerStatuses).map(containerProblem).filter((problem) => problem !== undefined);
  const readyCondition = list(status.conditions).find((condition) => condition.type === 'Ready');
  if (phase === 'Running' && containers.length === 0 && readyCondition?.status !== 'False') return undefined;
  const reason = text(status.reason) ?? (readyCondition?.status === 'False' ? text(readyCondition.reason) : undefined);
  const details = [...(reason ? [reason] : []), ...containers];
  return `pod ${pod.metadata.namespace ?? ''}/${pod.metadata.name}: ${phase}${phase === 'Running' && details.length === 0 ? ', not ready' : ''}${details.length > 0 ? ` (${details.join('; ')})` : ''}`;
}

export function claimProblem(claim: KubeObject): string | undefined {
  const phase = text(claim.status?.phase);
  return phase === 'Bound' ? undefined : `PersistentVolumeClaim ${claim.metadata.namespace ?? ''}/${claim.metadata.name}: ${phase ?? 'no phase yet'}, not Bound`;
}

/**
 * A Deployment or StatefulSet is ready when its controller has seen the latest spec and as many
 * replicas as it asks for are ready (and, for a Deployment, available), as `kubectl rollout status` waits for.
 */
export function replicasProblem(workload: KubeObject): string | undefined {
  const status = workload.status ?? {};
  const wanted = typeof workload.spec?.replicas === 'number' ? workload.spec.replicas : 1;
  const ready = count(status.readyReplicas);
  const deployment = workload.kind === 'Deployment';
  const available = deployment ? count(status.availableReplicas) : ready;
  const generation = workload.metadata.generation;
  const observed = typeof status.observedGeneration === 'number' ? status.observedGeneration : undefined;
  const seen = generation === undefined || (observed !== undefined && observed >= generation);
  if (seen && ready >= wanted && available >= wanted) return undefined;
  const failing = list(status.conditions).filter((condition) => condition.status === 'False');
  const reasons = failing.map((condition) => [text(condition.type), text(condition.reason), text(condition.message)].filter(Boolean).join(': '));
  const counts = `${ready} of ${wanted} replicas ready${deployment && available < ready ? `, ${available} available` : ''}`;
  const waiting = seen ? '' : `; its controller has not seen generation ${generation ?? '?'} yet`;
  return `${workload.kind} ${workload.metadata.namespace ?? ''}/${workload.metadata.name}: ${counts}${waiting}${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`;
}

export function postgresProblem(cluster: KubeObject): string | undefined {
  const status = cluster.status ?? {};
  const wanted = typeof cluster.spec?.instances === 'number' ? cluster.spec.instances : count(status.instances) || 1;
  const ready = count(status.readyInstances);
  const phase = text(status.phase);
  if (phase === CNPG_HEALTHY_PHASE && ready >= wanted) return undefined;
  const reason = text(status.phaseReason);
  return `CloudNativePG Cluster ${cluster.metadata.namespace ?? ''}/${cluster.metadata.name}: ${phase ?? 'no status yet'}, ${ready} of ${wanted} instances ready${reason ? ` (${reason})` : ''}`;
}

/** The CloudNativePG Clusters of a namespace; undefined when the cluster has no CloudNativePG (its resource answers 404). */
async function postgresClusters(client: KubeClient, namespace: string): Promise<KubeObject[] | undefined> {
  try {
    return await client.listObjects(CUSTOM_RESOURCES.cnpgCluster, namespace);
  } catch (error) {
    if (error instanceof KubeError && error.failure === 'not-found') return undefined;
    throw error;
  }
}

/** Reads one namespace's pods, claims, workloads and CloudNativePG Clusters and says what is not ready. */
export async function namespaceHealth(client: KubeClient, namespace: string): Promise<NamespaceHealth> {
  const none: Tally = { ready: 0, total: 0 };
  const exists = (await client.objectExists('v1', 'Namespace', undefined, namespace)) === true;
  if (!exists) return { namespace, exists, pods: none, persistentVolumeClaims: none, deployments: none, statefulSets: none, problems: [`namespace ${namespace} does not exist`] };
  const [pods, claims, deployments, statefulSets, clusters] = await Promise.all([
    client.listKind('v1', 'Pod', namespace),
    client.listKind('v1', 'PersistentVolumeClaim', namespace),
    client.listKind('apps/v1', 'Deployment', namespace),
    client.listKind('apps/v1', 'StatefulSet', namespace),
    postgresClusters(client, namespace),
  ]);
  // List items carry no kind of their own; the problems name it.
  const withKind = (objects: KubeObject[] | undefined, kind: string) => (objects ?? []).map((object) => ({ ...object, kind }));
  const problems: string[] = [];
  return {
    namespace,
    exists,
    pods: tally(withKind(pods, 'Pod'), podProblem, problems),
    persistentVolumeClaims: tally(withKind(claims, 'PersistentVolumeClaim'), claimProblem, problems),
    deployments: tally(withKind(deployments, 'Deployment'), replicasProblem, problems),
    statefulSets: tally(withKind(statefulSets, 'StatefulSet'), replicasProblem, problems),
    ...(clusters === undefined ? {} : { postgresClusters: tally(clusters, postgresProblem, problems) }),
    problems,
  };
}
