import { CUSTOM_RESOURCES, KubeError, type KubeClient, type KubeObject } from '../../clients/kube';

/** Flux's Kustomization (`kustomize.toolkit.fluxcd.io/v1`, contract §3). */
export const KUSTOMIZATION = CUSTOM_RESOURCES.fluxKustomization;

/** The annotation `flux reconcile` sets to ask for a reconciliation now (fluxcd/pkg `meta.ReconcileRequestAnnotation`). */
export const RECONCILE_REQUEST_ANNOTATION = 'reconcile.fluxcd.io/requestedAt';

/** Where `flux` looks when no namespace is given. */
export const DEFAULT_FLUX_NAMESPACE = 'flux-system';

/** A Kustomization as `flux get kustomizations` shows it. */
export interface KustomizationState {
  namespace: string;
  name: string;
  suspended: boolean;
  /** The Ready condition's status: `True`, `False`, or `Unknown` (also when there is none yet). */
  ready: 'True' | 'False' | 'Unknown';
  /** Ready's reason and message, e.g. `ReconciliationSucceeded` and `Applied revision: main@sha1:…`. */
  reason?: string;
  message?: string;
  /** The source revision last applied. */
  revision?: string;
  lastHandledReconcileAt?: string;
  /** True when the controller has seen the latest spec (suspending and resuming change it). */
  observed: boolean;
}

interface Condition {
  type?: unknown;
  status?: unknown;
  reason?: unknown;
  message?: unknown;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

export function readyCondition(object: KubeObject): Condition | undefined {
  const conditions = object.status?.conditions;
  return Array.isArray(conditions) ? (conditions as Condition[]).find((condition) => condition?.type === 'Ready') : undefined;
}

export function kustomizationState(object: KubeObject): KustomizationState {
  const ready = readyCondition(object);
  const status = ready?.status === 'True' || ready?.status === 'False' ? ready.status : 'Unknown';
  const message = text(ready?.message);
  // kustomize-controller records the revision in lastAppliedRevision and says it in Ready's message.
  const revision = text(object.status?.lastAppliedRevision) ?? (message ? /^Applied revision: (\S+)/.exec(message)?.[1] : undefined);
  const observedGeneration = object.status?.observedGeneration;
  return {
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    suspended: isSuspended(object),
    ready: status,
    ...(text(ready?.reason) ? { reason: text(ready?.reason) } : {}),
    ...(message ? { message } : {}),
    ...(revision ? { revision } : {}),
    ...(text(object.status?.lastHandledReconcileAt) ? { lastHandledReconcileAt: text(object.status?.lastHandledReconcileAt) } : {}),
    observed: typeof observedGeneration === 'number' && observedGeneration >= (object.metadata.generation ?? 0),
  };
}

/** `namespace/name`, as `flux` and `kubectl` print it. */
export function kustomizationId(state: { namespace: string; name: string }): string {
  return `${state.namespace}/${state.name}`;
}

export function objectId(kustomization: KubeObject): string {
  return kustomizationId({ namespace: kustomization.metadata.namespace ?? '', name: kustomization.metadata.name });
}

export function isSuspended(kustomization: KubeObject): boolean {
  return kustomization.spec?.suspend === true;
}

/**
 * The Kustomizations of one namespace, or of every namespace when it is left out. A cluster without
 * Flux answers 404 for the kind itself: that is said in those words.
 */
export async function listKustomizations(kube: KubeClient, namespace?: string): Promise<KubeObject[]> {
  try {
    const objects = namespace === undefined ? await kube.listObjectsInAllNamespaces(KUSTOMIZATION) : await kube.listObjects(KUSTOMIZATION, namespace);
    return objects.sort((a, b) => objectId(a).localeCompare(objectId(b)));
  } catch (error) {
    if (error instanceof KubeError && error.failure === 'not-found') throw fluxNotInstalled(kube);
    throw error;
  }
}

export function fluxNotInstalled(kube: KubeClient): KubeError {
  return new KubeError('not-found', `${kube.description} does not serve ${KUSTOMIZATION.group}/${KUSTOMIZATION.version} Kustomizations: Flux (kustomize-controller) is not installed there`, 404);
}
