import type { PaletteCommand } from '../../core/browse/palette';
import { hostStep } from '../sync/palette';

/**
 * Apply the Tiered Storage Policy: the two tiers' hosts picked from the tree, their folders typed,
 * what happens to expired files chosen. The days are the action's defaults. The plan names what
 * would move, be archived or deleted; the runner asks before anything is deleted.
 */
export const tierPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.applyStorageTiers',
    title: 'Apply the Tiered Storage Policy',
    action: 'tier.apply',
    steps: [
      hostStep('tier1.host', 'where do recordings land (tier 1)?'),
      { kind: 'text', param: 'tier1.path', question: 'which folder on tier 1?', placeholder: '/media/frigate/recordings' },
      hostStep('tier2.host', 'where are older recordings kept (tier 2)?'),
      { kind: 'text', param: 'tier2.path', question: 'which folder on tier 2?', placeholder: '/mnt/ssd/recordings' },
      {
        kind: 'choice',
        param: 'expired',
        question: 'what becomes of expired recordings?',
        options: [
          { value: 'archive', description: 'moved to an rclone remote on the tier 2 host' },
          { value: 'delete', description: 'deleted, unless flagged to keep' },
        ],
      },
      { kind: 'text', param: 'archiveRemote', question: 'which rclone remote and folder, configured on tier 2?', placeholder: 'gdrive:Backups/videos', when: (picked) => picked.expired === 'archive' },
    ],
    agreeToPlan: 'Apply',
  },
];
