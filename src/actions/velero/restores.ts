import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { markdownTable } from '../../core/render';
import { VeleroCluster, phaseOf, veleroTargetParams } from './resources';

const restoresListParams = z
  .object({
    ...veleroTargetParams,
    backup: z.string().min(1).optional().describe('Only the restores of this backup.'),
    phase: z.string().min(1).optional().describe('Only restores in this phase, e.g. PartiallyFailed.'),
  })
  .strict();

export interface RestoreSummary {
  name: string;
  backup: string;
  phase: string;
  started?: string;
  completed?: string;
  itemsRestored?: number;
  totalItems?: number;
  warnings: number;
  errors: number;
  failureReason?: string;
}

export interface RestoresListResult {
  cluster: string;
  restores: RestoreSummary[];
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

export const veleroRestoresList = defineAction({
  id: 'velero.restores.list',
  title: 'List Velero Restores',
  description: 'Lists the Velero restores of a cluster, newest first: phase, backup, start and completion times, items, warnings and errors.',
  params: restoresListParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `List Velero restores on cluster '${params.cluster}'`, operations: [{ kind: 'read', target: `Restores in namespace ${params.veleroNamespace}` }], destructive: false };
  },
  async run(params, ctx): Promise<RestoresListResult> {
    const velero = await VeleroCluster.connect(ctx, params);
    const restores = (await velero.list('restore'))
      .map((restore): RestoreSummary => {
        const status = restore.status ?? {};
        const progress = (status.progress ?? {}) as Record<string, unknown>;
        const optional = {
          started: text(status.startTimestamp),
          completed: text(status.completionTimestamp),
          itemsRestored: number(progress.itemsRestored),
          totalItems: number(progress.totalItems),
          failureReason: text(status.failureReason),
        };
        return {
          name: restore.metadata.name,
          backup: text(restore.spec?.backupName) ?? text(restore.spec?.scheduleName) ?? '',
          phase: phaseOf(restore) ?? 'New',
          warnings: number(status.warnings) ?? 0,
          errors: number(status.errors) ?? 0,
          ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
        };
      })
      .filter((restore) => (params.backup === undefined || restore.backup === params.backup) && (params.phase === undefined || restore.phase === params.phase))
      .sort((first, second) => (second.started ?? '').localeCompare(first.started ?? ''));
    return { cluster: params.cluster, restores };
  },
  render(result: RestoresListResult) {
    if (result.restores.length === 0) return `No Velero restores on cluster '${result.cluster}'.`;
    const rows = result.restores.map((restore) => [
      restore.name,
      restore.backup,
      restore.phase + (restore.failureReason ? ` (${restore.failureReason})` : ''),
      restore.started ?? '',
      restore.completed ?? '',
      restore.totalItems === undefined ? '' : `${restore.itemsRestored ?? 0}/${restore.totalItems}`,
      restore.warnings,
      restore.errors,
    ]);
    return `${result.restores.length} Velero restore(s) on cluster '${result.cluster}':\n\n${markdownTable(['Restore', 'Backup', 'Phase', 'Started', 'Completed', 'Items', 'Warnings', 'Errors'], rows)}`;
  },
});
