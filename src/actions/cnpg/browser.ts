import { KubeError, type KubeObject } from '../../clients/kube';
import type { BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, pageOf, type DeclaredNode, type StatusLevel } from '../../core/browse/node';
import { markdownEscape } from '../../core/render';
import type { ClusterSection } from '../clusters/browser';
import { objectWatch } from '../clusters/watch';
import { kubeClientFor } from '../clusters/target';
import { cnpgBackup } from './backup';
import { listCnpgBackups, summarizeCnpgBackup, type CnpgBackupSummary } from './backups';
import { BACKUP_TERMINAL_PHASES, CNPG_RESOURCES, CnpgNamespace, configuredMethod, phaseOf } from './resources';

/** The runbook a Backup's Restore… opens. */
const CNPG_RESTORE_RUNBOOK = 'cnpg-restore.runbook.md';
const PG_DUMP_RESTORE_RUNBOOK = 'pg-dump-restore.runbook.md';

/** The codicon and status of a Backup phase; a phase not known here (a newer CloudNativePG's) is shown as still running. */
function phaseLook(phase: string | undefined): { icon: string; level: StatusLevel } {
  switch (phase) {
    case 'completed':
      return { icon: 'pass', level: 'ok' };
    case 'failed':
    case 'walArchivingFailing':
    case 'invalid backup definition':
      return { icon: 'error', level: 'error' };
    case undefined:
    case 'pending':
      return { icon: 'clock', level: 'unknown' };
    default:
      return { icon: 'sync~spin', level: 'unknown' };
  }
}

function clusterNode(cluster: string, at: string, object: KubeObject): DeclaredNode {
  const namespace = object.metadata.namespace ?? '';
  const name = object.metadata.name;
  const method = configuredMethod(object)?.method;
  return {
    path: childPath(at, namespace, name),
    kind: 'cnpg.cluster',
    label: `${namespace}/${name}`,
    description: method ? `backs up by ${method}` : 'no backup configured',
    tooltip: `**CloudNativePG Cluster ${markdownEscape(`${namespace}/${name}`)}** on cluster ${markdownEscape(cluster)}\n\n- ${method ? `Backup method: ${method}` : 'No backup configured'}`,
    icon: 'database',
    ...(method ? {} : { status: { level: 'warning' as const, reason: 'No backup configured: no Barman Cloud plugin, barmanObjectStore or volumeSnapshot' } }),
    hasChildren: true,
    operations: [
      ...(method ? [{ kind: 'action' as const, id: 'backUp', label: 'Back Up Now', action: cnpgBackup.id, params: { cluster, namespace, clusterName: name } }] : []),
      // The target of the restore is the person's choice: only the source and its cluster are bound.
      { kind: 'runbook', id: 'dumpRestore', label: 'Dump and Restore Database…', runbook: PG_DUMP_RESTORE_RUNBOOK, params: { cluster, namespace, clusterName: name, targetCluster: cluster, targetNamespace: namespace } },
    ],
    facts: { cluster, namespace, name, method: method ?? null },
  };
}

function backupNode(cluster: string, namespace: string, at: string, backup: CnpgBackupSummary): DeclaredNode {
  const { icon, level } = phaseLook(backup.phase);
  const phase = backup.phase ?? 'pending';
  return {
    path: childPath(at, backup.name),
    kind: 'cnpg.backup',
    label: backup.name,
    description: [phase, backup.method, backup.stopped ?? backup.started].filter(Boolean).join(' · '),
    tooltip: [
      `**CloudNativePG Backup ${markdownEscape(backup.name)}** of Cluster ${markdownEscape(`${namespace}/${backup.cluster}`)}`,
      '',
      `- Phase: ${markdownEscape(phase)}${backup.error ? `: ${markdownEscape(backup.error)}` : ''}`,
      `- Method: ${backup.method}`,
      ...(backup.started ? [`- Started ${backup.started}${backup.stopped ? `, stopped ${backup.stopped}` : ''}`] : []),
      ...(backup.backupId ? [`- Backup id: ${backup.backupId}`] : []),
    ].join('\n'),
    icon,
    ...(level === 'error' ? { status: { level, reason: `${phase}${backup.error ? `: ${backup.error}` : ''}` } } : {}),
    hasChildren: false,
    // A Backup in a phase that is not terminal (an unknown one included) changes by itself until it is.
    ...(backup.phase !== undefined && BACKUP_TERMINAL_PHASES.has(backup.phase)
      ? {}
      : { watch: objectWatch(cluster, CNPG_RESOURCES.backup, namespace, backup.name, (object) => BACKUP_TERMINAL_PHASES.has(phaseOf(object) ?? ''), (object) => backupNode(cluster, namespace, at, summarizeCnpgBackup(object))) }),
    operations:
      backup.phase === 'completed'
        ? [{ kind: 'runbook', id: 'restore', label: 'Restore…', runbook: CNPG_RESTORE_RUNBOOK, params: { cluster, namespace, clusterName: backup.cluster, backup: backup.name } }]
        : [],
    facts: { cluster, namespace, clusterName: backup.cluster, name: backup.name, phase, method: backup.method, started: backup.started ?? null, stopped: backup.stopped ?? null, backupId: backup.backupId ?? null, error: backup.error ?? null },
  };
}

/** The cluster's CloudNativePG Clusters in every namespace; undefined when it does not serve the kind. */
async function clustersOf(cluster: string, session: BrowseSession): Promise<KubeObject[] | undefined> {
  try {
    return await (await kubeClientFor(session.ctx, cluster)).listObjectsInAllNamespaces(CNPG_RESOURCES.cluster);
  } catch (error) {
    if (error instanceof KubeError && error.failure === 'not-found') return undefined;
    throw error;
  }
}

/** Under each cluster, `cnpg`: its CloudNativePG Clusters (`namespace/name`), and under each its Backups, newest first. */
export const cnpgSection: ClusterSection = {
  segment: 'cnpg',
  node(cluster, at) {
    return {
      path: at,
      kind: 'cnpg',
      label: 'CloudNativePG',
      description: 'PostgreSQL Clusters',
      tooltip: `The CloudNativePG Clusters of cluster ${markdownEscape(cluster)} and their Backups`,
      icon: 'database',
      hasChildren: true,
      facts: { cluster },
    };
  },
  async children(cluster, rest, at, request, session) {
    const [namespace, name, ...below] = rest;
    if (below.length > 0) return { nodes: [] };
    if (namespace !== undefined && name !== undefined) {
      const where = childPath(at, namespace, name);
      const cnpg = new CnpgNamespace(await kubeClientFor(session.ctx, cluster), cluster, namespace);
      const backups = await session.cached(where, () => listCnpgBackups(cnpg, name));
      if (backups.length === 0) return { nodes: [emptyNode(where, 'No Backups')], total: 0 };
      return pageOf(backups, request, (backup) => backup.name, (backup) => backupNode(cluster, namespace, where, backup));
    }
    const listing = await session.cached(at, () => clustersOf(cluster, session));
    if (listing === undefined) return { nodes: [emptyNode(at, 'CloudNativePG is not installed on this cluster')], total: 0 };
    const clusters = namespace === undefined ? listing : listing.filter((object) => object.metadata.namespace === namespace);
    if (clusters.length === 0) return { nodes: [emptyNode(namespace === undefined ? at : childPath(at, namespace), 'No CloudNativePG Clusters')], total: 0 };
    return pageOf(clusters, request, (object) => `${object.metadata.namespace ?? ''}/${object.metadata.name}`, (object) => clusterNode(cluster, at, object));
  },
};
