import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ArchiveListResult, ListedArchive } from '../../actions/archive/list';
import type { Inventory } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import { readBackupLocations, type BackupLocation } from '../../core/locations';
import { formatAge, formatBytes, formatLocalDateTime } from '../../core/render';
import { INVENTORY_FILE } from '../../core/paths';
import { loadRuntime } from '../lazy';
import type { Services } from '../services';
import { taggedLogger } from '../services';

export const HAS_LOCATIONS_CONTEXT = 'lifeboat.hasLocations';

/** A local folder of `locations:`; its archives are its children, listed when it is expanded. */
export interface LocationNode {
  kind: 'location';
  name: string;
  /** As written in the inventory; resolved against `workspaceDir` by `archive.list`. */
  path: string;
  workspaceDir: string;
}

export interface ArchiveNode {
  kind: 'archive';
  archive: ListedArchive;
  location: LocationNode;
}

/** A location kind the view cannot list yet, or an entry it cannot read. */
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

export type BackupNode = LocationNode | ArchiveNode | NoticeNode | ErrorNode | LoadMoreNode | EmptyNode;

interface LocationState {
  listing?: Promise<ArchiveListResult>;
  shown: number;
}

/**
 * The Backups view: the backup locations of each workspace folder's `lifeboat.yaml`, with their
 * archives as lazy children (listed by the `archive.list` action, a page at a time).
 */
export class BackupsTreeProvider implements vscode.TreeDataProvider<BackupNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<BackupNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly states = new Map<LocationNode, LocationState>();
  private locations: Promise<BackupNode[]> | undefined;
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
    this.locations = undefined;
    this.states.clear();
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
      this.locations ??= this.readLocations();
      return this.locations;
    }
    return node.kind === 'location' ? this.archivesOf(node) : [];
  }

  getTreeItem(node: BackupNode): vscode.TreeItem {
    switch (node.kind) {
      case 'location':
        return locationItem(node);
      case 'archive':
        return archiveItem(node);
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

  private async readLocations(): Promise<BackupNode[]> {
    const nodes: BackupNode[] = [];
    let found = false;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      const workspaceDir = folder.uri.fsPath;
      const file = join(workspaceDir, INVENTORY_FILE);
      let locations: BackupLocation[];
      try {
        const inventory: Inventory = await loadRuntime().loadInventory(file, { required: false });
        locations = readBackupLocations(inventory, file);
      } catch (error) {
        nodes.push(this.failure(`cannot read ${file}`, error));
        continue;
      }
      found ||= locations.length > 0;
      for (const location of locations) {
        if (location.kind === 'local') nodes.push({ kind: 'location', name: location.name, path: location.path, workspaceDir });
        else nodes.push({ kind: location.kind, name: location.name, message: location.kind === 'invalid' ? location.problem : location.reason, file });
      }
    }
    this.locationsFound = found;
    await vscode.commands.executeCommand('setContext', HAS_LOCATIONS_CONTEXT, found);
    return nodes;
  }

  private async archivesOf(location: LocationNode): Promise<BackupNode[]> {
    let state = this.states.get(location);
    if (!state) {
      state = { shown: pageSize() };
      this.states.set(location, state);
    }
    state.listing ??= this.list(location);
    let listing: ArchiveListResult;
    try {
      listing = await state.listing;
    } catch (error) {
      // Not cached: the next expand or refresh tries again.
      state.listing = undefined;
      return [this.failure(`listing the archives of location ${location.name} failed`, error)];
    }
    if (listing.archives.length === 0) return [{ kind: 'empty', message: `No archives in ${listing.location}` }];
    const nodes: BackupNode[] = listing.archives.slice(0, state.shown).map((archive) => ({ kind: 'archive', archive, location }));
    if (listing.archives.length > state.shown) nodes.push({ kind: 'loadMore', location, shown: state.shown, total: listing.archives.length });
    return nodes;
  }

  private async list(location: LocationNode): Promise<ArchiveListResult> {
    const runtime = loadRuntime();
    const action = this.services.registry().get('archive.list');
    if (!action) throw new Error('the archive.list action is not registered');
    const params = action.params.parse({ location: location.path });
    const context = runtime.createActionContext({ workspaceDir: location.workspaceDir, log: taggedLogger(this.services.log, 'backups') });
    return (await action.run(params, context)) as ArchiveListResult;
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

function locationItem(node: LocationNode): vscode.TreeItem {
  const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = locationId(node);
  item.description = node.path;
  item.tooltip = `${node.name}: archives in ${node.path} (from ${join(node.workspaceDir, INVENTORY_FILE)})`;
  item.iconPath = new vscode.ThemeIcon('folder-library');
  item.contextValue = 'location';
  return item;
}

const VERIFIED_LOOK = {
  ok: { icon: 'pass-filled', colour: 'testing.iconPassed', context: 'archive.verified', text: 'verified' },
  failed: { icon: 'error', colour: 'testing.iconFailed', context: 'archive.failed', text: 'FAILED verification' },
  never: { icon: 'circle-large-outline', colour: 'testing.iconUnset', context: 'archive.unverified', text: 'never verified' },
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

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
