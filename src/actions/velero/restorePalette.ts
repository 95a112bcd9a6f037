import { joinPath, type BrowseNode } from '../../core/browse/node';
import type { PaletteCommand } from '../../core/browse/palette';
import { CLUSTERS, whichCluster } from '../clusters/palette';

/**
 * "Restore Namespace from Velero Backup…": a cluster, then one of its Velero backups that can be
 * restored (as the Backups tree lists them), then `velero.restore.create`, whose plan shows what the
 * backup holds before anything runs. Kept free of the actions' modules, like every palette declaration.
 */
export const veleroRestorePaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.restoreFromVeleroBackup',
    title: 'Restore Namespace from Velero Backup',
    action: 'velero.restore.create',
    steps: [
      whichCluster,
      {
        kind: 'node',
        param: 'backup',
        question: 'which backup?',
        under: (picked) => joinPath(CLUSTERS, String(picked.cluster), 'velero', 'backups'),
        accept: (node: BrowseNode) => node.kind === 'velero.backup' && (node.facts.phase === 'Completed' || node.facts.phase === 'PartiallyFailed'),
        value: (node: BrowseNode) => node.facts.name,
        none: 'that cluster has no Completed Velero backup.',
      },
    ],
    agreeToPlan: 'Restore',
  },
];
