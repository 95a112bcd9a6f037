import type { BrowseNode } from '../../core/browse/node';
import type { NodeStep } from '../../core/browse/palette';

/** The root the clusters of `clusters:` are listed under. */
export const CLUSTERS = 'clusters';

/** "Which cluster?": a cluster of the inventory, its name as the `cluster` parameter. */
export const whichCluster: NodeStep = {
  kind: 'node',
  param: 'cluster',
  question: 'which cluster?',
  under: () => CLUSTERS,
  accept: (node: BrowseNode) => node.kind === 'cluster',
  value: (node: BrowseNode) => node.facts.name,
  none: 'lifeboat.yaml needs a cluster under `clusters:` (a kubeconfig and a context).',
};
