import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { fixtureUri, outputText, RESULT_MIME, waitFor } from './workspace';

async function openRunbook(name: string): Promise<vscode.NotebookDocument> {
  const notebook = await vscode.workspace.openNotebookDocument(fixtureUri(name));
  await vscode.window.showNotebookDocument(notebook);
  return notebook;
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

const cellRange = (notebook: vscode.NotebookDocument, index: number) => ({ ranges: [{ start: index, end: index + 1 }], document: notebook.uri });

suite('notebook controller', () => {
  test('Run All streams shell output, renders results with their JSON, and stops at the first failure', async () => {
    const notebook = await openRunbook('run.runbook.md');
    await vscode.commands.executeCommand('notebook.execute', notebook.uri);
    const [greet, create, list, failing, after] = [1, 2, 3, 4, 5].map((index) => notebook.cellAt(index)) as [vscode.NotebookCell, vscode.NotebookCell, vscode.NotebookCell, vscode.NotebookCell, vscode.NotebookCell];
    await waitFor('the failing step to end', () => failing.executionSummary?.success === false);

    assert.equal(greet.executionSummary?.success, true);
    assert.match(outputText(greet, 'application/vnd.code.notebook.stdout'), /^hello from shell\n/);
    assert.match(outputText(greet, 'application/vnd.code.notebook.stderr'), /to stderr/);

    assert.equal(create.executionSummary?.success, true);
    const created = JSON.parse(outputText(create, RESULT_MIME)) as { path: string; name: string };
    assert.match(created.name, /^drill-\d{8}-\d{6}\.tar\.gz$/);
    assert.ok(await exists(vscode.Uri.file(created.path)), `the archive ${created.path} was not written`);
    assert.match(outputText(create, 'text/markdown'), /drill-\d{8}-\d{6}\.tar\.gz/);

    assert.equal(list.executionSummary?.success, true);
    assert.match(outputText(list, 'text/markdown'), /\|.*drill-\d{8}-\d{6}\.tar\.gz.*\|/);

    assert.match(outputText(failing, 'application/vnd.code.notebook.error'), /exit code 3|exited with code 3|code 3/);
    assert.ok((greet.executionSummary?.executionOrder ?? 0) < (failing.executionSummary?.executionOrder ?? 0), 'execution order does not follow the cells');
    assert.ok(greet.executionSummary?.timing, 'no start and end time recorded');
    assert.equal(after.executionSummary?.timing, undefined, 'the step after a failure ran');
    assert.equal(after.outputs.length, 0);
  });

  test('a parameter set through lifeboat.setParameters reaches the step', async () => {
    const notebook = await openRunbook('params.runbook.md');
    await vscode.commands.executeCommand('lifeboat.setParameters', { notebook: notebook.uri, values: { greeting: 'bonjour' } });
    await vscode.commands.executeCommand('notebook.cell.execute', cellRange(notebook, 1));
    const cell = notebook.cellAt(1);
    await waitFor('the step to end', () => cell.executionSummary?.success !== undefined);
    assert.match(outputText(cell, 'application/vnd.code.notebook.stdout'), /^bonjour from shell\n/);
  });

  test('cancelling a running step stops it and reports it as cancelled, not failed', async () => {
    const notebook = await openRunbook('slow.runbook.md');
    const cell = notebook.cellAt(1);
    const started = Date.now();
    const running = vscode.commands.executeCommand('notebook.cell.execute', cellRange(notebook, 1));
    await waitFor('the step to print', () => outputText(cell).includes('started'));
    await vscode.commands.executeCommand('notebook.cell.cancelExecution', cellRange(notebook, 1));
    await running;
    await waitFor('the step to end', () => cell.executionSummary?.timing?.endTime !== undefined);
    assert.equal(cell.executionSummary?.success, undefined, 'a cancelled step must not show as failed or passed');
    assert.match(outputText(cell), /Cancelled/);
    assert.doesNotMatch(outputText(cell), /^finished$/m, 'the step ran to its end');
    assert.ok(Date.now() - started < 15_000, 'the step was not stopped promptly');
  });

  test('Dry Run plans every step and changes nothing', async () => {
    const notebook = await openRunbook('dry-run.runbook.md');
    await vscode.commands.executeCommand('lifeboat.dryRun', notebook.uri);
    const cell = notebook.cellAt(1);
    await waitFor('the plan', () => cell.executionSummary?.success !== undefined);
    assert.equal(cell.executionSummary?.success, true);
    assert.match(outputText(cell, 'text/markdown'), /Dry run: nothing was changed/);
    assert.match(outputText(cell, 'text/markdown'), /dry-\d{8}-\d{6}\.tar\.gz/);
    assert.equal(await exists(fixtureUri('dry-backups')), false, 'a dry run created the destination');
  });

  test('a runbook with a problem reports it in its cell and runs no step', async () => {
    const notebook = await openRunbook('broken.runbook.md');
    await vscode.commands.executeCommand('notebook.execute', notebook.uri);
    const broken = notebook.cellAt(3);
    await waitFor('the problem to be reported', () => broken.executionSummary?.success === false);
    assert.match(outputText(broken, 'application/vnd.code.notebook.error'), /unknown action 'archive\.teleport'/);
    assert.equal(await exists(fixtureUri('ran-anyway')), false, 'a step ran although the runbook has a problem');
  });

  test('any Markdown file opens as a runbook with "Open as Runbook"', async () => {
    await vscode.commands.executeCommand('lifeboat.openAsRunbook', fixtureUri('plain-notes.md'));
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    assert.equal(notebook?.notebookType, 'lifeboat-runbook');
    assert.equal(notebook?.uri.toString(), fixtureUri('plain-notes.md').toString());
    assert.equal(notebook?.cellAt(1).document.getText(), 'echo from a plain markdown file');
  });

  test('"Reopen Editor With…" offers the runbook notebook for any Markdown file, and its cells run', async () => {
    const uri = fixtureUri('reopened-notes.md');
    await vscode.commands.executeCommand('vscode.openWith', uri, 'lifeboat-markdown');
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    assert.equal(notebook?.notebookType, 'lifeboat-markdown');
    await vscode.commands.executeCommand('notebook.cell.execute', cellRange(notebook, 1));
    const cell = notebook.cellAt(1);
    await waitFor('the step to end', () => cell.executionSummary?.success !== undefined);
    assert.match(outputText(cell, 'application/vnd.code.notebook.stdout'), /^from a plain markdown file\n/);
  });
});
