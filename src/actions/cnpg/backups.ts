import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction } from '../../core/actions/spec';
import { formatCount, markdownTable } from '../../core/render';
import { clusterNameOf, cnpgObjectName, cnpgTargetParams, CnpgNamespace, phaseOf } from './resources';

export interface CnpgBackupSummary {
  name: string;
  cluster: string;
  phase?: string;
  method: string;
  started?: string;
  stopped?: string;
  backupId?: string;
  error?: string;
  created?: string;
}

export function summarizeCnpgBackup(backup: KubeObject): CnpgBackupSummary {
  const status = (backup.status ?? {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const fields = {
    phase: phaseOf(backup),
    started: text(status.startedAt),
    stopped: text(status.stoppedAt),
    backupId: text(status.backupId),
    error: text(status.error),
    created: text(backup.metadata.creationTimestamp),
  };
  return {
    name: backup.metadata.name,
    cluster: clusterNameOf(backup),
    method: text(status.method) ?? text(backup.spec?.method) ?? 'barmanObjectStore',
    ...Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)),
  };
}

/** Newest first: by start time, then creation time, then name (names carry a UTC timestamp). */
export function newestFirst(a: CnpgBackupSummary, b: CnpgBackupSummary): number {
  const time = (backup: CnpgBackupSummary) => backup.started ?? backup.created ?? '';
  return time(b).localeCompare(time(a)) || b.name.localeCompare(a.name);
}

export async function listCnpgBackups(cnpg: CnpgNamespace, clusterName: string): Promise<CnpgBackupSummary[]> {
  await cnpg.find('cluster', clusterName);
  return (await cnpg.backupsOf(clusterName)).map(summarizeCnpgBackup).sort(newestFirst);
}

const backupsListParams = z
  .object({
    ...cnpgTargetParams,
    clusterName: cnpgObjectName.describe('The CloudNativePG Cluster whose Backups to list.'),
  })
  .strict();

export interface CnpgBackupsListResult {
  cluster: string;
  namespace: string;
  clusterName: string;
  backups: CnpgBackupSummary[];
}

export const cnpgBackupsList = defineAction({
  id: 'cnpg.backups.list',
  title: 'List CloudNativePG Backups',
  description: 'Lists the Backups of a CloudNativePG Cluster, newest first, with their phase, method (barmanObjectStore, volumeSnapshot or plugin), start and stop times, backup id and error.',
  params: backupsListParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `List the Backups of CloudNativePG Cluster ${params.namespace}/${params.clusterName} in cluster ${params.cluster}`, operations: [{ kind: 'read', target: `cluster ${params.cluster}, namespace ${params.namespace}`, detail: 'Clusters, Backups' }], destructive: false };
  },
  async run(params, ctx): Promise<CnpgBackupsListResult> {
    const cnpg = await CnpgNamespace.connect(ctx, params);
    return { cluster: params.cluster, namespace: params.namespace, clusterName: params.clusterName, backups: await listCnpgBackups(cnpg, params.clusterName) };
  },
  render(result: CnpgBackupsListResult) {
    const where = `CloudNativePG Cluster ${result.namespace}/${result.clusterName} in cluster ${result.cluster}`;
    if (result.backups.length === 0) return `No Backups of ${where}.`;
    const rows = result.backups.map((backup) => [backup.name, backup.error ? `${backup.phase ?? 'pending'}: ${backup.error}` : (backup.phase ?? 'pending'), backup.method, backup.started ?? '', backup.stopped ?? '', backup.backupId ?? '']);
    return `${formatCount(result.backups.length, 'Backup')} of ${where}:\n\n${markdownTable(['Backup', 'Phase', 'Method', 'Started', 'Stopped', 'Backup id'], rows)}`;
  },
});
