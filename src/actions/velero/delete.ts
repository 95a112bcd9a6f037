import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction } from '../../core/actions/spec';
import { CancelledError, isCancellationError } from '../../core/errors';
import { backupsOfSchedule, newestCompletedName } from './scheduleBackups';
import { SCHEDULE_NAME_LABEL, VELERO_RESOURCES, VeleroCluster, isTerminal, phaseOf, veleroObjectName, veleroTargetParams } from './resources';

const backupDeleteParams = z
  .object({
    ...veleroTargetParams,
    backup: veleroObjectName.describe('The Backup to delete, with its data in the storage location.'),
    force: z.boolean().default(false).describe('Delete even the newest Completed backup of a Schedule (its namespaces keep only older restore points).'),
    waitMinutes: z.number().positive().max(24 * 60).default(10).describe('How long to wait for Velero to delete it.'),
  })
  .strict();

type BackupDeleteParams = z.output<typeof backupDeleteParams>;

export interface BackupDeleteResult {
  cluster: string;
  backup: string;
  request: string;
  /** The Schedule whose newest Completed backup this was, when it was (deleted because forced). */
  newestOf?: string;
}

/** Velero's `label.GetValidName`: a label value of at most 63 characters, long names cut and hashed. */
export function veleroLabelValue(name: string): string {
  return name.length <= 63 ? name : name.slice(0, 57) + createHash('sha256').update(name).digest('hex').slice(0, 6);
}

/**
 * The backup, and the Schedule it is the newest Completed backup of (if any). Refuses that one
 * unless forced: it is the restore point a person reaches for first.
 */
async function checkedBackup(velero: VeleroCluster, params: BackupDeleteParams): Promise<{ backup: KubeObject; newestOf?: string }> {
  const backup = await velero.find('backup', params.backup);
  const schedule = backup.metadata.labels?.[SCHEDULE_NAME_LABEL];
  if (!schedule || phaseOf(backup) !== 'Completed') return { backup };
  if (newestCompletedName(await backupsOfSchedule(velero, schedule)) !== params.backup) return { backup };
  if (!params.force) {
    throw new Error(`refusing to delete '${params.backup}': it is the newest Completed backup of Schedule '${schedule}' in ${velero.where}; pass \`force: true\` to delete it anyway`);
  }
  return { backup, newestOf: schedule };
}

export const veleroBackupDelete = defineAction({
  id: 'velero.backup.delete',
  title: 'Delete Velero Backup',
  description:
    'Deletes a Velero backup and its data in the storage location through a DeleteBackupRequest, as `velero backup delete` does, and waits until the Backup is gone or Velero reports why it could not. Refuses the newest Completed backup of a Schedule unless `force: true`.',
  params: backupDeleteParams,
  destructive: true,
  async plan(params, ctx) {
    const velero = await VeleroCluster.connect(ctx, params);
    const { backup, newestOf } = await checkedBackup(velero, params);
    const expires = backup.status?.expiration;
    const detail = [`phase ${phaseOf(backup) ?? 'unknown'}`, typeof expires === 'string' ? `expires ${expires}` : undefined, newestOf ? `the newest Completed backup of Schedule '${newestOf}' (forced)` : undefined].filter(Boolean).join(', ');
    return {
      summary: `Delete Velero backup '${params.backup}' and its data from ${velero.where}`,
      operations: [{ kind: 'delete', target: `Backup ${params.veleroNamespace}/${params.backup}`, detail }],
      destructive: true,
    };
  },
  async run(params, ctx): Promise<BackupDeleteResult> {
    const velero = await VeleroCluster.connect(ctx, params);
    const { backup, newestOf } = await checkedBackup(velero, params);
    const request = await velero.create('deleteBackupRequest', {
      apiVersion: 'velero.io/v1',
      kind: 'DeleteBackupRequest',
      metadata: {
        name: '',
        generateName: `${params.backup}-`,
        labels: { 'velero.io/backup-name': veleroLabelValue(params.backup), ...(typeof backup.metadata.uid === 'string' ? { 'velero.io/backup-uid': backup.metadata.uid } : {}) },
      },
      spec: { backupName: params.backup },
    });
    const requestName = request.metadata.name;
    ctx.progress.report({ message: `Velero is deleting ${params.backup} (DeleteBackupRequest ${requestName})` });
    let processed: KubeObject;
    try {
      processed = await velero.client.waitForObject(VELERO_RESOURCES.deleteBackupRequest, params.veleroNamespace, requestName, {
        isDone: (object) => isTerminal('deleteBackupRequest', object),
        timeoutMs: params.waitMinutes * 60_000,
        signal: ctx.signal,
      });
    } catch (error) {
      if (isCancellationError(error)) throw new CancelledError(`Cancelled waiting; Velero goes on deleting ${params.backup} (DeleteBackupRequest ${requestName})`);
      throw error;
    }
    const errors = Array.isArray(processed.status?.errors) ? processed.status.errors.map(String) : [];
    if (errors.length > 0) throw new Error(`Velero could not delete backup '${params.backup}' in ${velero.where}: ${errors.join('; ')}`);
    const left = await velero.list('backup').then((backups) => backups.some((candidate) => candidate.metadata.name === params.backup));
    if (left) throw new Error(`Velero processed DeleteBackupRequest ${requestName} without errors, but backup '${params.backup}' is still in ${velero.where}`);
    return { cluster: params.cluster, backup: params.backup, request: requestName, ...(newestOf ? { newestOf } : {}) };
  },
  render(result: BackupDeleteResult) {
    const forced = result.newestOf ? ` It was the newest Completed backup of Schedule '${result.newestOf}'.` : '';
    return `Deleted Velero backup '${result.backup}' on cluster '${result.cluster}' (DeleteBackupRequest ${result.request}).${forced}`;
  },
});
