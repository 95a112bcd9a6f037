import type { PaletteCommand } from '../../core/browse/palette';

/**
 * "Check S3 Store…": a store of `stores:`, picked from the S3 browser's roots, then `s3.check` of
 * the permissions the snapshot mirror needs (list, put and get). Free of the actions' modules.
 */
export const s3PaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.checkS3Store',
    title: 'Check S3 Store',
    action: 's3.check',
    steps: [
      {
        kind: 'node',
        param: 'store',
        question: 'which S3 store?',
        under: () => 's3',
        accept: (node) => node.kind === 's3.store',
        value: (node) => node.facts.name,
        none: 'lifeboat.yaml needs an S3 store under `stores:`.',
      },
    ],
    conclude(result) {
      const { store, rows } = result as { store: string; rows: { outcome: string }[] };
      const leftBehind = rows.some((row) => row.outcome === 'left behind');
      return { message: `Check S3 Store: ${store} has every required permission.${leftBehind ? ' Its probe object could not be removed: see details.' : ''}`, warning: leftBehind };
    },
  },
];
