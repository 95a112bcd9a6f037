import * as vscode from 'vscode';
import { registerActionCellAssist } from './vscode/actionCellAssist';
import { registerCommands } from './vscode/commands';
import { registerNotebook } from './vscode/notebook';
import { createServices } from './vscode/services';
import { registerViews } from './vscode/views';

/**
 * Composition root: the only place that knows every part. Activation registers only; parsers,
 * schemas and clients load on first use (`import()` keeps their module code from running now).
 */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Lifeboat', { log: true });
  const services = createServices(context, log);
  context.subscriptions.push(
    log,
    ...registerNotebook(services),
    ...registerActionCellAssist(services),
    ...registerViews(services),
    ...registerCommands(services),
  );
}

export function deactivate(): void {}
