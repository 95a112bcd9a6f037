import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ArchiveListResult, ListedArchive } from '../../actions/archive/list';
import type { FacesListResult } from '../../actions/frigate/list';
import type { RecordingsDay } from '../../actions/frigate/recordings';
import type { RecordingsListResult } from '../../actions/frigate/recordingsList';
import type { Inventory } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import { frigateOfFaceLocation, recordingsLocationsOf, type RecordingsLocation } from '../../actions/frigate/backupLocations';
import { describeLocation, readBackupLocations, type BackupLocation, type ListedLocation } from '../../core/locations';
import { formatAge, formatBytes, formatCount, formatLocalDateTime } from '../../core/render';
import { INVENTORY_FILE } from '../../core/paths';
import type { StoredArchiveEntry } from '../backupBrowsing';
import { loadRuntime } from '../lazy';
import type { Services } from '../services';

export const HAS_LOCATIONS_CONTEXT = 'lifeboat.hasLocations';

/** A Frigate instance of `frigate:`; its people (and `train` apart) and recordings backups are its children. */
export interface FrigateNode {
  kind: 'frigate';
  name: string;
  url: string;
  /** `tls.insecure: true`: certificates are not checked, which the view shows. */
  tlsUnverified: boolean;
  workspaceDir: string;
  /** The inventory file that names it. */
  file: string;
  /** `backups.recordings` of the instance, each a node under it. */
  recordings: RecordingsLocation[];
}

/** A person of the face library, or the `train` folder (recent recognition attempts, not a person). */
export interface PersonNode {
  kind: 'person';
  frigate: FrigateNode;
  name: string;
  images: number;
  train: boolean;
}

/** A location holding the instance's recordings backups (`frigate.<name>.backups.recordings`). */
export interface RecordingsNode {
  kind: 'recordings';
  frigate: FrigateNode;
  location: string;
}

export interface CameraNode {
  kind: 'camera';
  recordings: RecordingsNode;
  camera: string;
  /** Newest first. */
  days: RecordingsDay[];
}

export interface RecordingDayNode {
  kind: 'recordingDay';
  camera: CameraNode;
  day: RecordingsDay;
}

/** A location of `locations:` whose archives the view lists: a local folder, a folder on an SSH host, or an S3 prefix. */
export interface LocationNode {
  kind: 'location';
  name: string;
  entry: ListedLocation;
  workspaceDir: string;
  /** The Frigate instance whose face backups this location holds, when that is clear from the inventory. */
  facesOf: string | undefined;
}

/** An archive in a local folder, with its recorded verification; Verify and Delete work on it. */
export interface ArchiveNode {
  kind: 'archive';
  archive: ListedArchive;
  location: LocationNode;
  /** A face library archive (`frigate-faces-*`), restored with the faces restore runbook. */
  faces: boolean;
}

/** An archive on an SSH host or in an S3 store: name, size and the date in its name. */
export interface StoredArchiveNode {
  kind: 'storedArchive';
  archive: StoredArchiveEntry;
  location: LocationNode;
}

/** A location kind the view cannot list, or an entry it cannot read. */
export interface NoticeNode {
  kind: 'unsupported' | 'invalid';
  name: string;
  message: string;
  /** The inventory file that names it. */
  file: string;
}

/** Listing failed: the node opens the log, where the details are. */
export interface ErrorNode {
  kind: 'error';
  message: string;
}

export interface LoadMoreNode {
  kind: 'loadMore';
  location: LocationNode;
  shown: number;
  total: number;
}

export interface EmptyNode {
  kind: 'empty';
  message: string;
}

export type BackupNode =
  | FrigateNode
  | PersonNode
  | RecordingsNode
  | CameraNode
  | RecordingDayNode
  | LocationNode
  | ArchiveNode
  | StoredArchiveNode
  | NoticeNode
  | ErrorNode
  | LoadMoreNode
  | EmptyNode;

interface LocationListing {
  where: string;
  archives: (ArchiveNode | StoredArchiveNode)[];
}

interface LocationState {
  listing?: Promise<LocationListing>;
  shown: number;
}

/**
 * The Backups view: the Frigate instances and the backup locations of each workspace folder's
 * `lifeboat.yaml`. Everything below them is listed when first expanded: an instance's people and
 * recordings backups, a location's archives (a local folder by the `archive.list` action, with its
 * verification records; an SSH or S3 location by name and size), a page at a time.
 */
export class BackupsTreeProvider implements vscode.TreeDataProvider<BackupNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<BackupNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly states = new Map<LocationNode, LocationState>();
  /** Children of Frigate and recordings nodes; a failed listing is not kept, so expanding again retries. */
  private readonly expanded = new Map<BackupNode, Promise<BackupNode[]>>();
  private roots: Promise<BackupNode[]> | undefined;
  private locationsFound: boolean | undefined;
  private readonly inventoryWatcher: vscode.FileSystemWatcher;

  constructor(private readonly services: Services) {
    // Editing `locations:` shows at once. Archives are listed when a location is first expanded and
    // again on Refresh, or after Verify or Delete on one of them.
    this.inventoryWatcher = vscode.workspace.createFileSystemWatcher(`**/${INVENTORY_FILE}`);
    for (const event of [this.inventoryWatcher.onDidCreate, this.inventoryWatcher.onDidChange, this.inventoryWatcher.onDidDelete]) event(() => this.refresh());
  }

  /** Whether the last read found any location: the value of the `lifeboat.hasLocations` context key (undefined before the first read). */
  get hasLocations(): boolean | undefined {
    return this.locationsFound;
  }

  /** Forgets everything listed and reads `lifeboat.yaml` again. */
  refresh(): void {
    this.roots = undefined;
    this.states.clear();
    this.expanded.clear();
    this.changed.fire(undefined);
  }

  /** Lists one location again (after an archive in it was verified or deleted). */
  refreshLocation(location: LocationNode): void {
    const state = this.states.get(location);
    if (state) state.listing = undefined;
    this.changed.fire(location);
  }

  /** Shows the next page of a location's archives. */
  loadMore(node: LoadMoreNode): void {
    const state = this.states.get(node.location);
    if (!state) return;
    state.shown += pageSize();
    this.changed.fire(node.location);
  }

  getChildren(node?: BackupNode): Promise<BackupNode[]> | BackupNode[] {
    if (!node) {
      this.roots ??= this.readRoots();
      return this.roots;
    }
    switch (node.kind) {
      case 'location':
        return this.archivesOf(node);
      case 'frigate':
        return this.expand(node, () => this.frigateChildren(node));
      case 'recordings':
        return this.expand(node, () => this.camerasOf(node));
      case 'camera':
        return node.days.map((day) => ({ kind: 'recordingDay', camera: node, day }));
      default:
        return [];
    }
  }

  getTreeItem(node: BackupNode): vscode.TreeItem {
    switch (node.kind) {
      case 'frigate':
        return frigateItem(node);
      case 'person':
        return personItem(node);
      case 'recordings':
        return recordingsItem(node);
      case 'camera':
        return cameraItem(node);
      case 'recordingDay':
        return recordingDayItem(node);
      case 'location':
        return locationItem(node);
      case 'archive':
        return archiveItem(node);
      case 'storedArchive':
        return storedArchiveItem(node);
      case 'unsupported':
      case 'invalid': {
        const item = new vscode.TreeItem(node.name);
        item.description = node.message;
        item.tooltip = `${node.file}, location ${node.name}: ${node.message}`;
        item.iconPath = new vscode.ThemeIcon(node.kind === 'invalid' ? 'warning' : 'circle-slash', node.kind === 'invalid' ? new vscode.ThemeColor('list.warningForeground') : undefined);
        item.contextValue = node.kind;
        return item;
      }
      case 'error': {
        const item = new vscode.TreeItem('Failed to load (click for log)');
        item.description = node.message;
        item.tooltip = node.message;
        item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
        item.command = { command: 'lifeboat.showLog', title: 'Show Log' };
        item.contextValue = 'error';
        return item;
      }
      case 'loadMore': {
        const item = new vscode.TreeItem('Load more…');
        item.description = `${node.shown} of ${node.total} shown`;
        item.command = { command: 'lifeboat.backups.loadMore', title: 'Load More Archives', arguments: [node] };
        item.contextValue = 'loadMore';
        return item;
      }
      case 'empty': {
        const item = new vscode.TreeItem(node.message);
        item.contextValue = 'empty';
        return item;
      }
    }
  }

  dispose(): void {
    this.inventoryWatcher.dispose();
    this.changed.dispose();
  }

  private async readRoots(): Promise<BackupNode[]> {
    const nodes: BackupNode[] = [];
    let found = false;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      const workspaceDir = folder.uri.fsPath;
      const file = join(workspaceDir, INVENTORY_FILE);
      let inventory: Inventory;
      let locations: BackupLocation[];
      try {
        inventory = await loadRuntime().loadInventory(file, { required: false });
        locations = readBackupLocations(inventory, file);
      } catch (error) {
        nodes.push(this.failure(`cannot read ${file}`, error));
        continue;
      }
      found ||= locations.length > 0;
      for (const [name, entry] of Object.entries(inventory.frigate ?? {})) {
        nodes.push({ kind: 'frigate', name, url: entry.url, tlsUnverified: entry.tls?.insecure ?? false, workspaceDir, file, recordings: recordingsLocationsOf(inventory, name) });
      }
      for (const location of locations) {
        if (location.kind === 'invalid') nodes.push({ kind: 'invalid', name: location.name, message: location.problem, file });
        else if (location.kind === 'unsupported') nodes.push({ kind: 'unsupported', name: location.name, message: location.reason, file });
        else nodes.push({ kind: 'location', name: location.name, entry: location, workspaceDir, facesOf: frigateOfFaceLocation(inventory, location.name) });
      }
    }
    this.locationsFound = found;
    await vscode.commands.executeCommand('setContext', HAS_LOCATIONS_CONTEXT, found);
    return nodes;
  }

  /** Lists once and keeps the children until Refresh; children with an error node are not kept, so the next expand tries again. */
  private expand(node: BackupNode, list: () => Promise<BackupNode[]>): Promise<BackupNode[]> {
    let children = this.expanded.get(node);
    if (!children) {
      children = list();
      this.expanded.set(node, children);
      void children.then((nodes) => {
        if (nodes.some((child) => child.kind === 'error')) this.expanded.delete(node);
      });
    }
    return children;
  }

  private async frigateChildren(frigate: FrigateNode): Promise<BackupNode[]> {
    const nodes: BackupNode[] = [];
    try {
      const library = (await loadRuntime().runReadOnlyAction(this.services, frigate.workspaceDir, 'frigate.faces.list', { frigate: frigate.name })) as FacesListResult;
      if (library.people.length === 0) nodes.push({ kind: 'empty', message: 'No people in the face library' });
      for (const person of library.people) nodes.push({ kind: 'person', frigate, name: person.name, images: person.images, train: false });
      nodes.push({ kind: 'person', frigate, name: 'train', images: library.train, train: true });
    } catch (error) {
      nodes.push(this.failure(`listing the faces of Frigate ${frigate.name} failed`, error));
    }
    for (const recordings of frigate.recordings) {
      if (recordings.problem === undefined) nodes.push({ kind: 'recordings', frigate, location: recordings.location });
      else nodes.push({ kind: 'invalid', name: `Recordings backup ${recordings.location}`, message: recordings.problem, file: frigate.file });
    }
    return nodes;
  }

  private async camerasOf(recordings: RecordingsNode): Promise<BackupNode[]> {
    let listing: RecordingsListResult;
    try {
      listing = (await loadRuntime().runReadOnlyAction(this.services, recordings.frigate.workspaceDir, 'frigate.recordings.list', { location: recordings.location })) as RecordingsListResult;
    } catch (error) {
      return [this.failure(`listing the recordings in location ${recordings.location} failed`, error)];
    }
    if (listing.cameras.length === 0) return [{ kind: 'empty', message: `No recordings in ${listing.source}` }];
    return listing.cameras.map(({ camera, days }) => ({ kind: 'camera', recordings, camera, days }));
  }

  private async archivesOf(location: LocationNode): Promise<BackupNode[]> {
    let state = this.states.get(location);
    if (!state) {
      state = { shown: pageSize() };
      this.states.set(location, state);
    }
    state.listing ??= this.list(location);
    let listing: LocationListing;
    try {
      listing = await state.listing;
    } catch (error) {
      // Not cached: the next expand or refresh tries again.
      state.listing = undefined;
      return [this.failure(`listing the archives of location ${location.name} failed`, error)];
    }
    if (listing.archives.length === 0) return [{ kind: 'empty', message: `No archives in ${listing.where}` }];
    const nodes: BackupNode[] = listing.archives.slice(0, state.shown);
    if (listing.archives.length > state.shown) nodes.push({ kind: 'loadMore', location, shown: state.shown, total: listing.archives.length });
    return nodes;
  }

  private async list(location: LocationNode): Promise<LocationListing> {
    const runtime = loadRuntime();
    if (location.entry.kind === 'local') {
      const listing = (await runtime.runReadOnlyAction(this.services, location.workspaceDir, 'archive.list', { location: location.entry.path })) as ArchiveListResult;
      return { where: listing.location, archives: listing.archives.map((archive) => ({ kind: 'archive', archive, location, faces: runtime.isFacesArchiveName(archive.name) })) };
    }
    const listing = await runtime.listStoredArchives(this.services, location.workspaceDir, location.name);
    return { where: listing.where, archives: listing.archives.map((archive) => ({ kind: 'storedArchive', archive, location })) };
  }

  private failure(what: string, error: unknown): ErrorNode {
    const message = `${what}: ${errorMessage(error)}`;
    this.services.log.error(`[backups] ${message}`);
    return { kind: 'error', message };
  }
}

function pageSize(): number {
  return Math.max(1, Math.floor(vscode.workspace.getConfiguration('lifeboat.backups').get<number>('pageSize', 50)));
}

/** Unique in the tree even when two locations name the same folder. */
function locationId(node: LocationNode): string {
  return `location:${node.workspaceDir}:${node.name}`;
}

const LOCATION_LOOK = {
  local: { icon: 'folder-library', where: 'a local folder' },
  host: { icon: 'remote', where: 'a folder on an SSH host' },
  store: { icon: 'cloud', where: 'an S3 store' },
} as const;

function locationItem(node: LocationNode): vscode.TreeItem {
  const look = LOCATION_LOOK[node.entry.kind];
  const where = describeLocation(node.entry);
  const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = locationId(node);
  item.description = where;
  const faces = node.facesOf === undefined ? '' : `; face backups of Frigate ${node.facesOf}`;
  item.tooltip = `${node.name}: archives in ${where}, ${look.where} (from ${join(node.workspaceDir, INVENTORY_FILE)})${faces}`;
  item.iconPath = new vscode.ThemeIcon(look.icon);
  item.contextValue = `location.${node.entry.kind}`;
  return item;
}

function frigateId(node: FrigateNode): string {
  return `frigate:${node.workspaceDir}:${node.name}`;
}

function frigateItem(node: FrigateNode): vscode.TreeItem {
  const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = frigateId(node);
  item.description = node.tlsUnverified ? `${node.url} · TLS not verified` : node.url;
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**Frigate ${escapeMarkdown(node.name)}**\n\n- URL: ${escapeMarkdown(node.url)}\n`);
  if (node.tlsUnverified) tooltip.appendMarkdown('- $(warning) TLS certificates are **not verified** (`tls.insecure: true` in lifeboat.yaml)\n');
  tooltip.appendMarkdown(`- From ${escapeMarkdown(node.file)}\n`);
  item.tooltip = tooltip;
  item.iconPath = node.tlsUnverified ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')) : new vscode.ThemeIcon('device-camera');
  item.contextValue = node.tlsUnverified ? 'frigate.tlsUnverified' : 'frigate';
  return item;
}

function personItem(node: PersonNode): vscode.TreeItem {
  const item = new vscode.TreeItem(node.name);
  item.id = `${frigateId(node.frigate)}:${node.train ? 'train' : `person:${node.name}`}`;
  const images = formatCount(node.images, 'image');
  item.description = node.train ? `${images} · recent recognition attempts, not a person` : images;
  item.tooltip = node.train
    ? `The train folder of Frigate ${node.frigate.name}: ${images} of recent recognition attempts. Not counted among the people, and not backed up unless includeTrain is set.`
    : `${node.name}: ${images} in the face library of Frigate ${node.frigate.name}`;
  item.iconPath = new vscode.ThemeIcon(node.train ? 'history' : 'person');
  item.contextValue = node.train ? 'train' : 'person';
  return item;
}

function recordingsItem(node: RecordingsNode): vscode.TreeItem {
  const item = new vscode.TreeItem('Recordings backup', vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `${frigateId(node.frigate)}:recordings:${node.location}`;
  item.description = node.location;
  item.tooltip = `Recordings of Frigate ${node.frigate.name} backed up to location ${node.location}, by camera and day`;
  item.iconPath = new vscode.ThemeIcon('device-camera-video');
  item.contextValue = 'recordings';
  return item;
}

function totalBytes(days: readonly RecordingsDay[]): number {
  return days.reduce((sum, day) => sum + day.bytes, 0);
}

function cameraItem(node: CameraNode): vscode.TreeItem {
  const item = new vscode.TreeItem(node.camera, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `${frigateId(node.recordings.frigate)}:recordings:${node.recordings.location}:${node.camera}`;
  const newest = node.days[0]?.date;
  item.description = `${formatCount(node.days.length, 'day')} · ${formatBytes(totalBytes(node.days))}`;
  item.tooltip = `Camera ${node.camera} in ${node.recordings.location}: ${formatCount(node.days.length, 'day')}${newest ? `, newest ${newest}` : ''}`;
  item.iconPath = new vscode.ThemeIcon('device-camera');
  item.contextValue = 'camera';
  return item;
}

function recordingDayItem({ camera, day }: RecordingDayNode): vscode.TreeItem {
  const item = new vscode.TreeItem(day.date);
  item.id = `${frigateId(camera.recordings.frigate)}:recordings:${camera.recordings.location}:${camera.camera}:${day.date}`;
  item.description = `${day.hours} h · ${formatCount(day.files, 'file')} · ${formatBytes(day.bytes)}`;
  item.tooltip = `${camera.camera}, ${day.date} (UTC): ${formatCount(day.hours, 'hour')} with recordings, ${formatCount(day.files, 'file')}, ${formatBytes(day.bytes)} (${day.bytes} bytes)`;
  item.iconPath = new vscode.ThemeIcon('calendar');
  item.contextValue = 'recordingDay';
  return item;
}

/**
 * Archive context values are `archive.<verified state>.<local | remote>` (`.faces` after `remote` for a
 * face archive): package.json offers Verify and Delete on local ones, and Restore… on local and remote face ones.
 */
const VERIFIED_LOOK = {
  ok: { icon: 'pass-filled', colour: 'testing.iconPassed', context: 'archive.verified.local', text: 'verified' },
  failed: { icon: 'error', colour: 'testing.iconFailed', context: 'archive.failed.local', text: 'FAILED verification' },
  never: { icon: 'circle-large-outline', colour: 'testing.iconUnset', context: 'archive.unverified.local', text: 'never verified' },
} as const;

function archiveItem({ archive, location }: ArchiveNode): vscode.TreeItem {
  const look = VERIFIED_LOOK[archive.verified];
  const created = new Date(archive.date);
  const item = new vscode.TreeItem(archive.name);
  item.id = `${locationId(location)}:${archive.name}`;
  item.description = `${formatBytes(archive.bytes)} · ${formatAge(created)}`;
  item.iconPath = new vscode.ThemeIcon(look.icon, new vscode.ThemeColor(look.colour));
  item.contextValue = look.context;
  const verifiedAt = archive.verifiedAt ? ` ${formatAge(new Date(archive.verifiedAt))} (${formatLocalDateTime(new Date(archive.verifiedAt))})` : '';
  const checksum = archive.sha256 ? `sha256 \`${archive.sha256}\`` : 'not computed yet';
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**${escapeMarkdown(archive.name)}**\n\n`);
  tooltip.appendMarkdown(`- Path: \`${archive.path}\`\n`);
  tooltip.appendMarkdown(`- Size: ${formatBytes(archive.bytes)} (${archive.bytes} bytes)\n`);
  tooltip.appendMarkdown(`- Created: ${formatLocalDateTime(created)}${archive.dateSource === 'mtime' ? ' (file time)' : ''}, ${formatAge(created)}\n`);
  tooltip.appendMarkdown(`- $(${look.icon}) ${look.text}${verifiedAt}\n`);
  tooltip.appendMarkdown(`- Checksum: ${checksum}; ${archive.checksumFile ? '.sha256 file present' : 'no .sha256 file'}\n`);
  item.tooltip = tooltip;
  return item;
}

function storedArchiveItem({ archive, location }: StoredArchiveNode): vscode.TreeItem {
  const created = archive.date === undefined ? undefined : new Date(archive.date);
  const item = new vscode.TreeItem(archive.name);
  item.id = `${locationId(location)}:${archive.name}`;
  item.description = `${formatBytes(archive.bytes)} · ${created ? formatAge(created) : 'undated'} · not verified here`;
  item.iconPath = new vscode.ThemeIcon('circle-large-outline', new vscode.ThemeColor('testing.iconUnset'));
  item.contextValue = archive.faces ? 'archive.unknown.remote.faces' : 'archive.unknown.remote';
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**${escapeMarkdown(archive.name)}**\n\n`);
  tooltip.appendMarkdown(`- In: ${escapeMarkdown(describeLocation(location.entry))} (location ${escapeMarkdown(location.name)})\n`);
  tooltip.appendMarkdown(`- Size: ${formatBytes(archive.bytes)} (${archive.bytes} bytes)\n`);
  tooltip.appendMarkdown(`- Created: ${created ? `${formatLocalDateTime(created)}, ${formatAge(created)}` : 'no date in its name'}\n`);
  tooltip.appendMarkdown('- $(circle-large-outline) Verification is recorded for local archives only; Lifeboat checks the sha256 of every archive it uploads before the archive gets its name, and a restore checks it again\n');
  item.tooltip = tooltip;
  return item;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
