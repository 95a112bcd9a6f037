import type * as vscode from 'vscode';
import type { Services } from '../services';

/** The Runbooks, Backups and Runs views of the Lifeboat activity bar container. */
export function registerViews(services: Services): vscode.Disposable[] {
  void services;
  return [];
}
