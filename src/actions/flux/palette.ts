import { joinPath, type BrowseNode } from '../../core/browse/node';
import type { PaletteCommand } from '../../core/browse/palette';
import { CLUSTERS, whichCluster } from '../clusters/palette';

/**
 * "Resume Suspended Flux Kustomizations…": a cluster, then its suspended Kustomizations as the
 * Backups tree lists them (all picked at first), each resumed and waited for as a step of one run.
 * Kept free of the actions' modules, like every palette declaration.
 */

/** The segment of the Flux section under a cluster, and the kind of its Kustomization nodes. */
export const FLUX_SEGMENT = 'flux';
export const KUSTOMIZATION_NODE = 'flux.kustomization';

export const fluxPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.resumeFluxKustomizations',
    title: 'Resume Suspended Flux Kustomizations',
    action: 'flux.resume',
    steps: [
      whichCluster,
      {
        kind: 'node',
        param: 'name',
        question: 'which Kustomizations?',
        under: (picked) => joinPath(CLUSTERS, String(picked.cluster), FLUX_SEGMENT),
        accept: (node: BrowseNode) => node.kind === KUSTOMIZATION_NODE && node.facts.suspended === true,
        value: (node: BrowseNode) => `${String(node.facts.namespace)}/${String(node.facts.name)}`,
        many: true,
        eachRun: true,
        none: 'that cluster has no suspended Flux Kustomization.',
      },
    ],
  },
];
