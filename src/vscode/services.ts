import * as vscode from 'vscode';
import type { ActionRegistry } from '../core/actions/registry';
import { loadRuntime } from './lazy';

/** What every part of the extension shares; built once in `activate`. */
export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  /** Every action with its schema, from the runtime bundle (loaded on first use). */
  registry(): ActionRegistry;
  /** An error notification that offers the log, where the details are. */
  showError(message: string): void;
}

export function createServices(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Services {
  let registry: ActionRegistry | undefined;
  return {
    context,
    log,
    registry() {
      registry ??= loadRuntime().createRegistry();
      return registry;
    },
    showError(message) {
      log.error(message);
      void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => {
        if (choice) log.show(true);
      });
    },
  };
}
