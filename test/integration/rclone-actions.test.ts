import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { rcloneCheck, RcloneCheckFailedError, type RcloneCheckActionResult } from '../../src/actions/rclone/check';
import { rcloneCopy, type RcloneCopyResult } from '../../src/actions/rclone/copy';
import { rcloneList, type RcloneListResult } from '../../src/actions/rclone/list';
import { parseRclonePath } from '../../src/actions/rclone/remotes';
import { RcloneError } from '../../src/clients/rclone';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import type { ActionContext, ActionSpec, Inventory, ProgressUpdate } from '../../src/core/actions/spec';
import { hostilePayloads } from '../support/payloads';
import { startFaultProxy, type FaultProxy } from '../testbed/faultProxy';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

/** Environment variables rclone reads as flags (RCLONE_BWLIMIT is --bwlimit), set for one test. */
async function withRcloneFlags<Result>(flags: Record<string, string>, body: () => Promise<Result>): Promise<Result> {
  const before = Object.fromEntries(Object.keys(flags).map((name) => [name, process.env[name]]));
  Object.assign(process.env, flags);
  try {
    return await body();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** Files below a folder, relative, sorted; hidden staging folders included, so a leftover one shows. */
async function tree(folder: string): Promise<string[]> {
  if (!existsSync(folder)) return [];
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name))).sort();
}

describe('rclone.copy, rclone.list and rclone.check with the real rclone, to s3rver and to folders on this machine', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  /** Plain http behind the fault proxy. */
  let plainServer: RunningS3rver;
  let proxy: FaultProxy;
  let work: string;
  let source: string;
  let inventory: Inventory;
  const inheritedConfig = process.env.RCLONE_CONFIG;

  const context = (overrides: Partial<ActionContext> = {}) =>
    createActionContext({ workspaceDir: work, inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_GARAGE_SECRET: S3RVER_CREDENTIALS.secretAccessKey }), ...overrides });
  async function run<Result>(action: ActionSpec, params: Record<string, unknown>, ctx = context()): Promise<Result> {
    return (await action.run(action.params.parse(params), ctx)) as Result;
  }
  const copy = (params: Record<string, unknown>, ctx?: ActionContext) => run<RcloneCopyResult>(rcloneCopy, params, ctx);

  before(async () => {
    // The user's own rclone.conf stays out of the tests: every remote is declared in the inventory.
    process.env.RCLONE_CONFIG = '/dev/null';
    server = await startS3rver({ buckets: ['drive'], tls: true });
    plainServer = await startS3rver({ buckets: ['drive'] });
    proxy = await startFaultProxy(plainServer.endpoint);
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-rclone-actions-'));
    source = path.join(work, 'source');
    await mkdir(path.join(source, 'config'), { recursive: true });
    await writeFile(path.join(source, 'config', 'app.yaml'), 'port: 5000\n');
    await writeFile(path.join(source, 'backup.tar.gz'), randomBytes(300_000));
    await writeFile(path.join(source, 'notes.txt'), 'weekly\n');
    const storeEntry = (endpoint: string) => ({ endpoint, region: 'us-east-1', bucket: 'drive', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:garage-secret' } });
    inventory = {
      // The remote trusts the store's own CA file.
      stores: { garage: { ...storeEntry(server.endpoint), caFile: server.caFile }, flaky: storeEntry(proxy.endpoint), lax: { ...storeEntry(server.endpoint), tls: { insecure: true } } },
      rcloneRemotes: {
        gdrive: { store: 'garage' },
        lax: { store: 'lax' },
        flaky: { store: 'flaky' },
        nas: { type: 'local', options: {} },
      },
    } as Inventory;
  });
  after(async () => {
    if (inheritedConfig === undefined) delete process.env.RCLONE_CONFIG;
    else process.env.RCLONE_CONFIG = inheritedConfig;
    await proxy?.stop();
    await server?.stop();
    await plainServer?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('copies a folder to an S3 remote with progress from rclone, lists it back and checks it', async () => {
    const updates: ProgressUpdate[] = [];
    const result = await copy({ source: 'source', destination: 'gdrive:drive/BadrBackups' }, context({ progress: { report: (update) => updates.push(update) } }));
    assert.equal(result.transfers, 3);
    assert.equal(result.staged, false, 'S3 uploads appear whole: no staging');
    assert.equal(result.bytes, 300_000 + 11 + 7);
    assert.ok(updates.some((update) => update.bytes === result.bytes), JSON.stringify(updates));
    assert.match(rcloneCopy.render(result), /^Copied 3 files \(.*\) from .*\/source to gdrive:drive\/BadrBackups/);

    const listed = await run<RcloneListResult>(rcloneList, { path: 'gdrive:drive/BadrBackups', recursive: true, hashes: true });
    assert.deepEqual(listed.entries.filter((entry) => !entry.isDir).map((entry) => entry.path).sort(), ['backup.tar.gz', 'config/app.yaml', 'notes.txt']);
    assert.equal(listed.bytes, result.bytes);
    assert.ok(listed.entries.filter((entry) => !entry.isDir).every((entry) => /^[0-9a-f]{32}$/.test(entry.hashes.md5 ?? '')));
    assert.match(rcloneList.render(listed), /3 files/);

    const checked = await run<RcloneCheckActionResult>(rcloneCheck, { source: 'source', destination: 'gdrive:drive/BadrBackups' });
    assert.deepEqual([checked.ok, checked.matching], [true, 3]);
  });

  it('copies an archive back from the remote into a folder here, staged, as a restore does', async () => {
    const restored = path.join(work, 'restored');
    const result = await copy({ source: 'gdrive:drive/BadrBackups/backup.tar.gz', destination: 'restored' });
    assert.deepEqual([result.transfers, result.staged], [1, true]);
    assert.deepEqual(await tree(restored), ['backup.tar.gz']);
    assert.deepEqual(await readFile(path.join(restored, 'backup.tar.gz')), await readFile(path.join(source, 'backup.tar.gz')));
  });

  it('plans a copy from a one-way check: new files are created, changed ones overwritten (destructive)', async () => {
    const fresh = await rcloneCopy.plan(rcloneCopy.params.parse({ source: 'source', destination: 'gdrive:drive/Elsewhere' }), context());
    assert.equal(fresh.destructive, false);
    assert.deepEqual(fresh.operations.map((operation) => [operation.kind, operation.items]), [['read', 3], ['create', 3]]);

    await writeFile(path.join(source, 'notes.txt'), 'daily!\n');
    const changed = await rcloneCopy.plan(rcloneCopy.params.parse({ source: 'source', destination: 'gdrive:drive/BadrBackups' }), context());
    assert.equal(changed.destructive, true);
    assert.match(changed.summary, /1 file .*0 new, 1 changed, 2 already there/);
    assert.match(changed.operations.find((operation) => operation.kind === 'overwrite')?.detail ?? '', /notes\.txt/);
    const listed = await run<RcloneListResult>(rcloneList, { path: 'gdrive:drive' });
    assert.deepEqual(listed.entries.map((entry) => entry.name), ['BadrBackups'], 'the plan wrote nothing');
  });

  it('fails a check that finds a difference, naming each file; a size-only check ignores same-size changes', async () => {
    await writeFile(path.join(source, 'extra.txt'), 'new\n');
    await assert.rejects(run(rcloneCheck, { source: 'source', destination: 'gdrive:drive/BadrBackups' }), (error: unknown) => {
      assert.ok(error instanceof RcloneCheckFailedError);
      assert.match(error.message, /does not match .*: 2 differences, 2 files match\n- extra\.txt: missing on the destination\n- notes\.txt: differs|notes\.txt: differs\n- extra\.txt: missing/);
      return true;
    });
    await rm(path.join(source, 'extra.txt'));
    await writeFile(path.join(source, 'notes.txt'), 'Weekly\n');
    const bySize = await run<RcloneCheckActionResult>(rcloneCheck, { source: 'source', destination: 'gdrive:drive/BadrBackups', compare: 'size' });
    assert.equal(bySize.ok, true);
    await copy({ source: 'source', destination: 'gdrive:drive/BadrBackups', checksum: true });
    assert.equal((await run<RcloneCheckActionResult>(rcloneCheck, { source: 'source', destination: 'gdrive:drive/BadrBackups' })).ok, true);
  });

  for (const [what, destination] of [
    ['a folder on this machine', (folder: string) => folder],
    ['a local-type rclone remote', (folder: string) => `nas:${folder}`],
  ] as const) {
    it(`copies to ${what} through a hidden staging folder that does not stay, replacing changed files`, async () => {
      const target = path.join(work, `target-${what.length}`);
      const first = await copy({ source: 'source', destination: destination(target) });
      assert.equal(first.staged, true);
      assert.deepEqual(await tree(target), ['backup.tar.gz', 'config/app.yaml', 'notes.txt']);
      assert.deepEqual((await readdir(work)).filter((name) => name.startsWith('.lifeboat-partial-')), []);

      await writeFile(path.join(source, 'notes.txt'), `changed for ${what}\n`);
      const second = await copy({ source: 'source', destination: destination(target) });
      assert.equal(second.transfers, 1);
      assert.equal(await readFile(path.join(target, 'notes.txt'), 'utf8'), `changed for ${what}\n`);
      assert.deepEqual(await tree(target), ['backup.tar.gz', 'config/app.yaml', 'notes.txt']);
      assert.equal((await run<RcloneCheckActionResult>(rcloneCheck, { source: 'source', destination: destination(target) })).matching, 3);
    });

    it(`cancelled mid-copy to ${what}: no partial file under a final name, the old version of a changed file intact`, async () => {
      const big = path.join(work, `big-${what.length}`);
      const target = path.join(work, `cancelled-${what.length}`);
      await mkdir(big);
      await mkdir(target);
      const old = randomBytes(64 * 1024);
      await writeFile(path.join(target, 'replaced.bin'), old);
      await writeFile(path.join(big, 'replaced.bin'), randomBytes(24 * 1024 * 1024));
      await writeFile(path.join(big, 'new.bin'), randomBytes(24 * 1024 * 1024));
      const controller = new AbortController();
      let seen: string[] | undefined;
      const progress = {
        report(update: ProgressUpdate) {
          if ((update.bytes ?? 0) > 1024 * 1024 && !controller.signal.aborted) {
            // What a reader of the destination sees while the copy runs.
            void tree(target).then((files) => (seen = files.filter((file) => !file.startsWith('.lifeboat-partial-'))));
            setTimeout(() => controller.abort(), 50);
          }
        },
      };
      await withRcloneFlags({ RCLONE_BWLIMIT: '8M' }, () =>
        assert.rejects(copy({ source: big, destination: destination(target) }, context({ signal: controller.signal, progress })), { name: 'CancelledError' }),
      );
      assert.deepEqual(seen, ['replaced.bin'], 'nothing new appeared under a final name during the copy');
      assert.deepEqual(await tree(target), ['replaced.bin']);
      assert.deepEqual(await readFile(path.join(target, 'replaced.bin')), old);
      assert.deepEqual((await readdir(work)).filter((name) => name.startsWith('.lifeboat-partial-')), [], 'no staging folder left beside it');
      assert.deepEqual((await readdir(target)).filter((name) => name.startsWith('.lifeboat-partial-')), [], 'no staging folder left in it');
    });
  }

  it('cancelled mid-copy to an S3 remote (written directly): no object under a final name, the old version of a changed one intact', async () => {
    const big = path.join(work, 'big-s3');
    await mkdir(big);
    const old = randomBytes(64 * 1024);
    await writeFile(path.join(big, 'replaced.bin'), old);
    await copy({ source: big, destination: 'gdrive:drive/cancelled' });
    await writeFile(path.join(big, 'replaced.bin'), randomBytes(24 * 1024 * 1024));
    await writeFile(path.join(big, 'new.bin'), randomBytes(24 * 1024 * 1024));
    const controller = new AbortController();
    const progress = {
      report(update: ProgressUpdate) {
        if ((update.bytes ?? 0) > 1024 * 1024 && !controller.signal.aborted) setTimeout(() => controller.abort(), 50);
      },
    };
    // Above rclone's upload cutoff a file goes up as a multipart upload, which S3 publishes only when it
    // is completed. Below it, a single PUT: S3 never publishes one whose body was cut short, but s3rver
    // (3.7.1) stores whatever arrived, so the files here are made to go up in parts.
    await withRcloneFlags({ RCLONE_BWLIMIT: '8M', RCLONE_S3_UPLOAD_CUTOFF: '5M', RCLONE_S3_CHUNK_SIZE: '5M' }, () =>
      assert.rejects(copy({ source: big, destination: 'gdrive:drive/cancelled' }, context({ signal: controller.signal, progress })), { name: 'CancelledError' }),
    );
    const listed = await run<RcloneListResult>(rcloneList, { path: 'gdrive:drive/cancelled' });
    assert.deepEqual(listed.entries.map((entry) => [entry.name, entry.size]), [['replaced.bin', old.length]]);
    const back = path.join(work, 'cancelled-s3-back');
    await copy({ source: 'gdrive:drive/cancelled/replaced.bin', destination: back });
    assert.deepEqual(await readFile(path.join(back, 'replaced.bin')), old);
  });

  it('a destination that runs out of space fails with a clear error and leaves no partial file', async function () {
    const small = path.join(work, 'small-disk');
    await mkdir(small);
    try {
      await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    } catch {
      // Only a machine that lets this user mount a file system can make a disk this small.
      this.skip();
    }
    try {
      await writeFile(path.join(source, 'backup.tar.gz'), randomBytes(3 * 1024 * 1024));
      await withRcloneFlags({ RCLONE_RETRIES: '1', RCLONE_LOW_LEVEL_RETRIES: '1' }, () =>
        assert.rejects(copy({ source: 'source', destination: small }), (error: unknown) => {
          assert.ok(error instanceof RcloneError, String(error));
          assert.equal(error.kind, 'no-space', error.message);
          assert.match(error.message, /^rclone copy .* failed \(exit code \d+\) \(the destination is out of space\):\n.*(no space left on device|too big for remaining disk space)/s);
          return true;
        }),
      );
      assert.deepEqual(await tree(small), [], 'the staging folder went, and nothing reached a final name');
    } finally {
      await promisify(execFile)('umount', [small]);
    }
  });

  it('an S3 remote that answers every upload with 507 Insufficient Storage fails the copy saying it is out of space', async () => {
    // In front of s3rver: reads pass, writes are refused as a full store refuses them.
    const upstream = new URL(plainServer.endpoint);
    const full = http.createServer((request, response) => {
      if (request.method === 'PUT' || request.method === 'POST') {
        request.resume();
        request.once('end', () => response.writeHead(507, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InsufficientStorage</Code><Message>the store is full</Message></Error>'));
        return;
      }
      const forwarded = http.request({ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      request.pipe(forwarded);
    });
    await new Promise<void>((resolve) => full.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(full.address() as AddressInfo).port}`;
      const fullInventory = { ...inventory, stores: { ...inventory.stores, full: { endpoint, region: 'us-east-1', bucket: 'drive', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:garage-secret' } } }, rcloneRemotes: { ...inventory.rcloneRemotes, full: { store: 'full' } } } as Inventory;
      await withRcloneFlags({ RCLONE_RETRIES: '1', RCLONE_LOW_LEVEL_RETRIES: '1' }, () =>
        assert.rejects(copy({ source: 'source', destination: 'full:drive/Full' }, context({ inventory: fullInventory })), (error: unknown) => {
          assert.ok(error instanceof RcloneError, String(error));
          assert.equal(error.kind, 'no-space', error.message);
          assert.match(error.message, /^rclone copy .* to full:drive\/Full failed \(exit code \d+\) \(the destination is out of space\):\n.*InsufficientStorage/s);
          return true;
        }),
      );
    } finally {
      full.closeAllConnections();
      await new Promise((resolve) => full.close(resolve));
    }
  });

  it('a remote that fails every upload fails the copy with rclone\'s words, not a stack trace', async () => {
    proxy.failNext('PUT', 50);
    await withRcloneFlags({ RCLONE_RETRIES: '1', RCLONE_LOW_LEVEL_RETRIES: '1' }, () =>
      assert.rejects(copy({ source: 'source', destination: 'flaky:drive/Failing' }), (error: unknown) => {
        assert.ok(error instanceof RcloneError, String(error));
        assert.match(error.message, /^rclone copy .* to flaky:drive\/Failing failed \(exit code \d+\):\n.*InternalError/s);
        return true;
      }),
    );
    await withRcloneFlags({ RCLONE_RETRIES: '1', RCLONE_LOW_LEVEL_RETRIES: '1' }, () =>
      assert.rejects(run(rcloneList, { path: 'gdrive:no-such-bucket/x' }), (error: unknown) => error instanceof RcloneError && error.kind === 'not-found'),
    );
  });

  it('checks a crypt remote, which shares no checksum with its source, by reading both sides; a checksum check says why it cannot', async () => {
    const password = (await promisify(execFile)('rclone', ['obscure', 'vault password'], { env: { PATH: process.env.PATH } })).stdout.trim();
    const vault = { workspaceDir: work, inventory: { ...inventory, rcloneRemotes: { ...inventory.rcloneRemotes, vault: { type: 'crypt', options: { remote: path.join(work, 'vault'), password } } } } as Inventory };
    const ctx = () => context(vault);
    // The root of a remote that writes in place cannot have a staging folder beside it.
    await assert.rejects(copy({ source: 'source', destination: 'vault:' }, ctx()), /`destination`: vault: is the root of a crypt backend, which writes files under their final names as they arrive; name a folder on it/);
    await copy({ source: 'source', destination: 'vault:backups' }, ctx());
    await assert.rejects(run(rcloneCheck, { source: 'source', destination: 'vault:backups' }, ctx()), /vault:backups and .*\/source share no checksum: 3 files could only be compared by size; check with `compare: download`/);
    assert.equal((await run<RcloneCheckActionResult>(rcloneCheck, { source: 'source', destination: 'vault:backups', compare: 'download' }, ctx())).matching, 3);
    assert.equal((await run<RcloneCheckActionResult>(rcloneCheck, { source: 'source', destination: 'vault:backups', compare: 'size' }, ctx())).matching, 3);
  });

  it("honours a store's tls.insecure for its remote alone, refusing to lift another remote's verification with it", async () => {
    const listed = await run<RcloneListResult>(rcloneList, { path: 'lax:drive/BadrBackups' });
    assert.deepEqual(listed.entries.map((entry) => entry.name).sort(), ['backup.tar.gz', 'config', 'notes.txt']);
    await assert.rejects(copy({ source: 'lax:drive/BadrBackups', destination: 'gdrive:drive/Mirror' }), /remote lax is on a store with `tls.insecure`, and rclone would then skip checking the certificate of gdrive too/);
  });

  it("copies to a remote of the user's rclone.conf, learning its backend from rclone", async () => {
    const config = path.join(work, 'rclone.conf');
    await writeFile(config, '[pi_drive]\ntype = local\n');
    const target = path.join(work, 'from-rclone-conf');
    const result = await withRcloneFlags({ RCLONE_CONFIG: config }, () => copy({ source: 'source', destination: `pi_drive:${target}` }));
    assert.equal(result.staged, true, 'a local backend is staged');
    assert.deepEqual(await tree(target), ['backup.tar.gz', 'config/app.yaml', 'notes.txt']);
  });

  it('names a remote that is neither declared nor in rclone.conf', async () => {
    await assert.rejects(run(rcloneList, { path: 'unknown_remote:folder' }), /rclone list unknown_remote:folder failed .*didn't find section in config file/s);
  });

  describe('hostile values', () => {
    it('refuses remote names that would configure a backend or read as a flag, naming the field', () => {
      for (const text of [':local:/etc', 'gdrive,links=true:x', '-x:y', ' gdrive:x', 'a$(touch x):y', "a';b:c", 'a\nb:c']) {
        assert.throws(() => parseRclonePath(text, 'destination', work), /`destination`: .* is not an rclone remote name/, text);
      }
      assert.deepEqual(parseRclonePath('./a:b', 'source', work), { kind: 'local', path: path.join(work, 'a:b') });
      assert.deepEqual(parseRclonePath('--delete', 'source', work), { kind: 'local', path: path.join(work, '--delete') });
      assert.deepEqual(parseRclonePath('gdrive:--delete', 'source', work), { kind: 'remote', remote: 'gdrive', path: '--delete' });
    });

    it('files named like flags and shell syntax round-trip through copy, list and check; no payload runs or deletes', async () => {
      const sentinel = path.join(work, 'sentinel');
      const odd = path.join(work, 'odd');
      await mkdir(odd);
      const names = ['--delete', '-rf', '$(touch sentinel)', '`touch sentinel`', "x'; touch sentinel; '", '; touch sentinel', '* ?[a]'];
      for (const name of names) await writeFile(path.join(odd, name), name);
      const keep = path.join(work, 'odd-copy');
      await mkdir(keep);
      await writeFile(path.join(keep, 'keep-me'), 'older backup\n');
      await copy({ source: 'odd', destination: 'odd-copy' });
      await copy({ source: 'odd', destination: 'gdrive:drive/odd' });
      assert.deepEqual(await tree(keep), [...names, 'keep-me'].sort(), 'copied byte for byte by name, nothing deleted');
      const listed = await run<RcloneListResult>(rcloneList, { path: 'gdrive:drive/odd' });
      assert.deepEqual(listed.entries.map((entry) => entry.name).sort(), [...names].sort());
      assert.equal((await run<RcloneCheckActionResult>(rcloneCheck, { source: 'odd', destination: 'gdrive:drive/odd' })).matching, names.length);
      assert.equal(existsSync(sentinel), false);
      assert.equal(existsSync(path.join(work, 'odd-copy', 'sentinel')), false);
    });

    it('every payload as a source, destination or listed path: a clean error or a copy, and nothing runs', async () => {
      const sentinel = path.join(work, 'payload-ran');
      const file = path.join(work, 'payload-source.txt');
      await writeFile(file, 'payload\n');
      await withRcloneFlags({ RCLONE_RETRIES: '1', RCLONE_LOW_LEVEL_RETRIES: '1' }, async () => {
        for (const payload of hostilePayloads(sentinel)) {
          const attempts: Promise<unknown>[] = [
            run(rcloneList, { path: `gdrive:drive/${payload}` }),
            run(rcloneList, { path: payload }),
            copy({ source: `not-here/${payload}`, destination: `nas:${path.join(work, 'payload-target')}` }),
            copy({ source: file, destination: `gdrive:drive/payloads/${payload}` }),
            run(rcloneCheck, { source: file, destination: `${payload}:x` }),
          ];
          for (const outcome of await Promise.allSettled(attempts)) {
            if (outcome.status === 'rejected') assert.ok(outcome.reason instanceof Error && !/\n\s+at /.test(outcome.reason.message), String(outcome.reason));
          }
        }
      });
      assert.equal(existsSync(sentinel), false);
      assert.ok((await stat(file)).isFile());
    });
  });
});
