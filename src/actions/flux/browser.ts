import { KubeError } from '../../clients/kube';
import type { BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, pageOf, type DeclaredNode, type DeclaredOperation } from '../../core/browse/node';
import { markdownEscape } from '../../core/render';
import type { ClusterSection } from '../clusters/browser';
import { kubeClientFor } from '../clusters/target';
import { fluxResume, fluxSuspend } from './change';
import { kustomizationId, kustomizationState, listKustomizations, type KustomizationState } from './kustomizations';
import { FLUX_SEGMENT, KUSTOMIZATION_NODE } from './palette';
import { fluxReconcile } from './reconcile';
import { kustomizationWarnings } from './status';

/** A suspended one first says so: a forgotten suspend is the outage to catch. */
function kustomizationNode(cluster: string, at: string, state: KustomizationState): DeclaredNode {
  const id = kustomizationId(state);
  const [warning] = kustomizationWarnings([state]);
  const readiness = state.suspended ? 'suspended' : state.ready === 'True' ? 'Ready' : `not Ready (${state.reason ?? state.ready})`;
  const params = { cluster, name: id };
  const operations: DeclaredOperation[] = state.suspended
    ? [{ kind: 'action', id: 'resume', label: 'Resume', action: fluxResume.id, params }]
    : [
        { kind: 'action', id: 'reconcile', label: 'Reconcile', action: fluxReconcile.id, params },
        { kind: 'action', id: 'suspend', label: 'Suspend', action: fluxSuspend.id, params },
      ];
  return {
    path: childPath(at, state.namespace, state.name),
    kind: KUSTOMIZATION_NODE,
    label: id,
    description: [readiness, state.revision].filter(Boolean).join(' · '),
    tooltip: [
      `**Kustomization ${markdownEscape(id)}** on cluster ${markdownEscape(cluster)}`,
      '',
      `- Ready: ${markdownEscape(state.ready)}${state.reason ? ` (${markdownEscape(state.reason)})` : ''}`,
      ...(state.message ? [`- ${markdownEscape(state.message)}`] : []),
      ...(state.revision ? [`- Revision: ${markdownEscape(state.revision)}`] : []),
      ...(state.suspended ? ['- $(warning) **Suspended**: Flux applies none of its changes until it is resumed'] : []),
    ].join('\n'),
    icon: state.suspended ? 'warning' : state.ready === 'True' ? 'pass' : state.ready === 'False' ? 'error' : 'sync',
    status: warning === undefined ? { level: 'ok', reason: `Ready: ${state.message ?? 'True'}` } : { level: state.suspended || state.ready === 'Unknown' ? 'warning' : 'error', reason: warning },
    hasChildren: false,
    operations,
    facts: { cluster, namespace: state.namespace, name: state.name, ready: state.ready, suspended: state.suspended, revision: state.revision ?? null },
  };
}

/** The cluster's Kustomizations; undefined when it does not serve the kind (Flux is not installed). */
async function kustomizationsOf(cluster: string, session: BrowseSession): Promise<KustomizationState[] | undefined> {
  try {
    return (await listKustomizations(await kubeClientFor(session.ctx, cluster))).map(kustomizationState);
  } catch (error) {
    if (error instanceof KubeError && error.failure === 'not-found') return undefined;
    throw error;
  }
}

/** Under each cluster, `flux`: its Kustomizations in every namespace, as `flux get kustomizations -A` lists them. */
export const fluxSection: ClusterSection = {
  segment: FLUX_SEGMENT,
  node(cluster, at) {
    return {
      path: at,
      kind: 'flux',
      label: 'Flux',
      description: 'Kustomizations',
      tooltip: `The Flux Kustomizations of cluster ${markdownEscape(cluster)}, in every namespace`,
      icon: 'git-merge',
      hasChildren: true,
      facts: { cluster },
    };
  },
  /** The Kustomizations, or (`rest` a namespace) those of one namespace, which `lifeboat ls` reaches by their path. */
  async children(cluster, rest, at, request, session: BrowseSession) {
    const [namespace, ...below] = rest;
    if (below.length > 0) return { nodes: [] };
    const listing = await session.cached(at, () => kustomizationsOf(cluster, session));
    if (listing === undefined) return { nodes: [emptyNode(at, 'Flux is not installed on this cluster')], total: 0 };
    const states = namespace === undefined ? listing : listing.filter((state) => state.namespace === namespace);
    if (states.length === 0) return { nodes: [emptyNode(namespace === undefined ? at : childPath(at, namespace), 'No Kustomizations')], total: 0 };
    return pageOf(states, request, kustomizationId, (state) => kustomizationNode(cluster, at, state));
  },
};
