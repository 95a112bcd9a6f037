import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { fixtureUri } from './workspace';

const EXTENSION_ID = 'lifeboat.lifeboat';

suite('extension', () => {
  test('activates in a workspace with lifeboat.yaml or when a runbook is opened, and serves the lifeboat-runbook notebook type', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded from extensionDevelopmentPath`);

    // The one declared event starts the extension where lifeboat.yaml is (for the face backup status
    // bar item); VS Code derives `onNotebookSerializer:lifeboat-runbook` from contributes.notebooks, so
    // opening a *.runbook.md file anywhere activates it too.
    assert.deepEqual((extension.packageJSON as { activationEvents: string[] }).activationEvents, ['workspaceContains:lifeboat.yaml']);
    const notebook = await vscode.workspace.openNotebookDocument(fixtureUri('unchanged.runbook.md'));
    assert.equal(notebook.notebookType, 'lifeboat-runbook');
    assert.ok(extension.isActive, 'opening a runbook did not activate the extension');
    assert.ok(notebook.cellCount > 0, 'the serializer produced no cells');
  });
});

suite('commands', () => {
  test('every command in package.json is registered, and every registered Lifeboat command is in package.json', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    await extension.activate();
    const { contributes } = extension.packageJSON as { contributes: { commands: { command: string }[]; views: Record<string, { id: string }[]> } };
    const declared = new Set(contributes.commands.map((entry) => entry.command));
    // The workbench adds these for every contributed view once it has a tree (`lifeboat.runs.focus`, …).
    const viewCommands = new Set(
      Object.values(contributes.views)
        .flat()
        .flatMap(({ id }) => ['focus', 'open', 'resetViewLocation', 'toggleVisibility', 'removeView'].map((suffix) => `${id}.${suffix}`)),
    );
    const registered = new Set((await vscode.commands.getCommands(true)).filter((command) => command.startsWith('lifeboat.') && (declared.has(command) || !viewCommands.has(command))));
    assert.deepEqual([...declared].filter((command) => !registered.has(command)), [], 'declared but not registered');
    assert.deepEqual([...registered].filter((command) => !declared.has(command)), [], 'registered but not declared');
  });
});
