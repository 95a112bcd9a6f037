import * as vscode from 'vscode';
import { NOTEBOOK_TYPE, RunbookSerializer } from './notebookSerializer';
import type { Services } from './services';

/** The runbook notebook: serializer, controller, parameters, status bars and toolbar actions. */
export function registerNotebook(services: Services): vscode.Disposable[] {
  void services;
  return [vscode.workspace.registerNotebookSerializer(NOTEBOOK_TYPE, new RunbookSerializer(), { transientOutputs: true })];
}
