import type { NodeStep, PaletteCommand } from '../../core/browse/palette';

/** A host of `hosts:`, picked from the Backups tree's hosts. */
export function hostStep(param: string, question: string): NodeStep {
  return {
    kind: 'node',
    param,
    question,
    under: () => 'hosts',
    accept: (node) => node.kind === 'host',
    none: 'lifeboat.yaml names no host under `hosts:`.',
  };
}

/**
 * Push a Folder to Another Host: the two hosts picked from the tree, their folders typed. The plan
 * (rsync's dry run, or both listings) is shown to agree to before anything moves. Free of the action's module.
 */
export const syncPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.pushFolder',
    title: 'Push a Folder to Another Host',
    action: 'sync.push',
    steps: [
      hostStep('from.host', 'from which host?'),
      { kind: 'text', param: 'from.path', question: 'which folder on it?', placeholder: '/media/frigate/recordings' },
      hostStep('to.host', 'to which host?'),
      { kind: 'text', param: 'to.path', question: 'into which folder there?', placeholder: '/mnt/ssd/recordings' },
    ],
    agreeToPlan: 'Push',
  },
];
