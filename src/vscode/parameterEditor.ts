import * as vscode from 'vscode';
import { readParamDefinitions } from '../core/runbook/params';
import { secretNames } from './notebookRunner';
import type { ParameterStore } from './parameterStore';
import { promptRunbookParameter } from './prompts';

/**
 * "Set Parameters…": a list of the runbook's parameters with their current values; picking one asks
 * for its new value, and the list comes back until the person closes it.
 */
export async function editParameters(store: ParameterStore, notebook: vscode.NotebookDocument): Promise<void> {
  const frontmatter = (notebook.metadata.lifeboat as { frontmatter?: Record<string, unknown> | null } | undefined)?.frontmatter ?? null;
  const { definitions, problems } = readParamDefinitions(frontmatter, vscode.workspace.asRelativePath(notebook.uri));
  if (problems.length > 0) throw new Error(`the runbook's parameters have problems: ${problems.map((problem) => `${problem.field ?? ''} ${problem.message}`).join('; ')}`);
  const names = Object.keys(definitions);
  if (names.length === 0) {
    void vscode.window.showInformationMessage('This runbook declares no parameters.');
    return;
  }
  const secrets = secretNames(definitions);
  for (;;) {
    const values = store.get(notebook.uri);
    const items = names.map((name) => {
      const definition = definitions[name];
      const value = values[name];
      const shown = value === undefined ? (definition?.default === undefined ? 'not set' : `${String(definition.default)} (default)`) : secrets.has(name) ? '••••••' : String(value);
      return { label: name, description: shown, detail: definition?.description };
    });
    const picked = await vscode.window.showQuickPick(items, { title: 'Runbook parameters', placeHolder: 'Pick a parameter to change it; Escape when done' });
    const definition = picked ? definitions[picked.label] : undefined;
    if (!picked || !definition) return;
    const value = await promptRunbookParameter(picked.label, definition, values[picked.label]);
    if (value !== undefined) await store.update(notebook.uri, { [picked.label]: value }, secrets);
  }
}
