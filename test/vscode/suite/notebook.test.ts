import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { LAYOUT_RUNBOOK } from '../fixtures';
import { fixtureUri, readText, saveAndRead, setCellText } from './workspace';

interface CellView {
  kind: 'markup' | 'code';
  language: string;
  source: string;
}

function view(notebook: vscode.NotebookDocument): CellView[] {
  return notebook.getCells().map((cell) => ({
    kind: cell.kind === vscode.NotebookCellKind.Markup ? 'markup' : 'code',
    language: cell.document.languageId,
    source: cell.document.getText(),
  }));
}

/** What LAYOUT_RUNBOOK shows as: frontmatter is layout, not a cell; sources have `\n` and no final one. */
const LAYOUT_CELLS: CellView[] = [
  { kind: 'markup', language: 'markdown', source: '# Restore drill   \n\nFind the newest backup.  ' },
  { kind: 'code', language: 'shellscript', source: 'ls -1 /backups | tail -n 1   ' },
  { kind: 'code', language: 'yaml', source: 'action: archive.verify' },
  { kind: 'code', language: 'json', source: '{ "keep": 7 }' },
  { kind: 'markup', language: 'markdown', source: 'Done.  ' },
];

suite('runbook notebooks', () => {
  test('a runbook opens as markdown and code cells with their languages and sources', async () => {
    const notebook = await vscode.workspace.openNotebookDocument(fixtureUri('unchanged.runbook.md'));
    assert.deepEqual(view(notebook), LAYOUT_CELLS);
  });

  test('saving without a net change keeps the file byte for byte', async () => {
    const uri = fixtureUri('unchanged.runbook.md');
    assert.equal(await readText(uri), LAYOUT_RUNBOOK, 'the fixture was changed before the test');
    const notebook = await vscode.workspace.openNotebookDocument(uri);
    const cell = notebook.cellAt(1);
    const original = cell.document.getText();
    // VS Code skips saving a clean notebook, so type and take it back to make the save serialize.
    await setCellText(cell, 'echo changed');
    await setCellText(cell, original);
    assert.ok(notebook.isDirty, 'the notebook is not dirty, so saving would not serialize it');

    assert.equal(await saveAndRead(notebook), LAYOUT_RUNBOOK);
  });

  test('editing one cell rewrites only that cell', async () => {
    const notebook = await vscode.workspace.openNotebookDocument(fixtureUri('edited.runbook.md'));
    await setCellText(notebook.cellAt(2), 'action: archive.list\npath: /backups');

    const expected = LAYOUT_RUNBOOK.replace(
      '```lifeboat\r\naction: archive.verify\r\n```\r\n',
      // Written canonically, in the file's CRLF; every other cell keeps its bytes.
      '```lifeboat\r\naction: archive.list\r\npath: /backups\r\n```\r\n',
    );
    assert.notEqual(expected, LAYOUT_RUNBOOK);
    assert.equal(await saveAndRead(notebook), expected);
  });
});
