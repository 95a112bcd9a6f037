import type { PbsSnapshot } from '../../clients/pbs';
import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, joinPath, pageOf, type DeclaredNode, type NodeStatus, type Page, type PageRequest } from '../../core/browse/node';
import { formatAge, formatBytes, formatCount, markdownEscape, printable } from '../../core/render';
import { pbsDatastores, summarizeDatastore, type DatastoreSummary } from './datastores';
import { describeVerification, newestFirst, snapshotName, summarizeSnapshot, type SnapshotSummary } from './snapshotSummary';
import { pbsSnapshots } from './snapshots';
import { pbsClientFor } from './target';
import { pbsVerify } from './verify';

export const PBS_ROOT = 'pbs';
/** The runbook a server's Status… opens. */
const PBS_STATUS_RUNBOOK = 'pbs-status.runbook.md';

type ServerEntry = NonNullable<BrowseSession['ctx']['inventory']['backupServers']>[string];

function serverNode(name: string, entry: ServerEntry, inventoryFile: string): DeclaredNode {
  const refused = entry.tls?.insecure === true;
  const pinned = entry.fingerprint !== undefined;
  // Without a pin the system's authorities vouch for the certificate (an ACME one): not a warning by itself.
  const status: NodeStatus | undefined = refused ? { level: 'error', reason: 'tls.insecure is refused for PBS: pin the certificate with `fingerprint`' } : undefined;
  const tooltip = [
    `**Proxmox Backup Server ${markdownEscape(name)}**`,
    '',
    `- URL: ${markdownEscape(entry.url)}`,
    `- Datastore: ${markdownEscape(entry.datastore)}`,
    `- API token: ${markdownEscape(entry.tokenId)}`,
    pinned ? `- Certificate pinned: SHA-256 ${markdownEscape(entry.fingerprint ?? '')}` : "- Certificate not pinned: accepted only when the system's authorities vouch for it",
    `- From ${markdownEscape(inventoryFile)}`,
  ];
  return {
    path: joinPath(PBS_ROOT, name),
    kind: 'pbs',
    label: name,
    description: refused ? `${entry.url} · tls.insecure refused` : pinned ? entry.url : `${entry.url} · certificate not pinned`,
    tooltip: tooltip.join('\n'),
    icon: refused ? 'error' : 'server',
    ...(status ? { status } : {}),
    hasChildren: !refused,
    operations: [
      { kind: 'runbook', id: 'status', label: 'Status…', runbook: PBS_STATUS_RUNBOOK, params: { server: name, datastore: entry.datastore } },
      { kind: 'action', id: 'datastores', label: 'List Datastores', action: pbsDatastores.id, params: { server: name } },
    ],
    facts: { name, url: entry.url, datastore: entry.datastore, tokenId: entry.tokenId, pinned },
  };
}

function datastoreNode(server: string, summary: DatastoreSummary): DeclaredNode {
  const space = summary.usedBytes !== null && summary.totalBytes !== null ? `${formatBytes(summary.usedBytes)} of ${formatBytes(summary.totalBytes)} used` : '';
  const snapshots = summary.snapshots === null ? '' : formatCount(summary.snapshots, 'snapshot');
  const newest = summary.lastBackup ? `newest ${formatAge(new Date(summary.lastBackup))}` : '';
  const status: NodeStatus | undefined = summary.maintenance
    ? { level: 'warning', reason: `In maintenance: ${summary.maintenance}` }
    : summary.problem
      ? { level: 'warning', reason: summary.problem }
      : undefined;
  const tooltip = [
    `**Datastore ${markdownEscape(summary.store)}** on ${markdownEscape(server)}${summary.configured ? ' (named in lifeboat.yaml)' : ''}`,
    '',
    ...(summary.comment ? [`- ${markdownEscape(summary.comment)}`] : []),
    ...(space ? [`- ${space}, ${formatBytes(summary.availBytes ?? 0)} available`] : []),
    ...(summary.groups === null ? [] : [`- ${formatCount(summary.groups, 'backup group')}, ${snapshots}`]),
    ...(summary.lastBackup ? [`- Newest backup: ${summary.lastBackup}`] : []),
    ...(status ? [`- $(warning) ${markdownEscape(status.reason)}`] : []),
  ];
  const params = { server, datastore: summary.store };
  return {
    path: childPath(joinPath(PBS_ROOT, server), summary.store),
    kind: 'pbs.datastore',
    label: summary.store,
    description: [space, snapshots, newest].filter(Boolean).join(' · '),
    tooltip: tooltip.join('\n'),
    icon: status ? 'warning' : 'database',
    ...(status ? { status } : {}),
    hasChildren: summary.snapshots !== 0,
    operations: [
      { kind: 'action', id: 'snapshots', label: 'List Snapshots', action: pbsSnapshots.id, params },
      { kind: 'action', id: 'verify', label: 'Verify Datastore', action: pbsVerify.id, params },
    ],
    facts: {
      server,
      store: summary.store,
      configured: summary.configured,
      totalBytes: summary.totalBytes,
      usedBytes: summary.usedBytes,
      availBytes: summary.availBytes,
      groups: summary.groups,
      snapshots: summary.snapshots,
      lastBackup: summary.lastBackup,
      maintenance: summary.maintenance,
    },
  };
}

const VERIFICATION_LOOK: Record<SnapshotSummary['verification'], { icon: string; status?: NodeStatus }> = {
  ok: { icon: 'pass' },
  failed: { icon: 'error', status: { level: 'error', reason: 'The last verification of this snapshot failed: a chunk is missing or damaged' } },
  none: { icon: 'circle-large-outline', status: { level: 'unknown', reason: 'Never verified' } },
};

function snapshotNode(server: string, store: string, snapshot: SnapshotSummary): DeclaredNode {
  const name = snapshotName(snapshot);
  const look = VERIFICATION_LOOK[snapshot.verification];
  const tooltip = [
    `**${markdownEscape(name)}**`,
    '',
    `- ${markdownEscape(describeVerification(snapshot.verification))}${snapshot.verifyTask ? ` (task ${markdownEscape(snapshot.verifyTask)})` : ''}`,
    ...(snapshot.size === null ? [] : [`- Size: ${formatBytes(snapshot.size)}`]),
    ...(snapshot.comment ? [`- ${markdownEscape(snapshot.comment)}`] : []),
    ...(snapshot.protected ? ['- Protected from pruning'] : []),
    ...(snapshot.encrypted ? ['- Encrypted'] : []),
    ...(snapshot.owner ? [`- Owner: ${markdownEscape(snapshot.owner)}`] : []),
  ];
  return {
    path: childPath(joinPath(PBS_ROOT, server, store), `${snapshot.type}/${snapshot.id}/${snapshot.epoch}`),
    kind: 'pbs.snapshot',
    label: `${snapshot.type}/${printable(snapshot.id)}`,
    description: [snapshot.time, snapshot.size === null ? '' : formatBytes(snapshot.size), describeVerification(snapshot.verification), snapshot.protected ? 'protected' : '', snapshot.comment ?? ''].filter(Boolean).join(' · '),
    tooltip: tooltip.join('\n'),
    icon: look.icon,
    ...(look.status ? { status: look.status } : {}),
    hasChildren: false,
    operations: [{ kind: 'action', id: 'verify', label: 'Verify', action: pbsVerify.id, params: { server, datastore: store, backupType: snapshot.type, backupId: snapshot.id, time: snapshot.epoch } }],
    facts: {
      server,
      store,
      type: snapshot.type,
      id: snapshot.id,
      time: snapshot.time,
      epoch: snapshot.epoch,
      size: snapshot.size,
      verification: snapshot.verification,
      protected: snapshot.protected,
      comment: snapshot.comment,
    },
  };
}

/** The datastores the token sees, and the one lifeboat.yaml names as a warning when the server has no such datastore. */
async function serverChildren(server: string, entry: ServerEntry, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = joinPath(PBS_ROOT, server);
  const client = await pbsClientFor(session.ctx, server);
  const listed = (await client.datastores(session.ctx.signal)).sort((a, b) => a.store.localeCompare(b.store));
  const nodes = await Promise.all(listed.map(async (datastore) => datastoreNode(server, await summarizeDatastore(client, datastore, datastore.store === entry.datastore, session.ctx.signal))));
  if (!listed.some((datastore) => datastore.store === entry.datastore)) {
    const reason = `lifeboat.yaml names datastore '${printable(entry.datastore)}', which ${client.description} does not have (or the token may not see)`;
    nodes.unshift({
      path: childPath(at, entry.datastore),
      kind: 'pbs.datastore.missing',
      label: entry.datastore,
      description: 'not on the server',
      tooltip: reason,
      icon: 'warning',
      status: { level: 'warning', reason },
      hasChildren: false,
      facts: { server, store: entry.datastore, problem: reason },
    });
  }
  if (nodes.length === 0) return { nodes: [emptyNode(at, 'The API token sees no datastore')], total: 0 };
  return { nodes, total: nodes.length };
}

/** A datastore's snapshots, newest first, a page at a time. */
async function datastoreChildren(server: string, store: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = joinPath(PBS_ROOT, server, store);
  const listed = await session.cached<PbsSnapshot[]>(at, async () => (await pbsClientFor(session.ctx, server)).snapshots(store, {}, session.ctx.signal));
  const snapshots = listed.map(summarizeSnapshot).sort(newestFirst);
  if (snapshots.length === 0) return { nodes: [emptyNode(at, `No snapshots in datastore ${printable(store)}`)], total: 0 };
  return pageOf(snapshots, request, (snapshot) => `${snapshot.type}/${snapshot.id} ${snapshot.time}`, (snapshot) => snapshotNode(server, store, snapshot));
}

/** The Proxmox Backup Servers of `backupServers:`: their datastores and snapshots with verification state. */
export const pbsBrowser: Browser = {
  root: PBS_ROOT,
  roots(session) {
    return Object.entries(session.ctx.inventory.backupServers ?? {}).map(([name, entry]) => serverNode(name, entry, session.inventoryFile));
  },
  async children(path, request, session) {
    const [, server, store, ...rest] = path;
    const entry = server === undefined ? undefined : session.ctx.inventory.backupServers?.[server];
    if (server === undefined || !entry || rest.length > 0) return { nodes: [] };
    if (store === undefined) return serverChildren(server, entry, session);
    return datastoreChildren(server, store, request, session);
  },
};
