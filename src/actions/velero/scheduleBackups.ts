import type { KubeObject } from '../../clients/kube';
import { backupHolds, listBackups, type BackupSummary } from './backups';
import { SCHEDULE_NAME_LABEL, type VeleroCluster } from './resources';

/** The backup name that means "the newest Completed backup holding the namespaces restored". */
export const LATEST_BACKUP = 'latest';

const completed = (backups: readonly BackupSummary[]) => backups.find((backup) => backup.phase === 'Completed');

/** The backups a Schedule made (labelled with its name, whether or not it still exists), newest first. */
export function backupsOfSchedule(velero: VeleroCluster, schedule: string): Promise<BackupSummary[]> {
  return listBackups(velero, `${SCHEDULE_NAME_LABEL}=${schedule}`);
}

/** The name of the newest Completed backup among `backups` (newest first). */
export function newestCompletedName(backups: readonly BackupSummary[]): string | undefined {
  return completed(backups)?.name;
}

/** The newest Completed backup of `schedule`, or a clear error saying what the schedule has. */
export async function newestCompletedBackupOf(velero: VeleroCluster, schedule: string): Promise<KubeObject> {
  await velero.find('schedule', schedule);
  const backups = await backupsOfSchedule(velero, schedule);
  const newest = newestCompletedName(backups);
  if (newest) return velero.get('backup', newest);
  const phases = backups.map((backup) => `${backup.name} (${backup.phase ?? 'no phase yet'})`).join(', ');
  throw new Error(`Schedule '${schedule}' in ${velero.where} has no Completed backup${phases ? `; its backups: ${phases}` : ''}`);
}

/**
 * The backup `backup` names: itself when a Backup has that name, else for `latest` the newest
 * Completed backup that holds every one of `namespaces` (any backup when none are given).
 */
export async function backupNamed(velero: VeleroCluster, backup: string, namespaces: readonly string[] = []): Promise<KubeObject> {
  if (backup !== LATEST_BACKUP) return velero.find('backup', backup);
  const backups = await listBackups(velero, undefined, (candidate) => candidate.metadata.name === LATEST_BACKUP || namespaces.every((namespace) => backupHolds(candidate, namespace)));
  const named = backups.find((candidate) => candidate.name === LATEST_BACKUP) ?? completed(backups);
  if (named) return velero.get('backup', named.name);
  const holding = namespaces.length > 0 ? ` holding ${namespaces.join(', ')}` : '';
  throw new Error(`\`backup\`: there is no Completed backup${holding} in ${velero.where}`);
}
