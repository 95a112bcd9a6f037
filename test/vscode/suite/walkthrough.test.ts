import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { loadInventory } from '../../../src/core/workspace';
import type { LifeboatApi, WalkthroughContext, WalkthroughProgress } from '../../../src/vscode/api';
import { STARTER_INVENTORY } from '../../../src/vscode/walkthrough';
import { fixtureUri, readText, waitFor } from './workspace';

const EXTENSION_ID = 'lifeboat.lifeboat';

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string };
  completionEvents: string[];
}

interface Manifest {
  contributes: {
    walkthroughs: { id: string; title: string; steps: Step[] }[];
    viewsWelcome: { view: string; contents: string; when: string }[];
    views: Record<string, { id: string }[]>;
  };
}

/** The context keys of a `when` clause or an `onContext:` expression. */
function contextKeys(expression: string): string[] {
  return expression
    .split(/&&|\|\||!|\(|\)|==|!=|\s/)
    .map((part) => part.trim())
    .filter((part) => /^[a-zA-Z][\w.]*$/.test(part) && part !== 'true' && part !== 'false');
}

/** The commands a Markdown text links to (`command:id` or `command:id?arguments`). */
function linkedCommands(markdown: string): string[] {
  return [...markdown.matchAll(/\(command:([\w.-]+)(?:\?[^)]*)?\)/g)].map((match) => match[1] ?? '');
}

suite('Get Started walkthrough', () => {
  let extension: vscode.Extension<LifeboatApi>;
  let walkthrough: WalkthroughProgress;
  let manifest: Manifest;

  suiteSetup(async () => {
    const found = vscode.extensions.getExtension<LifeboatApi>(EXTENSION_ID);
    assert.ok(found, `${EXTENSION_ID} is not loaded`);
    extension = found;
    walkthrough = (await extension.activate()).walkthrough;
    manifest = extension.packageJSON as Manifest;
    await waitFor('the walkthrough context keys to be set at activation', () => walkthrough.context !== undefined);
  });

  /** Waits until the context keys hold `expected` (file watcher events can take seconds on a loaded machine). */
  async function contextBecomes(expected: Partial<WalkthroughContext>, what: string): Promise<void> {
    await waitFor(what, () => Object.entries(expected).every(([key, value]) => walkthrough.context?.[key as keyof WalkthroughContext] === value), 30_000);
  }

  test('is contributed with its five steps, each completing on a registered command, a contributed view or a context key the extension sets', async () => {
    const [contributed, ...others] = manifest.contributes.walkthroughs;
    assert.ok(contributed);
    assert.equal(others.length, 0);
    assert.equal(contributed.id, 'firstBackup');
    assert.deepEqual(
      contributed.steps.map((step) => step.id),
      ['createInventory', 'addHostOrStore', 'backUp', 'openBackups', 'restore'],
    );

    const commands = new Set(await vscode.commands.getCommands(true));
    const views = new Set(Object.values(manifest.contributes.views).flat().map((view) => view.id));
    const keysSet = new Set(Object.keys(walkthrough.context ?? {}));
    for (const step of contributed.steps) {
      assert.ok(step.completionEvents.length > 0, `${step.id} completes on an event, not on a click of its button`);
      for (const event of step.completionEvents) {
        const [kind, argument = ''] = event.split(/:(.*)/s);
        if (kind === 'onCommand') assert.ok(commands.has(argument), `${step.id}: ${argument} is not a registered command`);
        else if (kind === 'onView') assert.ok(views.has(argument), `${step.id}: ${argument} is not a contributed view`);
        else if (kind === 'onContext') {
          const keys = contextKeys(argument);
          assert.ok(keys.length > 0, `${step.id}: ${event} names no context key`);
          for (const key of keys) assert.ok(keysSet.has(key), `${step.id}: the extension does not set ${key}`);
        } else assert.fail(`${step.id}: unexpected completion event ${event}`);
      }
      for (const command of linkedCommands(step.description)) assert.ok(commands.has(command), `${step.id} links to ${command}, which is not registered`);

      assert.ok(step.media.markdown, `${step.id} has Markdown media`);
      const media = vscode.Uri.joinPath(extension.extensionUri, step.media.markdown);
      const text = await readText(media);
      for (const [, image] of text.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) {
        await vscode.workspace.fs.stat(vscode.Uri.joinPath(media, '..', image ?? '')).then(undefined, () => assert.fail(`${step.media.markdown} shows ${image}, which is not there`));
      }
    }
  });

  test('the welcome views of the Backups view lead into the walkthrough by its full id, and show on context keys the extension sets', async () => {
    const [contributed] = manifest.contributes.walkthroughs;
    assert.ok(contributed);
    const commands = new Set(await vscode.commands.getCommands(true));
    const welcomes = manifest.contributes.viewsWelcome.filter((welcome) => welcome.view === 'lifeboat.backups');
    assert.ok(welcomes.length > 0);
    for (const welcome of welcomes) {
      const link = /\(command:workbench\.action\.openWalkthrough\?([^)]+)\)/.exec(welcome.contents);
      assert.ok(link?.[1], `the welcome view shown when ${welcome.when} does not open the walkthrough`);
      assert.equal(JSON.parse(decodeURIComponent(link[1])), `${extension.id}#${contributed.id}`);
      for (const command of linkedCommands(welcome.contents)) assert.ok(commands.has(command), `the welcome view links to ${command}, which is not registered`);
      const keys = contextKeys(welcome.when);
      assert.ok(keys.length > 0);
      // lifeboat.hasLocations is the Backups view's own key (test/vscode/suite/views.test.ts).
      for (const key of keys) assert.ok(key in (walkthrough.context ?? {}) || key === 'lifeboat.hasLocations', `the extension does not set ${key}`);
    }
  });

  test('the context keys follow lifeboat.yaml: a host or a store sets lifeboat.hasHostOrStore, taking it out clears it, deleting the file clears lifeboat.hasInventory', async function () {
    this.timeout(180_000);
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    const write = (text: string) => vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(text));
    try {
      await contextBecomes({ 'lifeboat.hasInventory': true, 'lifeboat.hasHostOrStore': false }, 'the fixture inventory (locations only) to show');
      await write(`hosts:\n  nas:\n    host: 127.0.0.1\n${original}`);
      await contextBecomes({ 'lifeboat.hasHostOrStore': true }, 'a host to set lifeboat.hasHostOrStore');
      await write(original);
      await contextBecomes({ 'lifeboat.hasHostOrStore': false }, 'removing the host to clear lifeboat.hasHostOrStore');
      await write(`stores:\n  offsite:\n    bucket: backups\n${original}`);
      await contextBecomes({ 'lifeboat.hasHostOrStore': true }, 'a store to set lifeboat.hasHostOrStore');
      // A file that does not load names nothing yet.
      await write('hosts: [nas\n');
      await contextBecomes({ 'lifeboat.hasInventory': true, 'lifeboat.hasHostOrStore': false }, 'a broken inventory to clear lifeboat.hasHostOrStore');
      await vscode.workspace.fs.delete(inventory);
      await contextBecomes({ 'lifeboat.hasInventory': false, 'lifeboat.hasHostOrStore': false }, 'deleting lifeboat.yaml to clear lifeboat.hasInventory');
    } finally {
      await write(original);
    }
    await contextBecomes({ 'lifeboat.hasInventory': true }, 'the fixture inventory to be back');
  });

  test('"Open lifeboat.yaml" writes the starter where there is none, which loads with one local location; where there is one it opens it unchanged', async function () {
    this.timeout(120_000);
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    try {
      const opened = await vscode.commands.executeCommand<vscode.Uri | undefined>('lifeboat.openInventory');
      assert.equal(opened?.toString(), inventory.toString());
      assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), inventory.toString());
      assert.equal(await readText(inventory), original, 'an existing lifeboat.yaml was changed');

      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await vscode.workspace.fs.delete(inventory);
      await contextBecomes({ 'lifeboat.hasInventory': false }, 'deleting lifeboat.yaml to clear lifeboat.hasInventory');
      await vscode.commands.executeCommand('lifeboat.openInventory');
      assert.equal(await readText(inventory), STARTER_INVENTORY);
      assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), inventory.toString());
      const starter = await loadInventory(inventory.fsPath, { required: true });
      assert.deepEqual(starter, { locations: { local: { path: 'backups' } } });
      await contextBecomes({ 'lifeboat.hasInventory': true, 'lifeboat.hasHostOrStore': false }, 'the starter to set lifeboat.hasInventory');
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(original));
    }
  });

  test('the starter\'s commented examples, uncommented, are a valid inventory with a host, a store and locations on them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-starter-'));
    try {
      const file = join(dir, 'lifeboat.yaml');
      // Example lines are `# key:` or `#   indented`; prose comments start with a capital or a quote.
      await writeFile(file, STARTER_INVENTORY.replace(/^# (?=[a-z]+:| )/gm, ''));
      const examples = await loadInventory(file, { required: true });
      assert.deepEqual(Object.keys(examples.hosts ?? {}), ['nas']);
      assert.deepEqual(Object.keys(examples.stores ?? {}), ['offsite']);
      assert.deepEqual(Object.keys(examples.locations ?? {}), ['local', 'nas', 'offsite']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
