/**
 * The snapshot mirrors a cluster runs for a Frigate instance: the `frigate.snapshots.mirror` cells of
 * the runbooks schedule.k8s.install put there, their parameters resolved before the run as the pod's
 * `lifeboat run` resolves them (its `--param` values, else the runbook's defaults), and each one's
 * status read in the pod that runs it.
 */
import type { ActionContext } from '../../core/actions/spec';
import { mapConcurrent } from '../../core/concurrency';
import { errorMessage, formatProblem, isCancellationError, type Problem } from '../../core/errors';
import { isUnknownField, knownStepParams } from '../../core/runner/precheck';
import { parseRunbook } from '../../core/runbook/parse';
import { readParamDefinitions, resolveParams } from '../../core/runbook/params';
import { readSteps, type Step } from '../../core/runbook/steps';
import { kubeClientFor } from '../clusters/target';
import { runbooksInCluster, type RunbookInCluster } from '../schedule/k8sRunbooks';
import { frigateSnapshotsMirror } from './mirror';
import { frigateSnapshotsMirrorStatus, type MirrorStatusResult } from './mirrorStatus';

/** Mirrors whose status is read in their pods at the same time. */
const PODS_READ_AT_ONCE = 4;

/** The cell's parameters the status needs: whose mirror it is, and where its state is. */
const STATUS_FIELDS = ['frigate', 'store', 'prefix', 'state'] as const;

/** A mirror's status as read in its pod, or why it could not be. */
export type PodReading = { status: MirrorStatusResult } | { failure: string };

export interface ClusterMirror {
  cluster: string;
  kind: RunbookInCluster['kind'];
  namespace: string;
  /** The CronJob or Deployment that runs it. */
  name: string;
  runbook: string;
  /** The mirror's cell in the runbook, counted as the notebook counts cells. */
  cell: number;
  /**
   * The status action's parameters for it (`inCluster` filled in) and what it read, or why there are
   * none: a value the cell has only as the runbook runs, or a runbook the pod's `lifeboat run` refuses.
   */
  reading: ({ params: Record<string, unknown> } & PodReading) | { skipped: string };
}

type MirrorCell = { cell: number } & ({ params: Record<string, unknown> } | { skipped: string });

/** The written value of a field, as the skip reason shows it. */
function written(step: Step, field: string): string {
  return JSON.stringify(step.params[field]);
}

/**
 * The status parameters of one mirror cell whose `frigate` is `frigate` (or cannot be known before
 * the run: it may be this one), or undefined for a mirror of another instance.
 */
function mirrorCell(step: Step, frigate: string, values: Readonly<Record<string, unknown>>, refusal: Problem | undefined, inCluster: { cluster: string; namespace: string; name: string }): MirrorCell | undefined {
  const known = knownStepParams(step, values);
  const unknown = STATUS_FIELDS.filter((field) => isUnknownField(field, known.unknownFields));
  if (!unknown.includes('frigate') && known.params.frigate !== frigate) return undefined;
  const skip = (skipped: string): MirrorCell => ({ cell: step.cellNumber, skipped });
  if (refusal) return skip(`the pod's \`lifeboat run\` refuses the runbook (${formatProblem(refusal)}), so it mirrors nothing`);
  if (unknown.length > 0) {
    const fields = unknown.map((field) => `\`${field}\` (${written(step, field)})`).join(', ');
    return skip(`${fields} ${unknown.length === 1 ? 'has' : 'have'} no value before the run (the runner knows the pod's --param values and the runbook's defaults then, not an earlier step's result), so where its state is cannot be told`);
  }
  const params = {
    ...Object.fromEntries(STATUS_FIELDS.filter((field) => known.params[field] !== undefined).map((field) => [field, known.params[field]])),
    inCluster,
  };
  const checked = frigateSnapshotsMirrorStatus.params.safeParse(params);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return skip(`its \`${issue?.path.join('.') ?? ''}\` is not one the status reads: ${issue?.message ?? 'invalid'}`);
  }
  return { cell: step.cellNumber, params };
}

/** The mirror cells of `frigate` in a runbook the cluster runs, each with its status parameters or why it has none. */
function mirrorCells(runbook: RunbookInCluster, cluster: string, text: string, supplied: Readonly<Record<string, string>>, frigate: string): MirrorCell[] {
  const document = parseRunbook(text);
  const { definitions, problems } = readParamDefinitions(document.frontmatter, runbook.runbook);
  const resolved = resolveParams(definitions, supplied, runbook.runbook);
  const { steps, problems: stepProblems } = readSteps(document, runbook.runbook);
  const frontmatter: Problem[] = document.frontmatterError ? [{ file: runbook.runbook, line: 1, message: document.frontmatterError }] : [];
  const [refusal] = [...frontmatter, ...problems, ...resolved.problems, ...stepProblems];
  return steps.flatMap((step) => {
    // A cell that only plans uploads nothing and keeps no state.
    if (step.actionId !== frigateSnapshotsMirror.id || step.dryRun) return [];
    return mirrorCell(step, frigate, resolved.values, refusal, { cluster, namespace: runbook.namespace, name: runbook.name }) ?? [];
  });
}

async function readInPod(ctx: ActionContext, params: Record<string, unknown>): Promise<PodReading> {
  try {
    return { status: (await frigateSnapshotsMirrorStatus.run(frigateSnapshotsMirrorStatus.params.parse(params), ctx)) as MirrorStatusResult };
  } catch (error) {
    if (isCancellationError(error) || ctx.signal.aborted) throw error;
    return { failure: errorMessage(error) };
  }
}

/**
 * The snapshot mirrors of `frigate` the inventory's cluster `cluster` runs, each with its status read
 * in its pod. Throws when the cluster cannot be listed (unreachable, refused); a runbook that cannot
 * be read is logged and left out, as nothing tells whether it mirrors.
 */
export async function mirrorsInCluster(ctx: ActionContext, cluster: string, frigate: string): Promise<ClusterMirror[]> {
  const kube = await kubeClientFor(ctx, cluster);
  const cells: { runbook: RunbookInCluster; found: MirrorCell }[] = [];
  for (const runbook of await runbooksInCluster(kube, ctx.signal)) {
    if ('problem' in runbook.content) {
      ctx.log.warn(`cluster '${cluster}': ${runbook.kind} ${runbook.namespace}/${runbook.name} is left out of the snapshot mirrors: ${runbook.content.problem}`);
      continue;
    }
    for (const found of mirrorCells(runbook, cluster, runbook.content.text, runbook.content.params, frigate)) cells.push({ runbook, found });
  }
  // Each reading is a few round trips into its pod: several at once, so a cluster with many mirrors opens about as fast as one with a few.
  return mapConcurrent(
    cells,
    PODS_READ_AT_ONCE,
    async ({ runbook, found }) => {
      const reading = 'skipped' in found ? { skipped: found.skipped } : { params: found.params, ...(await readInPod(ctx, found.params)) };
      return { cluster, kind: runbook.kind, namespace: runbook.namespace, name: runbook.name, runbook: runbook.runbook, cell: found.cell, reading };
    },
    ctx.signal,
  );
}
