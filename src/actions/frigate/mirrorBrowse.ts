/**
 * The snapshot mirrors of a Frigate instance in the browse model: one node holding them under the
 * instance, and below it one node per state file in the workspace (the statistics and health the
 * state holds) and one per mirror a cluster of the inventory runs (what its state says in the pod
 * that runs it), each with its failed events below it. The clusters are asked only when that node is
 * opened: one that cannot be asked is a node saying why, beside the others.
 */
import type { BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, pageOf, type DeclaredNode, type NodeStatus, type Page, type PageRequest } from '../../core/browse/node';
import { errorMessage, isCancellationError } from '../../core/errors';
import { formatCount, markdownEscape, printable } from '../../core/render';
import { scheduleK8sStatus } from '../schedule/k8sStatus';
import { frigateSnapshotsMirror } from './mirror';
import { mirrorsInCluster, type ClusterMirror } from './mirrorInCluster';
import { frigateSnapshotsMirrorStatus } from './mirrorStatus';
import { findMirrors, type FailedEvent, type FoundMirror } from './mirrorState';

export const MIRRORS = 'snapshot-mirrors';

/** A cluster's mirrors of the instance, or why the cluster could not be asked. */
type ClusterListing = { cluster: string; mirrors: ClusterMirror[] } | { cluster: string; failure: string };

function workspaceHealth(mirror: FoundMirror): { health: string; failed: number; healthy: boolean } {
  const health = mirror.state.lastRun?.health ?? 'OK';
  const failed = mirror.state.failed.length;
  return { health, failed, healthy: health === 'OK' && failed === 0 };
}

function workspaceMirrorNode(at: string, frigate: string, mirror: FoundMirror): DeclaredNode {
  const { state } = mirror;
  const { store, bucket, prefix } = state.identity;
  const { health, failed, healthy } = workspaceHealth(mirror);
  const unfinished = state.lastRun !== undefined && state.lastRun.endedAt === null;
  const reached = state.cursor === undefined ? 'nothing yet' : new Date(state.cursor * 1000).toISOString().replace('.000Z', 'Z');
  const params = { frigate, store, prefix };
  const tooltip = [
    `**Snapshot mirror of Frigate ${markdownEscape(frigate)}** to s3://${markdownEscape(`${bucket}/${prefix}`)} (store ${markdownEscape(store)})`,
    '',
    `- Tracked Events: ${state.tracked}, Failed Events: ${failed}, Health: ${markdownEscape(printable(health))}`,
    `- Every event up to ${reached} is mirrored or failed`,
    ...(state.lastRun ? [`- Last run: ${state.lastRun.startedAt}${unfinished ? ' (running or stopped before its end)' : `, ${state.lastRun.uploaded} uploaded, ${state.lastRun.failed} failed`}`] : []),
    `- State: ${markdownEscape(mirror.file)}`,
  ];
  return {
    path: childPath(at, mirror.folder),
    kind: 'frigate.snapshotMirror',
    label: 'Snapshot mirror',
    description: `s3://${bucket}/${prefix} · ${formatCount(state.tracked, 'tracked event')} · ${failed > 0 ? `${failed} failed · ` : ''}${printable(health)}`,
    tooltip: tooltip.join('\n'),
    icon: healthy ? 'cloud-upload' : 'warning',
    ...(healthy ? {} : { status: { level: 'warning' as const, reason: failed > 0 ? `${formatCount(failed, 'failed event')}` : printable(health) } }),
    hasChildren: failed > 0,
    operations: [
      { kind: 'action', id: 'mirror', label: 'Mirror Snapshots Now', action: frigateSnapshotsMirror.id, params },
      { kind: 'action', id: 'retry', label: 'Retry Failed Events', action: frigateSnapshotsMirror.id, params: { ...params, retryFailed: true } },
      { kind: 'action', id: 'status', label: 'Show Mirror Status', action: frigateSnapshotsMirrorStatus.id, params },
    ],
    facts: { frigate, store, bucket, prefix, tracked: state.tracked, failed, health, cursor: state.cursor ?? null },
  };
}

/** The codicon of a mirror that is not healthy, by how bad it is. */
const STATUS_ICONS: Readonly<Record<NodeStatus['level'], string>> = { ok: 'cloud-upload', warning: 'warning', error: 'error', unknown: 'question' };

/** The segment of a mirror a cluster runs, unique among the instance's mirrors (a workspace state's folder has no colon). */
function clusterMirrorSegment(mirror: ClusterMirror): string {
  return [mirror.cluster, mirror.namespace, mirror.name, mirror.cell].join(':');
}

/** What the node of a mirror a cluster runs says: the status read in its pod, or why there is none. */
function clusterMirrorView(mirror: ClusterMirror): { description: string; status?: NodeStatus; lines: string[]; failedEvents: readonly FailedEvent[]; healthy: boolean } {
  const { reading } = mirror;
  if ('skipped' in reading) return { description: `not read: ${reading.skipped}`, status: { level: 'warning', reason: `cell ${mirror.cell} is skipped: ${reading.skipped}` }, lines: [`- Skipped: ${markdownEscape(reading.skipped)}`], failedEvents: [], healthy: false };
  if ('failure' in reading) return { description: reading.failure, status: { level: 'error', reason: reading.failure }, lines: [`- Its state could not be read: ${markdownEscape(reading.failure)}`], failedEvents: [], healthy: false };
  const { status } = reading;
  const target = `s3://${status.bucket}/${status.prefix}`;
  const health = printable(status.health);
  const lines = [`- To ${markdownEscape(target)} (store ${markdownEscape(status.store)})`, `- State: ${markdownEscape(status.statePath)}`];
  if (status.problem !== undefined) {
    const unread = status.health === 'unknown';
    const description = `${target} · ${unread ? 'no pod running' : printable(status.problem)} · health ${health}`;
    return { description, status: { level: unread ? 'unknown' : 'warning', reason: printable(status.problem) }, lines: [...lines, `- No state to show: ${markdownEscape(printable(status.problem))}`], failedEvents: [], healthy: false };
  }
  const failed = status.failedEvents.length;
  const healthy = status.health === 'OK' && failed === 0;
  const description = [target, formatCount(status.tracked, 'tracked event'), health, ...(status.running ? ['running now'] : [])].join(' · ');
  lines.unshift(`- Tracked Events: ${status.tracked}, Failed Events: ${failed}, Health: ${markdownEscape(health)}${status.running ? ' (running now)' : ''}`);
  if (status.lastRun) lines.push(`- Last run: ${status.lastRun.startedAt}${status.lastRun.endedAt ? `, ${status.lastRun.uploaded} uploaded, ${status.lastRun.failed} failed` : ' (running or stopped before its end)'}`);
  return { description, ...(healthy ? {} : { status: { level: 'warning', reason: failed > 0 ? formatCount(failed, 'failed event') : health } }), lines, failedEvents: status.failedEvents, healthy };
}

function clusterMirrorNode(at: string, frigate: string, mirror: ClusterMirror): DeclaredNode {
  const { cluster, namespace, name, kind } = mirror;
  const view = clusterMirrorView(mirror);
  const { reading } = mirror;
  const statusOf = 'status' in reading ? reading.status : undefined;
  const tooltip = [
    `**Snapshot mirror of Frigate ${markdownEscape(frigate)}** run by ${kind} ${markdownEscape(`${namespace}/${name}`)} on cluster ${markdownEscape(cluster)}`,
    '',
    ...view.lines,
    `- Runbook: ${markdownEscape(mirror.runbook)}, cell ${mirror.cell}`,
    '',
    'Mirror Snapshots Now is not offered here: it would run on this machine, with a state of its own, not the one in the pod.',
  ];
  return {
    path: childPath(at, clusterMirrorSegment(mirror)),
    kind: 'frigate.clusterSnapshotMirror',
    label: `${name} on ${cluster}`,
    description: view.description,
    tooltip: tooltip.join('\n'),
    icon: view.healthy ? 'cloud-upload' : 'skipped' in reading ? 'circle-slash' : STATUS_ICONS[view.status?.level ?? 'warning'],
    ...(view.status ? { status: view.status } : {}),
    hasChildren: view.failedEvents.length > 0,
    operations: [
      ...('params' in reading ? [{ kind: 'action' as const, id: 'status', label: 'Show Mirror Status', action: frigateSnapshotsMirrorStatus.id, params: reading.params }] : []),
      { kind: 'action', id: 'workload', label: `Check the ${kind}`, action: scheduleK8sStatus.id, params: { cluster, namespace, name } },
    ],
    facts: {
      frigate,
      cluster,
      namespace,
      name,
      workload: kind,
      runbook: mirror.runbook,
      cell: mirror.cell,
      store: statusOf?.store ?? null,
      bucket: statusOf?.bucket ?? null,
      prefix: statusOf?.prefix ?? null,
      tracked: statusOf?.tracked ?? null,
      failed: statusOf?.failedEvents.length ?? null,
      health: statusOf?.health ?? null,
      running: statusOf?.running ?? false,
      problem: 'skipped' in reading ? reading.skipped : 'failure' in reading ? reading.failure : (statusOf?.problem ?? null),
    },
  };
}

/** A cluster whose mirrors could not be listed: its name and the cause, beside the mirrors that could. */
function unlistedClusterNode(at: string, cluster: string, failure: string): DeclaredNode {
  const reason = `cluster '${cluster}': its snapshot mirrors could not be listed: ${failure}`;
  return {
    path: childPath(at, `!cluster:${cluster}`),
    kind: 'frigate.clusterSnapshotMirrors.failed',
    label: `Cluster ${cluster}`,
    description: `not read: ${failure}`,
    tooltip: markdownEscape(reason),
    icon: 'error',
    status: { level: 'error', reason },
    hasChildren: false,
    facts: { cluster, message: failure },
  };
}

function workspaceMirrors(at: string, frigate: string, session: BrowseSession): Promise<FoundMirror[]> {
  return session.cached(at, () => findMirrors(session.ctx.workspaceDir, frigate));
}

/** Each cluster of the inventory asked at once; one that fails is a listing of its own that says why, not kept, so the next look asks again. */
function clusterListings(at: string, frigate: string, session: BrowseSession): Promise<ClusterListing[]> {
  const { ctx } = session;
  return Promise.all(
    Object.keys(ctx.inventory.clusters ?? {}).map(async (cluster): Promise<ClusterListing> => {
      try {
        return { cluster, mirrors: await session.cached(childPath(at, `!cluster:${cluster}`), () => mirrorsInCluster(ctx, cluster, frigate)) };
      } catch (error) {
        if (isCancellationError(error) || ctx.signal.aborted) throw error;
        ctx.log.warn(`the snapshot mirrors of Frigate ${frigate} on cluster '${cluster}' could not be listed: ${errorMessage(error)}`);
        return { cluster, failure: errorMessage(error) };
      }
    }),
  );
}

/** The node under the instance that holds its mirrors; none when there is nowhere to look for one. */
export async function snapshotMirrorsNode(frigateAt: string, frigate: string, session: BrowseSession): Promise<DeclaredNode | undefined> {
  const at = childPath(frigateAt, MIRRORS);
  const here = await workspaceMirrors(at, frigate, session);
  const clusters = Object.keys(session.ctx.inventory.clusters ?? {});
  if (here.length === 0 && clusters.length === 0) return undefined;
  const unhealthy = here.filter((mirror) => !workspaceHealth(mirror).healthy).length;
  const where = clusters.length > 0 ? `clusters: ${clusters.join(', ')}` : undefined;
  return {
    path: at,
    kind: 'frigate.snapshotMirrors',
    label: 'Snapshot mirrors',
    description: [...(here.length > 0 ? [`${formatCount(here.length, 'mirror')} in this workspace`] : []), ...(where ? [where] : [])].join(' · '),
    tooltip: [
      `**Snapshot mirrors of Frigate ${markdownEscape(frigate)}**`,
      '',
      '- In this workspace: the states under `.lifeboat/frigate-mirror/`',
      ...(where ? [`- In the ${markdownEscape(where)}: the runbooks schedule.k8s.install runs there, each mirror's state read in the pod that runs it, once this is opened`] : []),
    ].join('\n'),
    icon: unhealthy > 0 ? 'warning' : 'cloud-upload',
    ...(unhealthy > 0 ? { status: { level: 'warning' as const, reason: `${formatCount(unhealthy, 'mirror')} in this workspace with failed events or a health other than OK` } } : {}),
    hasChildren: true,
    facts: { frigate, workspace: here.length, clusters },
  };
}

/** The instance's mirrors: the workspace's, then each cluster's (or why a cluster could not be asked). */
export async function snapshotMirrorNodes(frigateAt: string, frigate: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = childPath(frigateAt, MIRRORS);
  const [here, listings] = await Promise.all([workspaceMirrors(at, frigate, session), clusterListings(at, frigate, session)]);
  const nodes = [
    ...here.map((mirror) => workspaceMirrorNode(at, frigate, mirror)),
    ...listings.flatMap((listing) => ('failure' in listing ? [unlistedClusterNode(at, listing.cluster, listing.failure)] : listing.mirrors.map((mirror) => clusterMirrorNode(at, frigate, mirror)))),
  ];
  if (nodes.length === 0) return { nodes: [emptyNode(at, `No snapshot mirror of Frigate ${frigate} in this workspace or in the clusters`)], total: 0 };
  return pageOf(nodes, request, (node) => node.label, (node) => node);
}

/** The failed events of a mirror (its node's segment), oldest first, with their last errors: from the workspace's state, else from the pod's. */
export async function failedEventNodes(frigateAt: string, frigate: string, segment: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = childPath(frigateAt, MIRRORS);
  const parent = childPath(at, segment);
  const inWorkspace = (await workspaceMirrors(at, frigate, session)).find((candidate) => candidate.folder === segment);
  let failed: readonly FailedEvent[] = inWorkspace?.state.failed ?? [];
  if (!inWorkspace && segment.includes(':')) {
    const listings = await clusterListings(at, frigate, session);
    const mirror = listings.flatMap((listing) => ('mirrors' in listing ? listing.mirrors : [])).find((candidate) => clusterMirrorSegment(candidate) === segment);
    failed = mirror ? clusterMirrorView(mirror).failedEvents : [];
  }
  return pageOf(failed, request, (event) => event.id, (event) => ({
    path: childPath(parent, event.id),
    kind: 'frigate.failedSnapshot',
    label: printable(event.id),
    description: `${printable(event.camera) || 'no camera'} · ${printable(event.error)}`,
    tooltip: `Event ${markdownEscape(printable(event.id))} (${markdownEscape(printable(event.camera))}, ${new Date(event.startTime * 1000).toISOString()}) failed after ${formatCount(event.attempts, 'attempt')}: ${markdownEscape(printable(event.error))}`,
    icon: 'error',
    status: { level: 'error', reason: printable(event.error) },
    hasChildren: false,
    facts: { frigate, event: event.id, camera: event.camera, startTime: event.startTime, attempts: event.attempts, error: event.error },
  }));
}
