import { dirname } from 'node:path';
import * as vscode from 'vscode';
import type { RunActionOutcome, RunActionRequest } from '../actionCommand';
import { loadRuntime } from '../lazy';
import { NOTEBOOK_TYPE } from '../notebookSerializer';
import type { Services } from '../services';
import type { ArchiveNode, BackupsTreeProvider, LoadMoreNode } from './backupsView';

const RESTORE_RUNBOOK = 'local-restore.runbook.md';

/** The context menu and title commands of the Backups view. */
export function registerBackupCommands(services: Services, backups: BackupsTreeProvider): vscode.Disposable[] {
  const runOn = (node: ArchiveNode, request: RunActionRequest) => runActionThenRefresh(backups, node, request);
  return [
    vscode.commands.registerCommand('lifeboat.backups.refresh', () => backups.refresh()),
    vscode.commands.registerCommand('lifeboat.backups.loadMore', (node: LoadMoreNode) => backups.loadMore(node)),
    vscode.commands.registerCommand('lifeboat.backups.verify', (node: ArchiveNode) =>
      runOn(node, { action: 'archive.verify', params: { path: node.archive.path }, title: `Verify ${node.archive.name}` }),
    ),
    // archive.delete is destructive: lifeboat.runAction shows its plan in a modal before anything goes.
    vscode.commands.registerCommand('lifeboat.backups.delete', (node: ArchiveNode) =>
      runOn(node, { action: 'archive.delete', params: { path: node.archive.path }, title: `Delete ${node.archive.name}` }),
    ),
    vscode.commands.registerCommand('lifeboat.backups.restore', (node: ArchiveNode) => openRestoreRunbook(services, node)),
  ];
}

/** Runs the action through `lifeboat.runAction` (the same runner as notebook cells: progress, cancel, confirmation, run history). */
async function runActionThenRefresh(backups: BackupsTreeProvider, node: ArchiveNode, request: RunActionRequest): Promise<RunActionOutcome | undefined> {
  try {
    return await vscode.commands.executeCommand<RunActionOutcome | undefined>('lifeboat.runAction', request);
  } finally {
    // The verified state or the archive itself may have changed whatever the outcome.
    backups.refreshLocation(node.location);
  }
}

/**
 * Opens the restore runbook (the workspace's own copy when there is one, else the bundled one) with
 * this archive bound: its folder, its name and the prefix it was made with, so the runbook's
 * `archive.list` step selects exactly this archive. Returns the runbook opened.
 */
async function openRestoreRunbook(services: Services, node: ArchiveNode): Promise<vscode.Uri> {
  const [workspaceCopy] = await vscode.workspace.findFiles(`**/${RESTORE_RUNBOOK}`, '**/node_modules/**', 1);
  const runbook = workspaceCopy ?? vscode.Uri.joinPath(services.context.extensionUri, 'runbooks', RESTORE_RUNBOOK);
  await vscode.commands.executeCommand('vscode.openWith', runbook, NOTEBOOK_TYPE);
  const values: Record<string, string> = { location: dirname(node.archive.path), archive: node.archive.name };
  const prefix = loadRuntime().prefixOfArchiveName(node.archive.name);
  if (prefix !== undefined) values.prefix = prefix;
  else services.log.warn(`[backups] cannot tell the prefix of ${node.archive.name}; the restore runbook keeps its default prefix`);
  await vscode.commands.executeCommand('lifeboat.setParameters', { notebook: runbook, values });
  return runbook;
}
