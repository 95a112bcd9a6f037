import * as vscode from 'vscode';
import type { Services } from '../services';
import { registerBackupCommands } from './backupCommands';
import { BackupsTreeProvider } from './backupsView';
import { registerRunbookCommands, RunbooksTreeProvider } from './runbooksView';
import { registerRunCommands, RunsTreeProvider } from './runsView';

/** The tree data providers behind the three views; part of the extension's public API (see src/vscode/api.ts). */
export interface LifeboatViews {
  readonly runbooks: RunbooksTreeProvider;
  readonly backups: BackupsTreeProvider;
  readonly runs: RunsTreeProvider;
}

/** The Runbooks, Backups and Runs views of the Lifeboat activity bar container, with their commands. */
export function registerViews(services: Services): { views: LifeboatViews; disposables: vscode.Disposable[] } {
  const views: LifeboatViews = {
    runbooks: new RunbooksTreeProvider(services),
    backups: new BackupsTreeProvider(services),
    runs: new RunsTreeProvider(services),
  };
  const backupsView = vscode.window.createTreeView('lifeboat.backups', { treeDataProvider: views.backups });
  const disposables: vscode.Disposable[] = [
    backupsView,
    ...views.backups.followView(backupsView),
    views.backups.onDidChangeFilter((text) => (backupsView.description = text === undefined ? undefined : `filter: ${text}`)),
    views.runbooks,
    views.backups,
    views.runs,
    vscode.window.createTreeView('lifeboat.runbooks', { treeDataProvider: views.runbooks }),
    vscode.window.createTreeView('lifeboat.runs', { treeDataProvider: views.runs }),
    ...registerRunbookCommands(views.runbooks),
    ...registerBackupCommands(services, views.backups),
    ...registerRunCommands(views.runs),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('lifeboat.backups.pageSize')) views.backups.refresh();
      if (event.affectsConfiguration('lifeboat.backups.refreshSeconds')) views.backups.scheduleRefresh();
    }),
  ];
  return { views, disposables };
}
