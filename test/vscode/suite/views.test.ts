import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { BackupNode, LifeboatApi, LifeboatViews, ModelTreeNode, RunbookNode, RunbooksNode, RunNode } from '../../../src/vscode/api';
import { CLI } from '../../support/paths';
import { ARCHIVES_PER_LOCATION, INVENTORY } from '../fixtures';
import { withPrompts } from './prompts';
import { fixtureUri, outputText, RESULT_MIME, shown, waitFor } from './workspace';

const EXTENSION_ID = 'lifeboat.lifeboat';

function workspaceDir(): string {
  return fixtureUri('lifeboat.yaml').fsPath.replace(/[\\/]lifeboat\.yaml$/, '');
}

/** Resolves at the event's next firing; rejects if it does not fire in time. */
function nextEvent<T>(event: vscode.Event<T>, what: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const subscription = event(() => {
      clearTimeout(timer);
      subscription.dispose();
      resolve();
    });
  });
}

suite('Lifeboat views', () => {
  let views: LifeboatViews;

  suiteSetup(async function () {
    this.timeout(120_000);
    const extension = vscode.extensions.getExtension<LifeboatApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded`);
    views = (await extension.activate()).views;
    assert.ok(views, 'activate() returned no views');
    // Real archives, made by archive.create through the CLI, which also records the run in the workspace.
    const made = spawnSync(process.execPath, [CLI, 'run', fixtureUri('make-archives.runbook.md').fsPath], { cwd: workspaceDir(), encoding: 'utf8' });
    assert.equal(made.status, 0, `the CLI failed to make the archives:\n${made.stderr}`);
    views.backups.refresh();
    views.runs.refresh();
  });

  async function backupRoots(): Promise<BackupNode[]> {
    return views.backups.getChildren();
  }

  async function location(name: string): Promise<ModelTreeNode> {
    const found = (await backupRoots()).find((node): node is ModelTreeNode => node.type === 'node' && node.node.kind === 'location' && node.node.label === name);
    assert.ok(found, `no location ${name} in the Backups view`);
    return found;
  }

  /** The archives listed under a location (no Load more, error or empty node). */
  async function archivesIn(parent: ModelTreeNode): Promise<ModelTreeNode[]> {
    return (await views.backups.getChildren(parent)).filter((node): node is ModelTreeNode => node.type === 'node' && node.node.kind === 'archive');
  }

  /** The archive's file, as the node's facts say. */
  const pathOf = (node: ModelTreeNode) => String(node.node.facts.path);
  const kindOf = (node: BackupNode) => (node.type === 'node' ? node.node.kind : node.type);

  const showBackup = (node: BackupNode) => shown(views.backups.getTreeItem(node));

  test('the Runbooks view lists the workspace runbooks and the bundled ones by title, and opens them as notebooks', async () => {
    const groups = views.runbooks.getChildren();
    assert.ok(Array.isArray(groups));
    assert.deepEqual(groups.map((node) => shown(views.runbooks.getTreeItem(node)).label), ['Workspace', 'Bundled']);

    // By path; a title when the frontmatter has one (the layout fixture's is in CRLF).
    const workspace = (await views.runbooks.getChildren(groups[0])).map((node) => shown(views.runbooks.getTreeItem(node)));
    const descriptions = workspace.map((item) => item.description);
    assert.deepEqual(descriptions, [...descriptions].sort());
    const byPath = new Map(workspace.map((item) => [item.description, item.label]));
    assert.equal(byPath.get('edited.runbook.md'), 'Restore drill', JSON.stringify([...byPath]));
    assert.equal(byPath.get('unchanged.runbook.md'), 'Restore drill');
    assert.equal(byPath.get('make-archives.runbook.md'), 'Make the test archives');

    const bundled = await views.runbooks.getChildren(groups[1]);
    const bundledItems = bundled.map((node) => shown(views.runbooks.getTreeItem(node)));
    for (const title of ['Back up a folder to local archives', 'Restore a local archive', 'Verify local backups']) {
      assert.ok(bundledItems.some((item) => item.label === title), `no bundled runbook titled ${title}`);
    }
    for (const item of [...workspace, ...bundledItems]) assert.equal(item.contextValue, 'runbook', 'Run All is offered inline');

    // A bundled runbook the workspace has a copy of is listed once: the copy, under Workspace.
    const copy = fixtureUri('verify-backups.runbook.md');
    const bundledVerify = bundled.find((node): node is RunbookNode => node.kind === 'runbook' && node.location === 'verify-backups.runbook.md');
    assert.ok(bundledVerify);
    await vscode.workspace.fs.copy(bundledVerify.uri, copy);
    try {
      const listed = async (group: RunbooksNode | undefined) => (await views.runbooks.getChildren(group)).map((node) => shown(views.runbooks.getTreeItem(node))).filter((entry) => entry.label === 'Verify local backups');
      assert.deepEqual((await listed(groups[0])).map((entry) => entry.description), ['verify-backups.runbook.md']);
      assert.deepEqual(await listed(groups[1]), [], 'listed again under Bundled');
    } finally {
      await vscode.workspace.fs.delete(copy);
    }

    const restore = bundled[bundledItems.findIndex((entry) => entry.description === 'local-restore.runbook.md')];
    assert.ok(restore);
    const item = views.runbooks.getTreeItem(restore);
    assert.equal(item.command?.command, 'lifeboat.runbooks.open');
    const notebook = await vscode.commands.executeCommand<vscode.NotebookDocument | undefined>(item.command.command, ...(item.command.arguments ?? []));
    assert.equal(notebook?.notebookType, 'lifeboat-runbook');
    assert.match(notebook.uri.path, /\/runbooks\/local-restore\.runbook\.md$/);
  });

  test('a new runbook shows up by itself, Run All runs all its cells, and the run shows up in the Runs view', async function () {
    // File watcher events can take seconds to arrive on a loaded machine.
    this.timeout(90_000);
    const uri = fixtureUri('hello.runbook.md');
    const listed = nextEvent(views.runbooks.onDidChangeTreeData, 'the Runbooks view to notice the new file');
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode('---\ntitle: Say hello\n---\n\n```bash\necho hello from run all\n```\n\n```bash\necho second cell\n```\n'));
    await listed;
    const [workspaceGroup] = views.runbooks.getChildren() as RunbooksNode[];
    const node = (await views.runbooks.getChildren(workspaceGroup)).find((candidate): candidate is RunbookNode => candidate.kind === 'runbook' && candidate.uri.toString() === uri.toString());
    assert.ok(node, 'the new runbook is not listed');
    assert.equal(shown(views.runbooks.getTreeItem(node)).label, 'Say hello');

    const recorded = nextEvent(views.runs.onDidChangeTreeData, 'the Runs view to notice the new run');
    await vscode.commands.executeCommand('lifeboat.runbooks.runAll', node);
    const notebook = vscode.workspace.notebookDocuments.find((candidate) => candidate.uri.toString() === uri.toString());
    assert.ok(notebook, 'Run All did not open the runbook');
    const [first, second] = notebook.getCells().filter((cell) => cell.kind === vscode.NotebookCellKind.Code);
    assert.ok(first && second);
    await waitFor('both cells to run', () => second.executionSummary?.success !== undefined);
    assert.match(outputText(first), /hello from run all/);
    assert.match(outputText(second), /second cell/);

    await recorded;
    const run = (await views.runs.getChildren()).find((candidate): candidate is RunNode => candidate.kind === 'run' && candidate.run.runbook === 'hello.runbook.md');
    assert.ok(run, 'the run is not in the Runs view');
    assert.equal(run.run.outcome, 'succeeded');
    assert.equal(run.run.steps.length, 2);
  });

  test('the Backups view shows each location, and archives newest first with size, age and verified state', async () => {
    const rootNodes = await backupRoots();
    const roots = rootNodes.map(showBackup);
    assert.deepEqual(
      rootNodes.map((node) => [showBackup(node).label, kindOf(node), (node as ModelTreeNode).node.facts.type]),
      [
        ['local', 'location', 'local'],
        ['paged', 'location', 'local'],
        ['single', 'location', 'local'],
        ['broken', 'location', 'local'],
        ['nas', 'location', 'host'],
      ],
    );
    assert.equal(roots[4]?.description, 'nas:/srv/backups');
    assert.equal(views.backups.hasLocations, true, 'the welcome view would show');

    const archives = await archivesIn(await location('local'));
    assert.equal(archives.length, ARCHIVES_PER_LOCATION.local);
    assert.deepEqual(archives.map((node) => node.node.label.split('-')[0]).sort(), ['app', 'db']);
    const dates = archives.map((node) => String(node.node.facts.date));
    assert.deepEqual(dates, [...dates].sort().reverse(), 'newest first');
    for (const node of archives) {
      const item = showBackup(node);
      assert.match(item.label, /^(app|db)-\d{8}-\d{6}\.tar\.gz$/);
      assert.match(item.description, /^\d+(\.\d)? (B|KiB) · \d+ s ago$/);
      assert.equal(node.node.facts.verified, 'ok', 'archive.create verifies what it writes');
      assert.equal(item.contextValue, 'kind:archive op:verify op:restore op:delete');
      assert.ok(item.tooltip.includes(pathOf(node)), item.tooltip);
      assert.match(item.tooltip, /verified \d+ s ago/);
      assert.match(item.tooltip, /sha256 `[0-9a-f]{64}`; \.sha256 file present/);
    }
  });

  test('a location shown before a refresh still lists its archives when expanded after it', async () => {
    const shownBefore = await location('local');
    views.backups.refresh();
    const archives = await archivesIn(shownBefore);
    assert.equal(archives.length, ARCHIVES_PER_LOCATION.local);
  });

  test('Load more shows the next page of a location with more archives than a page', async () => {
    const settings = vscode.workspace.getConfiguration('lifeboat');
    await settings.update('backups.pageSize', 5, vscode.ConfigurationTarget.Workspace);
    try {
      views.backups.refresh();
      const paged = await location('paged');
      const firstPage = await views.backups.getChildren(paged);
      assert.deepEqual(firstPage.map(kindOf), ['archive', 'archive', 'archive', 'archive', 'archive', 'loadMore']);
      const more = firstPage[5]!;
      assert.deepEqual([showBackup(more).label, showBackup(more).description, showBackup(more).command], ['Load more…', `5 of ${ARCHIVES_PER_LOCATION.paged} shown`, 'lifeboat.backups.loadMore']);

      await vscode.commands.executeCommand('lifeboat.backups.loadMore', more);
      const all = await views.backups.getChildren(paged);
      assert.deepEqual(all.map(kindOf), Array<string>(ARCHIVES_PER_LOCATION.paged).fill('archive'));
      const names = (all as ModelTreeNode[]).map((node) => node.node.label);
      assert.equal(new Set(names).size, ARCHIVES_PER_LOCATION.paged, 'no archive shown twice');
    } finally {
      await settings.update('backups.pageSize', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('a location that cannot be listed shows an error node that opens the log', async () => {
    const [node, ...rest] = await views.backups.getChildren(await location('broken'));
    assert.equal(rest.length, 0);
    const item = showBackup(node!);
    assert.equal(item.label, 'Failed to load (click for log)');
    assert.equal(item.command, 'lifeboat.showLog');
    assert.match(item.description, /listing locations\/broken failed: archive folder .*missing-folder does not exist/);
  });

  test('the welcome view shows when lifeboat.yaml names no location', async () => {
    const inventory = fixtureUri('lifeboat.yaml');
    await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode('locations: {}\n'));
    try {
      views.backups.refresh();
      assert.deepEqual(await backupRoots(), []);
      assert.equal(views.backups.hasLocations, false);
    } finally {
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(INVENTORY));
      views.backups.refresh();
    }
    assert.equal((await backupRoots()).length, 5);
    assert.equal(views.backups.hasLocations, true);
  });

  /**
   * An older archive of the same prefix beside `local`'s newest, copied from it (`corrupt` flips a
   * byte, so its checksum no longer matches); removed when the test ends.
   */
  async function withOlderCopy(name: string, options: { corrupt: boolean }, body: (copy: ModelTreeNode) => Promise<void>): Promise<void> {
    const [newest] = await archivesIn(await location('local'));
    assert.ok(newest);
    const source = vscode.Uri.file(pathOf(newest));
    const copy = vscode.Uri.joinPath(source, '..', name);
    const bytes = await vscode.workspace.fs.readFile(source);
    const middle = bytes.length >> 1;
    if (options.corrupt) bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
    await vscode.workspace.fs.writeFile(copy, bytes);
    await vscode.workspace.fs.copy(vscode.Uri.file(`${pathOf(newest)}.sha256`), vscode.Uri.file(`${copy.fsPath}.sha256`));
    try {
      views.backups.refresh();
      // Listed anew; a refresh of the whole view landing meanwhile (lifeboat.yaml seen changing by an earlier test) makes it list once more.
      let node: ModelTreeNode | undefined;
      for (const deadline = Date.now() + 5000; !node && Date.now() < deadline; ) {
        node = (await archivesIn(await location('local'))).find((candidate) => candidate.node.label === name);
        if (!node) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(node, `${name} is not shown`);
      await body(node);
    } finally {
      await vscode.workspace.fs.delete(copy);
      await vscode.workspace.fs.delete(vscode.Uri.file(`${copy.fsPath}.sha256`));
      views.backups.refresh();
    }
  }

  test('Verify runs archive.verify and the view shows the outcome it recorded', async () => {
    await withOlderCopy('app-20190101-000000.tar.gz', { corrupt: true }, async (node) => {
      assert.equal(node.node.facts.verified, 'never');
      const outcome = await vscode.commands.executeCommand<{ status: string; error?: string } | undefined>('lifeboat.backups.verify', node);
      assert.equal(outcome?.status, 'failed', JSON.stringify(outcome));
      assert.match(outcome.error ?? '', /1 of 1 archive\(s\) failed verification: app-20190101-000000\.tar\.gz \(not readable: /);
      // The command lists the location again: the archive now shows as failed, in its colour.
      assert.ok(node.parent);
      const after = (await archivesIn(node.parent)).find((candidate) => candidate.node.label === node.node.label);
      assert.ok(after);
      const item = views.backups.getTreeItem(after);
      assert.equal(after.node.facts.verified, 'failed');
      assert.deepEqual([(item.iconPath as vscode.ThemeIcon).id, (item.iconPath as vscode.ThemeIcon).color?.id], ['error', 'testing.iconFailed']);
    });
  });

  test('Restore… opens the restore runbook with the archive bound, so its listing step selects that archive', async () => {
    await withOlderCopy('app-20200101-000000.tar.gz', { corrupt: false }, async (node) => {
      // Without a copy in the workspace, the bundled runbook is opened.
      const bundled = await vscode.commands.executeCommand<vscode.Uri>('lifeboat.backups.restore', node);
      assert.match(bundled.path, /\/runbooks\/local-restore\.runbook\.md$/);
      assert.equal(vscode.workspace.getWorkspaceFolder(bundled), undefined);
      const notebook = vscode.workspace.notebookDocuments.find((candidate) => candidate.uri.toString() === bundled.toString());
      assert.equal(notebook?.notebookType, 'lifeboat-runbook');

      // Only the listing step runs (it only reads); the newest `app` archive is another one.
      await vscode.commands.executeCommand('lifeboat.setParameters', { notebook: bundled, values: { target: 'restored' } });
      const index = notebook.getCells().findIndex((cell) => cell.document.getText().includes('action: archive.list'));
      const listing = notebook.cellAt(index);
      await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: index, end: index + 1 }], document: bundled });
      await waitFor('the listing step to end', () => listing.executionSummary?.success !== undefined);
      assert.equal(listing.executionSummary?.success, true, outputText(listing));
      const result = JSON.parse(outputText(listing, RESULT_MIME)) as { selected?: { name: string }; archives: { name: string }[] };
      assert.equal(result.selected?.name, 'app-20200101-000000.tar.gz');
      assert.notEqual(result.archives[0]?.name, 'app-20200101-000000.tar.gz', 'the bound archive is not simply the newest');

      // A bundled runbook runs against the workspace: its run is recorded there, not beside the runbook.
      assert.equal(existsSync(join(dirname(bundled.fsPath), '.lifeboat')), false, 'a run record was written into the extension');
      views.runs.refresh();
      const runs = await views.runs.getChildren();
      assert.ok(runs.some((candidate) => candidate.kind === 'run' && candidate.run.runbook === bundled.fsPath), 'the run is not in the workspace history');

      // The workspace's own copy, when there is one, is preferred.
      const workspaceCopy = fixtureUri('local-restore.runbook.md');
      await vscode.workspace.fs.copy(bundled, workspaceCopy);
      const opened = await vscode.commands.executeCommand<vscode.Uri>('lifeboat.backups.restore', node);
      assert.equal(opened.toString(), workspaceCopy.toString());
    });
  });

  test('Delete refuses the last verified archive of a location and leaves it in place', async () => {
    const [node, ...rest] = await archivesIn(await location('single'));
    assert.equal(rest.length, 0);
    assert.equal(node?.node.kind, 'archive');
    const outcome = await vscode.commands.executeCommand<{ status: string; error?: string } | undefined>('lifeboat.backups.delete', node);
    assert.equal(outcome?.status, 'failed', JSON.stringify(outcome));
    assert.match(outcome.error ?? '', /it is the last verified archive in .*single, and Lifeboat never deletes the last good backup/);
    assert.ok(existsSync(pathOf(node)));
    assert.ok(existsSync(`${pathOf(node)}.sha256`));
    assert.equal((await views.backups.getChildren(await location('single'))).length, 1);
  });

  test('Delete on an archive that is not the last good one runs only after its modal, then the location is listed again', async () => {
    const [newest] = await archivesIn(await location('local'));
    assert.ok(newest);
    const name = 'app-20180101-000000.tar.gz';
    const copy = vscode.Uri.joinPath(vscode.Uri.file(pathOf(newest)), '..', name);
    await vscode.workspace.fs.copy(vscode.Uri.file(pathOf(newest)), copy);
    try {
      views.backups.refresh();
      const node = (await archivesIn(await location('local'))).find((candidate) => candidate.node.label === name);
      assert.ok(node, `${name} is not shown`);
      assert.deepEqual(node.node.operations.map((operation) => [operation.id, operation.kind === 'action' && operation.destructive]), [['verify', false], ['restore', false], ['delete', true]]);

      const dismissed = await withPrompts(() => undefined, () => undefined, () => vscode.commands.executeCommand<{ status: string } | undefined>('lifeboat.backups.delete', node));
      assert.equal(dismissed.result?.status, 'refused');
      assert.match(dismissed.messages.find((message) => message.modal)?.detail ?? '', new RegExp(name.replace(/\./g, '\\.')));
      assert.ok(existsSync(copy.fsPath), 'nothing is deleted without Run');

      const confirmed = await withPrompts(() => undefined, (message) => (message.modal ? 'Run' : undefined), () => vscode.commands.executeCommand<{ status: string } | undefined>('lifeboat.backups.delete', node));
      assert.equal(confirmed.result?.status, 'succeeded');
      assert.equal(existsSync(copy.fsPath), false);
      assert.equal((await archivesIn(await location('local'))).some((candidate) => candidate.node.label === name), false, 'the location is listed again');
    } finally {
      if (existsSync(copy.fsPath)) await vscode.workspace.fs.delete(copy);
      views.backups.refresh();
    }
  });

  test('the filter in the title bar shows the nodes whose name contains its text, and what is under a match', async () => {
    try {
      views.backups.setFilter('DB-');
      assert.equal(views.backups.filter, 'DB-');
      assert.equal((await backupRoots()).length, 5, 'the roots stay, so what matches under them can be reached');
      const local = await archivesIn(await location('local'));
      assert.ok(local.length > 0);
      assert.ok(local.every((node) => node.node.label.startsWith('db-')), local.map((node) => node.node.label).join(', '));
      assert.equal((await archivesIn(await location('single'))).length, 0);

      views.backups.setFilter('paged');
      const paged = await location('paged');
      assert.equal((await views.backups.getChildren(paged)).filter((node) => node.type === 'node').length, Math.min(50, ARCHIVES_PER_LOCATION.paged), 'under a matching node nothing is filtered');
    } finally {
      views.backups.setFilter(undefined);
    }
    assert.equal(views.backups.filter, undefined);
    assert.equal((await archivesIn(await location('local'))).length, ARCHIVES_PER_LOCATION.local);
  });

  test('the Runs view shows the recorded run with its steps, and opens it as a Markdown document', async () => {
    const runs = await views.runs.getChildren();
    const made = runs.find((node): node is RunNode => node.kind === 'run' && node.run.runbook === 'make-archives.runbook.md');
    assert.ok(made, `no run of make-archives.runbook.md among ${runs.length} node(s)`);
    const runItem = views.runs.getTreeItem(made);
    const run = shown(runItem);
    // The runbook's title, not its path; the outcome an icon before it, so a narrow view cuts off neither.
    assert.equal(run.label, 'Make the test archives');
    assert.equal((runItem.iconPath as vscode.ThemeIcon).id, 'pass-filled');
    assert.match(run.description, /^succeeded · \d+ s ago$/);
    assert.match(run.tooltip, /^Make the test archives: succeeded\nmake-archives\.runbook\.md\n/);
    assert.equal(run.command, 'lifeboat.runs.open');

    const total = ARCHIVES_PER_LOCATION.local + ARCHIVES_PER_LOCATION.paged + ARCHIVES_PER_LOCATION.single;
    const steps = (await views.runs.getChildren(made)).map((node) => shown(views.runs.getTreeItem(node)));
    assert.equal(steps.length, total);
    assert.equal(steps[0]?.label, 'Cell 2: archive.create');
    for (const step of steps) assert.match(step.description, /^succeeded · \d+(\.\d)? (ms|s)$/);

    const document = await vscode.commands.executeCommand<vscode.TextDocument>('lifeboat.runs.open', made);
    assert.equal(document.uri.scheme, 'lifeboat-run');
    const text = document.getText();
    assert.match(text, /^# make-archives\.runbook\.md: succeeded\n/);
    assert.equal(text.match(/^## Cell \d+: archive\.create, succeeded$/gm)?.length, total);
    assert.match(text, /"prefix": "page7"/);
  });
});
