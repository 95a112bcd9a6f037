import { setTimeout as sleep } from 'node:timers/promises';
import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { CancelledError } from '../../core/errors';
import { ThrottledProgress } from '../../core/progress';
import { formatCount, formatDuration, markdownTable } from '../../core/render';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { namespaceName } from '../velero/resources';
import { namespaceHealth, type NamespaceHealth, type Tally } from './health';

/** Between two looks while waiting: pods start in seconds, not milliseconds. */
const RECHECK_MS = 2000;

const verifyParams = z
  .object({
    cluster: clusterParam,
    namespaces: z
      .array(namespaceName)
      .min(1)
      .refine((names) => new Set(names).size === names.length, 'each namespace once')
      .describe('The namespaces checked.'),
    waitMinutes: z.number().min(0).max(24 * 60).default(0).describe('Look again until everything is ready or this time is up (after a restore, pods take a while to start); 0 looks once.'),
  })
  .strict();

export interface VerifyResult {
  cluster: string;
  namespaces: NamespaceHealth[];
  /** How many times the namespaces were read. */
  looks: number;
}

/** The step's failure: every object not ready, one per line. */
function notReady(cluster: string, healths: readonly NamespaceHealth[], waitedMs: number | undefined): Error {
  const problems = healths.flatMap((health) => health.problems);
  const waited = waitedMs === undefined ? '' : ` after waiting ${formatDuration(waitedMs)}`;
  const names = healths.map((health) => health.namespace).join(', ');
  return new Error(`${formatCount(problems.length, 'object')} not ready in ${healths.length === 1 ? 'namespace' : 'namespaces'} ${names} on cluster '${cluster}'${waited}:\n${problems.map((problem) => `- ${problem}`).join('\n')}`);
}

const shown = (tally: Tally | undefined) => (tally === undefined ? 'no CloudNativePG' : `${tally.ready}/${tally.total}`);

export const k8sVerify = defineAction({
  id: 'k8s.verify',
  title: 'Verify Namespaces',
  description:
    'Checks that everything in the given namespaces runs: pods Running with every container ready (or Completed), PersistentVolumeClaims Bound, Deployments and StatefulSets with all their replicas ready, CloudNativePG Clusters healthy. A namespace that does not exist fails too. Fails the step listing each object that is not ready and why; with waitMinutes it looks again until all are ready or the time is up.',
  params: verifyParams,
  destructive: false,
  // It changes nothing, yet a dry run only plans it: it checks what the steps before it did, which a dry run has not done.
  readOnly: false,
  async plan(params) {
    const wait = params.waitMinutes > 0 ? `, waiting up to ${formatDuration(params.waitMinutes * 60_000)} for them to become ready` : '';
    return {
      summary: `Check that everything in ${params.namespaces.join(', ')} on cluster '${params.cluster}' runs${wait}`,
      operations: params.namespaces.map((namespace) => ({ kind: 'verify' as const, target: `cluster ${params.cluster}, namespace ${namespace}`, detail: 'pods Running or Completed, PersistentVolumeClaims Bound, Deployments and StatefulSets ready, CloudNativePG Clusters healthy' })),
      destructive: false,
    };
  },
  async run(params, ctx): Promise<VerifyResult> {
    const client = await kubeClientFor(ctx, params.cluster);
    const progress = new ThrottledProgress(ctx.progress);
    const started = Date.now();
    const deadline = started + params.waitMinutes * 60_000;
    for (let looks = 1; ; looks++) {
      if (ctx.signal.aborted) throw new CancelledError();
      const healths: NamespaceHealth[] = [];
      for (const namespace of params.namespaces) healths.push(await namespaceHealth(client, namespace));
      const problems = healths.flatMap((health) => health.problems);
      if (problems.length === 0) return { cluster: params.cluster, namespaces: healths, looks };
      const left = deadline - Date.now();
      if (left <= 0) throw notReady(params.cluster, healths, params.waitMinutes > 0 ? Date.now() - started : undefined);
      progress.update({ message: `${formatCount(problems.length, 'object')} not ready yet, e.g. ${problems[0]}` });
      await sleep(Math.min(RECHECK_MS, left), undefined, { signal: ctx.signal }).catch(() => {
        throw new CancelledError();
      });
    }
  },
  render(result: VerifyResult) {
    const rows = result.namespaces.map((health) => [health.namespace, shown(health.pods), shown(health.persistentVolumeClaims), shown(health.deployments), shown(health.statefulSets), shown(health.postgresClusters)]);
    const names = result.namespaces.map((health) => health.namespace).join(', ');
    return `Everything in ${names} on cluster '${result.cluster}' is ready.\n\n${markdownTable(['Namespace', 'Pods ready', 'PVCs Bound', 'Deployments ready', 'StatefulSets ready', 'CloudNativePG Clusters healthy'], rows)}`;
  },
});
