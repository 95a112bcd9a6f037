import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Inventory } from '../../core/actions/spec';
import type { BrowseModel } from '../../core/browse/model';
import { errorNode, type BrowseNode, type StatusLevel } from '../../core/browse/node';
import { errorMessage } from '../../core/errors';
import { INVENTORY_FILE } from '../../core/paths';
import { loadRuntime } from '../lazy';
import type { Services } from '../services';

export const HAS_LOCATIONS_CONTEXT = 'lifeboat.hasLocations';
export const FILTERED_CONTEXT = 'lifeboat.backupsFiltered';

/** A node of the browse model in one workspace folder. */
export interface ModelTreeNode {
  type: 'node';
  workspaceDir: string;
  node: BrowseNode;
  /** The node it is listed under; undefined for a root. */
  parent: ModelTreeNode | undefined;
}

/** Shows the next page of a node's children. */
export interface LoadMoreTreeNode {
  type: 'loadMore';
  parent: ModelTreeNode;
  shown: number;
  total: number | undefined;
}

export type BackupNode = ModelTreeNode | LoadMoreTreeNode;

interface Workspace {
  dir: string;
  inventory: Inventory;
  model: BrowseModel;
}

interface Listing {
  nodes: ModelTreeNode[];
  next: string | undefined;
  total: number | undefined;
}

const STATUS_COLOUR: Record<StatusLevel, string> = {
  ok: 'testing.iconPassed',
  warning: 'list.warningForeground',
  error: 'testing.iconFailed',
  unknown: 'testing.iconUnset',
};

/**
 * The Backups view: any backend's nodes from the browse model of each workspace folder's
 * `lifeboat.yaml`, children listed when first expanded a page at a time, a failed listing as a node
 * that opens the log, context menus from each node's operations, and a filter in the title bar.
 */
export class BackupsTreeProvider implements vscode.TreeDataProvider<BackupNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<BackupNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly filterChanged = new vscode.EventEmitter<string | undefined>();
  readonly onDidChangeFilter = this.filterChanged.event;
  private roots: Promise<ModelTreeNode[]> | undefined;
  private workspaces = new Map<string, Workspace>();
  /** Children shown so far, by parent; a listing with an error node is not kept, so expanding again retries. */
  private readonly listings = new Map<ModelTreeNode, Promise<Listing>>();
  private locationsFound: boolean | undefined;
  private filterText: string | undefined;
  private readonly inventoryWatcher: vscode.FileSystemWatcher;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** The watches of running nodes (`BrowseNode.watch`), kept only while the node is shown: its parent expanded and the view visible. */
  private readonly watches = new Map<ModelTreeNode, AbortController>();
  /** Nodes collapsed after their children were listed: what is under them is not shown. */
  private readonly collapsed = new Set<ModelTreeNode>();
  private visible = true;

  constructor(private readonly services: Services) {
    this.inventoryWatcher = vscode.workspace.createFileSystemWatcher(`**/${INVENTORY_FILE}`);
    for (const event of [this.inventoryWatcher.onDidCreate, this.inventoryWatcher.onDidChange, this.inventoryWatcher.onDidDelete]) event(() => this.refresh());
  }

  /** Whether the last read found any location: the value of the `lifeboat.hasLocations` context key (undefined before the first read). */
  get hasLocations(): boolean | undefined {
    return this.locationsFound;
  }

  get filter(): string | undefined {
    return this.filterText;
  }

  /** Shows only nodes whose label contains `text` (and what is under them); undefined shows everything. */
  setFilter(text: string | undefined): void {
    this.filterText = text === undefined || text.trim() === '' ? undefined : text.trim();
    void vscode.commands.executeCommand('setContext', FILTERED_CONTEXT, this.filterText !== undefined);
    this.filterChanged.fire(this.filterText);
    this.stopWatches(() => true);
    this.listings.clear();
    for (const workspace of this.workspaces.values()) workspace.model.forget();
    this.changed.fire(undefined);
  }

  /** Forgets everything listed and reads `lifeboat.yaml` again. */
  refresh(): void {
    this.stopWatches(() => true);
    this.roots = undefined;
    this.workspaces.clear();
    this.listings.clear();
    this.changed.fire(undefined);
  }

  /** Lists a node's children again (after an operation on one of them changed it). */
  refreshNode(node: ModelTreeNode): void {
    this.workspaces.get(node.workspaceDir)?.model.forget(node.node.path);
    this.stopWatches((entry) => isUnder(entry, node));
    this.listings.delete(node);
    this.changed.fire(node);
  }

  /** Shows the next page under the node. */
  async loadMore(more: LoadMoreTreeNode): Promise<void> {
    const current = this.listings.get(more.parent);
    if (!current) return;
    const listing = await current;
    if (listing.next === undefined) return;
    const page = await this.page(more.parent, listing.next);
    this.listings.set(more.parent, Promise.resolve({ nodes: [...listing.nodes, ...page.nodes], next: page.next, total: page.total }));
    for (const node of page.nodes) this.watch(node);
    this.changed.fire(more.parent);
  }

  getChildren(node?: BackupNode): Promise<BackupNode[]> | BackupNode[] {
    if (!node) {
      if (!this.roots && this.refreshTimer === undefined) this.scheduleRefresh();
      this.roots ??= this.readRoots();
      return this.roots;
    }
    if (node.type === 'loadMore' || !node.node.hasChildren) return [];
    this.collapsed.delete(node);
    return this.childrenOf(node);
  }

  getParent(node: BackupNode): BackupNode | undefined {
    return node.parent;
  }

  getTreeItem(entry: BackupNode): vscode.TreeItem {
    if (entry.type === 'loadMore') {
      const item = new vscode.TreeItem('Load more…');
      item.description = entry.total === undefined ? `${entry.shown} shown` : `${entry.shown} of ${entry.total} shown`;
      item.command = { command: 'lifeboat.backups.loadMore', title: 'Load More', arguments: [entry] };
      item.contextValue = 'loadMore';
      return item;
    }
    const { node } = entry;
    const item = new vscode.TreeItem(node.label, node.hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = `${entry.workspaceDir}\0${node.path}`;
    if (node.description !== undefined) item.description = node.description;
    if (node.tooltip !== undefined) item.tooltip = node.kind === 'error' ? node.tooltip : new vscode.MarkdownString(node.tooltip, true);
    const colour = node.status ? STATUS_COLOUR[node.status.level] : undefined;
    item.iconPath = new vscode.ThemeIcon(node.icon, colour === undefined ? undefined : new vscode.ThemeColor(colour));
    if (node.kind === 'error') item.command = { command: 'lifeboat.showLog', title: 'Show Log' };
    // package.json's menus match on `op:<id>`: a node offers exactly the operations it has.
    item.contextValue = [`kind:${node.kind}`, ...node.operations.map((operation) => `op:${operation.id}`)].join(' ');
    return item;
  }

  /**
   * Follows what `view` shows, so that running nodes are watched only while they are in sight: not
   * under a collapsed node, nor while the view is hidden.
   */
  followView(view: vscode.TreeView<BackupNode>): vscode.Disposable[] {
    this.visible = view.visible;
    return [
      view.onDidChangeVisibility(({ visible }) => {
        this.visible = visible;
        if (visible) this.watchShown();
        else this.stopWatches(() => true);
      }),
      view.onDidCollapseElement(({ element }) => {
        if (element.type !== 'node') return;
        this.collapsed.add(element);
        this.stopWatches((entry) => isUnder(entry, element));
      }),
      view.onDidExpandElement(({ element }) => {
        if (element.type !== 'node') return;
        this.collapsed.delete(element);
        this.watchShown();
      }),
    ];
  }

  /** How many running nodes are being watched now. */
  get watching(): number {
    return this.watches.size;
  }

  dispose(): void {
    this.stopWatches(() => true);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.inventoryWatcher.dispose();
    this.changed.dispose();
    this.filterChanged.dispose();
  }

  /** Re-reads everything every `lifeboat.backups.refreshSeconds` (ages and states move on); 0 never. Started when the view is first shown. */
  scheduleRefresh(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    const seconds = vscode.workspace.getConfiguration('lifeboat.backups').get<number>('refreshSeconds', 0);
    if (typeof seconds === 'number' && seconds > 0) {
      this.refreshTimer = setInterval(() => this.refresh(), Math.max(10, seconds) * 1000);
      // A timer alone must not keep the extension host (or a test's process) alive.
      this.refreshTimer.unref();
    }
  }

  private async readRoots(): Promise<ModelTreeNode[]> {
    const nodes: ModelTreeNode[] = [];
    let found = false;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      const dir = folder.uri.fsPath;
      const file = join(dir, INVENTORY_FILE);
      try {
        const runtime = loadRuntime();
        const inventory = await runtime.loadInventory(file, { required: false });
        const workspace: Workspace = { dir, inventory, model: runtime.createBrowseModel(this.services.registry(), file) };
        this.workspaces.set(dir, workspace);
        const roots = workspace.model.roots(runtime.createActionContext({ workspaceDir: dir, inventory }));
        found ||= Object.keys(inventory.locations ?? {}).length > 0;
        for (const root of roots) nodes.push({ type: 'node', workspaceDir: dir, node: root, parent: undefined });
      } catch (error) {
        const message = `cannot read ${file}: ${errorMessage(error)}`;
        this.services.log.error(`[backups] ${message}`);
        nodes.push({ type: 'node', workspaceDir: dir, node: errorNode(dir, message), parent: undefined });
      }
    }
    this.locationsFound = found;
    await vscode.commands.executeCommand('setContext', HAS_LOCATIONS_CONTEXT, found);
    return nodes;
  }

  private childrenOf(parent: ModelTreeNode): Promise<BackupNode[]> {
    let listing = this.listings.get(parent);
    if (!listing) {
      const started = this.page(parent, undefined).then((page) => ({ nodes: page.nodes, next: page.next, total: page.total }));
      listing = started;
      this.listings.set(parent, started);
      void started.then(({ nodes }) => {
        if (nodes.some((child) => child.node.kind === 'error')) this.listings.delete(parent);
        // Unless it was forgotten meanwhile (a refresh): its nodes are not shown then.
        else if (this.listings.get(parent) === started) for (const child of nodes) this.watch(child);
      });
    }
    return listing.then((read) => (read.next === undefined ? read.nodes : [...read.nodes, { type: 'loadMore', parent, shown: read.nodes.length, total: read.total }]));
  }

  /**
   * Follows a running node while it is shown (the view visible, nothing above it collapsed): each change
   * is shown in place, and its parent is listed again once it is gone. Ends by itself when it settles.
   */
  private watch(entry: ModelTreeNode): void {
    const workspace = this.workspaces.get(entry.workspaceDir);
    if (!entry.node.watch || !workspace || this.watches.has(entry) || !this.visible) return;
    for (let above = entry.parent; above; above = above.parent) if (this.collapsed.has(above)) return;
    const abort = new AbortController();
    this.watches.set(entry, abort);
    const options = { tag: 'backups', askHostKeys: false, inventory: workspace.inventory, signal: abort.signal };
    loadRuntime()
      .withReadingContext(this.services, workspace.dir, options, (ctx) =>
        workspace.model.watch(entry.node, ctx, (changed) => {
          if (abort.signal.aborted) return;
          if (!changed) {
            if (entry.parent) this.refreshNode(entry.parent);
            return;
          }
          entry.node = changed;
          this.changed.fire(entry);
        }),
      )
      .catch((error: unknown) => this.services.log.error(`[backups] following ${entry.node.path} failed: ${errorMessage(error)}`))
      .finally(() => {
        if (this.watches.get(entry) === abort) this.watches.delete(entry);
      });
  }

  /** Watches the running nodes of every listing still shown. */
  private watchShown(): void {
    for (const [parent, listing] of this.listings) {
      void listing.then(({ nodes }) => {
        if (this.listings.get(parent) === listing) for (const child of nodes) this.watch(child);
      });
    }
  }

  private stopWatches(which: (entry: ModelTreeNode) => boolean): void {
    for (const [entry, abort] of this.watches) {
      if (!which(entry)) continue;
      abort.abort();
      this.watches.delete(entry);
    }
  }

  /** The filter matches this node or one above it: what is under it is shown whole. */
  private underMatch(entry: ModelTreeNode | undefined): boolean {
    const wanted = this.filterText?.toLowerCase();
    for (let at = entry; at && wanted !== undefined; at = at.parent) if (at.node.label.toLowerCase().includes(wanted)) return true;
    return false;
  }

  private async page(parent: ModelTreeNode, cursor: string | undefined): Promise<Listing> {
    // A node shown before a refresh is listed from the inventory as read again: its path still names it.
    this.roots ??= this.readRoots();
    await this.roots;
    const workspace = this.workspaces.get(parent.workspaceDir);
    if (!workspace) return { nodes: [], next: undefined, total: undefined };
    const filter = this.filterText === undefined || this.underMatch(parent) ? undefined : this.filterText;
    const page = await loadRuntime().withReadingContext(this.services, workspace.dir, { tag: 'backups', askHostKeys: true, inventory: workspace.inventory }, (ctx) =>
      workspace.model.children(parent.node.path, { limit: pageSize(), ...(cursor === undefined ? {} : { cursor }), ...(filter === undefined ? {} : { filter }) }, ctx),
    );
    return {
      // A container whose label does not match stays (the backend filtered only what it could), so what matches further down can be reached.
      nodes: page.nodes.map((node) => ({ type: 'node', workspaceDir: workspace.dir, node, parent })),
      next: page.next,
      total: page.total,
    };
  }
}

/** Whether `entry` is listed somewhere under `ancestor`. */
function isUnder(entry: ModelTreeNode, ancestor: ModelTreeNode): boolean {
  for (let above = entry.parent; above; above = above.parent) if (above === ancestor) return true;
  return false;
}

function pageSize(): number {
  return Math.max(1, Math.floor(vscode.workspace.getConfiguration('lifeboat.backups').get<number>('pageSize', 50)));
}
