import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from '../../core/errors';
import { formatAge, formatDuration, formatLocalDateTime } from '../../core/render';
import { runbookTitle } from '../../core/runbook/frontmatterTitle';
import { readRunHistory, renderRunMarkdown, type RunStepRecord, type RunSummary } from '../../core/runner/history';
import { RUNS_DIR } from '../../core/runner/records';
import type { Services } from '../services';

/** Read-only documents showing one run: `lifeboat-run:/<runbook> <id>.md?folder=…&id=…`. */
const RUN_SCHEME = 'lifeboat-run';

/** How a palette command's runs name their runbook in the records (src/vscode/actionCommand.ts). */
const COMMAND_RUNBOOK = /^command "(.*)"$/s;

export interface RunNode {
  kind: 'run';
  run: RunSummary;
  workspaceDir: string;
  /** What the view calls the run: the runbook's title, a palette command's name, else the runbook's file name. */
  title: string;
}

export interface RunStepNode {
  kind: 'step';
  step: RunStepRecord;
  run: RunNode;
}

export interface RunsMessageNode {
  kind: 'message';
  message: string;
  /** A failure to read: the node opens the log. */
  failed: boolean;
}

export type RunsNode = RunNode | RunStepNode | RunsMessageNode;

const OUTCOME_ICON: Record<string, [icon: string, colour: string]> = {
  succeeded: ['pass-filled', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  refused: ['circle-slash', 'testing.iconFailed'],
  cancelled: ['stop-circle', 'testing.iconSkipped'],
  planned: ['debug-alt-small', 'testing.iconQueued'],
};

function statusIcon(status: string): vscode.ThemeIcon {
  const [icon, colour] = OUTCOME_ICON[status] ?? ['circle-large-outline', 'testing.iconUnset'];
  return new vscode.ThemeIcon(icon, new vscode.ThemeColor(colour));
}

/** The Runs view: the run history of each workspace folder, newest first; a run expands to its steps. */
export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private watchers: vscode.FileSystemWatcher[] = [];
  private readonly foldersChanged: vscode.Disposable;
  private readonly runRecorded: vscode.Disposable;

  constructor(private readonly services: Services) {
    this.runRecorded = services.onDidRecordRun(() => this.refresh());
    this.watchRunFiles();
    this.foldersChanged = vscode.workspace.onDidChangeWorkspaceFolders(() => {
      this.watchRunFiles();
      this.refresh();
    });
  }

  /**
   * Runs made outside this window (the CLI, cron) arrive through the files: a watcher on each
   * folder's run directory itself (it need not exist yet), as a workspace-wide glob was seen to miss
   * appends to `.lifeboat/runs` on a busy machine.
   */
  private watchRunFiles(): void {
    for (const watcher of this.watchers) watcher.dispose();
    this.watchers = (vscode.workspace.workspaceFolders ?? []).map((folder) => {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(folder.uri, ...RUNS_DIR.split(/[\\/]/)), '*.jsonl'));
      for (const event of [watcher.onDidCreate, watcher.onDidChange, watcher.onDidDelete]) event(() => this.refresh());
      return watcher;
    });
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(node?: RunsNode): Promise<RunsNode[]> {
    if (node?.kind === 'run') return node.run.steps.map((step) => ({ kind: 'step', step, run: node }));
    if (node) return [];
    const runs: RunNode[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      const workspaceDir = folder.uri.fsPath;
      try {
        const history = await readRunHistory(workspaceDir);
        if (history.skippedLines > 0) this.services.log.warn(`[runs] ${history.skippedLines} line(s) in ${RUNS_DIR} of ${workspaceDir} are not run records; left out`);
        const titles = new Map<string, Promise<string>>();
        const titleOf = (runbook: string) => {
          let title = titles.get(runbook);
          if (!title) titles.set(runbook, (title = this.runTitle(runbook, workspaceDir)));
          return title;
        };
        runs.push(...(await Promise.all(history.runs.map(async (run): Promise<RunNode> => ({ kind: 'run', run, workspaceDir, title: await titleOf(run.runbook) })))));
      } catch (error) {
        this.services.log.error(`[runs] cannot read the run history of ${workspaceDir}: ${errorMessage(error)}`);
        return [{ kind: 'message', message: 'Failed to load (click for log)', failed: true }];
      }
    }
    if (runs.length === 0) return [{ kind: 'message', message: 'No runs recorded yet', failed: false }];
    return runs.sort((a, b) => (a.run.startedAt < b.run.startedAt ? 1 : a.run.startedAt > b.run.startedAt ? -1 : 0));
  }

  /**
   * A run's name in the view: a palette command's (records name them `command "<title>"`), else the
   * title of the runbook as it reads now (its file, relative to the workspace or absolute for a
   * bundled one), else its file name when the file is gone or has no title.
   */
  private async runTitle(runbook: string, workspaceDir: string): Promise<string> {
    const command = COMMAND_RUNBOOK.exec(runbook)?.[1];
    if (command !== undefined) return command;
    try {
      return runbookTitle(await readFile(isAbsolute(runbook) ? runbook : join(workspaceDir, runbook), 'utf8')) ?? basename(runbook);
    } catch (error) {
      this.services.log.debug(`[runs] no title for ${runbook}: ${errorMessage(error)}`);
      return basename(runbook);
    }
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case 'run': {
        const { run } = node;
        const started = new Date(run.startedAt);
        // The title is the label and the outcome an icon, so a narrow view cuts neither off.
        const item = new vscode.TreeItem(node.title, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `run:${run.id}`;
        item.description = `${run.outcome} · ${formatAge(started)}`;
        item.tooltip = `${node.title}: ${run.outcome}\n${run.runbook}\nStarted ${formatLocalDateTime(started)} by ${run.user}@${run.host}\n${run.steps.length} step(s), ${formatDuration(run.durationMs)}`;
        item.iconPath = statusIcon(run.outcome);
        item.contextValue = 'run';
        item.command = { command: 'lifeboat.runs.open', title: 'Show Run', arguments: [node] };
        return item;
      }
      case 'step': {
        const { step } = node;
        const item = new vscode.TreeItem(`Cell ${step.cell}: ${step.action}${step.step ? ` (${step.step})` : ''}`);
        item.id = `step:${node.run.run.id}:${step.cell}:${step.time}`;
        item.description = `${step.status} · ${formatDuration(step.durationMs)}`;
        item.tooltip = step.error ?? `${step.status} in ${formatDuration(step.durationMs)}`;
        item.iconPath = statusIcon(step.status);
        item.contextValue = 'runStep';
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.message);
        if (node.failed) {
          item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
          item.command = { command: 'lifeboat.showLog', title: 'Show Log' };
        }
        item.contextValue = 'message';
        return item;
      }
    }
  }

  /** The Markdown of the run a `lifeboat-run:` document names, read again from the history. */
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const query = new URLSearchParams(uri.query);
    const workspaceDir = query.get('folder') ?? '';
    const id = query.get('id') ?? '';
    // Reading a bit past the view's limit keeps an older run showable a little longer.
    const { runs } = await readRunHistory(workspaceDir, { limit: 500 });
    const run = runs.find((candidate) => candidate.id === id);
    return run ? renderRunMarkdown(run) : `# Run ${id} not found\n\nIt is no longer among the recent runs in ${workspaceDir}.\n`;
  }

  dispose(): void {
    for (const watcher of this.watchers) watcher.dispose();
    this.foldersChanged.dispose();
    this.runRecorded.dispose();
    this.changed.dispose();
  }
}

/** A run's steps as a read-only Markdown document. Returns the document shown. */
async function openRun(node: RunNode): Promise<vscode.TextDocument> {
  const name = `${node.title.replace(/[\\/]/g, '-')} ${formatLocalDateTime(new Date(node.run.startedAt)).replace(':', '.')}.md`;
  const uri = vscode.Uri.from({ scheme: RUN_SCHEME, path: `/${name}`, query: new URLSearchParams({ folder: node.workspaceDir, id: node.run.id }).toString() });
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(document, { preview: true });
  return document;
}

export function registerRunCommands(runs: RunsTreeProvider): vscode.Disposable[] {
  return [
    vscode.workspace.registerTextDocumentContentProvider(RUN_SCHEME, runs),
    vscode.commands.registerCommand('lifeboat.runs.refresh', () => runs.refresh()),
    vscode.commands.registerCommand('lifeboat.runs.open', (node: RunNode) => openRun(node)),
  ];
}
