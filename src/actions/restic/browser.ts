/**
 * restic repositories in the Backups tree, pick lists and `lifeboat ls`: repository → snapshots
 * (newest first) → folders and files, one folder level per expand and a page at a time. Each folder is
 * listed once per refresh, by a `restic ls` of that folder alone, so a click deep in a large snapshot
 * costs what that folder costs, not the whole tree.
 */
import type { ResticNode, ResticSnapshot } from '../../clients/restic';
import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, joinPath, pageOf, type DeclaredNode, type DeclaredOperation, type Page, type PageRequest } from '../../core/browse/node';
import { formatBytes, markdownEscape, printable } from '../../core/render';
import { listFolder, snapshotsNewestFirst, snapshotTotals } from './listing';
import { openRepository, snapshotParam } from './repository';
import { snapshotTreeIndex } from './treeIndex';

export const RESTIC_ROOT = 'restic';
/** The runbook Restore… opens, with the repository, snapshot and path bound. */
export const RESTIC_RESTORE_RUNBOOK = 'restic-browse-restore.runbook.md';

type RepositoryEntry = NonNullable<BrowseSession['ctx']['inventory']['repositories']>[string];

function repositoryNode(name: string, entry: RepositoryEntry): DeclaredNode {
  const where = entry.host ? ` (restic runs on host ${entry.host})` : '';
  return {
    path: joinPath(RESTIC_ROOT, name),
    kind: 'restic.repository',
    label: name,
    description: `${entry.repository}${entry.host ? ` · on ${entry.host}` : ''}`,
    tooltip: `**restic repository ${markdownEscape(name)}**\n\n- ${markdownEscape(entry.repository)}${markdownEscape(where)}${entry.store ? `\n- credentials of S3 store ${markdownEscape(entry.store)}` : ''}\n- Expand to list its snapshots`,
    icon: 'repo',
    hasChildren: true,
    operations: [{ kind: 'action', id: 'check', label: 'Check', action: 'restic.check', params: { repository: name } }],
    facts: { name, repository: entry.repository, host: entry.host ?? null },
  };
}

/** `2026-02-06 03:00:12`, from restic's ISO time. */
function shownTime(time: string): string {
  return time.replace('T', ' ').replace(/\.\d+/, '').replace(/(Z|[+-]\d\d:\d\d)$/, '');
}

function snapshotNode(repository: string, snapshot: ResticSnapshot): DeclaredNode {
  const { files, bytes } = snapshotTotals(snapshot);
  const size = bytes === undefined ? undefined : `${formatBytes(bytes)}${files === undefined ? '' : `, ${files} files`}`;
  const description = [printable(snapshot.hostname), snapshot.paths.map(printable).join(', '), snapshot.tags.length > 0 ? snapshot.tags.map(printable).join(', ') : undefined, size].filter(Boolean).join(' · ');
  const operations: DeclaredOperation[] = [
    { kind: 'runbook', id: 'restore', label: 'Restore…', runbook: RESTIC_RESTORE_RUNBOOK, params: { repository, snapshot: snapshot.id, path: '/' } },
    { kind: 'action', id: 'diff', label: 'Diff with Previous', action: 'restic.diff', params: { repository, snapshot: snapshot.id } },
    { kind: 'action', id: 'forget', label: 'Forget…', action: 'restic.forget', params: { repository, snapshots: [snapshot.id] } },
  ];
  return {
    path: joinPath(RESTIC_ROOT, repository, snapshot.id),
    kind: 'restic.snapshot',
    label: `${shownTime(snapshot.time)} ${snapshot.shortId}`,
    description,
    tooltip: [`**Snapshot ${snapshot.shortId}** of ${markdownEscape(repository)}`, '', `- ${snapshot.time}`, `- host ${markdownEscape(snapshot.hostname)}`, `- paths ${markdownEscape(snapshot.paths.join(', '))}`, ...(snapshot.tags.length > 0 ? [`- tags ${markdownEscape(snapshot.tags.join(', '))}`] : []), ...(size ? [`- ${size}`] : [])].join('\n'),
    icon: 'history',
    hasChildren: true,
    operations,
    facts: { repository, id: snapshot.id, shortId: snapshot.shortId, time: snapshot.time, hostname: snapshot.hostname, paths: snapshot.paths, tags: snapshot.tags, files: files ?? null, bytes: bytes ?? null },
  };
}

function entryNode(repository: string, snapshot: string, parent: string, node: ResticNode): DeclaredNode {
  const folder = node.type === 'dir';
  return {
    path: childPath(parent, node.name),
    kind: folder ? 'restic.folder' : 'restic.file',
    label: printable(node.name),
    description: folder ? undefined : node.type === 'file' ? formatBytes(node.size ?? 0) : node.type,
    tooltip: `${markdownEscape(printable(node.path))}${node.mtime ? `\n\nmodified ${node.mtime}` : ''}${node.permissions ? ` · ${node.permissions}` : ''}`,
    icon: folder ? 'folder' : node.type === 'symlink' ? 'file-symlink-file' : 'file',
    hasChildren: folder,
    operations: [{ kind: 'runbook', id: 'restore', label: 'Restore…', runbook: RESTIC_RESTORE_RUNBOOK, params: { repository, snapshot, path: node.path } }],
    facts: { repository, snapshot, path: node.path, name: node.name, type: node.type, size: node.size ?? null },
  };
}

async function snapshotChildren(repository: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = joinPath(RESTIC_ROOT, repository);
  const snapshots = await session.cached(at, async () => snapshotsNewestFirst(await openRepository(session.ctx, repository), {}, session.ctx.signal));
  if (snapshots.length === 0) return { nodes: [emptyNode(at, 'No snapshots yet')] };
  return pageOf(snapshots, request, (snapshot) => `${shownTime(snapshot.time)} ${snapshot.shortId} ${snapshot.hostname} ${snapshot.paths.join(' ')} ${snapshot.tags.join(' ')}`, (snapshot) => snapshotNode(repository, snapshot));
}

async function folderChildren(repository: string, snapshot: string, folder: readonly string[], request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = joinPath(RESTIC_ROOT, repository, snapshot, ...folder);
  const path = `/${folder.join('/')}`;
  if (!snapshotParam.safeParse(snapshot).success) throw new Error(`'${printable(snapshot)}' is not a snapshot id`);
  const entries = await session.cached(at, async () => {
    const opened = await openRepository(session.ctx, repository);
    // The first folder listed starts reading the whole tree in the background; the ones after it come from there once it is read.
    const index = await snapshotTreeIndex(session, joinPath(RESTIC_ROOT, repository, snapshot), opened);
    const entries = index?.folder(path) ?? (await listFolder(opened, snapshot, path, session.ctx.signal)).entries;
    void index?.read(opened, snapshot);
    return entries;
  });
  if (entries.length === 0) return { nodes: [emptyNode(at, 'Empty folder')] };
  return pageOf(entries, request, (node) => node.name, (node) => entryNode(repository, snapshot, at, node));
}

export const resticBrowser: Browser = {
  root: RESTIC_ROOT,
  roots(session) {
    return Object.entries(session.ctx.inventory.repositories ?? {}).map(([name, entry]) => repositoryNode(name, entry));
  },
  async children(path, request, session) {
    const [, repository, snapshot, ...folder] = path;
    if (repository === undefined || !session.ctx.inventory.repositories?.[repository]) return { nodes: [] };
    if (snapshot === undefined) return snapshotChildren(repository, request, session);
    return folderChildren(repository, snapshot, folder, request, session);
  },
};
