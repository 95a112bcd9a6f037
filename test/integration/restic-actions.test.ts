import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtinBrowsers } from '../../src/actions';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import type { ResticBackupActionResult } from '../../src/actions/restic/backup';
import type { ResticDiffActionResult } from '../../src/actions/restic/check';
import type { ResticForgetActionResult } from '../../src/actions/restic/forget';
import type { LsResult, SnapshotsResult } from '../../src/actions/restic/inspect';
import { listFolder } from '../../src/actions/restic/listing';
import { openRepository } from '../../src/actions/restic/repository';
import { snapshotTreeIndex } from '../../src/actions/restic/treeIndex';
import { ResticRepository } from '../../src/clients/restic';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import type { ActionContext, Inventory, ProgressUpdate } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode } from '../../src/core/browse/node';
import { assertListedUnder } from '../support/browseNodes';
import { planAction, registry, runAction } from '../support/resticActions';
import { REPO_ROOT } from '../support/paths';
import { whileResticHoldsLock } from '../support/resticLock';

const PASSWORD = 'hunter2 with spaces';
const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: unknown[] } };

async function writeSource(root: string): Promise<void> {
  await mkdir(path.join(root, 'photos', '2026', 'january'), { recursive: true });
  await writeFile(path.join(root, 'photos', '2026', 'january', 'cat.jpg'), 'meow');
  await writeFile(path.join(root, 'photos', '2026', 'dog.jpg'), 'woof');
  await writeFile(path.join(root, 'notes.txt'), 'version 1\n');
  await writeFile(path.join(root, 'scratch.tmp'), 'excluded');
  await mkdir(path.join(root, 'many'));
  for (let index = 0; index < 30; index++) await writeFile(path.join(root, 'many', `file-${String(index).padStart(2, '0')}.txt`), `${index}`);
}

describe('restic actions and browser on a local repository (real restic)', function () {
  this.timeout(120_000);
  let work: string;
  let source: string;
  let ctx: ActionContext;
  let inventory: Inventory;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-restic-actions-'));
    source = path.join(work, 'source');
    await writeSource(source);
    inventory = { repositories: { home: { repository: path.join(work, 'repo'), password: 'secret:restic_home' } } } as Inventory;
    ctx = createActionContext({ workspaceDir: work, inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_RESTIC_HOME: PASSWORD }) });
    await new ResticRepository({ repository: path.join(work, 'repo'), password: PASSWORD }).init();
  });
  after(async () => {
    await ctx?.clients.disposeAll();
    await rm(work, { recursive: true, force: true });
  });

  it('backs up with progress, excludes and tags, and lists snapshots newest first saying which restic ran', async () => {
    const updates: ProgressUpdate[] = [];
    const progressCtx = { ...ctx, progress: { report: (update: ProgressUpdate) => updates.push(update) } };
    const first = await runAction<ResticBackupActionResult>('restic.backup', { repository: 'home', paths: [source], excludes: ['*.tmp'], tags: ['nightly'], hostname: 'nas' }, progressCtx);
    assert.equal(first.partial, false);
    assert.ok(first.snapshot);
    assert.match(first.restic, /^restic \d+\.\d+\.\d+$/);
    assert.ok(updates.some((update) => update.bytes !== undefined));
    await writeFile(path.join(source, 'notes.txt'), 'version 2\n');
    await writeFile(path.join(source, 'added.txt'), 'new');
    const second = await runAction<ResticBackupActionResult>('restic.backup', { repository: 'home', paths: [source], excludes: ['*.tmp'], tags: ['nightly'], hostname: 'nas' }, ctx);
    await runAction('restic.backup', { repository: 'home', paths: [path.join(source, 'photos')], tags: ['photos'], hostname: 'laptop' }, ctx);

    const all = await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home' }, ctx);
    assert.equal(all.snapshots.length, 3);
    assert.ok(all.snapshots[0]!.time >= all.snapshots[1]!.time && all.snapshots[1]!.time >= all.snapshots[2]!.time, 'newest first');
    const nightly = await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home', host: 'nas', tags: ['nightly'] }, ctx);
    assert.deepEqual(nightly.snapshots.map((snapshot) => snapshot.id.slice(0, 8)), [second.snapshot!.slice(0, 8), first.snapshot!.slice(0, 8)]);
    // restic 0.14 records no size or file count in a snapshot: left out, never made up.
    assert.equal(nightly.snapshots[0]!.bytes, undefined);
    const photos = await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home', paths: [path.join(source, 'photos')] }, ctx);
    assert.deepEqual(photos.snapshots.map((snapshot) => snapshot.hostname), ['laptop']);
  });

  it('lists one folder level at a time, paged, through the action and the browse model', async () => {
    const folder = path.join(source, 'many');
    const page = await runAction<LsResult>('restic.ls', { repository: 'home', snapshot: 'latest', path: path.join(source), limit: 3 }, { ...ctx });
    // `latest` is the photos snapshot of laptop: its tree starts at / and holds the source's folders down to photos.
    assert.ok(page.total >= 1);
    const nightly = (await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home', tags: ['nightly'] }, ctx)).snapshots[0]!;
    const first = await runAction<LsResult>('restic.ls', { repository: 'home', snapshot: nightly.shortId, path: folder, limit: 10 }, ctx);
    assert.equal(first.total, 30);
    assert.deepEqual(first.entries.map((entry) => entry.name), Array.from({ length: 10 }, (_, index) => `file-${String(index).padStart(2, '0')}.txt`));
    assert.equal(first.next, 10);
    const last = await runAction<LsResult>('restic.ls', { repository: 'home', snapshot: nightly.shortId, path: folder, offset: 25, limit: 10 }, ctx);
    assert.equal(last.entries.length, 5);
    assert.equal(last.next, undefined);
    const top = await runAction<LsResult>('restic.ls', { repository: 'home', snapshot: nightly.id, path: source }, ctx);
    assert.deepEqual(top.entries.map((entry) => `${entry.name}:${entry.type}`), ['many:dir', 'photos:dir', 'added.txt:file', 'notes.txt:file'], 'folders first, one level only, the excluded file absent');
    await assert.rejects(runAction('restic.ls', { repository: 'home', snapshot: nightly.id, path: path.join(source, 'nowhere') }, ctx), /has no \//);
    const alone = await runAction<LsResult>('restic.ls', { repository: 'home', snapshot: nightly.id, path: path.join(source, 'notes.txt') }, ctx);
    assert.deepEqual(alone.entries.map((entry) => entry.path), [path.join(source, 'notes.txt')]);

    const model = new BrowseModel(builtinBrowsers, registry, 'lifeboat.yaml');
    const root = model.roots(ctx).find((node) => node.path === 'restic/home');
    assert.ok(root);
    assert.ok(root.operations.some((operation) => operation.id === 'check'));
    const snapshots = assertListedUnder('restic/home', await model.children('restic/home', { limit: 2 }, ctx));
    assert.equal(snapshots.nodes.length, 2);
    assert.equal(snapshots.total, 3);
    assert.ok(snapshots.next);
    const filtered = await model.children('restic/home', { limit: 10, filter: 'laptop' }, ctx);
    assert.equal(filtered.nodes.length, 1);
    const snapshotNode = (await model.children('restic/home', { limit: 10, filter: nightly.shortId }, ctx)).nodes[0]!;
    assert.equal(snapshotNode.kind, 'restic.snapshot');
    assert.deepEqual(snapshotNode.operations.map((operation) => operation.id), ['restore', 'diff', 'forget']);
    const forget = snapshotNode.operations.find((operation) => operation.id === 'forget');
    assert.ok(forget?.kind === 'action' && forget.destructive);
    assert.deepEqual(forget.params, { repository: 'home', snapshots: [nightly.id] });

    // Down the tree one level per expand, to the folder of 30 files, paged and filtered.
    let at = snapshotNode.path;
    for (const segment of source.split('/').filter(Boolean)) {
      const page = assertListedUnder(at, await model.children(at, { limit: 100 }, ctx));
      const next = page.nodes.find((node) => node.label === segment);
      assert.ok(next, `${segment} under ${at}: ${page.nodes.map((node) => node.label).join(', ')}`);
      assert.equal(next.kind, 'restic.folder');
      at = next.path;
    }
    const many = (await model.children(at, { limit: 100 }, ctx)).nodes.find((node) => node.label === 'many')!;
    const files = assertListedUnder(many.path, await model.children(many.path, { limit: 12 }, ctx));
    assert.equal(files.nodes.length, 12);
    assert.equal(files.total, 30);
    const rest = await model.children(many.path, { limit: 100, cursor: files.next }, ctx);
    assert.equal(rest.nodes.length, 18);
    const only = await model.children(many.path, { limit: 100, filter: 'file-2' }, ctx);
    assert.equal(only.nodes.length, 10);
    const file = only.nodes[0]!;
    assert.equal(file.kind, 'restic.file');
    assert.deepEqual(file.operations[0], { kind: 'runbook', id: 'restore', label: 'Restore…', runbook: 'restic-browse-restore.runbook.md', params: { repository: 'home', snapshot: nightly.id, path: path.join(source, 'many', 'file-20.txt') } });
    // The whole tree, read once in the background from the first folder opened, lists each folder as restic does.
    const session = { ctx, inventoryFile: 'lifeboat.yaml', readAhead: true, cached: <Value>(_key: string, load: () => Promise<Value>) => load() };
    const index = await snapshotTreeIndex(session, snapshotNode.path, await openRepository(ctx, 'home'));
    assert.ok(index);
    await index.read(await openRepository(ctx, 'home'), nightly.id);
    for (const folderPath of ['/', source, path.join(source, 'many'), path.join(source, 'photos', '2026')]) {
      const fromRestic = await listFolder(await openRepository(ctx, 'home'), nightly.id, folderPath, ctx.signal);
      assert.deepEqual(index.folder(folderPath)?.map((node) => node.path), fromRestic.entries.map((node) => node.path), folderPath);
    }
    assert.equal(index.folder(path.join(source, 'notes.txt')), undefined, 'a file is no folder');
    const notASnapshot = await model.children('restic/home/--help', { limit: 10 }, ctx);
    assert.equal(notASnapshot.nodes[0]?.kind, 'error');
  });

  it('plans a restore file by file, naming what it creates and what it overwrites, then restores exactly that', async () => {
    const nightly = (await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home', tags: ['nightly'] }, ctx)).snapshots[0]!;
    const target = path.join(work, 'restore-into');
    const photos = path.join(source, 'photos');
    await mkdir(path.join(target, photos, '2026'), { recursive: true });
    await writeFile(path.join(target, photos, '2026', 'dog.jpg'), 'an older dog');
    const plan = await planAction('restic.restore', { repository: 'home', snapshot: nightly.id, paths: [photos], target }, ctx);
    assert.equal(plan.destructive, true);
    const fileOperations = plan.operations.filter((operation) => operation.detail === 'file').map((operation) => `${operation.kind} ${operation.target}`);
    assert.deepEqual(fileOperations.sort(), [`create ${path.join(target, photos, '2026', 'january', 'cat.jpg')}`, `overwrite ${path.join(target, photos, '2026', 'dog.jpg')}`]);
    assert.match(plan.summary, /1 to overwrite/);
    assert.match(plan.summary, /restic 0\.14\.\d+, planned from ls/);

    await runAction('restic.restore', { repository: 'home', snapshot: nightly.id, paths: [photos], target }, ctx);
    assert.equal(await readFile(path.join(target, photos, '2026', 'dog.jpg'), 'utf8'), 'woof');
    assert.equal(await readFile(path.join(target, photos, '2026', 'january', 'cat.jpg'), 'utf8'), 'meow');
    assert.equal(existsSync(path.join(target, source, 'notes.txt')), false, 'only the folder asked for');

    const again = await planAction('restic.restore', { repository: 'home', snapshot: nightly.id, paths: [path.join(photos, '2026', 'dog.jpg')], target }, ctx);
    assert.deepEqual(again.operations.filter((operation) => operation.detail === 'file').map((operation) => operation.kind), ['overwrite']);
  });

  it('restores a file back into its original place when no target is given', async () => {
    const nightly = (await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home', tags: ['nightly'] }, ctx)).snapshots[0]!;
    await writeFile(path.join(source, 'notes.txt'), 'damaged');
    const plan = await planAction('restic.restore', { repository: 'home', snapshot: nightly.id, paths: [path.join(source, 'notes.txt')] }, ctx);
    assert.deepEqual(plan.operations.filter((operation) => operation.detail === 'file').map((operation) => `${operation.kind} ${operation.target}`), [`overwrite ${path.join(source, 'notes.txt')}`]);
    await runAction('restic.restore', { repository: 'home', snapshot: nightly.id, paths: [path.join(source, 'notes.txt')], target: '' }, ctx);
    assert.equal(await readFile(path.join(source, 'notes.txt'), 'utf8'), 'version 2\n');
  });

  it('walks the palette\'s Restore Files from Snapshot… through the browse model: repository, snapshot, path', async () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.restoreResticFiles');
    assert.ok(command);
    const contributed = (packageJson.contributes.commands as { command: string; title: string }[]).find((entry) => entry.command === command.command);
    assert.equal(contributed?.title, 'Restore Files from Snapshot…');
    const model = new BrowseModel(builtinBrowsers, registry, 'lifeboat.yaml');
    const picked: Record<string, unknown> = {};
    const choices: Record<string, (node: BrowseNode) => boolean> = {
      repository: (node) => node.label === 'home',
      snapshot: (node) => node.facts.hostname === 'laptop',
      paths: () => true,
    };
    for (const step of command.steps) {
      assert.ok(step.kind === 'node');
      const offered = (await model.children(step.under(picked), { limit: 100 }, ctx)).nodes.filter((node) => step.accept?.(node) ?? true);
      const chosen = offered.find(choices[step.param]!);
      assert.ok(chosen, `${step.param}: ${offered.map((node) => node.label).join(', ')}`);
      picked[step.param] = step.value ? step.value(chosen) : chosen.label;
    }
    assert.deepEqual(picked.paths, [`/${source.split('/').filter(Boolean)[0]}`]);
    const into = path.join(work, 'palette-restore');
    const plan = await planAction(command.action, { ...picked, target: into }, ctx);
    assert.ok(plan.operations.some((operation) => operation.target === path.join(into, source, 'photos', '2026', 'dog.jpg') && operation.kind === 'create'), JSON.stringify(plan.operations));
    await runAction(command.action, { ...picked, target: into }, ctx);
    assert.equal(await readFile(path.join(into, source, 'photos', '2026', 'dog.jpg'), 'utf8'), 'woof');
  });

  it('diffs a snapshot with the previous one of the same host and paths', async () => {
    const nightly = (await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home', tags: ['nightly'] }, ctx)).snapshots;
    const diff = await runAction<ResticDiffActionResult>('restic.diff', { repository: 'home', snapshot: nightly[0]!.id }, ctx);
    assert.equal(diff.from, nightly[1]!.id);
    assert.equal(diff.statistics.added.files, 1);
    assert.equal(diff.statistics.changedFiles, 1);
    assert.deepEqual(diff.changes.map((change) => `${change.modifier} ${change.path}`).sort(), [`+ ${path.join(source, 'added.txt')}`, `M ${path.join(source, 'notes.txt')}`]);
    await assert.rejects(runAction('restic.diff', { repository: 'home', snapshot: nightly[1]!.id }, ctx), /nothing to compare/);
  });

  it('plans forget by policy per group, never the newest, and forgets exactly the planned snapshots', async () => {
    const before = (await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home' }, ctx)).snapshots;
    const plan = await planAction('restic.forget', { repository: 'home', keepLast: 1 }, ctx);
    const nightly = before.filter((snapshot) => snapshot.tags.includes('nightly'));
    assert.deepEqual(plan.operations.map((operation) => operation.target), [`snapshot ${nightly[1]!.shortId}`], 'the older nightly goes; the laptop snapshot is its own group');
    assert.equal(plan.destructive, true);
    await assert.rejects(planAction('restic.forget', { repository: 'home', snapshots: [before[0]!.shortId] }, ctx), /refusing to forget snapshot .*newest/);
    await assert.rejects(planAction('restic.forget', { repository: 'home' }, ctx), /policy that keeps some/);
    const forgotten = await runAction<ResticForgetActionResult>('restic.forget', { repository: 'home', keepLast: 1, prune: true }, ctx);
    assert.deepEqual(forgotten.forgotten.map((snapshot) => snapshot.id), [nightly[1]!.id]);
    assert.match(forgotten.pruneReport ?? '', /remaining|repack|delete/i);
    const after = (await runAction<SnapshotsResult>('restic.snapshots', { repository: 'home' }, ctx)).snapshots;
    assert.deepEqual(after.map((snapshot) => snapshot.id).sort(), before.filter((snapshot) => snapshot.id !== nightly[1]!.id).map((snapshot) => snapshot.id).sort());
  });

  it('prunes with restic\'s dry run as the plan, and checks a read-data subset', async () => {
    const plan = await planAction('restic.prune', { repository: 'home' }, ctx);
    assert.equal(plan.destructive, true);
    assert.match(plan.summary, /would|to delete|remaining/i);
    await runAction('restic.prune', { repository: 'home', maxUnused: '0%' }, ctx);
    const check = await runAction<{ ok: boolean; report: string }>('restic.check', { repository: 'home', readDataSubset: '1/2' }, ctx);
    assert.equal(check.ok, true);
    assert.match(check.report, /read group #1 of 2|no errors/);
  });

  it('names a wrong password, and the lock of another restic process', async () => {
    const wrong = createActionContext({ workspaceDir: work, inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_RESTIC_HOME: 'not it' }) });
    await assert.rejects(runAction('restic.snapshots', { repository: 'home' }, wrong), /password does not open/);
    await whileResticHoldsLock(path.join(work, 'repo'), PASSWORD, async (holder) => {
      await assert.rejects(runAction('restic.check', { repository: 'home' }, ctx), (error: unknown) => {
        const message = (error as Error).message;
        assert.match(message, /locked by another restic process/);
        assert.match(message, new RegExp(`PID ${holder.pid}`), message);
        assert.match(message, /created at .*; lock file locks\/[0-9a-f]{8,}/, message);
        assert.match(message, /restic unlock/);
        return true;
      });
    });
  });
});
