import * as vscode from 'vscode';
import { registerActionCellAssist } from './vscode/actionCellAssist';
import type { LifeboatApi } from './vscode/api';
import { registerCommands } from './vscode/commands';
import { FaceBackupStatus } from './vscode/faceBackupStatus';
import { registerNotebook } from './vscode/notebook';
import { createServices } from './vscode/services';
import { registerViews } from './vscode/views';
import { WalkthroughProgress } from './vscode/walkthrough';

/**
 * Composition root: the only place that knows every part. Activation registers only; parsers,
 * schemas and clients load on first use (`import()` keeps their module code from running now).
 */
export function activate(context: vscode.ExtensionContext): LifeboatApi {
  const log = vscode.window.createOutputChannel('Lifeboat', { log: true });
  const services = createServices(context, log);
  const views = registerViews(services);
  const faceBackupStatus = new FaceBackupStatus(services);
  const walkthrough = new WalkthroughProgress(services);
  context.subscriptions.push(
    faceBackupStatus,
    walkthrough,
    log,
    ...registerNotebook(services),
    ...registerActionCellAssist(services),
    ...views.disposables,
    ...registerCommands(services),
  );
  return { views: views.views, faceBackupStatus, walkthrough };
}

export function deactivate(): void {}

export type { LifeboatApi } from './vscode/api';
