import type { KubeObject } from '../../clients/kube';
import type { BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, pageOf, type DeclaredNode, type DeclaredOperation, type NodeStatus, type NodeWatch, type Page, type PageRequest, type StatusLevel } from '../../core/browse/node';
import { formatAge, markdownEscape } from '../../core/render';
import type { ClusterSection } from '../clusters/browser';
import { objectWatch } from '../clusters/watch';
import { describeExpiry, describeItems, describePhase, listBackups, summarizeBackup, type BackupSummary } from './backups';
import { describeValidation, summarizeLocation } from './locations';
import { isTerminal, phaseOf, SCHEDULE_NAME_LABEL, TERMINAL_PHASES, VELERO_RESOURCES, VeleroCluster } from './resources';
import { judgeSchedule, type ScheduleVerdict } from './schedules';

export const VELERO_SEGMENT = 'velero';
/** The tree reads Velero where `velero install` puts it. */
const VELERO_NAMESPACE = 'velero';
/** How late a due scheduled backup may be before the tree flags its schedule. */
const SCHEDULE_GRACE_MINUTES = 30;
/** The runbook a backup's Restore… opens. */
const VELERO_RESTORE_RUNBOOK = 'velero-restore-app.runbook.md';
const CLUSTER_RECOVERY_RUNBOOK = 'cluster-full-recovery.runbook.md';

const FOLDERS = [
  { segment: 'locations', label: 'Locations', icon: 'database', what: 'Backup storage locations and whether Velero can use them' },
  { segment: 'schedules', label: 'Schedules', icon: 'calendar', what: 'Schedules with the age of their last backup' },
  { segment: 'backups', label: 'Backups', icon: 'archive', what: 'Backups, newest first' },
  { segment: 'restores', label: 'Restores', icon: 'history', what: 'Restores, newest first' },
] as const;

/** The codicon and status of a backup or restore phase; an unknown phase (a newer Velero's) is shown as still running. */
function phaseLook(phase: string | undefined): { icon: string; level: StatusLevel } {
  switch (phase) {
    case 'Completed':
      return { icon: 'pass', level: 'ok' };
    case 'PartiallyFailed':
      return { icon: 'warning', level: 'warning' };
    case 'Failed':
    case 'FailedValidation':
      return { icon: 'error', level: 'error' };
    case 'Queued':
    case 'ReadyToStart':
    case 'New':
    case undefined:
      return { icon: 'clock', level: 'unknown' };
    case 'Deleting':
      return { icon: 'trash', level: 'unknown' };
    default:
      return { icon: 'sync~spin', level: 'unknown' };
  }
}

/** The watch of a backup or restore in a phase that is not terminal (an unknown one included): it changes by itself until it is. */
function whileRunning(cluster: string, kind: 'backup' | 'restore', name: string, phase: string | undefined, toNode: (object: KubeObject) => DeclaredNode): { watch?: NodeWatch } {
  if (phase !== undefined && TERMINAL_PHASES[kind].has(phase)) return {};
  return { watch: objectWatch(cluster, VELERO_RESOURCES[kind], VELERO_NAMESPACE, name, (object) => isTerminal(kind, object), toNode) };
}

/** Restore…: the application restore runbook with the backup bound, and its namespace when it holds exactly one. */
function restoreOperation(cluster: string, backup: BackupSummary): DeclaredOperation {
  const [namespace, ...more] = backup.namespaces;
  const single = namespace !== undefined && namespace !== '*' && more.length === 0;
  return { kind: 'runbook', id: 'restore', label: 'Restore…', runbook: VELERO_RESTORE_RUNBOOK, params: { cluster, backup: backup.name, ...(single ? { namespace } : {}) } };
}

/**
 * A backup's node: phase icon, items and expiry at a glance, and the operations a backup offers.
 * Every backend action on one backup adds its operation here.
 */
export function backupNode(cluster: string, at: string, backup: BackupSummary): DeclaredNode {
  const { icon, level } = phaseLook(backup.phase);
  const phase = describePhase(backup);
  const expiry = describeExpiry(backup.expiration);
  const items = describeItems(backup);
  const params = { cluster, backup: backup.name };
  const operations: DeclaredOperation[] = [
    { kind: 'action', id: 'describe', label: 'Describe', action: 'velero.backup.describe', params },
    { kind: 'action', id: 'logs', label: 'Show Logs', action: 'velero.backup.logs', params },
    ...(backup.phase === 'Completed' || backup.phase === 'PartiallyFailed' ? [restoreOperation(cluster, backup)] : []),
    { kind: 'action', id: 'delete', label: 'Delete…', action: 'velero.backup.delete', params },
  ];
  const tooltip = [
    `**Velero backup ${markdownEscape(backup.name)}**`,
    '',
    `- Phase: ${markdownEscape(phase)}`,
    `- Namespaces: ${markdownEscape(backup.namespaces.join(', '))}`,
    ...(backup.schedule ? [`- Schedule: ${markdownEscape(backup.schedule)}`] : []),
    ...(backup.started ? [`- Started: ${backup.started}`] : []),
    ...(backup.completed ? [`- Completed: ${backup.completed}`] : []),
    ...(items ? [`- Items: ${items}`] : []),
    ...(expiry ? [`- Expires ${expiry}`] : []),
    `- Warnings: ${backup.warnings}, errors: ${backup.errors}`,
    ...(backup.uploaders.length > 0 ? [`- Pod volumes: ${backup.uploaders.join(', ')}`] : []),
  ];
  const status: NodeStatus | undefined = level === 'ok' || level === 'unknown' ? undefined : { level, reason: `${phase} (${backup.warnings} warnings, ${backup.errors} errors)` };
  return {
    path: childPath(at, backup.name),
    kind: 'velero.backup',
    label: backup.name,
    description: [backup.phase === 'Completed' ? '' : phase, items, expiry ? `expires ${expiry}` : ''].filter(Boolean).join(' · '),
    tooltip: tooltip.join('\n'),
    icon,
    ...(status ? { status } : {}),
    hasChildren: false,
    operations,
    ...whileRunning(cluster, 'backup', backup.name, backup.phase, (object) => backupNode(cluster, at, summarizeBackup(object, backup.uploaders))),
    facts: {
      cluster,
      name: backup.name,
      phase: backup.phase ?? null,
      schedule: backup.schedule ?? null,
      namespaces: backup.namespaces,
      items: backup.itemsBackedUp ?? null,
      expiration: backup.expiration ?? null,
      warnings: backup.warnings,
      errors: backup.errors,
    },
  };
}

function velero(cluster: string, session: BrowseSession): Promise<VeleroCluster> {
  return VeleroCluster.connect(session.ctx, { cluster, veleroNamespace: VELERO_NAMESPACE });
}

async function locationNodes(cluster: string, at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const locations = (await (await velero(cluster, session)).list('backupStorageLocation')).map(summarizeLocation);
  if (locations.length === 0) return { nodes: [emptyNode(at, `No backup storage location in namespace ${VELERO_NAMESPACE}`)] };
  return pageOf(locations, request, (location) => location.name, (location) => {
    const level: StatusLevel = location.phase === 'Available' ? 'ok' : location.phase === 'Unavailable' ? 'error' : 'unknown';
    return {
      path: childPath(at, location.name),
      kind: 'velero.location',
      label: location.name + (location.default ? ' (default)' : ''),
      description: [location.phase ?? 'not validated yet', location.objectStorage, location.lastValidationTime ? describeValidation(location) : ''].filter(Boolean).join(' · '),
      tooltip: [`**Backup storage location ${markdownEscape(location.name)}**`, '', `- ${markdownEscape(`${location.provider}: ${location.objectStorage}`)}`, `- ${location.phase ?? 'not validated yet'}, ${describeValidation(location)}`, ...(location.message ? [`- ${markdownEscape(location.message)}`] : [])].join('\n'),
      icon: level === 'ok' ? 'database' : level === 'error' ? 'error' : 'question',
      status: { level, reason: location.message ?? `${location.phase ?? 'not validated yet'}, ${describeValidation(location)}` },
      hasChildren: false,
      facts: { cluster, name: location.name, phase: location.phase ?? null, lastValidationTime: location.lastValidationTime ?? null },
    };
  });
}

const SCHEDULE_LEVEL: Record<ScheduleVerdict, StatusLevel> = { ok: 'ok', stale: 'warning', failed: 'error', paused: 'warning', invalid: 'error' };

async function scheduleNodes(cluster: string, at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const client = await velero(cluster, session);
  const [schedules, backups] = await Promise.all([client.list('schedule'), listBackups(client, SCHEDULE_NAME_LABEL)]);
  if (schedules.length === 0) return { nodes: [emptyNode(at, 'No schedules')] };
  const now = new Date();
  const judged = schedules.map((schedule) => judgeSchedule(schedule, backups.filter((backup) => backup.schedule === schedule.metadata.name), now, SCHEDULE_GRACE_MINUTES));
  return pageOf(judged, request, (schedule) => schedule.name, (schedule) => ({
    path: childPath(at, schedule.name),
    kind: 'velero.schedule',
    label: schedule.name,
    description: [schedule.cron, schedule.lastBackup ? `last backup ${formatAge(new Date(schedule.lastBackup), now)}` : 'no backup yet', schedule.verdict === 'ok' ? '' : schedule.verdict].filter(Boolean).join(' · '),
    tooltip: `**Schedule ${markdownEscape(schedule.name)}** (\`${schedule.cron}\`)\n\n${markdownEscape(schedule.reason)}`,
    icon: schedule.verdict === 'ok' ? 'calendar' : schedule.verdict === 'stale' || schedule.verdict === 'paused' ? 'warning' : 'error',
    status: { level: SCHEDULE_LEVEL[schedule.verdict], reason: schedule.reason },
    hasChildren: false,
    facts: { cluster, name: schedule.name, cron: schedule.cron, verdict: schedule.verdict, lastBackup: schedule.lastBackup ?? null },
  }));
}

async function backupNodes(cluster: string, at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const backups = await session.cached(at, async () => listBackups(await velero(cluster, session)));
  if (backups.length === 0) return { nodes: [emptyNode(at, 'No backups')] };
  return pageOf(backups, request, (backup) => backup.name, (backup) => backupNode(cluster, at, backup));
}

function restoreNode(cluster: string, at: string, restore: KubeObject): DeclaredNode {
  const phase = phaseOf(restore);
  const { icon, level } = phaseLook(phase);
  const status = restore.status ?? {};
  const progress = (status.progress ?? {}) as Record<string, unknown>;
  const backup = String(restore.spec?.backupName ?? restore.spec?.scheduleName ?? '');
  const items = typeof progress.itemsRestored === 'number' ? `${progress.itemsRestored}/${String(progress.totalItems ?? '?')} items` : '';
  const counts = `${Number(status.warnings ?? 0)} warnings, ${Number(status.errors ?? 0)} errors`;
  return {
    path: childPath(at, restore.metadata.name),
    kind: 'velero.restore',
    label: restore.metadata.name,
    description: [phase ?? 'New', `from ${backup}`, items].filter(Boolean).join(' · '),
    tooltip: `**Velero restore ${markdownEscape(restore.metadata.name)}**\n\n- From backup ${markdownEscape(backup)}\n- ${phase ?? 'New'}, ${counts}`,
    icon,
    ...(level === 'warning' || level === 'error' ? { status: { level, reason: `${phase ?? ''} (${counts})` } } : {}),
    hasChildren: false,
    ...whileRunning(cluster, 'restore', restore.metadata.name, phase, (object) => restoreNode(cluster, at, object)),
    facts: { cluster, name: restore.metadata.name, phase: phase ?? null, backup },
  };
}

async function restoreNodes(cluster: string, at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const restores = await (await velero(cluster, session)).list('restore');
  if (restores.length === 0) return { nodes: [emptyNode(at, 'No restores')] };
  const time = (restore: KubeObject) => Date.parse(restore.metadata.creationTimestamp ?? '') || 0;
  const newest = [...restores].sort((first, second) => time(second) - time(first) || second.metadata.name.localeCompare(first.metadata.name));
  return pageOf(newest, request, (restore) => restore.metadata.name, (restore) => restoreNode(cluster, at, restore));
}

const FOLDER_LISTINGS: Readonly<Record<string, (cluster: string, at: string, request: PageRequest, session: BrowseSession) => Promise<Page<DeclaredNode>>>> = {
  locations: locationNodes,
  schedules: scheduleNodes,
  backups: backupNodes,
  restores: restoreNodes,
};

/** Velero under each cluster: its locations, schedules, backups and restores. */
export const veleroSection: ClusterSection = {
  segment: VELERO_SEGMENT,
  node(cluster, at) {
    return {
      path: at,
      kind: 'velero',
      label: 'Velero',
      description: `namespace ${VELERO_NAMESPACE}`,
      tooltip: `Velero in cluster ${markdownEscape(cluster)} (namespace ${VELERO_NAMESPACE})`,
      icon: 'archive',
      hasChildren: true,
      // A rebuilt cluster gets its applications back from the backups Velero holds.
      operations: [{ kind: 'runbook', id: 'recover', label: "Recover the Cluster's Applications…", runbook: CLUSTER_RECOVERY_RUNBOOK, params: { cluster } }],
      facts: { cluster, namespace: VELERO_NAMESPACE },
    };
  },
  async children(cluster, rest, at, request, session) {
    const [folder] = rest;
    if (folder === undefined) {
      return {
        nodes: FOLDERS.map((entry) => ({ path: childPath(at, entry.segment), kind: `velero.${entry.segment}`, label: entry.label, tooltip: entry.what, icon: entry.icon, hasChildren: true, facts: { cluster } })),
        total: FOLDERS.length,
      };
    }
    const listing = FOLDER_LISTINGS[folder];
    return listing ? listing(cluster, childPath(at, folder), request, session) : { nodes: [] };
  },
};
