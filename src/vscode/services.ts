import * as vscode from 'vscode';
import type { ActionRegistry } from '../core/actions/registry';
import type { Logger } from '../core/actions/spec';
import { loadRuntime } from './lazy';

/** What every part of the extension shares; built once in `activate`. */
export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  /** Every action with its schema, from the runtime bundle (loaded on first use). */
  registry(): ActionRegistry;
  /** An error notification that offers the log, where the details are. */
  showError(message: string): void;
  /** Fires when a notebook cell or a palette command has added to the run history. */
  onDidRecordRun: vscode.Event<void>;
  /** Called after a step's run record is written; runs made elsewhere (the CLI) reach the Runs view through its file watcher. */
  recordedRun(): void;
  /** Shows a result as a read-only Markdown preview: nothing to save when it is closed. */
  showMarkdown(title: string, markdown: string): Promise<void>;
}

const DETAILS_SCHEME = 'lifeboat-details';

export function createServices(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Services {
  let registry: ActionRegistry | undefined;
  const details = new Map<string, string>();
  const runRecorded = new vscode.EventEmitter<void>();
  context.subscriptions.push(runRecorded);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(DETAILS_SCHEME, { provideTextDocumentContent: (uri) => details.get(uri.toString()) }));
  return {
    context,
    log,
    registry() {
      registry ??= loadRuntime().createRegistry();
      return registry;
    },
    onDidRecordRun: runRecorded.event,
    recordedRun: () => runRecorded.fire(),
    showError(message) {
      log.error(message);
      void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => {
        if (choice) log.show(true);
      });
    },
    async showMarkdown(title, markdown) {
      const uri = vscode.Uri.from({ scheme: DETAILS_SCHEME, path: `/${title.replace(/[\\/]/g, '-')}.md`, query: String(details.size + 1) });
      details.set(uri.toString(), `# ${title}\n\n${markdown}\n`);
      await vscode.commands.executeCommand('markdown.showPreview', uri);
    },
  };
}

/** Action log lines in the extension's log, tagged with what ran the action (`[Verify Archives] …`). */
export function taggedLogger(log: vscode.LogOutputChannel, tag: string): Logger {
  return {
    debug: (message) => log.debug(`[${tag}] ${message}`),
    info: (message) => log.info(`[${tag}] ${message}`),
    warn: (message) => log.warn(`[${tag}] ${message}`),
    error: (message) => log.error(`[${tag}] ${message}`),
  };
}
