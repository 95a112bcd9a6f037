import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { syncPush, type SyncPushResult } from '../../src/actions/sync/push';
import { paramSchemaAt } from '../../src/core/actions/fields';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import { paramsFromPicks } from '../../src/core/browse/palette';
import { ClientPool } from '../../src/core/actions/clients';
import { PlanHandOver } from '../../src/core/actions/handOver';
import { createActionContext } from '../../src/core/actions/context';
import { isCancellationError } from '../../src/core/errors';
import type { ActionContext, ActionPlan, Inventory } from '../../src/core/actions/spec';
import { printable } from '../../src/core/render';
import { REPO_ROOT } from '../support/paths';
import { hostilePayloads } from '../support/payloads';
import { hostEntry, readTree, startTwoHosts, type TwoHosts } from '../support/twoHosts';
import { startTcpFaultProxy } from '../testbed/faultProxy';

const DAY = 86_400;
const run = promisify(execFile);

/** File names that break anything building command text: every payload that can be a single name. */
function hostileNames(sentinel: string): string[] {
  return hostilePayloads(sentinel).filter((name) => !name.includes('/') && name !== '.' && name !== '..' && name !== '' && Buffer.byteLength(name) <= 255);
}

/** Waits until some file below `dir` holds at least `bytes`, or `pending` settles. */
async function untilReceiving(dir: string, bytes: number, pending: Promise<unknown>): Promise<void> {
  let settled = false;
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  const largest = async (folder: string): Promise<number> => {
    let most = 0;
    for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      const path = join(folder, entry.name);
      most = Math.max(most, entry.isDirectory() ? await largest(path) : await stat(path).then((stats) => stats.size, () => 0));
    }
    return most;
  };
  while (!settled && (await largest(dir)) < bytes) await sleep(20);
}

describe('sync.push between two real sshd hosts', function () {
  this.timeout(180_000);
  let hosts: TwoHosts;
  let workspace: string;
  let pool: ClientPool;
  let src: string;
  let dst: string;

  before(async () => {
    hosts = await startTwoHosts();
  });

  after(async () => {
    await hosts?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-sync-'));
    pool = new ClientPool();
    src = join(hosts.pi4.remoteDir, 'src');
    dst = join(hosts.pi5.remoteDir, 'dst');
    await rm(src, { recursive: true, force: true });
    await rm(dst, { recursive: true, force: true });
    await mkdir(src);
  });

  afterEach(async () => {
    await pool.disposeAll();
    await rm(workspace, { recursive: true, force: true });
  });

  function context(inventory: Inventory = hosts.inventory): ActionContext {
    return createActionContext({ workspaceDir: workspace, inventory, clients: pool });
  }

  function params(extra: Record<string, unknown> = {}) {
    return syncPush.params.parse({ from: { host: 'pi4', path: src }, to: { host: 'pi5', path: dst }, ...extra });
  }

  async function plan(extra: Record<string, unknown> = {}, ctx = context()): Promise<ActionPlan> {
    return syncPush.plan(params(extra), ctx);
  }

  async function push(extra: Record<string, unknown> = {}, ctx = context()): Promise<SyncPushResult> {
    return (await syncPush.run(params(extra), ctx)) as SyncPushResult;
  }

  /** A small tree with old times and unusual modes, and a symbolic link. */
  async function writeSourceTree(): Promise<void> {
    await mkdir(join(src, 'clips', 'front door'), { recursive: true });
    await writeFile(join(src, 'clips', 'front door', 'a.mp4'), randomBytes(70_000));
    await writeFile(join(src, 'clips', 'b.mp4'), randomBytes(1234));
    await writeFile(join(src, 'notes.txt'), 'hello\n');
    await chmod(join(src, 'notes.txt'), 0o640);
    await writeFile(join(src, 'run.sh'), '#!/bin/sh\n');
    await chmod(join(src, 'run.sh'), 0o750);
    await symlink('notes.txt', join(src, 'latest'));
    const old = Date.now() / 1000 - 3 * DAY;
    for (const file of ['clips/front door/a.mp4', 'clips/b.mp4', 'notes.txt', 'run.sh']) await utimes(join(src, file), old, old);
    await utimes(join(src, 'clips', 'front door'), old - 60, old - 60);
  }

  for (const method of ['rsync', 'tar'] as const) {
    describe(`with ${method}`, () => {
      it('a dry run lists exactly what would change and changes nothing; the push then keeps bytes, modes and times; a re-run does nothing', async () => {
        await writeSourceTree();
        await mkdir(dst);
        await writeFile(join(dst, 'notes.txt'), 'an older version\n');
        await writeFile(join(dst, 'extra.mp4'), 'only at the destination');
        const before = await readTree(dst);

        const dry = await plan({ method });
        assert.deepEqual(await readTree(dst), before, 'the dry run changed nothing');
        const files = (kind: string) => dry.operations.filter((operation) => operation.kind === kind && !operation.target.endsWith('/')).map((operation) => operation.target.slice(`pi5:${dst}/`.length)).sort();
        assert.deepEqual(files('create'), ['clips/b.mp4', 'clips/front door/a.mp4', 'latest', 'run.sh']);
        assert.deepEqual(files('overwrite'), ['notes.txt']);
        assert.deepEqual(files('delete'), [], 'nothing is deleted unless asked');
        assert.equal(dry.destructive, true, 'overwriting notes.txt is destructive');
        assert.match(dry.summary, new RegExp(`with ${method}: 6 new, 1 changed`));

        const result = await push({ method });
        assert.equal(result.method, method);
        assert.equal(result.counts.create, 6, 'four files and two folders');
        assert.equal(result.counts.update, 1);
        assert.equal(result.counts.delete, 0);
        const copied = await readTree(dst);
        assert.ok(copied.has('extra.mp4'), 'the extra file stays without delete: true');
        copied.delete('extra.mp4');
        assert.deepEqual(copied, await readTree(src), 'bytes, modes, times and the link arrive as they are');

        const again = await plan({ method });
        assert.deepEqual(again.operations, [], 'a second push has nothing to do');
        assert.equal(again.destructive, false);
        const rerun = await push({ method });
        assert.deepEqual(rerun.counts, { create: 0, update: 0, attributes: 0, delete: 0, bytes: 0 });
      });

      it('deletes what the source lacks only with delete: true, and shows it in the plan first', async () => {
        await writeSourceTree();
        await push({ method });
        await mkdir(join(dst, 'old day'));
        await writeFile(join(dst, 'old day', 'c.mp4'), 'gone from the source');
        await writeFile(join(dst, 'extra.mp4'), 'only here');

        const withoutDelete = await plan({ method });
        assert.deepEqual(withoutDelete.operations.filter((operation) => operation.kind === 'delete'), []);
        await push({ method });
        assert.ok(existsSync(join(dst, 'extra.mp4')) && existsSync(join(dst, 'old day', 'c.mp4')));

        // The run follows the plan it was shown (as the runner hands it over): what the source loses in between is not deleted unseen.
        const ctx = { ...context(), handOver: new PlanHandOver() };
        const withDelete = await plan({ method, delete: true }, ctx);
        const deletions = withDelete.operations.filter((operation) => operation.kind === 'delete').map((operation) => operation.target.slice(`pi5:${dst}/`.length)).sort();
        assert.deepEqual(deletions, ['extra.mp4', 'old day/', 'old day/c.mp4']);
        assert.equal(withDelete.destructive, true);
        assert.ok(existsSync(join(dst, 'extra.mp4')), 'the plan deleted nothing');
        await rm(join(src, 'notes.txt'));
        const result = await push({ method, delete: true }, ctx);
        await ctx.handOver.dispose();
        assert.equal(result.counts.delete, 3);
        assert.ok(existsSync(join(dst, 'notes.txt')), 'a deletion the plan did not show is not made');
        assert.ok(!existsSync(join(dst, 'extra.mp4')) && !existsSync(join(dst, 'old day')));
        const next = await push({ method, delete: true });
        assert.deepEqual(next.changes.filter((change) => change.kind === 'delete').map((change) => change.path), ['notes.txt']);
        assert.deepEqual(await readTree(dst), await readTree(src));
      });

      it('carries hostile file names and folder paths as data, through every command it builds', async () => {
        const sentinelName = 'PWNED';
        const names = hostileNames(sentinelName);
        src = join(hosts.pi4.remoteDir, `src $(touch ${sentinelName}) '"; -x`);
        dst = join(hosts.pi5.remoteDir, `-dst \`touch ${sentinelName}\` \n`);
        await rm(src, { recursive: true, force: true });
        await rm(dst, { recursive: true, force: true });
        await mkdir(join(src, '-sub $(x)'), { recursive: true });
        for (const [index, name] of names.entries()) await writeFile(join(src, index % 2 ? '-sub $(x)' : '', name), `content ${index}`);
        await mkdir(dst);
        await writeFile(join(dst, `--delete-me $(touch ${sentinelName})`), 'extra');

        const dry = await plan({ method, delete: true });
        const expected = names.map((name, index) => (index % 2 ? `-sub $(x)/${name}` : name));
        const created = dry.operations.filter((operation) => operation.kind === 'create' && !operation.target.endsWith('/')).map((operation) => operation.target.slice(`pi5:${dst}/`.length));
        assert.deepEqual(created.sort(), expected.map(printable).sort());
        assert.deepEqual(dry.operations.filter((operation) => operation.kind === 'delete').map((operation) => operation.target.slice(`pi5:${dst}/`.length)), [printable(`--delete-me $(touch ${sentinelName})`)]);

        const result = await push({ method, delete: true });
        assert.equal(result.counts.create, names.length + 1);
        assert.deepEqual(await readTree(dst), await readTree(src));
        const sentinels = [hosts.pi4.remoteDir, hosts.pi5.remoteDir, workspace, userInfo().homedir, process.cwd()].filter((dir) => existsSync(join(dir, sentinelName)));
        assert.deepEqual(sentinels, [], 'no name ran as a command');
      });

      for (const side of ['pi4', 'pi5'] as const) {
        it(`a ${side === 'pi4' ? 'source' : 'destination'} that drops mid-sync fails clearly and leaves no partial file under its final name`, async () => {
          await writeFile(join(src, 'big.mp4'), randomBytes(24 * 1024 * 1024));
          await mkdir(dst);
          const dropping = hosts[side];
          const proxy = await startTcpFaultProxy(dropping.port);
          try {
            // The proxy is the host at another port: its known_hosts line names that port.
            const knownHosts = join(workspace, 'known_hosts');
            await writeFile(knownHosts, dropping.knownHostsLine.replace(`:${dropping.port} `, `:${proxy.port} `) + '\n');
            const inventory = { hosts: { ...hosts.inventory.hosts, [side]: { ...hostEntry(dropping, proxy.port), knownHosts } } } as Inventory;
            proxy.throttle(4 * 1024 * 1024, 'both');
            const pending = push({ method }, context(inventory));
            // Cut once the destination has part of the file (under rsync's or the staging folder's temporary name).
            await untilReceiving(dst, 2 * 1024 * 1024, pending);
            proxy.cutAfter(1);
            await assert.rejects(pending, (error: Error) => {
              console.log(`      ${method}, ${side} dropped: ${error.message.split('\n').join('\n        ')}`);
              assert.match(error.message, new RegExp(`^sync of pi4:\\S* to pi5:\\S* failed: the connection to ${side} was lost`), 'the side that dropped is named first');
              assert.doesNotMatch(error.message, /^\s+at /m, 'no stack trace');
              return true;
            });
          } finally {
            await proxy.stop();
          }
          assert.ok(!existsSync(join(dst, 'big.mp4')), 'no file under its final name');
        });
      }
    });
  }

  for (const method of ['rsync', 'tar'] as const) {
    it(`a cancelled push (${method}) stops both hosts' processes and leaves no partial file under its final name`, async () => {
      await writeFile(join(src, 'big.mp4'), randomBytes(24 * 1024 * 1024));
      await mkdir(dst);
      const controller = new AbortController();
      const ctx = createActionContext({ workspaceDir: workspace, inventory: hosts.inventory, clients: pool, signal: controller.signal });
      // A slow transfer, so it is still under way when cancelled.
      const pending = push({ method, bandwidthKiBps: 2048 }, ctx);
      await untilReceiving(dst, 1024 * 1024, pending);
      controller.abort();
      await assert.rejects(pending, (error: Error) => isCancellationError(error));
      const lingering = async () => (await run('pgrep', ['-f', '--', `${method} .*(${src}|${dst}|--server)`]).then(({ stdout }) => stdout.trim(), () => '')).split('\n').filter(Boolean);
      for (let tries = 0; (await lingering()).length > 0 && tries < 100; tries++) await sleep(50);
      assert.deepEqual(await lingering(), [], 'no rsync or tar left running on either host');
      assert.ok(!existsSync(join(dst, 'big.mp4')), 'no file under its final name');
    });
  }

  it('falls back to a tar stream when a host has no rsync (auto), byte-exact with modes and times', async () => {
    const bin = join(hosts.pi5.dir, 'bin-without-rsync');
    await mkdir(bin);
    for (const tool of ['sh', 'bash', 'tar', 'find', 'cp', 'mkdir', 'rm', 'xargs', 'mktemp', 'cat', 'kill', 'env']) {
      const found = ['/usr/bin', '/bin'].map((dir) => join(dir, tool)).find((path) => existsSync(path));
      if (found) await symlink(found, join(bin, tool));
    }
    const noRsync = await startTwoHosts({ pi5Config: [`SetEnv PATH=${bin}`] });
    try {
      src = join(noRsync.pi4.remoteDir, 'src');
      dst = join(noRsync.pi5.remoteDir, 'dst');
      await mkdir(src);
      await writeSourceTree();
      const ctx = context(noRsync.inventory);
      const dry = await syncPush.plan(params(), ctx);
      assert.match(dry.summary, /with tar:/);
      const result = (await syncPush.run(params(), ctx)) as SyncPushResult;
      assert.equal(result.method, 'tar');
      assert.deepEqual(await readTree(dst), await readTree(src));
      assert.deepEqual((await readdir(dst)).filter((name) => name.startsWith('.lifeboat-sync-')), [], 'the staging folder is gone');
    } finally {
      await noRsync.stop();
    }
  });

  for (const method of ['rsync', 'tar'] as const) {
    it(`creates a missing destination folder with its parents (${method}); its dry run creates nothing`, async () => {
      await writeFile(join(src, 'a.mp4'), 'a');
      dst = join(hosts.pi5.remoteDir, 'missing', 'parents', 'dst');
      await rm(join(hosts.pi5.remoteDir, 'missing'), { recursive: true, force: true });
      const dry = await plan({ method });
      assert.ok(dry.operations.some((operation) => operation.kind === 'create' && operation.target.endsWith('/a.mp4')));
      assert.ok(!existsSync(join(hosts.pi5.remoteDir, 'missing')), 'the dry run created nothing');
      await push({ method });
      assert.deepEqual(await readTree(dst), await readTree(src));
      await rm(join(hosts.pi5.remoteDir, 'missing'), { recursive: true, force: true });
    });
  }

  it("walks the palette's Push a Folder to Another Host…: hosts picked from the tree, folders typed and checked as typed, then the push", async () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.pushFolder');
    assert.ok(command);
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === command.command)?.title, 'Push a Folder to Another Host…');
    await writeFile(join(src, 'clip.mp4'), randomBytes(5000));
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), join(workspace, 'lifeboat.yaml'));
    const typed: Record<string, string> = { 'from.path': src, 'to.path': dst };
    const chosenHost: Record<string, string> = { 'from.host': 'pi4', 'to.host': 'pi5' };
    const picked: Record<string, unknown> = {};
    for (const step of command.steps) {
      if (step.kind === 'node') {
        const offered = (await model.children(step.under(picked), { limit: 100 }, context())).nodes.filter((node) => step.accept?.(node) ?? true);
        assert.deepEqual(offered.map((node) => node.label), ['pi4', 'pi5']);
        picked[step.param] = offered.find((node) => node.label === chosenHost[step.param])?.label;
      } else {
        assert.equal(step.kind, 'text');
        // What the input box says while a person types: the action's own schema for that field.
        const schema = paramSchemaAt(syncPush.params, step.param);
        assert.match(schema?.safeParse('relative/path').error?.issues[0]?.message ?? '', /absolute path/);
        assert.match(schema?.safeParse('/srv/../etc').error?.issues[0]?.message ?? '', /cannot go up/);
        picked[step.param] = typed[step.param];
      }
    }
    const params = paramsFromPicks(picked);
    assert.deepEqual(params, { from: { host: 'pi4', path: src }, to: { host: 'pi5', path: dst } });
    const result = (await syncPush.run(syncPush.params.parse(params), context())) as SyncPushResult;
    assert.equal(result.counts.create, 1);
    assert.deepEqual(await readTree(dst), await readTree(src));
  });

  it('refuses overlapping folders on one host and delete into /', async () => {
    await assert.rejects(syncPush.plan(syncPush.params.parse({ from: { host: 'pi4', path: '/srv/a' }, to: { host: 'pi4', path: '/srv/a/b' } }), context()), /overlap on pi4/);
    await assert.rejects(syncPush.plan(syncPush.params.parse({ from: { host: 'pi4', path: '/srv/a' }, to: { host: 'pi5', path: '/' }, delete: true }), context()), /into \/ would delete/);
    assert.throws(() => syncPush.params.parse({ from: { host: 'pi4', path: 'relative' }, to: { host: 'pi5', path: '/x' } }), /absolute path/);
  });
});
