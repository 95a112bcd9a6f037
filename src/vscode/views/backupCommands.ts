import { dirname } from 'node:path';
import * as vscode from 'vscode';
import type { RunActionOutcome, RunActionRequest } from '../actionCommand';
import { loadRuntime } from '../lazy';
import { NOTEBOOK_TYPE } from '../notebookSerializer';
import { declaredParameters } from '../parameterStore';
import type { Services } from '../services';
import type { ArchiveNode, BackupsTreeProvider, LoadMoreNode, StoredArchiveNode } from './backupsView';

const RESTORE_RUNBOOK = 'local-restore.runbook.md';
const FACES_RESTORE_RUNBOOK = 'frigate-faces-restore.runbook.md';

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
    vscode.commands.registerCommand('lifeboat.backups.restore', (node: ArchiveNode | StoredArchiveNode) =>
      node.kind === 'storedArchive' || node.faces ? openFacesRestoreRunbook(services, node) : openRestoreRunbook(services, node),
    ),
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
 * Opens a bundled runbook, or the workspace's own copy when there is one, and binds the values of the
 * parameters it declares (a workspace copy may declare fewer; those not declared are logged). Returns
 * the runbook opened.
 */
async function openRunbookWith(services: Services, fileName: string, values: Record<string, string>): Promise<vscode.Uri> {
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

/**
 * Opens the local restore runbook with this archive bound: its folder, its name and the prefix it was
 * made with, so the runbook's `archive.list` step selects exactly this archive.
 */
async function openRestoreRunbook(services: Services, node: ArchiveNode): Promise<vscode.Uri> {
  const values: Record<string, string> = { location: dirname(node.archive.path), archive: node.archive.name };
  const prefix = loadRuntime().prefixOfArchiveName(node.archive.name);
  if (prefix !== undefined) values.prefix = prefix;
  else services.log.warn(`[backups] cannot tell the prefix of ${node.archive.name}; the restore runbook keeps its default prefix`);
  return openRunbookWith(services, RESTORE_RUNBOOK, values);
}

/**
 * Opens the faces restore runbook with this face archive bound: its location (by name, of any kind),
 * its file name, and the Frigate instance that location backs up when the inventory tells which.
 */
async function openFacesRestoreRunbook(services: Services, node: ArchiveNode | StoredArchiveNode): Promise<vscode.Uri> {
  const values: Record<string, string> = { location: node.location.name, archive: node.archive.name };
  if (node.location.facesOf !== undefined) values.frigate = node.location.facesOf;
  else services.log.warn(`[backups] lifeboat.yaml does not tell which Frigate instance location ${node.location.name} backs up (frigate.<name>.backups.faces); the faces restore runbook keeps its default instance`);
  return openRunbookWith(services, FACES_RESTORE_RUNBOOK, values);
}
