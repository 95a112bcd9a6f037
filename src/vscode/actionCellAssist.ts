import type * as vscode from 'vscode';
import type { Services } from './services';

/** Completion and diagnostics for action cells, from the schemas the runner validates with. */
export function registerActionCellAssist(services: Services): vscode.Disposable[] {
  void services;
  return [];
}
