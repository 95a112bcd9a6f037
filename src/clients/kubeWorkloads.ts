import type { V1ConfigMap, V1CronJob, V1Job } from '@kubernetes/client-node';
import { KubeError, type KubeClient } from './kube';

/**
 * The built-in kinds a runbook run by the cluster's own scheduler needs: the ConfigMap holding the
 * runbook, the Secret holding its secrets, the CronJob and the Jobs it starts (batch/v1).
 */

export type { V1ConfigMap, V1CronJob, V1Job } from '@kubernetes/client-node';

/** Whether the object was created or replaced (`kubectl apply` without the three-way merge). */
export type AppliedChange = 'created' | 'replaced';

/** Undefined when the object does not exist; every other failure is thrown. */
async function unlessMissing<Result>(read: Promise<Result>): Promise<Result | undefined> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof KubeError && error.failure === 'not-found') return undefined;
    throw error;
  }
}

export function readConfigMap(client: KubeClient, namespace: string, name: string): Promise<V1ConfigMap | undefined> {
  return unlessMissing(client.request(`ConfigMap ${namespace}/${name}`, (sdk, config) => config.makeApiClient(sdk.CoreV1Api).readNamespacedConfigMap({ namespace, name })));
}

/** Creates the ConfigMap, or replaces the one of that name (its resourceVersion guards a concurrent change). */
export async function applyConfigMap(client: KubeClient, body: V1ConfigMap): Promise<AppliedChange> {
  const { namespace = '', name = '' } = body.metadata ?? {};
  const what = `ConfigMap ${namespace}/${name}`;
  const existing = await readConfigMap(client, namespace, name);
  if (!existing) {
    await client.request(what, (sdk, config) => config.makeApiClient(sdk.CoreV1Api).createNamespacedConfigMap({ namespace, body }));
    return 'created';
  }
  const replacement = { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } };
  await client.request(what, (sdk, config) => config.makeApiClient(sdk.CoreV1Api).replaceNamespacedConfigMap({ namespace, name, body: replacement }));
  return 'replaced';
}

/** The keys a Secret holds (never its values), or undefined when there is no such Secret. */
export async function secretKeys(client: KubeClient, namespace: string, name: string): Promise<string[] | undefined> {
  const secret = await unlessMissing(client.request(`Secret ${namespace}/${name}`, (sdk, config) => config.makeApiClient(sdk.CoreV1Api).readNamespacedSecret({ namespace, name })));
  return secret ? [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})] : undefined;
}

export function readCronJob(client: KubeClient, namespace: string, name: string): Promise<V1CronJob | undefined> {
  return unlessMissing(client.request(`CronJob ${namespace}/${name}`, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).readNamespacedCronJob({ namespace, name })));
}

export async function listCronJobs(client: KubeClient, namespace: string, labelSelector: string): Promise<V1CronJob[]> {
  const list = await client.request(`CronJobs in namespace ${namespace}`, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).listNamespacedCronJob({ namespace, labelSelector }));
  return list.items;
}

/** Creates the CronJob, or replaces the one of that name; its status (last schedule, last success) is the controller's and stays. */
export async function applyCronJob(client: KubeClient, body: V1CronJob): Promise<AppliedChange> {
  const { namespace = '', name = '' } = body.metadata ?? {};
  const what = `CronJob ${namespace}/${name}`;
  const existing = await readCronJob(client, namespace, name);
  if (!existing) {
    await client.request(what, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).createNamespacedCronJob({ namespace, body }));
    return 'created';
  }
  const replacement = { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } };
  await client.request(what, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).replaceNamespacedCronJob({ namespace, name, body: replacement }));
  return 'replaced';
}

/** The Jobs a CronJob started: those of its namespace whose controller owner is that CronJob. */
export async function jobsOfCronJob(client: KubeClient, cronJob: V1CronJob): Promise<V1Job[]> {
  const { namespace = '', name = '', uid } = cronJob.metadata ?? {};
  const list = await client.request(`Jobs in namespace ${namespace}`, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).listNamespacedJob({ namespace }));
  return list.items.filter((job) => job.metadata?.ownerReferences?.some((owner) => owner.kind === 'CronJob' && owner.controller === true && (uid ? owner.uid === uid : owner.name === name)));
}
