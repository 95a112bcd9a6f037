import type { KubeClient } from '../../clients/kube';
import { listCronJobs, listDeployments, readConfigMap, type V1PodSpec } from '../../clients/kubeWorkloads';
import { errorMessage, isCancellationError, throwIfAborted } from '../../core/errors';
import { configMapName, readRunCommand, RUNBOOK_ANNOTATION, scheduledRunbookSelector, type ScheduledKind } from './k8sManifests';

/** A runbook a cluster runs (a CronJob or Deployment of schedule.k8s.install), read back from the cluster. */
export interface RunbookInCluster {
  kind: ScheduledKind;
  namespace: string;
  /** The CronJob's or Deployment's name: `inCluster.name` of the actions that reach its pod. */
  name: string;
  /** The runbook's path in the workspace it was installed from, as its annotation names it. */
  runbook: string;
  /** The runbook's text in its ConfigMap and the `--param` values its pod runs it with, or why they cannot be read. */
  content: { text: string; params: Readonly<Record<string, string>> } | { problem: string };
}

interface Workload {
  kind: ScheduledKind;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  pod: V1PodSpec | undefined;
}

/** What the pod runs: the runbook in the workload's ConfigMap, with the parameters of its container's command. */
async function contentOf(client: KubeClient, workload: Workload, namespace: string, name: string): Promise<RunbookInCluster['content']> {
  const command = workload.pod?.containers[0]?.command ?? [];
  const run = readRunCommand(command);
  if (!run) return { problem: `the container of ${workload.kind} ${namespace}/${name} runs ${JSON.stringify(command)}, not the \`lifeboat run\` command schedule.k8s.install writes, so its parameters are not known` };
  const mapName = configMapName(name);
  const configMap = await readConfigMap(client, namespace, mapName);
  if (!configMap) return { problem: `there is no ConfigMap ${namespace}/${mapName} holding the runbook of ${workload.kind} ${namespace}/${name}` };
  const text = configMap.data?.[run.runbookKey];
  if (text === undefined) return { problem: `ConfigMap ${namespace}/${mapName} has no key ${JSON.stringify(run.runbookKey)}, the runbook ${workload.kind} ${namespace}/${name} runs` };
  return { text, params: run.params };
}

/**
 * Every runbook schedule.k8s.install put into the cluster, in every namespace (by its labels), with
 * its text and parameters. A workload whose runbook cannot be read says why in `content`; a listing
 * the cluster refuses (unreachable, forbidden) is thrown.
 */
export async function runbooksInCluster(client: KubeClient, signal: AbortSignal): Promise<RunbookInCluster[]> {
  const selector = scheduledRunbookSelector();
  throwIfAborted(signal);
  const [cronJobs, deployments] = await Promise.all([listCronJobs(client, undefined, selector), listDeployments(client, undefined, selector)]);
  const workloads: Workload[] = [
    ...deployments.map((deployment): Workload => ({ kind: 'Deployment', metadata: deployment.metadata, pod: deployment.spec?.template.spec })),
    ...cronJobs.map((cronJob): Workload => ({ kind: 'CronJob', metadata: cronJob.metadata, pod: cronJob.spec?.jobTemplate.spec?.template.spec })),
  ];
  const found: RunbookInCluster[] = [];
  for (const workload of workloads) {
    const { name = '', namespace = '', annotations } = workload.metadata ?? {};
    throwIfAborted(signal);
    let content: RunbookInCluster['content'];
    try {
      content = await contentOf(client, workload, namespace, name);
    } catch (error) {
      if (isCancellationError(error) || signal.aborted) throw error;
      content = { problem: errorMessage(error) };
    }
    found.push({ kind: workload.kind, namespace, name, runbook: annotations?.[RUNBOOK_ANNOTATION] ?? '', content });
  }
  return found.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind));
}
