import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import type { Inventory } from '../../src/core/actions/spec';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import { childPath, joinPath, splitPath, type BrowseNode, type Page, type PageRequest } from '../../src/core/browse/node';
import { interpolate, literalText } from '../../src/core/runbook/interpolate';
import { assertListedUnder } from '../support/browseNodes';
import { hostilePayloads } from '../support/payloads';
import { makeTempDir, recordingContext, removeTempDir, type RecordingContext } from './archiveSupport';

const INVENTORY_FILE = '/w/lifeboat.yaml';
const registry = new ActionRegistry(builtinActions);

/** `backup-YYYYMMDD-HHMMSS.tar.gz` names, one minute apart, the later index the newer. */
function archiveNames(prefix: string, count: number): string[] {
  const two = (value: number) => String(value).padStart(2, '0');
  return Array.from({ length: count }, (_, index) => {
    const date = new Date(Date.UTC(2026, 0, 1) + index * 60_000);
    return `${prefix}-${date.getUTCFullYear()}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}-${two(date.getUTCHours())}${two(date.getUTCMinutes())}00.tar.gz`;
  });
}

async function writeArchives(folder: string, names: readonly string[]): Promise<void> {
  await mkdir(folder, { recursive: true });
  await Promise.all(names.map((name) => writeFile(path.join(folder, name), 'not opened by a listing')));
}

/** Every page of a listing, following the cursor. */
async function allPages(model: BrowseModel, at: string, request: Omit<PageRequest, 'cursor'>, ctx: RecordingContext): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  do {
    const page = assertListedUnder(at, await model.children(at, { ...request, ...(cursor === undefined ? {} : { cursor }) }, ctx));
    pages.push(page);
    cursor = page.next;
  } while (cursor !== undefined);
  return pages;
}

const labels = (nodes: readonly BrowseNode[]) => nodes.map((node) => node.label);
const operation = (node: BrowseNode | undefined, id: string) => node?.operations.find((candidate) => candidate.id === id);

describe('browse model: paths', () => {
  it('escapes / and % inside a segment and reads them back', () => {
    assert.equal(joinPath('locations', 'a/b', '100%.tar.gz'), 'locations/a%2Fb/100%25.tar.gz');
    assert.deepEqual(splitPath('locations/a%2Fb/100%25.tar.gz'), ['locations', 'a/b', '100%.tar.gz']);
    assert.deepEqual(splitPath('locations/a%252F'), ['locations', 'a%2F']);
    assert.deepEqual(splitPath('/locations//nas/'), ['locations', 'nas'], 'empty segments are not names');
  });

  it('round-trips any non-empty segments, and a child path is the joined path', () => {
    const segment = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), fc.constantFrom('/', '%', '%2F', '%25', '%2f', '/%', '%%2F/'));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.array(segment, { maxLength: 3 }), (parent, more) => {
        assert.deepEqual(splitPath(joinPath(...parent)), parent);
        assert.equal(childPath(joinPath(...parent), ...more), joinPath(...parent, ...more));
      }),
      { numRuns: 500 },
    );
  });

  it('a value written with literalText interpolates back to itself, whatever references it holds', () => {
    const scope = { params: { x: 'INJECTED', p: 'INJECTED' }, steps: { emit: { stdout: 'INJECTED' } } };
    const text = fc.array(fc.oneof(fc.constantFrom('$', '{', '}', '${params.x}', '$${', '${steps.emit.stdout}', '${', 'a'), fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, (value) => {
        assert.equal(interpolate(literalText(value), scope), value);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('browse model: roots and local locations', () => {
  let workspace: string;
  let ctx: RecordingContext;
  let model: BrowseModel;
  const inventory: Inventory = {
    frigate: { home: { url: 'https://frigate.lan:8971', tls: { insecure: true } } },
    hosts: { piglet: { host: 'piglet.lan', port: 2222, user: 'backup' } },
    locations: {
      backups: { path: 'backups' },
      'frigate-faces': { path: 'faces' },
      'a/b': { path: 'slashed' },
      gone: { path: 'not-there' },
      nas: { host: 'piglet', path: '/srv/backups' },
      cluster: { cluster: 'k3s', path: '/data' },
      blank: { path: '  ' },
    } as Inventory['locations'],
  };

  beforeEach(async () => {
    workspace = await makeTempDir('browse');
    ctx = { ...recordingContext(workspace), inventory };
    model = new BrowseModel(builtinBrowsers, registry, INVENTORY_FILE);
  });

  afterEach(async () => {
    await removeTempDir(workspace);
  });

  it('makes roots from the inventory alone: Frigate instances, locations (invalid and unsupported ones too), hosts', () => {
    const roots = model.roots(ctx);
    assert.deepEqual(
      roots.map((node) => [node.path, node.kind, node.hasChildren, node.status?.level ?? null]),
      [
        ['frigate/home', 'frigate', true, 'warning'],
        ['locations/backups', 'location', true, null],
        ['locations/frigate-faces', 'location', true, null],
        ['locations/a%2Fb', 'location', true, null],
        ['locations/gone', 'location', true, null],
        ['locations/nas', 'location', true, null],
        ['locations/cluster', 'location.unsupported', false, 'unknown'],
        ['locations/blank', 'location.invalid', false, 'warning'],
        ['hosts/piglet', 'host', true, 'unknown'],
      ],
    );
    const blank = roots.find((node) => node.path === 'locations/blank');
    assert.equal(blank?.tooltip, '/w/lifeboat.yaml, location blank: `locations.blank.path`: expected the folder holding the archives');
    assert.equal(roots.find((node) => node.path === 'locations/cluster')?.description, 'locations in a cluster are not supported yet');
    assert.equal(roots.find((node) => node.path === 'locations/frigate-faces')?.facts.facesOf, 'home', 'the only Frigate instance backs up to frigate-faces');
    assert.equal(roots.find((node) => node.path === 'hosts/piglet')?.description, 'backup@piglet.lan:2222');
    assert.deepEqual(ctx.logLines, [], 'making roots touches nothing');
  });

  it('gives each root operation the destructive flag of its action, and leaves out actions this build lacks', () => {
    const roots = model.roots(ctx);
    const check = operation(roots[0], 'check');
    assert.deepEqual(check, { kind: 'action', id: 'check', label: 'Check Backups', action: 'frigate.backups.check', params: { frigate: 'home' }, destructive: false });
    const host = roots.find((node) => node.kind === 'host');
    const expected = ['check', 'installCli', 'schedule'].filter((id) => id !== 'installCli' || registry.get('schedule.cli.install') !== undefined);
    assert.deepEqual(host?.operations.map((entry) => entry.id), expected);
    for (const entry of host?.operations ?? []) if (entry.kind === 'action') assert.equal(entry.destructive, registry.get(entry.action)?.destructive);
    const withoutActions = new BrowseModel(builtinBrowsers, new ActionRegistry([]), INVENTORY_FILE);
    assert.deepEqual(withoutActions.roots(ctx)[0]?.operations, []);
  });

  it('a `locations:` that is not a mapping is one error node naming the file; the other roots stay', () => {
    const roots = model.roots({ ...ctx, inventory: { ...inventory, locations: ['backups'] as unknown as Inventory['locations'] } });
    assert.deepEqual(roots.map((node) => [node.path, node.kind]), [['frigate/home', 'frigate'], ['locations/!error', 'error'], ['hosts/piglet', 'host']]);
    assert.match(roots[1]?.description ?? '', /^listing locations failed: \/w\/lifeboat\.yaml, `locations`: expected a mapping/);
    assert.equal(ctx.logLines.length, 1);
  });

  it('lists the archives of a local folder newest first, with verify, restore and delete bound to each', async () => {
    const [older, newer] = archiveNames('backup', 2) as [string, string];
    await writeArchives(path.join(workspace, 'backups'), [older, newer]);
    const page = await model.children('locations/backups', { limit: 50 }, ctx);
    assert.deepEqual(labels(page.nodes), [newer, older]);
    assert.equal(page.total, 2);
    assert.equal(page.next, undefined);
    const [node] = page.nodes as [BrowseNode];
    assert.equal(node.path, `locations/backups/${newer}`);
    assert.equal(node.kind, 'archive');
    assert.deepEqual(node.status, { level: 'unknown', reason: 'never verified' });
    const archivePath = path.join(workspace, 'backups', newer);
    assert.deepEqual(node.operations, [
      { kind: 'action', id: 'verify', label: 'Verify', action: 'archive.verify', params: { path: archivePath }, destructive: false },
      { kind: 'runbook', id: 'restore', label: 'Restore…', runbook: 'local-restore.runbook.md', params: { location: path.join(workspace, 'backups'), archive: newer, prefix: 'backup' } },
      { kind: 'action', id: 'delete', label: 'Delete', action: 'archive.delete', params: { path: archivePath }, destructive: true },
    ]);
  });

  it('binds a face archive to the faces restore runbook, with its location and the Frigate instance it backs up', async () => {
    const [name] = archiveNames('frigate-faces', 1) as [string];
    await writeArchives(path.join(workspace, 'faces'), [name]);
    const [node] = (await model.children('locations/frigate-faces', { limit: 50 }, ctx)).nodes;
    assert.deepEqual(operation(node, 'restore'), { kind: 'runbook', id: 'restore', label: 'Restore…', runbook: 'frigate-faces-restore.runbook.md', params: { location: 'frigate-faces', archive: name, frigate: 'home' } });
    assert.equal(node?.facts.faces, true);
  });

  it('pages with a cursor: every archive exactly once, in order, with the total, for any page size and filter', async () => {
    const names = [...archiveNames('backup', 700), ...archiveNames('Frigate-Faces', 534)];
    await writeArchives(path.join(workspace, 'backups'), names);
    const newestFirst = labels((await allPages(model, 'locations/backups', { limit: 5000 }, ctx)).flatMap((page) => page.nodes));
    assert.equal(newestFirst.length, names.length);
    assert.deepEqual([...newestFirst].sort(), [...names].sort());
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 400 }), fc.constantFrom(undefined, 'faces', 'FACES', 'backup-2026010', '0000.TAR', 'nothing like it'), async (limit, filter) => {
        const pages = await allPages(model, 'locations/backups', { limit, ...(filter === undefined ? {} : { filter }) }, ctx);
        const expected = filter === undefined ? newestFirst : newestFirst.filter((name) => name.toLowerCase().includes(filter.toLowerCase()));
        const listed = pages.flatMap((page) => labels(page.nodes));
        if (expected.length === 0) assert.deepEqual(listed, []);
        else assert.deepEqual(listed, expected);
        for (const page of pages) {
          assert.equal(page.total, expected.length);
          assert.ok(page.nodes.length <= limit);
        }
        assert.equal(pages.length, Math.max(1, Math.ceil(expected.length / limit)));
      }),
      { numRuns: 60 },
    );
  });

  it('reads a listing once for all its pages, and again after forget()', async () => {
    const names = archiveNames('backup', 120);
    await writeArchives(path.join(workspace, 'backups'), names);
    const first = await model.children('locations/backups', { limit: 50 }, ctx);
    const [late] = archiveNames('backup', 121).slice(120) as [string];
    await writeArchives(path.join(workspace, 'backups'), [late]);
    const rest = await allPages(model, 'locations/backups', { limit: 50 }, ctx);
    assert.equal(first.total, 120);
    assert.equal(rest[0]?.total, 120, 'the next pages come from the listing already read');
    model.forget('locations/backups/x');
    assert.equal((await model.children('locations/backups', { limit: 50 }, ctx)).total, 120, 'forgetting below a listing keeps it');
    model.forget('locations/backups');
    const again = await model.children('locations/backups', { limit: 50 }, ctx);
    assert.equal(again.total, 121);
    assert.equal(again.nodes[0]?.label, late);
  });

  it('says when a folder holds no archives', async () => {
    await mkdir(path.join(workspace, 'backups'));
    const page = await model.children('locations/backups', { limit: 50 }, ctx);
    assert.deepEqual(page.nodes.map((node) => [node.path, node.kind, node.label]), [['locations/backups/!empty', 'empty', `No archives in ${path.join(workspace, 'backups')}`]]);
    assert.equal(page.total, 0);
  });

  it('a missing folder is an error node with the message, logged; the failed listing is not kept', async () => {
    const failed = await model.children('locations/gone', { limit: 50 }, ctx);
    const message = `listing locations/gone failed: archive folder ${path.join(workspace, 'not-there')} does not exist`;
    assert.deepEqual(failed.nodes.map((node) => [node.path, node.kind, node.label, node.description, node.status?.level]), [['locations/gone/!error', 'error', 'Failed to load (click for log)', message, 'error']]);
    assert.deepEqual(ctx.logLines, [`error: ${message}`]);
    const [name] = archiveNames('backup', 1) as [string];
    await writeArchives(path.join(workspace, 'not-there'), [name]);
    assert.deepEqual(labels((await model.children('locations/gone', { limit: 50 }, ctx)).nodes), [name], 'listed again once the folder is there');
  });

  it('a cursor this listing never gave is an error node, not an exception', async () => {
    await writeArchives(path.join(workspace, 'backups'), archiveNames('backup', 3));
    const page = await model.children('locations/backups', { limit: 1, cursor: 'x' }, ctx);
    assert.equal(page.nodes[0]?.description, "listing locations/backups failed: not a cursor of this listing: 'x'");
  });

  it('an unknown root is an error node; an unknown place under a known root lists nothing', async () => {
    assert.equal((await model.children('nowhere/x', { limit: 50 }, ctx)).nodes[0]?.description, "listing nowhere/x failed: nothing is listed under 'nowhere/x'");
    assert.deepEqual((await model.children('locations/typo', { limit: 50 }, ctx)).nodes, []);
    assert.deepEqual((await model.children('locations/cluster', { limit: 50 }, ctx)).nodes, []);
  });

  it('finds a node by its path: a root, an archive pages deep, none for a path that names nothing', async () => {
    const names = archiveNames('backup', 1234);
    await writeArchives(path.join(workspace, 'backups'), names);
    assert.equal((await model.node('frigate/home', ctx))?.kind, 'frigate');
    assert.equal((await model.node('hosts/piglet/', ctx))?.kind, 'host');
    assert.equal((await model.node('locations/a%2Fb', ctx))?.label, 'a/b');
    const oldest = names[0] as string;
    assert.equal((await model.node(`locations/backups/${oldest}`, ctx))?.path, `locations/backups/${oldest}`);
    assert.equal(await model.node('locations/backups/backup-19990101-000000.tar.gz', ctx), undefined);
    assert.equal(await model.node('locations/typo', ctx), undefined);
    assert.equal(await model.node('nowhere/x/y', ctx), undefined);
    await assert.rejects(model.node('locations/gone/x.tar.gz', ctx), /^Error: listing locations\/gone failed: archive folder .* does not exist$/);
  });

  it('lists hostile archive names verbatim: label, path segment and bound parameters, found again by path', async () => {
    const names = hostilePayloads('pwned')
      .filter((payload) => !payload.includes('/') && Buffer.byteLength(payload) < 200)
      .map((payload) => `${payload}.tar.gz`);
    await writeArchives(path.join(workspace, 'backups'), names);
    const nodes = (await allPages(model, 'locations/backups', { limit: 7 }, ctx)).flatMap((page) => page.nodes);
    assert.deepEqual([...labels(nodes)].sort(), [...names].sort());
    for (const node of nodes) {
      assert.deepEqual(splitPath(node.path), ['locations', 'backups', node.label]);
      assert.equal(node.facts.name, node.label);
      assert.deepEqual(operation(node, 'verify')?.params, { path: path.join(workspace, 'backups', node.label) });
      assert.equal((await model.node(node.path, ctx))?.label, node.label);
    }
    assert.ok(names.some((name) => name.includes('\n')), 'a name with a newline is among them');
  });

  it('a location named with a slash lists under its escaped path', async () => {
    const [name] = archiveNames('backup', 1) as [string];
    await writeArchives(path.join(workspace, 'slashed'), [name]);
    const [node] = (await model.children('locations/a%2Fb', { limit: 50 }, ctx)).nodes;
    assert.equal(node?.path, `locations/a%2Fb/${name}`);
  });
});
