import * as z from 'zod';
import { KubeError, type KubeClient, type KubeObject } from '../../clients/kube';
import type { ActionContext } from '../../core/actions/spec';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { DEFAULT_FLUX_NAMESPACE, KUSTOMIZATION, listKustomizations, objectId } from './kustomizations';

/** Every Kustomization of the namespace, as `flux suspend|resume|reconcile --all` takes them. */
export const ALL = 'all';

/** A namespace name is a DNS-1123 label; an object name a DNS-1123 subdomain (labels joined by dots, 253 at most). */
const LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const NAMESPACE_NAME = new RegExp(`^${LABEL}$`);
const SUBDOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const isObjectName = (name: string) => name.length <= 253 && SUBDOMAIN.test(name);

export const fluxNamespaceParam = z
  .string()
  .regex(NAMESPACE_NAME, 'is not a Kubernetes namespace name (lower-case letters, digits and -)')
  .describe(`Namespace of the Kustomization; \`${DEFAULT_FLUX_NAMESPACE}\` (where \`flux\` looks) when left out.`);

/** `pelican`, `apps/pelican` or `all`. */
const kustomizationName = z
  .string()
  .refine((name) => {
    const [first = '', second, ...rest] = name.split('/');
    if (rest.length > 0) return false;
    return second === undefined ? isObjectName(first) : NAMESPACE_NAME.test(first) && isObjectName(second);
  }, 'is not a Kustomization name, `<namespace>/<name>` or `all`')
  .describe(`The Kustomization: its name in \`namespace\`, \`<namespace>/<name>\`, or \`${ALL}\` for every Kustomization in \`namespace\`.`);

/** The parameters of `flux.suspend`, `flux.resume` and `flux.reconcile`. */
export const kustomizationSelection = {
  cluster: clusterParam,
  name: kustomizationName,
  namespace: fluxNamespaceParam.optional(),
};

export interface KustomizationSelection {
  cluster: string;
  name: string;
  namespace?: string | undefined;
}

/** The namespace and name a selection means (name `all` for all of the namespace). */
export function selectionTarget(selection: KustomizationSelection): { namespace: string; name: string } {
  const [first = '', second] = selection.name.split('/');
  if (second === undefined) return { namespace: selection.namespace ?? DEFAULT_FLUX_NAMESPACE, name: first };
  if (selection.namespace !== undefined && selection.namespace !== first) {
    throw new Error(`\`name\` '${selection.name}' is in namespace '${first}' but \`namespace\` is '${selection.namespace}': give one of them`);
  }
  return { namespace: first, name: second };
}

/** How a plan or an error names what was asked for. */
export function describeSelection(selection: KustomizationSelection): string {
  const { namespace, name } = selectionTarget(selection);
  return name === ALL ? `every Kustomization in namespace ${namespace}` : `Kustomization ${namespace}/${name}`;
}

/**
 * The Kustomizations a selection names, read from the cluster so that a wrong name is said before
 * anything is patched: the Kustomizations there are when the name is unknown, and that Flux is not
 * installed when the cluster does not serve the kind.
 */
export async function selectedKustomizations(ctx: ActionContext, selection: KustomizationSelection): Promise<{ kube: KubeClient; kustomizations: KubeObject[] }> {
  const { namespace, name } = selectionTarget(selection);
  const kube = await kubeClientFor(ctx, selection.cluster);
  if (name === ALL) {
    const kustomizations = await listKustomizations(kube, namespace);
    if (kustomizations.length === 0) throw new KubeError('not-found', `there are no Kustomizations in namespace ${namespace} on ${kube.description}${await elsewhere(kube)}`, 404);
    return { kube, kustomizations };
  }
  try {
    return { kube, kustomizations: [await kube.getObject(KUSTOMIZATION, namespace, name)] };
  } catch (error) {
    if (!(error instanceof KubeError && error.failure === 'not-found')) throw error;
    const there = await listKustomizations(kube, namespace);
    const known = there.length > 0 ? `; namespace ${namespace} has ${there.map((kustomization) => kustomization.metadata.name).join(', ')}` : await elsewhere(kube);
    throw new KubeError('not-found', `there is no Kustomization ${namespace}/${name} on ${kube.description}${known}`, 404);
  }
}

/** Where the cluster's Kustomizations are, for a message about a namespace without any. */
async function elsewhere(kube: KubeClient): Promise<string> {
  const all = await listKustomizations(kube);
  if (all.length === 0) return '; the cluster has no Kustomizations at all';
  const shown = all.slice(0, 10).map(objectId);
  return `; the cluster's Kustomizations: ${shown.join(', ')}${all.length > shown.length ? `, and ${all.length - shown.length} more` : ''}`;
}
