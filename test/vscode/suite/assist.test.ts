import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { fixtureUri, setCellText } from './workspace';

/** ASSIST_RUNBOOK's cells: prose, the `find` step, an unknown action, an unknown parameter. */
const UNKNOWN_ACTION_CELL = 2;
const UNKNOWN_PARAMETER_CELL = 3;

async function completionLabels(cell: vscode.NotebookCell, position: vscode.Position, kind: vscode.CompletionItemKind): Promise<string[]> {
  const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', cell.document.uri, position);
  // Other providers (words of the document) answer too; only ours give these kinds.
  return list.items.filter((item) => item.kind === kind).map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
}

/** Diagnostics are published shortly after an edit: waits for them to read as expected. */
async function diagnosticsWhen(uri: vscode.Uri, expected: (diagnostics: vscode.Diagnostic[]) => boolean): Promise<vscode.Diagnostic[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const diagnostics = vscode.languages.getDiagnostics(uri);
    if (expected(diagnostics)) return diagnostics;
    if (Date.now() > deadline) {
      throw new Error(`diagnostics of ${uri.toString()} never came as expected; last: ${JSON.stringify(diagnostics.map(describe))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function describe(diagnostic: vscode.Diagnostic): string {
  return `${diagnostic.range.start.line}:${diagnostic.range.start.character} ${diagnostic.message}`;
}

suite('action cell completion and diagnostics', () => {
  test('offers action ids after `action:`, the action’s parameters at a key and references inside ${', async () => {
    const notebook = await vscode.workspace.openNotebookDocument(fixtureUri('assist-completion.runbook.md'));
    await vscode.window.showNotebookDocument(notebook);
    const cell = notebook.cellAt(UNKNOWN_PARAMETER_CELL);

    await setCellText(cell, 'action: ');
    const actions = await completionLabels(cell, new vscode.Position(0, 8), vscode.CompletionItemKind.Function);
    for (const id of ['archive.create', 'archive.list', 'archive.restore', 'archive.verify', 'shell']) assert.ok(actions.includes(id), `${id} not offered: ${actions.join(', ')}`);

    await setCellText(cell, 'action: archive.create\nkeep: 2\n');
    const keys = await completionLabels(cell, new vscode.Position(2, 0), vscode.CompletionItemKind.Property);
    assert.deepEqual([...keys].sort(), ['base', 'destination', 'dryRun', 'exclude', 'id', 'level', 'namePattern', 'paths', 'prefix'], 'written keys and `action` are not offered again');

    await setCellText(cell, 'action: archive.verify\npath: ${');
    const references = await completionLabels(cell, new vscode.Position(1, 8), vscode.CompletionItemKind.Variable);
    assert.deepEqual(references, ['params.keep', 'steps.find']);
  });

  test('reports an unknown action and an unknown parameter on their lines, and clears them once fixed', async () => {
    const notebook = await vscode.workspace.openNotebookDocument(fixtureUri('assist-diagnostics.runbook.md'));
    const unknownAction = notebook.cellAt(UNKNOWN_ACTION_CELL);
    const unknownParameter = notebook.cellAt(UNKNOWN_PARAMETER_CELL);

    const [action] = await diagnosticsWhen(unknownAction.document.uri, (diagnostics) => diagnostics.length > 0);
    assert.match(action?.message ?? '', /unknown action 'archive\.verif' \(did you mean .*archive\.verify/);
    assert.deepEqual([action?.range.start.line, action?.range.start.character, action?.range.end.character], [0, 8, 21], 'underlines the id after `action: `');

    const [parameter, ...others] = await diagnosticsWhen(unknownParameter.document.uri, (diagnostics) => diagnostics.length > 0);
    assert.deepEqual(others.map(describe), [], 'the reference to the earlier step is not reported');
    assert.match(parameter?.message ?? '', /`colour`: unknown field \(archive\.verify takes: path, prefix\)/);
    assert.equal(parameter?.range.start.line, 2);
    assert.equal(parameter?.source, 'lifeboat');

    await setCellText(unknownAction, 'action: archive.verify\npath: backups');
    await setCellText(unknownParameter, 'action: archive.verify\npath: ${steps.find.archives.0.path}');
    await diagnosticsWhen(unknownAction.document.uri, (diagnostics) => diagnostics.length === 0);
    await diagnosticsWhen(unknownParameter.document.uri, (diagnostics) => diagnostics.length === 0);
  });

  test('reports a broken parameter definition on the runbook file, at its line in the frontmatter', async () => {
    const notebook = await vscode.workspace.openNotebookDocument(fixtureUri('assist-frontmatter.runbook.md'));
    const [definition] = await diagnosticsWhen(notebook.uri, (diagnostics) => diagnostics.length > 0);
    assert.match(definition?.message ?? '', /`params\.keep`: `default`: expected a number, got "many"/);
    assert.equal(definition?.range.start.line, 2);
  });
});
