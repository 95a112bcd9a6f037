import * as z from 'zod';
import type { KubeClient, KubeObject } from '../../clients/kube';
import type { ActionContext } from '../../core/actions/spec';
import { formatDuration } from '../../core/render';
import { ThrottledProgress } from '../../core/progress';
import { KUSTOMIZATION, kustomizationId, kustomizationState, type KustomizationState } from './kustomizations';

/** `flux`'s own default `--timeout`. */
const DEFAULT_TIMEOUT_SECONDS = 300;
const POLL_INTERVAL_MS = 500;

export const readyTimeoutParam = z
  .number()
  .positive()
  .max(24 * 3600)
  .default(DEFAULT_TIMEOUT_SECONDS)
  .describe('How long to wait for each Kustomization to become Ready before the step fails, in seconds.');

/** Ready's status, reason and message in a few words: `False (ReconciliationFailed: kustomize build failed)`. */
export function describeReadiness(state: KustomizationState): string {
  const why = [state.reason, state.message].filter(Boolean).join(': ');
  return `${state.ready}${why ? ` (${why})` : ''}`;
}

/**
 * Waits until each Kustomization is Ready for its latest spec and, when `requestedAt` is given, has
 * handled that reconcile request (`status.lastHandledReconcileAt`), as `flux` waits; reports which
 * one it waits for and its Ready condition while it does. Fails on the first that does not make it
 * within the timeout, saying its Ready condition.
 */
export async function waitUntilReady(
  kube: KubeClient,
  kustomizations: readonly KubeObject[],
  ctx: ActionContext,
  options: { timeoutSeconds: number; requestedAt?: ReadonlyMap<string, string> },
): Promise<KustomizationState[]> {
  const progress = new ThrottledProgress(ctx.progress);
  const ready: KustomizationState[] = [];
  for (const [index, kustomization] of kustomizations.entries()) {
    const { namespace = '', name } = kustomization.metadata;
    const id = kustomizationId({ namespace, name });
    const requestedAt = options.requestedAt?.get(id);
    progress.flush({ message: `waiting for ${id} to be Ready`, items: index, totalItems: kustomizations.length });
    const done = await kube.waitForObject(KUSTOMIZATION, namespace, name, {
      timeoutMs: options.timeoutSeconds * 1000,
      intervalMs: POLL_INTERVAL_MS,
      signal: ctx.signal,
      isDone(object) {
        const state = kustomizationState(object);
        return state.ready === 'True' && state.observed && (requestedAt === undefined || state.lastHandledReconcileAt === requestedAt);
      },
      onUpdate(object) {
        const state = kustomizationState(object);
        const handled = requestedAt === undefined || state.lastHandledReconcileAt === requestedAt ? '' : ', reconcile request not handled yet';
        progress.update({ message: `waiting for ${id} to be Ready: Ready ${describeReadiness(state)}${handled}` });
      },
      notDone(object) {
        const state = kustomizationState(object);
        if (requestedAt !== undefined && state.lastHandledReconcileAt !== requestedAt) {
          return `kustomize-controller has not handled the reconcile request of ${requestedAt} (last handled: ${state.lastHandledReconcileAt ?? 'none'}); is it running?`;
        }
        return `it is not Ready: Ready ${describeReadiness(state)}${state.observed ? '' : ', its latest spec not yet seen by kustomize-controller'} — raise timeoutSeconds (${formatDuration(options.timeoutSeconds * 1000)} now) if it needs longer`;
      },
    });
    ready.push(kustomizationState(done));
  }
  progress.flush({ message: `${kustomizations.length} Ready`, items: kustomizations.length, totalItems: kustomizations.length });
  return ready;
}
