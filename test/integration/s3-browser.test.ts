import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import type { S3CheckResult } from '../../src/actions/s3/check';
import { openS3Store, type S3Store } from '../../src/clients/s3';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import { childPath, joinPath, type BrowseNode, type PageRequest } from '../../src/core/browse/node';
import { assertListedUnder, assertOperationsInTreeMenu } from '../support/browseNodes';
import { REPO_ROOT } from '../support/paths';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startS3PolicyProxy, type S3PolicyProxy } from '../testbed/s3PolicyProxy';

const BUCKET = 'snapshots';
const STORE = joinPath('s3', 'frigate-offsite');
const TOP = joinPath('s3', 'frigate-offsite', BUCKET);
const SNAPSHOTS = childPath(TOP, 'frigate/', 'snapshots/');
/** Keys a person could not type safely; `..` only inside names: the SDK resolves a whole `..` segment of a key's URL. */
const ODD_KEYS = ['odd/\u001b[31mred.jpg', 'odd/..%2F../escape.txt', 'odd/50% $(touch x)', 'odd/a%2Fb'];

describe('the S3 browser: stores, their bucket, prefixes and objects, listed a page at a time by S3 itself', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  let policy: S3PolicyProxy;
  let work: string;
  let admin: S3Store;
  let ctx: ActionContext;
  let model: BrowseModel;
  const registry = new ActionRegistry(builtinActions);

  const labels = (nodes: readonly BrowseNode[]) => nodes.map((node) => node.label);
  async function page(parent: string, request: Partial<PageRequest> = {}) {
    return assertListedUnder(parent, await model.children(parent, { limit: 100, ...request }, ctx));
  }

  before(async () => {
    server = await startS3rver({ buckets: [BUCKET] });
    policy = await startS3PolicyProxy(server.endpoint);
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-s3-browser-'));
    admin = await openS3Store({ endpoint: server.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS } });
    // s3rver reports a common prefix only for a "folder" that directly holds an object (S3 reports every
    // one): each level here holds one.
    const keys = [
      'frigate/mirror-state.json',
      'frigate/snapshots/state.json',
      'frigate/snapshots/front_door/latest.jpg',
      'frigate/snapshots/garage/latest.jpg',
      'frigate/snapshots/front_door/2026-12-01/abc-1.jpg',
      'frigate/snapshots/front_door/2026-12-01/abc-2.jpg',
      'frigate/snapshots/garage/2026-12-01/def-1.jpg',
      'notes.txt',
      ...ODD_KEYS,
      ...Array.from({ length: 250 }, (_, index) => `many/object-${String(index).padStart(3, '0')}.jpg`),
    ];
    for (let start = 0; start < keys.length; start += 25) await Promise.all(keys.slice(start, start + 25).map((key) => admin.putBytes(key, key.endsWith('/') ? '' : 'seven b')));
    const credentials = { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3-secret' };
    const inventory = {
      stores: {
        'frigate-offsite': { endpoint: policy.endpoint, region: 'us-east-1', bucket: BUCKET, credentials },
        careless: { endpoint: server.endpoint, region: 'us-east-1', bucket: BUCKET, credentials, tls: { insecure: true } },
        gone: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', bucket: BUCKET, credentials },
      },
    } as Inventory;
    ctx = createActionContext({ workspaceDir: work, inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey }) });
    model = new BrowseModel(builtinBrowsers, registry, path.join(work, 'lifeboat.yaml'));
  });
  afterEach(() => {
    policy.deny([]);
    model.forget();
  });
  after(async () => {
    await ctx?.clients.disposeAll();
    admin?.dispose();
    await policy?.stop();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('has a root node per store of `stores:`, offering Check and Lifecycle Rules; TLS verification turned off shows', () => {
    const stores = model.roots(ctx).filter((node) => node.kind === 's3.store');
    assert.deepEqual(stores.map((node) => [node.path, node.label]), [
      [STORE, 'frigate-offsite'],
      ['s3/careless', 'careless'],
      ['s3/gone', 'gone'],
    ]);
    const [offsite, careless] = stores as [BrowseNode, BrowseNode];
    assert.equal(offsite.description, `${BUCKET} · ${policy.endpoint}`);
    assert.deepEqual(offsite.operations.map((operation) => [operation.id, operation.kind === 'action' ? operation.action : '', operation.kind === 'action' && operation.destructive]), [
      ['check', 's3.check', false],
      ['lifecycle', 's3.lifecycle.get', false],
    ]);
    assertOperationsInTreeMenu(offsite);
    assert.equal(careless.status?.level, 'warning');
    assert.match(careless.description ?? '', /TLS not verified/);
  });

  it('opens a store on its bucket, and the bucket on its top-level prefixes before its objects', async () => {
    assert.deepEqual((await page(STORE)).nodes.map((node) => [node.path, node.kind]), [[TOP, 's3.bucket']]);
    const top = await page(TOP);
    assert.deepEqual(top.nodes.map((node) => [node.label, node.kind]), [
      ['frigate/', 's3.prefix'],
      ['many/', 's3.prefix'],
      ['odd/', 's3.prefix'],
      ['notes.txt', 's3.object'],
    ]);
    const notes = top.nodes[3] as BrowseNode;
    assert.match(notes.description ?? '', /^7 B · STANDARD · \d+ s ago$/);
    assert.deepEqual({ key: notes.facts.key, size: notes.facts.size, storageClass: notes.facts.storageClass }, { key: 'notes.txt', size: 7, storageClass: 'STANDARD' });
    assert.equal(top.next, undefined);
  });

  it('goes down prefix by prefix to the objects', async () => {
    const frigate = await page(childPath(TOP, 'frigate/'));
    assert.deepEqual(labels(frigate.nodes), ['snapshots/', 'mirror-state.json']);
    const cameras = await page(SNAPSHOTS);
    assert.deepEqual(labels(cameras.nodes), ['front_door/', 'garage/', 'state.json']);
    const day = await page(childPath(SNAPSHOTS, 'front_door/', '2026-12-01/'));
    assert.deepEqual(labels(day.nodes), ['abc-1.jpg', 'abc-2.jpg']);
    assert.equal(day.nodes[0]?.facts.key, 'frigate/snapshots/front_door/2026-12-01/abc-1.jpg');
    assert.equal(day.nodes[0]?.hasChildren, false);
    const check = cameras.nodes[0]?.operations.find((operation) => operation.id === 'check');
    assert.ok(check?.kind === 'action');
    assert.deepEqual(check.params, { store: 'frigate-offsite', prefix: 'frigate/snapshots/front_door/' });
  });

  it('pages a long prefix with S3 continuation tokens, each page one ListObjectsV2 request of the page size', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    const before = policy.requests.length;
    do {
      const listed = await page(childPath(TOP, 'many/'), cursor ? { cursor } : {});
      seen.push(...labels(listed.nodes));
      cursor = listed.next;
      pages++;
    } while (cursor !== undefined);
    assert.equal(pages, 3);
    assert.equal(seen.length, 250);
    assert.equal(new Set(seen).size, 250);
    assert.equal(seen[0], 'object-000.jpg');
    assert.equal(seen[249], 'object-249.jpg');
    const listings = policy.requests.slice(before).filter((request) => /^GET \/snapshots\/?\?/.test(request));
    assert.equal(listings.length, 3);
    assert.ok(listings.every((request) => request.includes('max-keys=100') && request.includes('delimiter=%2F')), listings.join('\n'));
  });

  it('pushes a filter down as the listing prefix: S3 lists only the keys that start with it', async () => {
    const before = policy.requests.length;
    const filtered = await page(SNAPSHOTS, { filter: 'front' });
    assert.deepEqual(labels(filtered.nodes), ['front_door/']);
    const listing = policy.requests.slice(before).find((request) => /^GET \/snapshots\/?\?/.test(request));
    assert.ok(listing?.includes('prefix=frigate%2Fsnapshots%2Ffront&') || listing?.endsWith('prefix=frigate%2Fsnapshots%2Ffront'), listing);
    const none = await page(SNAPSHOTS, { filter: 'zzz' });
    assert.deepEqual(none.nodes.map((node) => [node.kind, node.label]), [['empty', "No keys under frigate/snapshots/ start with 'zzz'"]]);
    const hostile = await page(SNAPSHOTS, { filter: 'front\u0000' });
    assert.equal(hostile.nodes[0]?.kind, 'error');
    assert.match(hostile.nodes[0]?.description ?? '', /filter: 'front\\x00' has a control character/);
  });

  it('shows hostile keys escaped, each a node of its own reachable by its path', async () => {
    const odd = await page(childPath(TOP, 'odd/'));
    assert.deepEqual(labels(odd.nodes).sort(), ['..%2F../', '50% $(touch x)', '\\x1b[31mred.jpg', 'a%2Fb'].sort());
    for (const node of odd.nodes) {
      const found = await model.node(node.path, ctx);
      assert.equal(found?.path, node.path);
    }
    const dotted = odd.nodes.find((node) => node.label === '..%2F../') as BrowseNode;
    assert.deepEqual((await page(dotted.path)).nodes.map((node) => node.facts.key), ['odd/..%2F../escape.txt']);
    const red = odd.nodes.find((node) => node.label.includes('red.jpg')) as BrowseNode;
    assert.equal(red.facts.key, 'odd/\u001b[31mred.jpg');
    assert.ok(!red.tooltip?.includes('\u001b'), 'no raw control character in the tooltip');
  });

  it("runs a store's Check from its node through the registry", async () => {
    const store = model.roots(ctx).find((node) => node.path === STORE) as BrowseNode;
    const operation = store.operations.find((candidate) => candidate.id === 'check');
    assert.ok(operation?.kind === 'action');
    const action = registry.get(operation.action);
    assert.ok(action);
    const result = (await action.run(action.params.parse(operation.params), ctx)) as S3CheckResult;
    assert.deepEqual(result.missing, []);
  });

  it("walks the palette's Check S3 Store… through the browse model: the store picked, then its check", async () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.checkS3Store');
    assert.ok(command);
    const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === command.command)?.title, 'Check S3 Store…');
    const [step] = command.steps;
    assert.ok(step?.kind === 'node' && command.steps.length === 1);
    const offered = (await model.children(step.under({}), { limit: 100 }, ctx)).nodes.filter((node) => step.accept?.(node) ?? true);
    assert.deepEqual(labels(offered), ['frigate-offsite', 'careless', 'gone']);
    const picked = { [step.param]: step.value?.(offered[0] as BrowseNode) };
    assert.deepEqual(picked, { store: 'frigate-offsite' });
    const action = registry.get(command.action);
    assert.ok(action);
    const result = await action.run(action.params.parse(picked), ctx);
    assert.deepEqual(command.conclude?.(result), { message: 'Check S3 Store: frigate-offsite has every required permission.', warning: false });
  });

  it('shows a listing the store refuses or cannot answer as an error node', async () => {
    policy.deny(['s3:ListBucket']);
    const denied = await page(TOP);
    assert.equal(denied.nodes[0]?.kind, 'error');
    assert.match(denied.nodes[0]?.description ?? '', /access denied by http:\/\/127\.0\.0\.1:\d+ \(list bucket 'snapshots'\)/);
    const gone = await page(joinPath('s3', 'gone', BUCKET));
    assert.equal(gone.nodes[0]?.kind, 'error');
    assert.match(gone.nodes[0]?.description ?? '', /cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});
