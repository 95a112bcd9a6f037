import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, joinPath, type DeclaredNode, type Page, type PageRequest } from '../../core/browse/node';
import { markdownEscape } from '../../core/render';
import { clusterSections } from './sections';

export const CLUSTERS_ROOT = 'clusters';

/**
 * What one backend shows under each cluster (`clusters/<name>/<segment>`): its own node and
 * everything below it. A backend in a cluster (Velero, Flux, CloudNativePG) joins by adding its
 * section to `clusterSections`.
 */
export interface ClusterSection {
  /** The path segment under the cluster, e.g. `velero`. */
  segment: string;
  /** The section's node; `at` is its path. */
  node(cluster: string, at: string): DeclaredNode;
  /** The children of the section (`rest` empty) or of any node below it (`rest` the path below the section). */
  children(cluster: string, rest: readonly string[], at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>>;
}

type ClusterEntry = NonNullable<BrowseSession['ctx']['inventory']['clusters']>[string];

function clusterNode(name: string, entry: ClusterEntry): DeclaredNode {
  const where = [entry.context ? `context ${entry.context}` : 'current context', entry.kubeconfig ?? 'KUBECONFIG or ~/.kube/config'].join(' · ');
  return {
    path: joinPath(CLUSTERS_ROOT, name),
    kind: 'cluster',
    label: name,
    description: where,
    tooltip: `**Cluster ${markdownEscape(name)}**\n\n- ${markdownEscape(where)}`,
    icon: 'server-environment',
    hasChildren: clusterSections.length > 0,
    facts: { name, context: entry.context ?? null, kubeconfig: entry.kubeconfig ?? null },
  };
}

/** The clusters of `clusters:`, and under each what the backends that live in clusters show. */
export const clustersBrowser: Browser = {
  root: CLUSTERS_ROOT,
  roots(session) {
    return Object.entries(session.ctx.inventory.clusters ?? {}).map(([name, entry]) => clusterNode(name, entry));
  },
  async children(path, request, session) {
    const [, name, segment, ...rest] = path;
    if (name === undefined || !session.ctx.inventory.clusters?.[name]) return { nodes: [] };
    const at = joinPath(CLUSTERS_ROOT, name);
    if (segment === undefined) return { nodes: clusterSections.map((section) => section.node(name, childPath(at, section.segment))), total: clusterSections.length };
    const section = clusterSections.find((candidate) => candidate.segment === segment);
    return section ? section.children(name, rest, childPath(at, segment), request, session) : { nodes: [] };
  },
};
