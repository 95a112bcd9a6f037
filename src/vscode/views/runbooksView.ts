import * as vscode from 'vscode';
import { errorMessage } from '../../core/errors';
import { runbookTitle } from '../../core/runbook/frontmatterTitle';
import { NOTEBOOK_TYPE } from '../notebookSerializer';
import type { Services } from '../services';

const RUNBOOK_GLOB = '**/*.runbook.md';
const RUNBOOK_SUFFIX = '.runbook.md';

export interface RunbookGroupNode {
  kind: 'group';
  source: 'workspace' | 'bundled';
}

export interface RunbookNode {
  kind: 'runbook';
  source: RunbookGroupNode['source'];
  uri: vscode.Uri;
  /** The frontmatter's one-line `title:`, else the first heading, when there is one. */
  title: string | undefined;
  /** Where it is: the path inside the workspace, or the file name of a bundled runbook. */
  location: string;
}

export interface RunbookPlaceholderNode {
  kind: 'placeholder';
  message: string;
}

export type RunbooksNode = RunbookGroupNode | RunbookNode | RunbookPlaceholderNode;

/** The Runbooks view: the workspace's `*.runbook.md` files and the runbooks bundled with the extension. */
export class RunbooksTreeProvider implements vscode.TreeDataProvider<RunbooksNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunbooksNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly watcher: vscode.FileSystemWatcher;

  constructor(private readonly services: Services) {
    this.watcher = vscode.workspace.createFileSystemWatcher(RUNBOOK_GLOB);
    // A save can change a title, so changes count as well as files coming and going.
    for (const event of [this.watcher.onDidCreate, this.watcher.onDidDelete, this.watcher.onDidChange]) event(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: RunbooksNode): RunbooksNode[] | Promise<RunbooksNode[]> {
    if (!node) {
      const groups: RunbookGroupNode[] = vscode.workspace.workspaceFolders?.length ? [{ kind: 'group', source: 'workspace' }] : [];
      return [...groups, { kind: 'group', source: 'bundled' }];
    }
    if (node.kind !== 'group') return [];
    return node.source === 'workspace' ? this.workspaceRunbooks() : this.bundledRunbooks();
  }

  getTreeItem(node: RunbooksNode): vscode.TreeItem {
    switch (node.kind) {
      case 'group': {
        const item = new vscode.TreeItem(node.source === 'workspace' ? 'Workspace' : 'Bundled', vscode.TreeItemCollapsibleState.Expanded);
        item.id = `group:${node.source}`;
        item.contextValue = 'group';
        return item;
      }
      case 'runbook': {
        const item = new vscode.TreeItem(node.title ?? fileName(node.uri));
        item.id = `runbook:${node.source}:${node.uri.toString()}`;
        item.description = node.location;
        item.tooltip = node.title ? `${node.title}\n${node.uri.fsPath}` : node.uri.fsPath;
        item.iconPath = new vscode.ThemeIcon('notebook');
        item.contextValue = 'runbook';
        item.command = { command: 'lifeboat.runbooks.open', title: 'Open Runbook', arguments: [node] };
        return item;
      }
      case 'placeholder': {
        const item = new vscode.TreeItem(node.message);
        item.contextValue = 'placeholder';
        return item;
      }
    }
  }

  dispose(): void {
    this.watcher.dispose();
    this.changed.dispose();
  }

  private async workspaceRunbooks(): Promise<RunbooksNode[]> {
    const uris = await this.workspaceRunbookFiles();
    // The folder's name only tells runbooks apart when there are several folders.
    const withFolder = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
    const nodes = await Promise.all(uris.map((uri) => this.runbookNode('workspace', uri, vscode.workspace.asRelativePath(uri, withFolder))));
    nodes.sort((a, b) => a.location.localeCompare(b.location));
    return nodes.length > 0 ? nodes : [{ kind: 'placeholder', message: `No ${RUNBOOK_SUFFIX} files in the workspace` }];
  }

  private workspaceRunbookFiles(): Thenable<vscode.Uri[]> {
    return vscode.workspace.findFiles(RUNBOOK_GLOB, '**/node_modules/**');
  }

  /** The bundled runbooks the workspace has no copy of (a file of the same name): a copy is listed once, under Workspace. */
  private async bundledRunbooks(): Promise<RunbooksNode[]> {
    const folder = vscode.Uri.joinPath(this.services.context.extensionUri, 'runbooks');
    let entries: [string, vscode.FileType][];
    try {
      entries = await vscode.workspace.fs.readDirectory(folder);
    } catch (error) {
      this.services.log.error(`[runbooks] cannot list the bundled runbooks in ${folder.fsPath}: ${errorMessage(error)}`);
      return [{ kind: 'placeholder', message: 'The bundled runbooks could not be listed (see the log)' }];
    }
    const copied = new Set((await this.workspaceRunbookFiles()).map(fileName));
    const names = entries
      .filter(([name, type]) => type === vscode.FileType.File && name.endsWith(RUNBOOK_SUFFIX) && !copied.has(name))
      .map(([name]) => name)
      .sort();
    if (names.length === 0) return [{ kind: 'placeholder', message: 'The workspace has a copy of every bundled runbook' }];
    return Promise.all(names.map((name) => this.runbookNode('bundled', vscode.Uri.joinPath(folder, name), name)));
  }

  private async runbookNode(source: RunbookNode['source'], uri: vscode.Uri, location: string): Promise<RunbookNode> {
    let title: string | undefined;
    try {
      title = runbookTitle(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
    } catch (error) {
      // Listed all the same, by file name: opening it will say what is wrong.
      this.services.log.warn(`[runbooks] cannot read ${uri.fsPath}: ${errorMessage(error)}`);
    }
    return { kind: 'runbook', source, uri, title, location };
  }
}

function fileName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}

/** A runbook node (from the view) or a file (from elsewhere). */
type RunbookTarget = RunbookNode | vscode.Uri;

function uriOf(target: RunbookTarget): vscode.Uri {
  return target instanceof vscode.Uri ? target : target.uri;
}

/** Opens a runbook as a Lifeboat notebook and returns the notebook. */
export async function openRunbook(target: RunbookTarget): Promise<vscode.NotebookDocument | undefined> {
  const uri = uriOf(target);
  await vscode.commands.executeCommand('vscode.openWith', uri, NOTEBOOK_TYPE);
  return vscode.workspace.notebookDocuments.find((notebook) => notebook.uri.toString() === uri.toString());
}

export function registerRunbookCommands(runbooks: RunbooksTreeProvider): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('lifeboat.runbooks.refresh', () => runbooks.refresh()),
    vscode.commands.registerCommand('lifeboat.runbooks.open', (target: RunbookTarget) => openRunbook(target)),
    vscode.commands.registerCommand('lifeboat.runbooks.runAll', async (target: RunbookTarget) => {
      await openRunbook(target);
      // The built-in command runs every cell of the notebook through its controller, as the toolbar's Run All does.
      await vscode.commands.executeCommand('notebook.execute', uriOf(target));
    }),
  ];
}
