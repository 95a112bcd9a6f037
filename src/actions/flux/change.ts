import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction, type ActionContext, type PlannedOperation } from '../../core/actions/spec';
import { formatDuration } from '../../core/render';
import { CancelledError } from '../../core/errors';
import { KUSTOMIZATION, isSuspended, objectId, type KustomizationState } from './kustomizations';
import { kustomizationTable } from './status';
import { describeSelection, kustomizationSelection, selectedKustomizations, type KustomizationSelection } from './target';
import { readyTimeoutParam, waitUntilReady } from './wait';

/** What `flux suspend` sends (contract §3): a JSON merge patch setting `spec.suspend`. */
export const SUSPEND_PATCH = { spec: { suspend: true } };
/** What `flux resume` sends: `suspend` is `omitempty`, so setting it false removes the key. */
export const RESUME_PATCH = { spec: { suspend: null } };

/** A patch as the plan shows it, on the Kustomization it goes to. */
export function patchOperation(cluster: string, kustomization: KubeObject, patch: object, detail?: string): PlannedOperation {
  return { kind: 'overwrite', target: `Kustomization ${objectId(kustomization)} on cluster ${cluster}`, detail: `merge patch ${JSON.stringify(patch)}${detail ? `: ${detail}` : ''}` };
}

/**
 * A Kustomization whose state now makes the step leave it alone. The step reads the state again when
 * it runs, so a step before it in the runbook (a suspend before a resume) can change that.
 */
export function leftAlone(cluster: string, kustomization: KubeObject, state: string, outcome = 'left as it is'): PlannedOperation {
  return { kind: 'read', target: `Kustomization ${objectId(kustomization)} on cluster ${cluster}`, detail: `${state} now: ${outcome}, unless an earlier step changes that` };
}

async function patchAll(ctx: ActionContext, selection: KustomizationSelection, wanted: (kustomization: KubeObject) => boolean, patch: (kustomization: KubeObject) => Record<string, unknown>) {
  const { kube, kustomizations } = await selectedKustomizations(ctx, selection);
  const changing = kustomizations.filter(wanted);
  const patched: KubeObject[] = [];
  for (const kustomization of changing) {
    if (ctx.signal.aborted) break;
    patched.push(await kube.patchObject(KUSTOMIZATION, kustomization.metadata.namespace ?? '', kustomization.metadata.name, patch(kustomization)));
  }
  return { kube, patched, unchanged: kustomizations.filter((kustomization) => !wanted(kustomization)).map(objectId) };
}

const fluxSuspendParams = z.object(kustomizationSelection).strict();

export interface FluxSuspendResult {
  cluster: string;
  suspended: string[];
  /** Named, and suspended already. */
  alreadySuspended: string[];
}

export const fluxSuspend = defineAction({
  id: 'flux.suspend',
  title: 'Suspend Flux Kustomization',
  description:
    'Suspends Flux Kustomizations as `flux suspend kustomization` does (a merge patch `{"spec":{"suspend":true}}`), so Flux stops applying them while a restore runs. `name: all` suspends every Kustomization of the namespace. Resume them with flux.resume once the restore is verified.',
  params: fluxSuspendParams,
  destructive: false,
  async plan(params, ctx) {
    const { kustomizations } = await selectedKustomizations(ctx, params);
    return {
      summary: `Suspend ${describeSelection(params)} on cluster '${params.cluster}'`,
      operations: kustomizations.map((kustomization) => (isSuspended(kustomization) ? leftAlone(params.cluster, kustomization, 'suspended') : patchOperation(params.cluster, kustomization, SUSPEND_PATCH))),
      destructive: false,
    };
  },
  async run(params, ctx): Promise<FluxSuspendResult> {
    const { patched, unchanged } = await patchAll(ctx, params, (kustomization) => !isSuspended(kustomization), () => SUSPEND_PATCH);
    if (ctx.signal.aborted && patched.length > 0) ctx.log.warn(`cancelled after suspending ${patched.map(objectId).join(', ')}`);
    if (ctx.signal.aborted) throw new CancelledError();
    return { cluster: params.cluster, suspended: patched.map(objectId), alreadySuspended: unchanged };
  },
  render(result: FluxSuspendResult) {
    const lines = [result.suspended.length > 0 ? `Suspended on cluster '${result.cluster}': ${result.suspended.join(', ')}.` : `Nothing to suspend on cluster '${result.cluster}'.`];
    if (result.alreadySuspended.length > 0) lines.push(`Already suspended: ${result.alreadySuspended.join(', ')}.`);
    lines.push('Flux applies none of their changes until they are resumed (flux.resume).');
    return lines.join('\n');
  },
});

const fluxResumeParams = z.object({ ...kustomizationSelection, timeoutSeconds: readyTimeoutParam }).strict();

export interface FluxResumeResult {
  cluster: string;
  /** Resumed, each as it was once Ready. */
  resumed: KustomizationState[];
  /** Named, and not suspended. */
  notSuspended: string[];
}

export const fluxResume = defineAction({
  id: 'flux.resume',
  title: 'Resume Flux Kustomization',
  description:
    'Resumes suspended Flux Kustomizations as `flux resume kustomization` does (a merge patch `{"spec":{"suspend":null}}`) and waits until each is Ready for its resumed spec, reporting its Ready condition while it waits; fails with that condition when one is not Ready within timeoutSeconds. `name: all` resumes every suspended Kustomization of the namespace.',
  params: fluxResumeParams,
  destructive: false,
  async plan(params, ctx) {
    const { kustomizations } = await selectedKustomizations(ctx, params);
    const wait = `then waits up to ${formatDuration(params.timeoutSeconds * 1000)} for Ready`;
    return {
      summary: `Resume ${describeSelection(params)} on cluster '${params.cluster}' and wait for Ready`,
      operations: kustomizations.map((kustomization) => (isSuspended(kustomization) ? patchOperation(params.cluster, kustomization, RESUME_PATCH, wait) : leftAlone(params.cluster, kustomization, 'not suspended'))),
      destructive: false,
    };
  },
  async run(params, ctx): Promise<FluxResumeResult> {
    const { kube, patched, unchanged } = await patchAll(ctx, params, isSuspended, () => RESUME_PATCH);
    if (ctx.signal.aborted) throw new CancelledError();
    const resumed = await waitUntilReady(kube, patched, ctx, { timeoutSeconds: params.timeoutSeconds });
    return { cluster: params.cluster, resumed, notSuspended: unchanged };
  },
  render(result: FluxResumeResult) {
    const lines = [result.resumed.length > 0 ? `Resumed on cluster '${result.cluster}', and Ready:\n\n${kustomizationTable(result.resumed)}` : `Nothing to resume on cluster '${result.cluster}'.`];
    if (result.notSuspended.length > 0) lines.push(`Not suspended: ${result.notSuspended.join(', ')}.`);
    return lines.join('\n\n');
  },
});
