/**
 * The snapshot mirrors of a Frigate instance in the browse model: one node per state file in the
 * workspace, with the statistics and health the state holds, and its failed events below it.
 */
import type { BrowseSession } from '../../core/browse/model';
import { childPath, pageOf, type DeclaredNode, type Page, type PageRequest } from '../../core/browse/node';
import { formatCount, markdownEscape, printable } from '../../core/render';
import { frigateSnapshotsMirror } from './mirror';
import { frigateSnapshotsMirrorStatus } from './mirrorStatus';
import { findMirrors, type FoundMirror } from './mirrorState';

export const MIRRORS = 'snapshot-mirrors';

function mirrorNode(at: string, frigate: string, mirror: FoundMirror): DeclaredNode {
  const { state } = mirror;
  const { store, bucket, prefix } = state.identity;
  const failed = state.failed.length;
  const health = state.lastRun?.health ?? 'OK';
  const unfinished = state.lastRun !== undefined && state.lastRun.endedAt === null;
  const healthy = health === 'OK' && failed === 0;
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
    path: childPath(at, MIRRORS, mirror.folder),
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

function mirrors(frigate: string, session: BrowseSession): Promise<FoundMirror[]> {
  return session.cached(childPath(`frigate/${frigate}`, MIRRORS), () => findMirrors(session.ctx.workspaceDir, frigate));
}

/** The instance's mirrors, as children of its node. */
export async function snapshotMirrorNodes(at: string, frigate: string, session: BrowseSession): Promise<DeclaredNode[]> {
  return (await mirrors(frigate, session)).map((mirror) => mirrorNode(at, frigate, mirror));
}

/** A mirror's failed events, oldest first, with their last errors. */
export async function failedEventNodes(at: string, frigate: string, folder: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const mirror = (await mirrors(frigate, session)).find((candidate) => candidate.folder === folder);
  const parent = childPath(at, MIRRORS, folder);
  return pageOf(mirror?.state.failed ?? [], request, (event) => event.id, (event) => ({
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
