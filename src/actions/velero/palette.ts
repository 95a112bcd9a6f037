import type { PaletteCommand } from '../../core/browse/palette';

/**
 * The Velero palette commands, as declarations: the cluster is picked from the clusters of the
 * inventory; the action's other parameters are asked by the runner's prompts. Kept free of the
 * actions' modules: the editor registers these commands when it starts.
 */
export const veleroBackupPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.createVeleroBackup',
    title: 'Create Velero Backup',
    action: 'velero.backup.create',
    steps: [
      {
        kind: 'node',
        param: 'cluster',
        question: 'which cluster?',
        under: () => 'clusters',
        accept: (node) => node.kind === 'cluster',
        value: (node) => node.facts.name,
        none: 'lifeboat.yaml needs a cluster under `clusters:` (a kubeconfig and context).',
      },
    ],
  },
];
