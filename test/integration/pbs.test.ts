import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { pbsActions, pbsBrowser } from '../../src/actions/pbs';
import type { PbsDatastoresResult } from '../../src/actions/pbs/datastores';
import type { PbsSnapshotsResult } from '../../src/actions/pbs/snapshots';
import type { PbsVerifyResult } from '../../src/actions/pbs/verify';
import { PbsClient, PbsError } from '../../src/clients/pbs';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext, Inventory, ProgressUpdate } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import { splitPath, type BrowseNode } from '../../src/core/browse/node';
import { CancelledError, errorMessage } from '../../src/core/errors';
import { assertListedUnder, assertOperationsInTreeMenu } from '../support/browseNodes';
import { REPO_ROOT } from '../support/paths';
import { CANARIES, canaryOccurrences } from '../support/canaries';
import { hostilePayloads } from '../support/payloads';
import { PbsSimulator, type PbsSimDatastore } from '../testbed/pbsSim';

/** The token secret is a canary: no message, result or log line may hold it in any printed form. */
const SECRET = CANARIES.quoted;
const TOKEN = 'root@pam!lifeboat';
const STORE = 'pbs-ruapehu';
const NOW = 1_765_000_000;

function datastores(): Record<string, PbsSimDatastore> {
  return {
    [STORE]: {
      comment: 'TrueNAS HDD',
      total: 14_600_000_000_000,
      used: 1_300_000_000_000,
      snapshots: [
        { type: 'ct', id: '100', time: NOW - 7 * 86_400, size: 8_000_000_000, comment: 'iac', verification: { state: 'ok', upid: 'UPID:pbs:1:1:1:1:verify:x:root@pam:' } },
        { type: 'ct', id: '100', time: NOW, size: 8_100_000_000, comment: 'iac', protected: true },
        { type: 'vm', id: '450', time: NOW - 3600, size: 60_000_000_000, comment: 'plex' },
        { type: 'vm', id: '451', time: NOW - 7200, size: 20_000_000_000, comment: 'unifi', corrupt: true },
        { type: 'vm', id: '200', time: NOW - 60, size: 1_000_000, comment: 'site a', ns: 'site-a/prod' },
      ],
    },
    spare: { total: 1_000_000, used: 1000, snapshots: [] },
  };
}

describe('Proxmox Backup Server actions against the PBS simulator', function () {
  this.timeout(60_000);
  let sim: PbsSimulator;
  const messages: string[] = [];

  beforeEach(async () => {
    sim = await PbsSimulator.start({ tokens: { [TOKEN]: SECRET }, datastores: datastores(), verifyMsPerSnapshot: 30 });
  });

  afterEach(async () => {
    await sim?.stop();
  });

  after(() => {
    assert.deepEqual(canaryOccurrences(messages.join('\n'), { tokenSecret: SECRET }), [], 'the token secret appears in no message or result');
  });

  function inventory(overrides: Record<string, unknown> = {}): Inventory {
    return { backupServers: { home: { url: sim.url, datastore: STORE, tokenId: TOKEN, tokenSecret: 'secret:pbs_token', fingerprint: sim.fingerprint, ...overrides } } } as Inventory;
  }

  function context(options: { inventory?: Inventory; signal?: AbortSignal; onProgress?: (update: ProgressUpdate) => void; onLog?: (line: string) => void } = {}): ActionContext {
    const log = (line: string) => {
      messages.push(line);
      options.onLog?.(line);
    };
    return createActionContext({
      workspaceDir: '/nonexistent',
      inventory: options.inventory ?? inventory(),
      secrets: { resolve: async (name) => (name === 'pbs_token' ? SECRET : Promise.reject(new Error(`no secret ${name}`))) },
      ...(options.signal ? { signal: options.signal } : {}),
      progress: { report: (update) => options.onProgress?.(update) },
      log: { debug: log, info: log, warn: log, error: log },
    });
  }

  async function run<Result>(id: string, params: Record<string, unknown>, ctx = context()): Promise<Result> {
    const spec = pbsActions.find((candidate) => candidate.id === id);
    assert.ok(spec, `${id} is registered`);
    try {
      const result = (await spec.run(spec.params.parse(params), ctx)) as Result;
      messages.push(JSON.stringify(result), spec.render(result));
      return result;
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  async function failure(id: string, params: Record<string, unknown>, ctx?: ActionContext): Promise<Error> {
    try {
      await run(id, params, ctx);
    } catch (error) {
      messages.push(errorMessage(error));
      return error as Error;
    }
    assert.fail(`${id} succeeded`);
  }

  it('trusts the certificate by its pinned fingerprint (either case) and lists datastores with space and groups', async () => {
    const result = await run<PbsDatastoresResult>('pbs.datastores', { server: 'home' }, context({ inventory: inventory({ fingerprint: sim.fingerprint.toLowerCase() }) }));
    assert.deepEqual(
      result.datastores.map((store) => [store.store, store.configured, store.groups, store.snapshots, store.availBytes, store.lastBackup]),
      [
        [STORE, true, 3, 4, 13_300_000_000_000, new Date(NOW * 1000).toISOString().replace('.000', '')],
        ['spare', false, 0, 0, 999_000, null],
      ],
    );
    const request = sim.requests.at(-1);
    assert.match(request?.authorization ?? '', /^PBSAPIToken root@pam!lifeboat:/);
    assert.equal(request?.authorization, `PBSAPIToken ${TOKEN}:${encodeURIComponent(SECRET)}`, 'the secret is sent percent-encoded');
  });

  it('lists snapshots newest first with type, id, time, size, verification, protection and comment', async () => {
    const result = await run<PbsSnapshotsResult>('pbs.snapshots', { server: 'home' });
    assert.deepEqual(
      result.snapshots.map((snapshot) => [snapshot.type, snapshot.id, snapshot.epoch, snapshot.size, snapshot.verification, snapshot.protected, snapshot.comment]),
      [
        ['ct', '100', NOW, 8_100_000_000, 'none', true, 'iac'],
        ['vm', '450', NOW - 3600, 60_000_000_000, 'none', false, 'plex'],
        ['vm', '451', NOW - 7200, 20_000_000_000, 'none', false, 'unifi'],
        ['ct', '100', NOW - 7 * 86_400, 8_000_000_000, 'ok', false, 'iac'],
      ],
    );
    assert.deepEqual(result.counts, { total: 4, verified: 1, failed: 0, unverified: 3, protected: 1 });
    const vms = await run<PbsSnapshotsResult>('pbs.snapshots', { server: 'home', backupType: 'vm' });
    assert.deepEqual(vms.snapshots.map((snapshot) => snapshot.id), ['450', '451']);
  });

  it('refuses a certificate whose fingerprint is not the pinned one, naming both, before the token is sent', async () => {
    const pinned = 'AB:'.repeat(31) + 'AB';
    const error = await failure('pbs.snapshots', { server: 'home' }, context({ inventory: inventory({ fingerprint: pinned.toLowerCase() }) }));
    assert.ok(error instanceof PbsError && error.failure === 'fingerprint', errorMessage(error));
    assert.ok(error.message.includes(sim.fingerprint), 'names the presented fingerprint');
    assert.ok(error.message.includes(pinned), 'names the pinned fingerprint');
    assert.match(error.message, /refusing to send the API token/);
    assert.equal(sim.requests.length, 0, 'no request reached the server');
  });

  it('without a pin, refuses the self-signed certificate and names the fingerprint to pin; tls.insecure is refused', async () => {
    const error = await failure('pbs.snapshots', { server: 'home' }, context({ inventory: inventory({ fingerprint: undefined }) }));
    assert.ok(error instanceof PbsError && error.failure === 'tls', errorMessage(error));
    assert.ok(error.message.includes(`fingerprint: ${sim.fingerprint}`), error.message);
    const insecure = await failure('pbs.snapshots', { server: 'home' }, context({ inventory: inventory({ fingerprint: undefined, tls: { insecure: true } }) }));
    assert.match(insecure.message, /tls\.insecure` is not supported for Proxmox Backup Server: pin its certificate with `fingerprint`/);
    assert.equal(sim.requests.length, 0, 'no request reached the server');
  });

  it('reports a wrong token clearly, naming the token id and not the secret', async () => {
    sim.tokens[TOKEN] = 'a-different-secret';
    const error = await failure('pbs.datastores', { server: 'home' });
    assert.ok(error instanceof PbsError && error.failure === 'unauthorized');
    assert.match(error.message, /^PBS 'home' \(127\.0\.0\.1:\d+\) refused API token 'root@pam!lifeboat' \(401\).*check the token id and its secret$/);
    assert.equal(sim.requests.length, 1, 'an authentication failure is not retried');
  });

  it('names an unknown datastore and the datastores there are, and a server missing from the inventory', async () => {
    const error = await failure('pbs.snapshots', { server: 'home', datastore: 'nope' });
    assert.ok(error instanceof PbsError && error.failure === 'not-found');
    assert.match(error.message, /^datastore 'nope' does not exist on PBS 'home' \(127\.0\.0\.1:\d+\); it has 'pbs-ruapehu', 'spare'$/);
    const configured = await failure('pbs.datastores', { server: 'home' }, context({ inventory: inventory({ datastore: 'gone' }) }));
    assert.match(configured.message, /^datastore 'gone' \(`backupServers\.home\.datastore`\) is not on PBS 'home' .*: the token sees 'pbs-ruapehu', 'spare'$/);
    const server = await failure('pbs.snapshots', { server: 'other' });
    assert.equal(server.message, "no Proxmox Backup Server 'other' in the inventory; lifeboat.yaml names 'home'");
  });

  it('verifies one snapshot, following the task log as progress, and reports its new state', async () => {
    const progress: string[] = [];
    const result = await run<PbsVerifyResult>('pbs.verify', { server: 'home', backupType: 'vm', backupId: '450', time: new Date((NOW - 3600) * 1000).toISOString() }, context({ onProgress: (update) => progress.push(update.message ?? '') }));
    assert.equal(result.exitstatus, 'OK');
    assert.match(result.upid, /^UPID:pbs:.*:verify_snapshot:/);
    assert.deepEqual(result.snapshots.map((snapshot) => [snapshot.id, snapshot.verification]), [['450', 'ok']]);
    assert.ok(progress.includes('TASK OK'), progress.join('\n'));
    assert.ok(progress.some((line) => line.startsWith(`verify ${STORE}:vm/450/`)), progress.join('\n'));
    const post = sim.requests.find((request) => request.method === 'POST');
    assert.deepEqual(post?.segments, ['admin', 'datastore', STORE, 'verify']);
  });

  it('reports a verify that fails with its exit status, the failed snapshot and the task log', async () => {
    const error = await failure('pbs.verify', { server: 'home', backupType: 'vm', backupId: '451' });
    assert.match(error.message, /^verify of group vm\/451 of datastore 'pbs-ruapehu' on PBS 'home' \(127\.0\.0\.1:\d+\) failed: Error: verification failed - please check the log for details\n/);
    assert.match(error.message, /last lines of the task log:\n(.*\n)* {2}Failed to verify the following snapshots\/groups:\n {2}\\tvm\/451\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/);
    assert.match(error.message, /\(task UPID:pbs:[^)]*:verify_group:[^)]*\)$/);
    const after = await run<PbsSnapshotsResult>('pbs.snapshots', { server: 'home', backupId: '451' });
    assert.equal(after.snapshots[0]?.verification, 'failed');
  });

  it('stops the task on the server when cancelled while waiting for it', async () => {
    sim = await restartSlow(sim);
    const controller = new AbortController();
    const pending = run('pbs.verify', { server: 'home', ignoreVerified: false }, context({ signal: controller.signal }));
    const task = await sim.waitForTask((candidate) => candidate.lines.length > 1);
    controller.abort();
    await assert.rejects(pending, (error: unknown) => error instanceof CancelledError && /asked PBS 'home' .* to stop task UPID:/.test(error.message));
    assert.ok(sim.requests.some((request) => request.method === 'DELETE' && request.segments.join('/') === `nodes/localhost/tasks/${task.upid}`), 'the stop request names the task');
    const looks = sim.requests.filter((request) => request.segments[0] === 'nodes' && request.method === 'GET');
    assert.ok(looks.length > 0 && looks.every((request) => request.segments.at(-1) === 'log' && /[?&]test-status=true(&|$)/.test(request.rawPath)), 'a running task is followed through its log alone');
    await sim.waitForTask((candidate) => candidate.upid === task.upid && candidate.exitstatus !== undefined);
    assert.equal(task.exitstatus, 'Error: abort requested - aborting task');
  });

  it('says a task it lost track of may still be running, naming it', async () => {
    sim = await restartSlow(sim);
    const pending = failure('pbs.verify', { server: 'home', ignoreVerified: false });
    await sim.waitForTask((candidate) => candidate.lines.length > 1);
    sim.injectFault({ kind: 'status', status: 503, path: /\/tasks\//, times: 10 });
    const error = await pending;
    assert.match(error.message, /^lost track of the verify of datastore 'pbs-ruapehu' \(task UPID:pbs:[^)]+:verify:[^)]+\), which may still be running on PBS 'home' \(127\.0\.0\.1:\d+\): PBS 'home' .* failed GET \/api2\/json\/nodes\/localhost\/tasks\/UPID%3Apbs%3A.*\/log with HTTP 503: simulated failure 503$/);
  });

  it('lists and verifies the snapshots of a namespace, and only there', async () => {
    const root = await run<PbsSnapshotsResult>('pbs.snapshots', { server: 'home' });
    assert.ok(!root.snapshots.some((snapshot) => snapshot.id === '200'), 'the root namespace holds only its own');
    const listed = await run<PbsSnapshotsResult>('pbs.snapshots', { server: 'home', namespace: 'site-a/prod' });
    assert.deepEqual([listed.namespace, listed.snapshots.map((snapshot) => snapshot.id)], ['site-a/prod', ['200']]);
    assert.match(pbsActions.find((action) => action.id === 'pbs.snapshots')?.render(listed) ?? '', /^Namespace 'site-a\/prod' of datastore 'pbs-ruapehu' on PBS 'home': 1 snapshot, 0 verified/);
    const verified = await run<PbsVerifyResult>('pbs.verify', { server: 'home', namespace: 'site-a/prod', backupType: 'vm', backupId: '200' });
    assert.equal(verified.scope, "group vm/200 of namespace 'site-a/prod' of datastore 'pbs-ruapehu'");
    assert.deepEqual(verified.snapshots.map((snapshot) => [snapshot.id, snapshot.verification]), [['200', 'ok']]);
    const refused = await failure('pbs.snapshots', { server: 'home', namespace: '../site-a' });
    assert.match(refused.message, /rejected GET \/api2\/json\/admin\/datastore\/pbs-ruapehu\/snapshots \(HTTP 400\): parameter verification errors parameter 'ns'/);
  });

  it('refuses a snapshot time without its group, and a time that is not one, before anything is sent', () => {
    const verify = pbsActions.find((candidate) => candidate.id === 'pbs.verify');
    assert.ok(verify);
    assert.throws(() => verify.params.parse({ server: 'home', time: 1 }), /`backupType` and `backupId` name a backup group together|`time` names a snapshot of a group/);
    assert.throws(() => verify.params.parse({ server: 'home', backupType: 'vm', backupId: '1', time: 'yesterday' }), /'yesterday' is not a snapshot time/);
    assert.equal((verify.params.parse({ server: 'home', backupType: 'vm', backupId: '1', time: '2026-12-06T02:00:00Z' }) as { time: number }).time, Date.UTC(2026, 11, 6, 2) / 1000);
  });

  it('retries a 5xx or a dropped connection of a listing, never a verify that may have started', async () => {
    sim.injectFault({ kind: 'status', status: 503, path: /\/snapshots$/ });
    sim.injectFault({ kind: 'drop', path: /\/snapshots$/ });
    const listed = await run<PbsSnapshotsResult>('pbs.snapshots', { server: 'home' });
    assert.equal(listed.counts.total, 4);
    sim.injectFault({ kind: 'status', status: 503, path: /\/verify$/ });
    const error = await failure('pbs.verify', { server: 'home' });
    assert.match(error.message, /failed POST \/api2\/json\/admin\/datastore\/pbs-ruapehu\/verify with HTTP 503/);
    assert.equal(sim.requests.filter((request) => request.method === 'POST').length, 1);
  });

  it('browses hostile datastore names and backup ids through the model: every path lies under its parent and leads back to the same thing', async () => {
    const names = ['a/b', '..', '%2F', 'x"y', 'ok'];
    for (const name of names) sim.datastores[name] = { total: 10, used: 1, snapshots: [{ type: 'host', id: name, time: NOW, comment: 'line\nbreak' }] };
    // The simulator keeps PBS's name rules for datastores; these are made reachable for the model's sake.
    const model = new BrowseModel([pbsBrowser], new ActionRegistry(pbsActions), '/w/lifeboat.yaml');
    const ctx = context();
    try {
      const page = assertListedUnder('pbs/home', await model.children('pbs/home', { limit: 50 }, ctx));
      assert.deepEqual(page.nodes.map((node) => node.label).sort(), [STORE, 'spare', ...names].sort());
      for (const node of [...(await model.children('pbs', { limit: 50 }, ctx)).nodes, ...page.nodes]) assertOperationsInTreeMenu(node);
      const hostile = page.nodes.find((node) => node.label === 'a/b');
      assert.ok(hostile);
      assert.deepEqual(splitPath(hostile.path), ['pbs', 'home', 'a/b']);
      const snapshots = await model.children(hostile.path, { limit: 50 }, ctx);
      assert.equal(snapshots.nodes[0]?.kind, 'error', 'PBS refuses the name: an error node, not another route');
      assert.match(snapshots.nodes[0]?.description ?? '', /rejected GET \/api2\/json\/admin\/datastore\/a%2Fb\/snapshots \(HTTP 400\): parameter verification errors/);
      const fine = assertListedUnder(`pbs/home/ok`, await model.children('pbs/home/ok', { limit: 50 }, ctx));
      assert.deepEqual(fine.nodes.map((node) => [node.label, node.operations.map((operation) => [operation.id, operation.kind === 'action' ? operation.params : {}])]), [['host/ok', [['verify', { server: 'home', datastore: 'ok', backupType: 'host', backupId: 'ok', time: NOW }]]]]);
      assert.match(fine.nodes[0]?.description ?? '', /line\\nbreak/, 'a comment cannot break the line it is shown on');
    } finally {
      await ctx.clients.disposeAll();
    }
  });

  it("walks the palette's Verify PBS Datastore… through the browse model: server, datastore, then the verify", async () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.verifyPbsDatastore');
    assert.ok(command);
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === command.command)?.title, 'Verify PBS Datastore…');
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), '/w/lifeboat.yaml');
    const ctx = context();
    const picked: Record<string, unknown> = {};
    try {
      for (const step of command.steps) {
        assert.ok(step.kind === 'node');
        const offered = (await model.children(step.under(picked), { limit: 100 }, ctx)).nodes.filter((node) => step.accept?.(node) ?? true);
        assert.deepEqual(offered.map((node) => node.label), step.param === 'server' ? ['home'] : [STORE, 'spare']);
        picked[step.param] = step.value?.(offered[0] as BrowseNode);
      }
    } finally {
      await ctx.clients.disposeAll();
    }
    assert.deepEqual(picked, { server: 'home', datastore: STORE });
    const error = await failure(command.action, picked);
    assert.match(error.message, /^verify of datastore 'pbs-ruapehu' on PBS 'home' .* failed: Error: verification failed/, 'the damaged VM 451 fails the datastore');
    assert.match(error.message, /\\tvm\/451\//);
  });

  it('refuses an answer larger than it will hold, naming the route', async () => {
    const client = new PbsClient({ url: sim.url, tokenId: TOKEN, tokenSecret: SECRET, fingerprint: sim.fingerprint, maxResponseBytes: 200 });
    await assert.rejects(client.snapshots(STORE), (error: unknown) => error instanceof PbsError && error.failure === 'protocol' && /answered GET \/api2\/json\/admin\/datastore\/pbs-ruapehu\/snapshots with more than 200 B; refusing to read on$/.test(error.message));
    assert.equal((await client.datastores()).length, 2, 'a small answer is read');
  });

  it('sends hostile datastore names and ids as one encoded segment or query value: the route never changes', async () => {
    const client = new PbsClient({ url: sim.url, tokenId: TOKEN, tokenSecret: SECRET, fingerprint: sim.fingerprint, retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 } });
    const hostile = ['..', '.', '../spare', 'a/b', '..%2F..', '%2e%2e', 'x"y\'z', '?backup-type=vm', '#top', 'a b', 'ünï', '\\..\\', '', ...hostilePayloads('pwned').filter((payload) => Buffer.byteLength(payload) < 1000)];
    for (const value of hostile) {
      sim.requests.length = 0;
      const listing = await client.snapshots(value).catch((error: unknown) => error);
      assert.ok(listing instanceof PbsError, `datastore ${JSON.stringify(value)} is refused`);
      messages.push(listing.message);
      assert.deepEqual(sim.requests[0]?.segments, ['admin', 'datastore', value, 'snapshots'], `datastore ${JSON.stringify(value)} stays one segment`);
      sim.requests.length = 0;
      await client.snapshots(STORE, { id: value }).catch(() => undefined);
      const query = new URLSearchParams(sim.requests[0]?.rawPath.split('?')[1] ?? '');
      assert.deepEqual([sim.requests[0]?.segments, query.get('backup-id'), [...query.keys()]], [['admin', 'datastore', STORE, 'snapshots'], value, ['backup-id']]);
      sim.requests.length = 0;
      await client.startVerify(STORE, { kind: 'group', type: 'vm', id: value }).catch(() => undefined);
      assert.deepEqual(sim.requests[0]?.segments, ['admin', 'datastore', STORE, 'verify']);
    }
    for (const tokenId of ['root@pam!x\r\nX-Injected: 1', 'root@pam', 'root@pam!a:b']) {
      assert.throws(() => new PbsClient({ url: sim.url, tokenId, tokenSecret: SECRET }), /is not of the form user@realm!tokenname/);
    }
  });
});

/** The simulator again, with verifies slow enough to cancel one in the middle. */
async function restartSlow(previous: PbsSimulator): Promise<PbsSimulator> {
  await previous.stop();
  const slow = await PbsSimulator.start({ tokens: { [TOKEN]: SECRET }, datastores: datastores(), verifyMsPerSnapshot: 400 });
  return slow;
}
