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

/** The second item of a result output: the step's typed result (src/vscode/notebookRunner.ts). */
export const RESULT_MIME = 'application/vnd.lifeboat.result+json';

/** The text of a cell's outputs, of one mime type or all. */
export function outputText(cell: vscode.NotebookCell, mime?: string): string {
  const decoder = new TextDecoder();
  return cell.outputs
    .flatMap((output) => output.items)
    .filter((item) => mime === undefined || item.mime === mime)
    .map((item) => decoder.decode(item.data))
    .join('');
}

/** Polls until `condition` holds: cell executions end after the command that started them returns. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface Shown {
  label: string;
  description: string;
  contextValue: string | undefined;
  tooltip: string;
  command: string | undefined;
}

/** What a tree shows for a node: the parts of its TreeItem a person reads. */
export function shown(item: vscode.TreeItem): Shown {
  const label = typeof item.label === 'string' ? item.label : (item.label?.label ?? '');
  const tooltip = item.tooltip instanceof vscode.MarkdownString ? item.tooltip.value : (item.tooltip ?? '');
  return { label, description: typeof item.description === 'string' ? item.description : '', contextValue: item.contextValue, tooltip, command: item.command?.command };
}
