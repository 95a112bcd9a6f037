import { joinPath } from '../../core/browse/node';
import type { PaletteCommand } from '../../core/browse/palette';

/**
 * "Verify PBS Datastore…": a Proxmox Backup Server and one of its datastores, picked from the PBS
 * browser's nodes, then `pbs.verify` of the snapshots not verified yet. Kept free of the actions'
 * modules, like every palette declaration.
 */
export const pbsPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.verifyPbsDatastore',
    title: 'Verify PBS Datastore',
    action: 'pbs.verify',
    steps: [
      {
        kind: 'node',
        param: 'server',
        question: 'which backup server?',
        under: () => 'pbs',
        accept: (node) => node.kind === 'pbs',
        value: (node) => node.facts.name,
        none: 'lifeboat.yaml needs a Proxmox Backup Server under `backupServers:`.',
      },
      {
        kind: 'node',
        param: 'datastore',
        question: 'which datastore?',
        under: (picked) => joinPath('pbs', String(picked.server)),
        accept: (node) => node.kind === 'pbs.datastore',
        value: (node) => node.facts.store,
        none: 'the API token sees no datastore on that server.',
      },
    ],
    agreeToPlan: 'Verify',
  },
];
