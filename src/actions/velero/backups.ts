import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction } from '../../core/actions/spec';
import { formatAge, formatCount, markdownTable } from '../../core/render';
import { namespaceName, phaseOf, SCHEDULE_NAME_LABEL, VeleroCluster, veleroObjectName, veleroTargetParams } from './resources';

/** One Velero backup as the listings, the tree and the other actions show it. */
export interface BackupSummary {
  name: string;
  /** Absent until Velero's controller has seen the backup. */
  phase?: string;
  /** The Schedule that made it, from its `velero.io/schedule-name` label. */
  schedule?: string;
  /** What it includes: `*` for every namespace. */
  namespaces: string[];
  storageLocation?: string;
  created?: string;
  started?: string;
  completed?: string;
  expiration?: string;
  itemsBackedUp?: number;
  totalItems?: number;
  warnings: number;
  errors: number;
  /** Velero 1.18's queue: the backup's place while it is `Queued`. */
  queuePosition?: number;
  failureReason?: string;
  validationErrors: string[];
  /** The uploaders of its pod volume backups (`kopia`; `restic` for backups older than Velero 1.17). */
  uploaders: string[];
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

export function summarizeBackup(backup: KubeObject, uploaders: readonly string[] = []): BackupSummary {
  const status = backup.status ?? {};
  const spec = backup.spec ?? {};
  const progress = (status.progress ?? {}) as Record<string, unknown>;
  const included = Array.isArray(spec.includedNamespaces) ? spec.includedNamespaces.map(String) : [];
  const optional = {
    phase: phaseOf(backup),
    schedule: text(backup.metadata.labels?.[SCHEDULE_NAME_LABEL]),
    storageLocation: text(spec.storageLocation) ?? text(backup.metadata.labels?.['velero.io/storage-location']),
    created: text(backup.metadata.creationTimestamp),
    started: text(status.startTimestamp),
    completed: text(status.completionTimestamp),
    expiration: text(status.expiration),
    itemsBackedUp: count(progress.itemsBackedUp),
    totalItems: count(progress.totalItems),
    queuePosition: count(status.queuePosition),
    failureReason: text(status.failureReason),
  };
  return {
    name: backup.metadata.name,
    namespaces: included.length > 0 ? included : ['*'],
    warnings: count(status.warnings) ?? 0,
    errors: count(status.errors) ?? 0,
    validationErrors: Array.isArray(status.validationErrors) ? status.validationErrors.map(String) : [],
    uploaders: [...uploaders],
    ...(Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)) as Partial<BackupSummary>),
  };
}

/** What a restic fs backup means today: kopia has replaced it. */
export const RESTIC_NOTE = 'restic pod volume backups come from before Velero 1.17, which refuses new ones (kopia makes them); Velero 1.19 no longer restores them.';

/** Newest first: by creation time, the name breaking ties (a schedule's backup names end in their time). */
export function newestFirst(backups: readonly BackupSummary[]): BackupSummary[] {
  const time = (backup: BackupSummary) => Date.parse(backup.created ?? backup.started ?? '') || 0;
  return [...backups].sort((first, second) => time(second) - time(first) || second.name.localeCompare(first.name));
}

/** The backups of the Velero namespace (those `include` takes), with the uploaders of their pod volume backups, newest first. */
export async function listBackups(velero: VeleroCluster, labelSelector?: string, include: (backup: KubeObject) => boolean = () => true): Promise<BackupSummary[]> {
  const [backups, podVolumeBackups] = await Promise.all([velero.list('backup', labelSelector), velero.list('podVolumeBackup')]);
  const uploaders = new Map<string, Set<string>>();
  for (const podVolumeBackup of podVolumeBackups) {
    const backup = podVolumeBackup.metadata.labels?.['velero.io/backup-name'];
    const uploader = text(podVolumeBackup.spec?.uploaderType);
    if (backup && uploader) uploaders.set(backup, (uploaders.get(backup) ?? new Set()).add(uploader));
  }
  return newestFirst(backups.filter(include).map((backup) => summarizeBackup(backup, [...(uploaders.get(backup.metadata.name) ?? [])].sort())));
}

/** Whether a backup holds a namespace: included (or all included) and not excluded. */
export function backupHolds(backup: KubeObject, namespace: string): boolean {
  const included = Array.isArray(backup.spec?.includedNamespaces) ? backup.spec.includedNamespaces.map(String) : [];
  const excluded = Array.isArray(backup.spec?.excludedNamespaces) ? backup.spec.excludedNamespaces.map(String) : [];
  return (included.length === 0 || included.includes('*') || included.includes(namespace)) && !excluded.includes(namespace);
}

/** "in 29 d", "expired 2 h ago": when Velero's garbage collection deletes a backup. */
export function describeExpiry(expiration: string | undefined, now = new Date()): string {
  const at = expiration ? new Date(expiration) : undefined;
  if (!at || Number.isNaN(at.getTime())) return '';
  if (at.getTime() <= now.getTime()) return `expired ${formatAge(at, now)}`;
  return `in ${formatAge(now, at).replace(/ ago$/, '')}`;
}

export function describeItems(backup: BackupSummary): string {
  if (backup.itemsBackedUp === undefined) return '';
  return backup.totalItems === undefined ? formatCount(backup.itemsBackedUp, 'item') : `${backup.itemsBackedUp}/${backup.totalItems} items`;
}

/** The phase with what goes with it: the queue position, the failure reasons. */
export function describePhase(backup: BackupSummary): string {
  const phase = backup.phase ?? 'New';
  if (backup.queuePosition !== undefined) return `${phase} (position ${backup.queuePosition})`;
  const reasons = [backup.failureReason, ...backup.validationErrors].filter(Boolean);
  return reasons.length > 0 ? `${phase}: ${reasons.join('; ')}` : phase;
}

const backupsListParams = z
  .object({
    ...veleroTargetParams,
    namespace: namespaceName.optional().describe('Only backups that hold this namespace.'),
    schedule: veleroObjectName.optional().describe('Only backups made by this Schedule.'),
    phase: z.string().min(1).optional().describe('Only backups in this phase (Completed, PartiallyFailed, Failed, InProgress, Queued, …).'),
  })
  .strict();

export interface BackupsListResult {
  cluster: string;
  veleroNamespace: string;
  backups: BackupSummary[];
}

export const veleroBackupsList = defineAction({
  id: 'velero.backups.list',
  title: 'List Velero Backups',
  description: 'Lists the Velero backups of a cluster, newest first, with their phase, times, expiry, warnings and errors, items and fs-backup uploader; filtered by namespace, schedule or phase.',
  params: backupsListParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `List the Velero backups of cluster ${params.cluster}`, operations: [{ kind: 'read', target: `cluster ${params.cluster}, namespace ${params.veleroNamespace}`, detail: 'Backups, PodVolumeBackups' }], destructive: false };
  },
  async run(params, ctx): Promise<BackupsListResult> {
    const velero = await VeleroCluster.connect(ctx, params);
    await velero.locations();
    const wanted = params.phase?.toLowerCase();
    const holds = (backup: KubeObject) => params.namespace === undefined || backupHolds(backup, params.namespace);
    const listed = await listBackups(velero, params.schedule ? `${SCHEDULE_NAME_LABEL}=${params.schedule}` : undefined, holds);
    const backups = listed.filter((backup) => !wanted || (backup.phase ?? 'New').toLowerCase() === wanted);
    return { cluster: params.cluster, veleroNamespace: params.veleroNamespace, backups };
  },
  render(result: BackupsListResult) {
    if (result.backups.length === 0) return `No Velero backups match in cluster ${result.cluster}.`;
    const rows = result.backups.map((backup) => [
      backup.name,
      describePhase(backup),
      backup.schedule ?? '',
      backup.namespaces.join(', '),
      backup.started ?? '',
      backup.completed ?? '',
      describeExpiry(backup.expiration),
      describeItems(backup),
      `${backup.warnings}/${backup.errors}`,
      backup.uploaders.join(', '),
    ]);
    const restic = result.backups.some((backup) => backup.uploaders.includes('restic')) ? `\n\n${RESTIC_NOTE}` : '';
    return `${formatCount(result.backups.length, 'Velero backup')} in cluster ${result.cluster}:\n\n${markdownTable(['Backup', 'Phase', 'Schedule', 'Namespaces', 'Started', 'Completed', 'Expires', 'Items', 'Warnings/errors', 'Uploader'], rows)}${restic}`;
  },
});
