import * as vscode from 'vscode';

/** A file in the temporary workspace the runner created and filled with the fixtures. */
export function fixtureUri(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the tests need the fixture workspace open as a folder');
  return vscode.Uri.joinPath(folder.uri, name);
}

export async function readText(uri: vscode.Uri): Promise<string> {
  return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
}

/** Replaces a cell's whole text the way typing would, through the cell's text document. */
export async function setCellText(cell: vscode.NotebookCell, text: string): Promise<void> {
  const document = cell.document;
  const edit = new vscode.WorkspaceEdit();
  edit.replace(document.uri, new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)), text);
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error(`could not edit cell ${cell.index}`);
}

/** Saves and returns the file's bytes, failing if the save did not actually write the file. */
export async function saveAndRead(notebook: vscode.NotebookDocument): Promise<string> {
  const before = await vscode.workspace.fs.stat(notebook.uri);
  if (!(await notebook.save())) throw new Error(`saving ${notebook.uri.toString()} failed`);
  const after = await vscode.workspace.fs.stat(notebook.uri);
  if (after.mtime <= before.mtime) throw new Error(`saving ${notebook.uri.toString()} did not write the file`);
  return readText(notebook.uri);
}
