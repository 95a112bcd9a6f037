import type { V1ConfigMap, V1CronJob, V1Deployment, V1Job, V1ObjectMeta } from '@kubernetes/client-node';
import { KubeError, type KubeClient } from './kube';

/**
 * The built-in kinds a runbook run by the cluster needs: the ConfigMap holding the runbook, the Secret
 * holding its secrets, the CronJob and the Jobs it starts (batch/v1), or the Deployment (apps/v1)
 * that runs it without end.
 */

export type { V1ConfigMap, V1CronJob, V1Deployment, V1Job, V1PodSpec } from '@kubernetes/client-node';

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

/**
 * Creates the object, or replaces the one of that name: its resourceVersion guards a concurrent
 * change, and what a controller keeps in its status stays.
 */
async function createOrReplace<Body extends { metadata?: V1ObjectMeta }>(
  body: Body,
  read: (namespace: string, name: string) => Promise<Body | undefined>,
  create: (namespace: string, body: Body) => Promise<unknown>,
  replace: (namespace: string, name: string, body: Body) => Promise<unknown>,
): Promise<AppliedChange> {
  const { namespace = '', name = '' } = body.metadata ?? {};
  const existing = await read(namespace, name);
  if (!existing) {
    await create(namespace, body);
    return 'created';
  }
  await replace(namespace, name, { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } });
  return 'replaced';
}

export function applyConfigMap(client: KubeClient, body: V1ConfigMap): Promise<AppliedChange> {
  const what = `ConfigMap ${body.metadata?.namespace ?? ''}/${body.metadata?.name ?? ''}`;
  return createOrReplace(
    body,
    (namespace, name) => readConfigMap(client, namespace, name),
    (namespace, created) => client.request(what, (sdk, config) => config.makeApiClient(sdk.CoreV1Api).createNamespacedConfigMap({ namespace, body: created })),
    (namespace, name, replacement) => client.request(what, (sdk, config) => config.makeApiClient(sdk.CoreV1Api).replaceNamespacedConfigMap({ namespace, name, body: replacement })),
  );
}

/** The keys a Secret holds (never its values), or undefined when there is no such Secret. */
export async function secretKeys(client: KubeClient, namespace: string, name: string): Promise<string[] | undefined> {
  const secret = await unlessMissing(client.request(`Secret ${namespace}/${name}`, (sdk, config) => config.makeApiClient(sdk.CoreV1Api).readNamespacedSecret({ namespace, name })));
  return secret ? [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})] : undefined;
}

export function readCronJob(client: KubeClient, namespace: string, name: string): Promise<V1CronJob | undefined> {
  return unlessMissing(client.request(`CronJob ${namespace}/${name}`, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).readNamespacedCronJob({ namespace, name })));
}

/** How a listing names where it looked: a namespace, or all of them (`namespace` left out). */
function inNamespace(namespace: string | undefined): string {
  return namespace === undefined ? 'every namespace' : `namespace ${namespace}`;
}

/** The CronJobs the label selector matches in a namespace, or in every namespace when it is left out. */
export async function listCronJobs(client: KubeClient, namespace: string | undefined, labelSelector: string): Promise<V1CronJob[]> {
  const list = await client.request(`CronJobs in ${inNamespace(namespace)}`, (sdk, config) => {
    const batch = config.makeApiClient(sdk.BatchV1Api);
    return namespace === undefined ? batch.listCronJobForAllNamespaces({ labelSelector }) : batch.listNamespacedCronJob({ namespace, labelSelector });
  });
  return list.items;
}

export function applyCronJob(client: KubeClient, body: V1CronJob): Promise<AppliedChange> {
  const what = `CronJob ${body.metadata?.namespace ?? ''}/${body.metadata?.name ?? ''}`;
  return createOrReplace(
    body,
    (namespace, name) => readCronJob(client, namespace, name),
    (namespace, created) => client.request(what, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).createNamespacedCronJob({ namespace, body: created })),
    (namespace, name, replacement) => client.request(what, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).replaceNamespacedCronJob({ namespace, name, body: replacement })),
  );
}

export function readDeployment(client: KubeClient, namespace: string, name: string): Promise<V1Deployment | undefined> {
  return unlessMissing(client.request(`Deployment ${namespace}/${name}`, (sdk, config) => config.makeApiClient(sdk.AppsV1Api).readNamespacedDeployment({ namespace, name })));
}

/** The Deployments the label selector matches in a namespace, or in every namespace when it is left out. */
export async function listDeployments(client: KubeClient, namespace: string | undefined, labelSelector: string): Promise<V1Deployment[]> {
  const list = await client.request(`Deployments in ${inNamespace(namespace)}`, (sdk, config) => {
    const apps = config.makeApiClient(sdk.AppsV1Api);
    return namespace === undefined ? apps.listDeploymentForAllNamespaces({ labelSelector }) : apps.listNamespacedDeployment({ namespace, labelSelector });
  });
  return list.items;
}

/** A changed pod template rolls the Deployment out: its pod is replaced (strategy Recreate). */
export function applyDeployment(client: KubeClient, body: V1Deployment): Promise<AppliedChange> {
  const what = `Deployment ${body.metadata?.namespace ?? ''}/${body.metadata?.name ?? ''}`;
  return createOrReplace(
    body,
    (namespace, name) => readDeployment(client, namespace, name),
    (namespace, created) => client.request(what, (sdk, config) => config.makeApiClient(sdk.AppsV1Api).createNamespacedDeployment({ namespace, body: created })),
    (namespace, name, replacement) => client.request(what, (sdk, config) => config.makeApiClient(sdk.AppsV1Api).replaceNamespacedDeployment({ namespace, name, body: replacement })),
  );
}

/** The Jobs a CronJob started: those of its namespace whose controller owner is that CronJob. */
export async function jobsOfCronJob(client: KubeClient, cronJob: V1CronJob): Promise<V1Job[]> {
  const { namespace = '', name = '', uid } = cronJob.metadata ?? {};
  const list = await client.request(`Jobs in namespace ${namespace}`, (sdk, config) => config.makeApiClient(sdk.BatchV1Api).listNamespacedJob({ namespace }));
  return list.items.filter((job) => job.metadata?.ownerReferences?.some((owner) => owner.kind === 'CronJob' && owner.controller === true && (uid ? owner.uid === uid : owner.name === name)));
}
