import * as vscode from 'vscode';
import type { Operation } from '../../core/browse/node';
import type { RunActionOutcome } from '../actionCommand';
import { NOTEBOOK_TYPE } from '../notebookSerializer';
import { declaredParameters } from '../parameterStore';
import type { Services } from '../services';
import type { BackupsTreeProvider, LoadMoreTreeNode, ModelTreeNode } from './backupsView';

interface MenuEntry {
  command: string;
  when?: string;
}

/**
 * The context menu commands of the Backups view and the operation each runs, as package.json
 * declares them: an entry whose `when` matches `op:<id>` runs that operation of the node it is
 * shown on. A backend's new operation needs a command and a menu entry there, nothing here.
 */
export function operationCommands(packageJson: unknown): Map<string, string> {
  const menus = (packageJson as { contributes?: { menus?: Record<string, MenuEntry[]> } }).contributes?.menus?.['view/item/context'] ?? [];
  const commands = new Map<string, string>();
  for (const entry of menus) {
    const operation = /view == lifeboat\.backups\b.*op:(\w+)/.exec(entry.when ?? '')?.[1];
    if (operation) commands.set(entry.command, operation);
  }
  return commands;
}

/** The context menu and title commands of the Backups view. */
export function registerBackupCommands(services: Services, backups: BackupsTreeProvider): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('lifeboat.backups.refresh', () => backups.refresh()),
    vscode.commands.registerCommand('lifeboat.backups.loadMore', (node: LoadMoreTreeNode) => backups.loadMore(node)),
    vscode.commands.registerCommand('lifeboat.backups.filter', async () => {
      const text = await vscode.window.showInputBox({ title: 'Filter the Backups view', prompt: 'Shows the nodes whose name contains this text, and what is under them', value: backups.filter ?? '' });
      if (text !== undefined) backups.setFilter(text);
    }),
    vscode.commands.registerCommand('lifeboat.backups.clearFilter', () => backups.setFilter(undefined)),
    ...[...operationCommands(services.context.extension.packageJSON)].map(([command, operation]) => vscode.commands.registerCommand(command, (node: ModelTreeNode) => runOperation(services, backups, node, operation))),
  ];
}

/** Runs the node's operation: an action through `lifeboat.runAction` (plan, confirmation, run record), a runbook opened with its parameters bound. */
export async function runOperation(services: Services, backups: BackupsTreeProvider, entry: ModelTreeNode, id: string): Promise<RunActionOutcome | vscode.Uri | undefined> {
  const operation = entry.node.operations.find((candidate) => candidate.id === id);
  if (!operation) {
    services.showError(`${entry.node.label} offers no ${id}.`);
    return undefined;
  }
  if (operation.kind === 'runbook') return openRunbookWith(services, operation.runbook, operation.params);
  try {
    return await vscode.commands.executeCommand<RunActionOutcome | undefined>('lifeboat.runAction', { action: operation.action, params: operation.params, title: titleOf(operation, entry.node.label) });
  } finally {
    // What is listed there (a verified state, a deleted archive) may have changed whatever the outcome.
    if (entry.parent) backups.refreshNode(entry.parent);
    else backups.refreshNode(entry);
  }
}

function titleOf(operation: Operation, label: string): string {
  return `${operation.label.replace(/…$/, '')} ${label}`;
}

/**
 * Opens a bundled runbook, or the workspace's own copy when there is one, and binds the values of the
 * parameters it declares (a workspace copy may declare fewer; those not declared are logged). Returns
 * the runbook opened.
 */
async function openRunbookWith(services: Services, fileName: string, values: Readonly<Record<string, string>>): Promise<vscode.Uri> {
  const [workspaceCopy] = await vscode.workspace.findFiles(`**/${fileName}`, '**/node_modules/**', 1);
  const runbook = workspaceCopy ?? vscode.Uri.joinPath(services.context.extensionUri, 'runbooks', fileName);
  await vscode.commands.executeCommand('vscode.openWith', runbook, NOTEBOOK_TYPE);
  const notebook = await vscode.workspace.openNotebookDocument(runbook);
  const declared = new Set(declaredParameters(notebook).map((parameter) => parameter.name));
  const bound = Object.fromEntries(Object.entries(values).filter(([name]) => declared.has(name)));
  const unbound = Object.keys(values).filter((name) => !declared.has(name));
  if (unbound.length > 0) services.log.warn(`[backups] ${vscode.workspace.asRelativePath(runbook)} declares no parameter ${unbound.join(', ')}; left unbound`);
  await vscode.commands.executeCommand('lifeboat.setParameters', { notebook: runbook, values: bound });
  return runbook;
}
