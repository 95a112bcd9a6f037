import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../src/core/actions/context';
import type { Logger } from '../../src/core/actions/spec';
import { acquireLock, folderLockStore, LocationLockedError, LOCK_FILE_NAME, type LockHolder } from '../../src/core/locks';

describe('location locks: one writer per location', () => {
  let folder: string;
  const warnings: string[] = [];
  const log: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
  const who = { action: 'frigate.faces.backup', runbook: 'faces.runbook.md' };

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'lifeboat-locks-'));
    warnings.length = 0;
  });

  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  const lockFile = () => join(folder, 'backups', LOCK_FILE_NAME);
  const store = () => folderLockStore(join(folder, 'backups'));
  const holder = (overrides: Partial<LockHolder>): LockHolder => ({
    format: 'lifeboat.lock/1',
    id: 'other',
    host: 'nas',
    pid: 4121,
    user: 'backup',
    runbook: 'nightly.runbook.md',
    action: 'archive.create',
    startedAt: '2026-12-06T03:00:00.000Z',
    renewedAt: new Date().toISOString(),
    ...overrides,
  });
  const leave = async (content: string) => {
    await store().create(content);
  };

  it('refuses a second writer while the first holds the location, naming who holds it, and lets it in once released', async () => {
    const first = await acquireLock(store(), who, log);
    const held = JSON.parse(await readFile(lockFile(), 'utf8')) as LockHolder;
    assert.deepEqual({ host: held.host, pid: held.pid, user: held.user, runbook: held.runbook, action: held.action }, { host: hostname(), pid: process.pid, user: userInfo().username, runbook: 'faces.runbook.md', action: 'frigate.faces.backup' });
    await assert.rejects(acquireLock(store(), { action: 'archive.delete' }, log), (error: unknown) => {
      assert.ok(error instanceof LocationLockedError);
      assert.match(error.message, new RegExp(`^.*backups is being written by another run: frigate\\.faces\\.backup of faces\\.runbook\\.md, pid ${process.pid} of \\S+ on ${hostname()}, since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC, renewed \\d+ s ago\\. Try again once it has finished`));
      return true;
    });
    await first.release();
    assert.equal(existsSync(lockFile()), false);
    const second = await acquireLock(store(), { action: 'archive.delete' }, log);
    await second.release();
    assert.deepEqual(warnings, []);
  });

  it("refuses a fresh lock of another machine's run", async () => {
    await leave(JSON.stringify(holder({})));
    await assert.rejects(acquireLock(store(), who, log), /is being written by another run: archive\.create of nightly\.runbook\.md, pid 4121 of backup on nas, since 2026-12-06 03:00:00 UTC/);
    assert.equal(JSON.parse(await readFile(lockFile(), 'utf8')).id, 'other', 'left as it was');
  });

  it('shows the text of a lock file with its control characters escaped, and takes a malformed one for no lock of ours', async () => {
    await leave(JSON.stringify(holder({ host: 'nas\n\u001b[31mrm -rf', runbook: 'a\rb' })));
    await assert.rejects(acquireLock(store(), who, log), (error: unknown) => {
      assert.ok(error instanceof LocationLockedError);
      assert.match(error.message, /of a\\rb, pid 4121 of backup on nas\\n\\x1b\[31mrm -rf, since/);
      // eslint-disable-next-line no-control-regex -- control characters are what must not be in it
      assert.doesNotMatch(error.message, /[\u0000-\u001f]/);
      return true;
    });
    await rm(lockFile());
    await leave(JSON.stringify({ ...holder({}), host: 5 }));
    const lock = await acquireLock(store(), who, log);
    assert.ok(warnings.some((warning) => warning.includes('it is not a lock Lifeboat can read')));
    await lock.release();
  });

  it('takes over a lock whose process on this machine is gone, one not renewed for too long, and one it cannot read, saying whose it was', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid as number;
    const leftovers = [
      { content: JSON.stringify(holder({ host: hostname(), pid: gone })), reason: `its process ${gone} is gone` },
      { content: JSON.stringify(holder({ renewedAt: new Date(Date.now() - 5 * 60_000).toISOString() })), reason: 'it was last renewed 5 min ago' },
      { content: '{"half', reason: 'it is not a lock Lifeboat can read' },
    ];
    for (const { content, reason } of leftovers) {
      await rm(lockFile(), { force: true });
      await leave(content);
      warnings.length = 0;
      const lock = await acquireLock(store(), who, log);
      assert.equal(warnings.length, 1);
      assert.ok(warnings[0]?.includes(`left by a run that stopped (${reason})`), warnings[0]);
      assert.equal(JSON.parse(await readFile(lockFile(), 'utf8')).pid, process.pid);
      await lock.release();
    }
  });

  it("renews the lock while it is held, notices when another run took it, and then neither changes the location nor removes the other's lock", async () => {
    const lock = await acquireLock(store(), who, log, { heartbeatMs: 300, staleAfterMs: 1000 });
    const first = JSON.parse(await readFile(lockFile(), 'utf8')) as LockHolder;
    let renewed = first;
    while (renewed.renewedAt === first.renewedAt) {
      await sleep(10);
      renewed = JSON.parse(await readFile(lockFile(), 'utf8')) as LockHolder;
    }
    assert.equal(renewed.id, first.id);
    lock.assertHeld();
    // Right after a renewal, so none is under way: another run's takeover replaces the file whole, as the stores do.
    await writeFile(`${lockFile()}.next`, JSON.stringify(holder({})));
    await rename(`${lockFile()}.next`, lockFile());
    await sleep(450);
    assert.throws(() => lock.assertHeld(), /backups is no longer locked by this run \(another run took it: archive\.create of nightly\.runbook\.md, pid 4121 of backup on nas/);
    await lock.release();
    assert.equal(JSON.parse(await readFile(lockFile(), 'utf8')).id, 'other');
  });
});
