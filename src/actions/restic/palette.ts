import type { PaletteCommand } from '../../core/browse/palette';
import { joinPath } from '../../core/browse/node';

/**
 * The restic palette commands, as declarations: the repository, the snapshot and the file or folder
 * are picked from the restic browser's nodes. Kept free of the actions' modules: the editor registers
 * these commands when it starts.
 */
export const resticPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.restoreResticFiles',
    title: 'Restore Files from Snapshot',
    action: 'restic.restore',
    steps: [
      {
        kind: 'node',
        param: 'repository',
        question: 'which repository?',
        under: () => 'restic',
        accept: (node) => node.kind === 'restic.repository',
        value: (node) => node.facts.name,
        none: 'lifeboat.yaml needs a restic repository under `repositories:`.',
      },
      {
        kind: 'node',
        param: 'snapshot',
        question: 'which snapshot?',
        under: (picked) => joinPath('restic', String(picked.repository)),
        accept: (node) => node.kind === 'restic.snapshot',
        value: (node) => node.facts.id,
        none: 'the repository has no snapshots.',
      },
      {
        kind: 'node',
        param: 'paths',
        question: 'which file or folder?',
        under: (picked) => joinPath('restic', String(picked.repository), String(picked.snapshot)),
        accept: (node) => node.kind === 'restic.folder' || node.kind === 'restic.file',
        value: (node) => [node.facts.path],
        none: 'the snapshot is empty.',
      },
    ],
    agreeToPlan: 'Restore',
  },
];
