import { dirname } from 'node:path';
import type { ActionContext, Inventory } from '../../core/actions/spec';
import { mapConcurrent } from '../../core/concurrency';
import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, joinPath, pageOf, type DeclaredNode, type DeclaredOperation, type Page, type PageRequest } from '../../core/browse/node';
import { describeLocation, readBackupLocations, type BackupLocation, type ListedLocation } from '../../core/locations';
import { formatAge, formatBytes, formatLocalDateTime, markdownEscape } from '../../core/render';
import { describeContents, HEAD_READS, readContents } from '../frigate/archiveSummaries';
import { frigateOfFaceLocation } from '../frigate/backupLocations';
import { openArchiveLocation } from '../frigate/destinations';
import { FACES_PREFIX } from '../frigate/facesArchive';
import { archiveDelete } from './delete';
import { archiveList, type ArchiveListResult, type ListedArchive } from './list';
import { hasPrefix, newestFirst, prefixOfArchiveName } from './naming';
import { archiveVerify } from './verify';

export const LOCATIONS_ROOT = 'locations';
const RESTORE_RUNBOOK = 'local-restore.runbook.md';
const FACES_RESTORE_RUNBOOK = 'frigate-faces-restore.runbook.md';

const LOCATION_LOOK = {
  local: { icon: 'folder-library', where: 'a local folder' },
  host: { icon: 'remote', where: 'a folder on an SSH host' },
  store: { icon: 'cloud', where: 'an S3 store' },
} as const;

/** An archive in any location: what a local folder records of it is there only for local ones. */
interface LocationArchive {
  name: string;
  bytes: number;
  date: Date | undefined;
  local?: ListedArchive;
}

/** The node of a location of `locations:`; `at` is the path it is shown under (the root, or a host's). */
export function locationNode(location: BackupLocation, inventory: Inventory, inventoryFile: string, at: string): DeclaredNode {
  const path = childPath(at, location.name);
  if (location.kind === 'invalid' || location.kind === 'unsupported') {
    const message = location.kind === 'invalid' ? location.problem : location.reason;
    return {
      path,
      kind: `location.${location.kind}`,
      label: location.name,
      description: message,
      tooltip: `${inventoryFile}, location ${location.name}: ${message}`,
      icon: location.kind === 'invalid' ? 'warning' : 'circle-slash',
      status: { level: location.kind === 'invalid' ? 'warning' : 'unknown', reason: message },
      hasChildren: false,
      facts: { name: location.name, problem: message },
    };
  }
  const look = LOCATION_LOOK[location.kind];
  const where = describeLocation(location);
  const facesOf = frigateOfFaceLocation(inventory, location.name);
  return {
    path,
    kind: 'location',
    label: location.name,
    description: where,
    tooltip: `${location.name}: archives in ${where}, ${look.where} (from ${inventoryFile})${facesOf === undefined ? '' : `; face backups of Frigate ${facesOf}`}`,
    icon: look.icon,
    hasChildren: true,
    facts: { name: location.name, type: location.kind, where, facesOf: facesOf ?? null },
  };
}

/** The archives of a location, newest first, a page at a time; `at` is the location node's path. */
export async function locationChildren(location: ListedLocation, at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const { ctx } = session;
  const listing = await session.cached(at, async (): Promise<{ where: string; archives: LocationArchive[] }> => {
    if (location.kind === 'local') {
      const listed = (await archiveList.run(archiveList.params.parse({ location: location.path }), ctx)) as ArchiveListResult;
      return { where: listed.location, archives: listed.archives.map((archive): LocationArchive => ({ name: archive.name, bytes: archive.bytes, date: new Date(archive.date), local: archive })) };
    }
    const { destination } = await openArchiveLocation({ folder: undefined, folderField: 'folder', location: location.name }, ctx);
    return { where: destination.description, archives: newestFirst(await destination.listArchives('', ctx.signal)) };
  });
  if (listing.archives.length === 0) return { nodes: [emptyNode(at, `No archives in ${listing.where}`)], total: 0 };
  const facesOf = frigateOfFaceLocation(ctx.inventory, location.name);
  const page = pageOf(listing.archives, request, (archive) => archive.name, (archive) => archiveNode(archive, location, at, facesOf));
  return request.details ? { ...page, nodes: await withContents(page.nodes, location, ctx) } : page;
}

/** Face archives of the page with who is in them, read from each archive's first KiB (a few at a time). */
async function withContents(nodes: DeclaredNode[], location: ListedLocation, ctx: ActionContext): Promise<DeclaredNode[]> {
  const { destination } = await openArchiveLocation({ folder: undefined, folderField: 'folder', location: location.name }, ctx);
  return mapConcurrent(nodes, HEAD_READS, async (node) => {
    if (node.kind !== 'archive' || node.facts.faces !== true) return node;
    const contents = describeContents(await readContents(destination, node.label, ctx.signal));
    return { ...node, detail: contents, facts: { ...node.facts, contents } };
  }, ctx.signal);
}

const VERIFIED_LOOK = {
  ok: { icon: 'pass-filled', level: 'ok', text: 'verified' },
  failed: { icon: 'error', level: 'error', text: 'FAILED verification' },
  never: { icon: 'circle-large-outline', level: 'unknown', text: 'never verified' },
} as const;

function archiveNode(archive: LocationArchive, location: ListedLocation, at: string, facesOf: string | undefined): DeclaredNode {
  const faces = hasPrefix(archive.name, FACES_PREFIX);
  const restore = restoreOperation(archive, location, faces, facesOf);
  const path = childPath(at, archive.name);
  if (archive.local) {
    const listed = archive.local;
    const look = VERIFIED_LOOK[listed.verified];
    const created = new Date(listed.date);
    const verifiedAt = listed.verifiedAt ? ` ${formatAge(new Date(listed.verifiedAt))} (${formatLocalDateTime(new Date(listed.verifiedAt))})` : '';
    const operations: DeclaredOperation[] = [
      { kind: 'action', id: 'verify', label: 'Verify', action: archiveVerify.id, params: { path: listed.path } },
      restore,
      { kind: 'action', id: 'delete', label: 'Delete', action: archiveDelete.id, params: { path: listed.path } },
    ];
    return {
      path,
      kind: 'archive',
      label: listed.name,
      description: `${formatBytes(listed.bytes)} · ${formatAge(created)}`,
      tooltip: [
        `**${markdownEscape(listed.name)}**`,
        '',
        `- Path: \`${listed.path}\``,
        `- Size: ${formatBytes(listed.bytes)} (${listed.bytes} bytes)`,
        `- Created: ${formatLocalDateTime(created)}${listed.dateSource === 'mtime' ? ' (file time)' : ''}, ${formatAge(created)}`,
        `- $(${look.icon}) ${look.text}${verifiedAt}`,
        `- Checksum: ${listed.sha256 ? `sha256 \`${listed.sha256}\`` : 'not computed yet'}; ${listed.checksumFile ? '.sha256 file present' : 'no .sha256 file'}`,
      ].join('\n'),
      icon: look.icon,
      status: { level: look.level, reason: `${look.text}${verifiedAt}` },
      hasChildren: false,
      operations,
      facts: { name: listed.name, path: listed.path, bytes: listed.bytes, date: listed.date, verified: listed.verified, faces, sha256: listed.sha256 ?? null },
    };
  }
  const where = describeLocation(location);
  return {
    path,
    kind: 'archive',
    label: archive.name,
    description: `${formatBytes(archive.bytes)} · ${archive.date ? formatAge(archive.date) : 'undated'} · not verified here`,
    tooltip: [
      `**${markdownEscape(archive.name)}**`,
      '',
      `- In: ${markdownEscape(where)} (location ${markdownEscape(location.name)})`,
      `- Size: ${formatBytes(archive.bytes)} (${archive.bytes} bytes)`,
      `- Created: ${archive.date ? `${formatLocalDateTime(archive.date)}, ${formatAge(archive.date)}` : 'no date in its name'}`,
      '- $(circle-large-outline) Verification is recorded for local archives only; Lifeboat checks the sha256 of every archive it uploads before the archive gets its name, and a restore checks it again',
    ].join('\n'),
    icon: 'circle-large-outline',
    status: { level: 'unknown', reason: 'verification is recorded for local archives only' },
    hasChildren: false,
    // Only face archives restore from a remote location; the local restore runbook reads a folder here.
    operations: faces ? [restore] : [],
    facts: { name: archive.name, location: location.name, bytes: archive.bytes, date: archive.date?.toISOString() ?? null, faces },
  };
}

/**
 * Restore… opens the runbook that restores this kind of archive with it bound: a face archive the
 * faces restore runbook (its location by name, and the Frigate instance the location backs up when the
 * inventory says), any other the local restore runbook (its folder, name and prefix, so its listing
 * step selects exactly this archive).
 */
function restoreOperation(archive: LocationArchive, location: ListedLocation, faces: boolean, facesOf: string | undefined): DeclaredOperation {
  if (faces || !archive.local) {
    return { kind: 'runbook', id: 'restore', label: 'Restore…', runbook: FACES_RESTORE_RUNBOOK, params: { location: location.name, archive: archive.name, ...(facesOf === undefined ? {} : { frigate: facesOf }) } };
  }
  const folder = dirname(archive.local.path);
  const prefix = prefixOfArchiveName(archive.name);
  return { kind: 'runbook', id: 'restore', label: 'Restore…', runbook: RESTORE_RUNBOOK, params: { location: folder, archive: archive.name, ...(prefix === undefined ? {} : { prefix }) } };
}

/** The backup locations of `locations:` and their archives. */
export const locationsBrowser: Browser = {
  root: LOCATIONS_ROOT,
  roots(session) {
    return readBackupLocations(session.ctx.inventory, session.inventoryFile).map((location) => locationNode(location, session.ctx.inventory, session.inventoryFile, LOCATIONS_ROOT));
  },
  async children(path, request, session) {
    const [, name, ...rest] = path;
    const location = readBackupLocations(session.ctx.inventory, session.inventoryFile).find((candidate) => candidate.name === name);
    if (!location || rest.length > 0 || location.kind === 'invalid' || location.kind === 'unsupported') return { nodes: [] };
    return locationChildren(location, joinPath(LOCATIONS_ROOT, location.name), request, session);
  },
};
