import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OUT_FORMAT, parseChangeLine, ChangeCollector } from '../../src/actions/sync/itemize';
import type { RemoteEntry } from '../../src/actions/sync/remoteListing';
import { checkPolicy, classify, type TierPolicy } from '../../src/actions/tier/policy';
import { hostilePayloads } from '../support/payloads';

const run = promisify(execFile);

describe('sync and tier parts', () => {
  describe("rsync's itemized changes", () => {
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lifeboat-itemize-'));
    });

    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reads back every hostile name exactly as the real rsync prints it (escapes of newlines, controls and non-ASCII bytes)', async () => {
      const names = hostilePayloads('PWNED').filter((name) => !name.includes('/') && name !== '' && Buffer.byteLength(name) <= 255);
      await mkdir(join(dir, 'src'));
      await mkdir(join(dir, 'dst'));
      for (const name of names) await writeFile(join(dir, 'src', name), name);
      await writeFile(join(dir, 'dst', 'gone\nline'), 'x');
      const { stdout } = await run('rsync', ['-a', '--delete', '--dry-run', `--out-format=${OUT_FORMAT}`, '--', `${dir}/src/`, `${dir}/dst/`], { maxBuffer: 16 * 1024 * 1024 });
      const collector = new ChangeCollector((line) => assert.fail(`not a change line: ${line}`));
      collector.write(stdout);
      collector.end();
      const created = collector.changes.filter((change) => change.kind === 'create').map((change) => change.path);
      assert.deepEqual(created.sort(), [...names].sort());
      assert.deepEqual(collector.changes.filter((change) => change.kind === 'delete'), [{ kind: 'delete', path: 'gone\nline', isDirectory: false, bytes: 0 }]);
      for (const change of collector.changes.filter((candidate) => candidate.kind === 'create')) assert.equal(change.bytes, Buffer.byteLength(change.path));
    });

    it('tells creations, updates, attribute changes and deletions of files and folders apart', () => {
      assert.deepEqual(parseChangeLine('lifeboat-change: cd+++++++++ 4096 day/'), { kind: 'create', path: 'day', isDirectory: true, bytes: 0 });
      assert.deepEqual(parseChangeLine('lifeboat-change: <f.st...... 12 a b'), { kind: 'update', path: 'a b', isDirectory: false, bytes: 12 });
      assert.deepEqual(parseChangeLine('lifeboat-change: .d..t...... 4096 ./'), { kind: 'attributes', path: '.', isDirectory: true, bytes: 0 });
      assert.deepEqual(parseChangeLine('lifeboat-change: *deleting   0 old/'), { kind: 'delete', path: 'old', isDirectory: true, bytes: 0 });
      assert.deepEqual(parseChangeLine('lifeboat-change: *deleting   0 old/d'), { kind: 'delete', path: 'old/d', isDirectory: false, bytes: 0 });
      assert.equal(parseChangeLine('rsync: [sender] change_dir "/x" failed: No such file or directory (2)'), undefined);
    });
  });

  describe('the tier policy', () => {
    const policy: TierPolicy = { moveAfterDays: 2, notifyAfterDays: 5, expireAfterDays: 7, retainMarker: '.keep' };
    const now = Date.UTC(2026, 11, 6, 4);
    const file = (path: string, ageDays: number, size = 10): RemoteEntry => ({ path, type: 'f', size, mtimeSeconds: Math.floor((now - ageDays * 86_400_000) / 1000), mode: '644' });
    const paths = (files: readonly { path: string }[]) => files.map((entry) => entry.path);

    it('moves what is older than the move age with its marker, notices, expires and keeps flagged files', () => {
      const tier1 = [file('a', 1), file('b', 2.5), file('c', 8), file('c.keep', 0), file('d', 9), { ...file('dir', 9), type: 'd' }];
      const tier2 = [file('e', 6), file('f', 7.5), file('g', 10), file('g.keep', 10)];
      const classes = classify(tier1, tier2, policy, now);
      assert.deepEqual(paths(classes.stay), ['a']);
      assert.deepEqual(paths(classes.move), ['b', 'c', 'c.keep', 'd']);
      assert.deepEqual(paths(classes.notice), ['e']);
      assert.deepEqual(paths(classes.expire), ['d', 'f']);
      assert.deepEqual(paths(classes.retained), ['c', 'g']);
    });

    it('keeps a file flagged by a marker still on tier 1 (its file already on tier 2), and moves nothing of exactly the move age', () => {
      const classes = classify([file('x.keep', 0), file('y', 2)], [file('x', 9)], policy, now);
      assert.deepEqual(paths(classes.move), []);
      assert.deepEqual(paths(classes.retained), ['x']);
      assert.deepEqual(paths(classes.expire), []);
    });

    it('refuses ages that do not grow', () => {
      assert.throws(() => checkPolicy({ ...policy, notifyAfterDays: 8 }), /the ages must grow/);
      assert.throws(() => checkPolicy({ ...policy, moveAfterDays: 6 }), /the ages must grow/);
    });
  });
});
