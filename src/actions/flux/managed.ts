import { KubeError, type KubeClient, type KubeObject } from '../../clients/kube';
import { CancelledError } from '../../core/errors';
import { isSuspended, kustomizationId, listKustomizations } from './kustomizations';

/** A Kustomization that applies objects into a namespace, and how Flux records that it does. */
export interface ManagingKustomization {
  namespace: string;
  name: string;
  /** `targetNamespace`: its `spec.targetNamespace` is the namespace; `inventory`: its `status.inventory` lists objects there. */
  through: 'targetNamespace' | 'inventory';
}

/**
 * How a Kustomization manages `namespace`, if it does: kustomize-controller puts every object into
 * `spec.targetNamespace` when set, and lists what it applied in `status.inventory.entries[].id` as
 * `<namespace>_<name>_<group>_<kind>` (the Namespace object itself as `_<namespace>__Namespace`).
 */
export function managesNamespace(kustomization: KubeObject, namespace: string): ManagingKustomization['through'] | undefined {
  if (kustomization.spec?.targetNamespace === namespace) return 'targetNamespace';
  const entries = (kustomization.status?.inventory as { entries?: unknown } | undefined)?.entries;
  if (!Array.isArray(entries)) return undefined;
  const ids = entries.map((entry) => (entry && typeof entry === 'object' ? (entry as { id?: unknown }).id : undefined)).filter((id): id is string => typeof id === 'string');
  return ids.some((id) => id.startsWith(`${namespace}_`) || id === `_${namespace}__Namespace`) ? 'inventory' : undefined;
}

/**
 * The Kustomizations, in any namespace, that manage objects in `namespace` and are not suspended:
 * Flux would put back what a restore there changes, so a restore waits until they are suspended.
 * None on a cluster without Flux.
 */
export async function unsuspendedKustomizationsManaging(kube: KubeClient, namespace: string, signal?: AbortSignal): Promise<ManagingKustomization[]> {
  if (signal?.aborted) throw new CancelledError();
  let kustomizations: KubeObject[];
  try {
    kustomizations = await listKustomizations(kube);
  } catch (error) {
    if (error instanceof KubeError && error.failure === 'not-found') return [];
    throw error;
  }
  if (signal?.aborted) throw new CancelledError();
  return kustomizations.flatMap((kustomization) => {
    const through = isSuspended(kustomization) ? undefined : managesNamespace(kustomization, namespace);
    return through ? [{ namespace: kustomization.metadata.namespace ?? '', name: kustomization.metadata.name, through }] : [];
  });
}

/** How a refusal names them: `flux-system/pelican (targetNamespace), …`. */
export function describeManaging(kustomizations: readonly ManagingKustomization[]): string {
  return kustomizations.map((kustomization) => `${kustomizationId(kustomization)} (${kustomization.through === 'targetNamespace' ? 'spec.targetNamespace' : 'status.inventory'})`).join(', ');
}
