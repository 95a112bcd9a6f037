import * as vscode from 'vscode';
import type { CellCompletion, CompletionKind } from '../core/assist/completions';
import type { RunbookDiagnostic, RunbookDiagnostics } from '../core/assist/diagnostics';
import { errorMessage } from '../core/errors';
import type { TextRange } from '../core/runbook/lines';
import { loadRuntime } from './lazy';
import { isRunbookNotebook, RUNBOOK_NOTEBOOK_TYPES, runbookCellOf, runbookOfNotebook } from './notebookSerializer';
import type { Services } from './services';

/** Typing pauses this long before a notebook is checked again. */
const DIAGNOSE_DELAY_MS = 250;
const ACTION_CELLS: vscode.DocumentFilter[] = RUNBOOK_NOTEBOOK_TYPES.map((notebookType) => ({ notebookType, language: 'yaml' }));

/** Completion and diagnostics for action cells, from the schemas the runner validates with. */
export function registerActionCellAssist(services: Services): vscode.Disposable[] {
  return [
    vscode.languages.registerCompletionItemProvider(ACTION_CELLS, new ActionCellCompletions(services), ':', ' ', '{', '.'),
    new RunbookDiagnosticsPublisher(services),
  ];
}

const COMPLETION_KINDS: Record<CompletionKind, vscode.CompletionItemKind> = {
  action: vscode.CompletionItemKind.Function,
  field: vscode.CompletionItemKind.Property,
  value: vscode.CompletionItemKind.EnumMember,
  reference: vscode.CompletionItemKind.Variable,
};

class ActionCellCompletions implements vscode.CompletionItemProvider {
  constructor(private readonly services: Services) {}

  provideCompletionItems(document: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] {
    const found = notebookCellOf(document);
    // A yaml cell that is not an action cell is shown, not run: nothing to complete.
    if (!found || runbookCellOf(found.cell).kind !== 'action') return [];
    const { completeActionCell, completionScope } = loadRuntime();
    const scope = completionScope(runbookOfNotebook(found.notebook), found.cell.index, this.services.registry());
    return completeActionCell(document.getText(), position, scope).map(toCompletionItem);
  }
}

function toCompletionItem(completion: CellCompletion): vscode.CompletionItem {
  const item = new vscode.CompletionItem(completion.label, COMPLETION_KINDS[completion.kind]);
  item.detail = completion.detail;
  if (completion.documentation) item.documentation = new vscode.MarkdownString(completion.documentation);
  item.insertText = completion.insertText;
  item.range = toRange(completion.range);
  item.sortText = completion.sortText;
  if (completion.suggestValues) item.command = { command: 'editor.action.triggerSuggest', title: 'Suggest values' };
  return item;
}

/**
 * Keeps the "lifeboat" diagnostics of every open runbook current: each cell's problems on the cell,
 * the frontmatter's on the file. Checked when opened and shortly after each edit; cleared on close.
 */
class RunbookDiagnosticsPublisher implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('lifeboat');
  private readonly pending = new Map<string, NodeJS.Timeout>();
  /** By notebook, the documents that were given diagnostics, so cells deleted since are cleared too. */
  private readonly published = new Map<string, vscode.Uri[]>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly services: Services) {
    this.subscriptions = [
      vscode.workspace.onDidOpenNotebookDocument((notebook) => this.schedule(notebook)),
      vscode.workspace.onDidChangeNotebookDocument((change) => this.schedule(change.notebook)),
      vscode.workspace.onDidChangeTextDocument((change) => {
        const found = notebookCellOf(change.document);
        if (found) this.schedule(found.notebook);
      }),
      vscode.workspace.onDidCloseNotebookDocument((notebook) => this.clear(notebook)),
    ];
    for (const notebook of vscode.workspace.notebookDocuments) this.schedule(notebook);
  }

  private schedule(notebook: vscode.NotebookDocument): void {
    if (!isRunbookNotebook(notebook)) return;
    const key = notebook.uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key);
        if (!notebook.isClosed) this.publish(notebook);
      }, DIAGNOSE_DELAY_MS),
    );
  }

  private publish(notebook: vscode.NotebookDocument): void {
    const diagnosed = this.diagnose(notebook);
    if (!diagnosed) return;
    const entries: Array<[vscode.Uri, vscode.Diagnostic[]]> = notebook.getCells().map((cell) => [cell.document.uri, (diagnosed.cells.get(cell.index) ?? []).map(toDiagnostic)]);
    entries.push([notebook.uri, diagnosed.frontmatter.map(toDiagnostic)]);
    const current = new Set(entries.map(([uri]) => uri.toString()));
    for (const uri of this.published.get(notebook.uri.toString()) ?? []) if (!current.has(uri.toString())) this.collection.delete(uri);
    this.published.set(notebook.uri.toString(), entries.map(([uri]) => uri));
    this.collection.set(entries);
  }

  private diagnose(notebook: vscode.NotebookDocument): RunbookDiagnostics | undefined {
    try {
      return loadRuntime().diagnoseRunbook(runbookOfNotebook(notebook), this.services.registry());
    } catch (error) {
      // A bug in checking must not interrupt typing with notifications; the log has it.
      this.services.log.error(`[diagnostics] checking ${notebook.uri.fsPath} failed: ${errorMessage(error)}`);
      return undefined;
    }
  }

  private clear(notebook: vscode.NotebookDocument): void {
    const key = notebook.uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.delete(key);
    for (const uri of this.published.get(key) ?? []) this.collection.delete(uri);
    this.published.delete(key);
  }

  dispose(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    for (const subscription of this.subscriptions) subscription.dispose();
    this.collection.dispose();
  }
}

function toDiagnostic(problem: RunbookDiagnostic): vscode.Diagnostic {
  const diagnostic = new vscode.Diagnostic(toRange(problem.range), problem.message, vscode.DiagnosticSeverity.Error);
  diagnostic.source = 'lifeboat';
  return diagnostic;
}

function toRange(range: TextRange): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

/** The runbook notebook cell a text document belongs to, if it is one. */
function notebookCellOf(document: vscode.TextDocument): { notebook: vscode.NotebookDocument; cell: vscode.NotebookCell } | undefined {
  if (document.uri.scheme !== 'vscode-notebook-cell') return undefined;
  for (const notebook of vscode.workspace.notebookDocuments) {
    if (!isRunbookNotebook(notebook)) continue;
    const cell = notebook.getCells().find((candidate) => candidate.document === document);
    if (cell) return { notebook, cell };
  }
  return undefined;
}
