import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, RunbookSerializer } from './vscode/notebookSerializer';

/** Composition root: the only place that knows every part. */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Lifeboat', { log: true });
  context.subscriptions.push(log, vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new RunbookSerializer(), { transientOutputs: true }));
}

export function deactivate(): void {}
