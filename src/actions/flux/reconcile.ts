import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction } from '../../core/actions/spec';
import { CancelledError } from '../../core/errors';
import { formatDuration } from '../../core/render';
import { leftAlone, patchOperation } from './change';
import { KUSTOMIZATION, RECONCILE_REQUEST_ANNOTATION, isSuspended, objectId, type KustomizationState } from './kustomizations';
import { kustomizationTable } from './status';
import { ALL, describeSelection, kustomizationSelection, selectedKustomizations, selectionTarget } from './target';
import { readyTimeoutParam, waitUntilReady } from './wait';

/** Go's `time.RFC3339Nano` of an instant in UTC, as `flux reconcile` writes it: fraction without trailing zeros. */
export function rfc3339Nano(date: Date): string {
  return date.toISOString().replace(/\.(\d+)Z$/, (_, fraction: string) => (/^0+$/.test(fraction) ? 'Z' : `.${fraction.replace(/0+$/, '')}Z`));
}

/** The annotation patch of `flux reconcile` (contract §3). */
export function reconcilePatch(requestedAt: string): Record<string, unknown> {
  return { metadata: { annotations: { [RECONCILE_REQUEST_ANNOTATION]: requestedAt } } };
}

/** A request value the Kustomization has not seen: kustomize-controller reconciles on any changed value. */
function newRequest(kustomization: KubeObject, now: Date): string {
  const previous = kustomization.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];
  const value = rfc3339Nano(now);
  return value === previous ? rfc3339Nano(new Date(now.getTime() + 1)) : value;
}

const fluxReconcileParams = z.object({ ...kustomizationSelection, timeoutSeconds: readyTimeoutParam }).strict();

export interface FluxReconcileResult {
  cluster: string;
  /** Each reconciled Kustomization once it handled the request and was Ready. */
  reconciled: KustomizationState[];
  /** Suspended ones of `all`, which Flux does not reconcile. */
  skippedSuspended: string[];
}

export const fluxReconcile = defineAction({
  id: 'flux.reconcile',
  title: 'Reconcile Flux Kustomization',
  description: `Asks Flux to reconcile Kustomizations now, as \`flux reconcile kustomization\` does: a merge patch setting the \`${RECONCILE_REQUEST_ANNOTATION}\` annotation to the current time; then waits until kustomize-controller has handled that request (\`status.lastHandledReconcileAt\`) and the Kustomization is Ready. A suspended Kustomization is refused (\`name: all\` skips them).`,
  params: fluxReconcileParams,
  destructive: false,
  async plan(params, ctx) {
    const { kustomizations } = await selectedKustomizations(ctx, params);
    const wait = `then waits up to ${formatDuration(params.timeoutSeconds * 1000)} for status.lastHandledReconcileAt to be that time, and Ready`;
    return {
      summary: `Reconcile ${describeSelection(params)} on cluster '${params.cluster}' and wait for Ready`,
      operations: kustomizations.map((kustomization) => (isSuspended(kustomization) ? leftAlone(params.cluster, kustomization, 'suspended', selectionTarget(params).name === ALL ? 'skipped' : 'refused') : patchOperation(params.cluster, kustomization, reconcilePatch('<now, RFC 3339>'), wait))),
      destructive: false,
    };
  },
  async run(params, ctx): Promise<FluxReconcileResult> {
    const { kube, kustomizations } = await selectedKustomizations(ctx, params);
    const suspended = kustomizations.filter(isSuspended).map(objectId);
    if (selectionTarget(params).name !== ALL && suspended.length > 0) {
      throw new Error(`Kustomization ${suspended.join(', ')} on cluster '${params.cluster}' is suspended, and Flux does not reconcile a suspended Kustomization: resume it (flux.resume)`);
    }
    for (const id of suspended) ctx.log.warn(`${id} is suspended: not reconciled`);
    const requested = new Map<string, string>();
    const patched: KubeObject[] = [];
    for (const kustomization of kustomizations.filter((candidate) => !isSuspended(candidate))) {
      if (ctx.signal.aborted) throw new CancelledError();
      const requestedAt = newRequest(kustomization, new Date());
      patched.push(await kube.patchObject(KUSTOMIZATION, kustomization.metadata.namespace ?? '', kustomization.metadata.name, reconcilePatch(requestedAt)));
      requested.set(objectId(kustomization), requestedAt);
    }
    const reconciled = await waitUntilReady(kube, patched, ctx, { timeoutSeconds: params.timeoutSeconds, requestedAt: requested });
    return { cluster: params.cluster, reconciled, skippedSuspended: suspended };
  },
  render(result: FluxReconcileResult) {
    const lines = [result.reconciled.length > 0 ? `Reconciled on cluster '${result.cluster}', and Ready:\n\n${kustomizationTable(result.reconciled)}` : `Nothing to reconcile on cluster '${result.cluster}'.`];
    if (result.skippedSuspended.length > 0) lines.push(`⚠ Suspended, not reconciled: ${result.skippedSuspended.join(', ')}.`);
    return lines.join('\n\n');
  },
});
