import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, markdownTable } from '../../core/render';
import { describeExpiry, describeItems, describePhase, RESTIC_NOTE, summarizeBackup, type BackupSummary } from './backups';
import { phaseOf, veleroObjectName, veleroTargetParams, VeleroCluster } from './resources';

/** One pod volume's files copied by Velero's node agent (kopia; restic for backups older than Velero 1.17). */
export interface PodVolumeBackupSummary {
  /** `namespace/pod`. */
  pod: string;
  volume: string;
  phase: string;
  uploader: string;
  bytesDone: number;
  totalBytes: number;
  snapshotID?: string;
  message?: string;
}

/** A backup hook as its spec declares it: which pods, and how many commands run before and after. */
export interface HookSummary {
  name: string;
  namespaces: string[];
  pre: string[];
  post: string[];
}

export interface BackupDescription {
  cluster: string;
  veleroNamespace: string;
  backup: BackupSummary;
  /** The spec fields that say what is backed up and how, as set on the object. */
  spec: Record<string, unknown>;
  hooks: HookSummary[];
  hookStatus?: { hooksAttempted: number; hooksFailed: number };
  volumeSnapshots?: { attempted: number; completed: number };
  podVolumeBackups: PodVolumeBackupSummary[];
}

/** The spec fields worth reading back, in the order `velero backup describe` shows them. */
const SPEC_FIELDS = [
  'includedNamespaces',
  'excludedNamespaces',
  'includedResources',
  'excludedResources',
  'includeClusterResources',
  'labelSelector',
  'orLabelSelectors',
  'storageLocation',
  'volumeSnapshotLocations',
  'snapshotVolumes',
  'defaultVolumesToFsBackup',
  'snapshotMoveData',
  'ttl',
  'csiSnapshotTimeout',
  'itemOperationTimeout',
] as const;

const number = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The command of an exec hook, as it would be typed. */
function hookCommand(entry: unknown): string {
  const exec = (entry as { exec?: { command?: unknown; container?: unknown } } | null)?.exec;
  const command = Array.isArray(exec?.command) ? exec.command.map(String).join(' ') : '(no command)';
  return typeof exec?.container === 'string' ? `${exec.container}: ${command}` : command;
}

function summarizeHooks(backup: KubeObject): HookSummary[] {
  const resources = (backup.spec?.hooks as { resources?: unknown } | undefined)?.resources;
  if (!Array.isArray(resources)) return [];
  return resources.map((resource: Record<string, unknown>) => ({
    name: String(resource.name ?? ''),
    namespaces: Array.isArray(resource.includedNamespaces) ? resource.includedNamespaces.map(String) : ['*'],
    pre: Array.isArray(resource.pre) ? resource.pre.map(hookCommand) : [],
    post: Array.isArray(resource.post) ? resource.post.map(hookCommand) : [],
  }));
}

export function summarizePodVolumeBackup(podVolumeBackup: KubeObject): PodVolumeBackupSummary {
  const spec = podVolumeBackup.spec ?? {};
  const status = podVolumeBackup.status ?? {};
  const pod = (spec.pod ?? {}) as Record<string, unknown>;
  const progress = (status.progress ?? {}) as Record<string, unknown>;
  return {
    pod: `${String(pod.namespace ?? '')}/${String(pod.name ?? '')}`,
    volume: String(spec.volume ?? ''),
    phase: phaseOf(podVolumeBackup) ?? 'New',
    uploader: String(spec.uploaderType ?? ''),
    bytesDone: number(progress.bytesDone),
    totalBytes: number(progress.totalBytes),
    ...(typeof status.snapshotID === 'string' && status.snapshotID !== '' ? { snapshotID: status.snapshotID } : {}),
    ...(typeof status.message === 'string' && status.message !== '' ? { message: status.message } : {}),
  };
}

const backupDescribeParams = z.object({ ...veleroTargetParams, backup: veleroObjectName.describe('The Velero backup to describe.') }).strict();

export const veleroBackupDescribe = defineAction({
  id: 'velero.backup.describe',
  title: 'Describe Velero Backup',
  description: 'Describes a Velero backup: what its spec includes, its status, its hooks, and its pod volume backups by pod and volume with their bytes.',
  params: backupDescribeParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `Describe Velero backup ${params.backup} in cluster ${params.cluster}`, operations: [{ kind: 'read', target: `Backup ${params.veleroNamespace}/${params.backup} in cluster ${params.cluster}`, detail: 'the backup and its PodVolumeBackups' }], destructive: false };
  },
  async run(params, ctx): Promise<BackupDescription> {
    const velero = await VeleroCluster.connect(ctx, params);
    const backup = await velero.find('backup', params.backup);
    const podVolumeBackups = (await velero.list('podVolumeBackup', `velero.io/backup-name=${params.backup}`))
      .map(summarizePodVolumeBackup)
      .sort((first, second) => first.pod.localeCompare(second.pod) || first.volume.localeCompare(second.volume));
    const status = backup.status ?? {};
    const hookStatus = status.hookStatus as Record<string, unknown> | undefined;
    const attempted = number(status.volumeSnapshotsAttempted) + number(status.csiVolumeSnapshotsAttempted);
    const completed = number(status.volumeSnapshotsCompleted) + number(status.csiVolumeSnapshotsCompleted);
    return {
      cluster: params.cluster,
      veleroNamespace: params.veleroNamespace,
      backup: summarizeBackup(backup, [...new Set(podVolumeBackups.map((volume) => volume.uploader).filter(Boolean))].sort()),
      spec: Object.fromEntries(SPEC_FIELDS.filter((field) => backup.spec?.[field] !== undefined).map((field) => [field, backup.spec?.[field]])),
      hooks: summarizeHooks(backup),
      ...(hookStatus && Object.keys(hookStatus).length > 0 ? { hookStatus: { hooksAttempted: number(hookStatus.hooksAttempted), hooksFailed: number(hookStatus.hooksFailed) } } : {}),
      ...(attempted > 0 ? { volumeSnapshots: { attempted, completed } } : {}),
      podVolumeBackups,
    };
  },
  render(result: BackupDescription) {
    const { backup } = result;
    const expiry = describeExpiry(backup.expiration);
    const lines = [
      `Velero backup ${backup.name} in cluster ${result.cluster}: ${describePhase(backup)}.`,
      '',
      ...Object.entries(result.spec).map(([field, value]) => `- ${field}: ${typeof value === 'string' ? value : JSON.stringify(value)}`),
      `- Storage location: ${backup.storageLocation ?? 'default'}`,
      ...(backup.schedule ? [`- Schedule: ${backup.schedule}`] : []),
      ...(backup.started ? [`- Started ${backup.started}${backup.completed ? `, completed ${backup.completed}` : ''}`] : []),
      ...(expiry ? [`- Expires ${expiry} (${backup.expiration ?? ''})`] : []),
      `- Items: ${describeItems(backup) || 'not counted yet'}; warnings ${backup.warnings}, errors ${backup.errors}`,
      ...(result.volumeSnapshots ? [`- Volume snapshots: ${result.volumeSnapshots.completed} of ${result.volumeSnapshots.attempted} completed`] : []),
      ...(result.hookStatus ? [`- Hooks: ${result.hookStatus.hooksAttempted} attempted, ${result.hookStatus.hooksFailed} failed`] : []),
    ];
    if (result.hooks.length > 0) {
      lines.push('', markdownTable(['Hook', 'Namespaces', 'Before', 'After'], result.hooks.map((hook) => [hook.name, hook.namespaces.join(', '), hook.pre.join('; '), hook.post.join('; ')])));
    }
    if (result.podVolumeBackups.length > 0) {
      const rows = result.podVolumeBackups.map((volume) => [volume.pod, volume.volume, volume.phase, volume.uploader, volume.totalBytes > 0 ? `${formatBytes(volume.bytesDone)} of ${formatBytes(volume.totalBytes)}` : formatBytes(volume.bytesDone), volume.message ?? '']);
      lines.push('', `Pod volume backups (${result.podVolumeBackups.length}):`, '', markdownTable(['Pod', 'Volume', 'Phase', 'Uploader', 'Bytes', 'Message'], rows));
      if (result.podVolumeBackups.some((volume) => volume.uploader === 'restic')) lines.push('', RESTIC_NOTE);
    } else {
      lines.push('', 'No pod volume backups (no fs backup of pod volumes).');
    }
    return lines.join('\n');
  },
});
