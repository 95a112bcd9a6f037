import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { fixtureUri } from './workspace';

const EXTENSION_ID = 'lifeboat.lifeboat';

suite('extension', () => {
  test('activates when a runbook is opened and serves the lifeboat-runbook notebook type', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded from extensionDevelopmentPath`);

    // No activation events are declared: VS Code derives `onNotebookSerializer:lifeboat-runbook` from
    // contributes.notebooks, so opening a *.runbook.md file must be what activates the extension.
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
    const declared = new Set((extension.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map((entry) => entry.command));
    const registered = new Set((await vscode.commands.getCommands(true)).filter((command) => command.startsWith('lifeboat.')));
    assert.deepEqual([...declared].filter((command) => !registered.has(command)), [], 'declared but not registered');
    assert.deepEqual([...registered].filter((command) => !declared.has(command)), [], 'registered but not declared');
  });
});
