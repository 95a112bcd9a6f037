import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { OverwriteRefusedError, RestoreRefusedError, type ArchiveCreateResult, type ArchiveListResult, type ArchiveRestoreResult } from '../../src/actions/archive';
import { ArchiveChangedError, extractToStaging } from '../../src/actions/archive/extractToStaging';
import { CancelledError } from '../../src/core/errors';
import { archiveAction, exists, listNames, makeTempDir, planAction, rawTar, rawTarGz, readTree, recordingContext, removeTempDir, runAction, writeRawTarGz, writeTree, type RawTarEntry } from './archiveSupport';

const create = archiveAction('archive.create');
const list = archiveAction('archive.list');
const restore = archiveAction('archive.restore');


/** A context whose run is cancelled as soon as the restore starts extracting. */
function cancelledWhileExtracting(workspace: string) {
  const controller = new AbortController();
  return recordingContext(workspace, {
    signal: controller.signal,
    onProgress: (update) => {
      if (update.message?.startsWith('Extracting')) controller.abort();
    },
  });
}

describe('archive.restore', () => {
  let workspace: string;
  let target: string;
  beforeEach(async () => {
    workspace = await makeTempDir('restore');
    target = path.join(workspace, 'target');
    await writeTree(target, { 'existing.txt': 'already here', 'keep/me.txt': 'me' });
  });
  afterEach(async () => {
    await removeTempDir(workspace);
  });

  const archiveOf = (entries: RawTarEntry[], name = 'hostile.tar.gz') => writeRawTarGz(path.join(workspace, name), entries);

  describe('refuses hostile archives and writes nothing', () => {
    const outside = () => path.join(workspace, 'outside');
    const cases: { name: string; entries: () => RawTarEntry[]; offending: RegExp; strip?: number }[] = [
      { name: 'an entry climbing out with ..', entries: () => [{ path: 'good.txt', content: 'ok' }, { path: '../evil', content: 'evil' }], offending: /'\.\.\/evil': path contains "\.\."/ },
      { name: 'a .. hidden in the middle of a path', entries: () => [{ path: 'a/../../evil', content: 'evil' }], offending: /'a\/\.\.\/\.\.\/evil'/ },
      { name: '.. that strip would remove', entries: () => [{ path: '../top/evil', content: 'evil' }], offending: /'\.\.\/top\/evil'/, strip: 1 },
      { name: 'an absolute path', entries: () => [{ path: path.join(workspace, 'absolute-evil'), content: 'evil' }], offending: /absolute path/ },
      { name: 'a symlink to an absolute path', entries: () => [{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }], offending: /'etc': symbolic link to the absolute path '\/etc'/ },
      {
        name: 'a symlink out of the target, then a file through it',
        entries: () => [
          { path: 'a', type: 'SymbolicLink', linkpath: '../../outside' },
          { path: 'a/file', content: 'evil' },
        ],
        offending: /'a\/file': would be written through the symbolic link 'a'[\s\S]*'a': symbolic link to '\.\.\/\.\.\/outside' resolves outside/,
      },
      {
        name: 'a chain of links that each look harmless',
        entries: () => [
          { path: 'sub', type: 'Directory' },
          { path: 'sub/up', type: 'SymbolicLink', linkpath: '..' },
          { path: 'sub/x', type: 'SymbolicLink', linkpath: 'up/..' },
        ],
        offending: /'sub\/x': symbolic link to 'up\/\.\.' resolves outside/,
      },
      { name: 'a hard link to a file outside', entries: () => [{ path: 'hl', type: 'Link', linkpath: '../outside/secret' }], offending: /'hl': hard link to '\.\.\/outside\/secret'/ },
      { name: 'a hard link to an absolute path', entries: () => [{ path: 'passwd', type: 'Link', linkpath: '/etc/passwd' }], offending: /'passwd': hard link to '\/etc\/passwd' \(absolute path\)/ },
      { name: 'a FIFO', entries: () => [{ path: 'pipe', type: 'FIFO' }], offending: /'pipe': FIFO entries are not restored/ },
      { name: 'a character device', entries: () => [{ path: 'null', type: 'CharacterDevice' }], offending: /'null': CharacterDevice entries are not restored/ },
    ];
    for (const testCase of cases) {
      it(testCase.name, async () => {
        await writeTree(outside(), { 'secret': 'outside' });
        const archive = await archiveOf(testCase.entries());
        const before = { target: await readTree(target), workspace: await listNames(workspace), outside: await readTree(outside()) };
        const params = { archive, target: 'target', overwrite: true, strip: testCase.strip ?? 0 };

        await assert.rejects(planAction(restore, params, recordingContext(workspace)), RestoreRefusedError);
        await assert.rejects(runAction(restore, params, recordingContext(workspace)), (error: unknown) => {
          assert.ok(error instanceof RestoreRefusedError);
          assert.match(error.message, /nothing was written/);
          assert.match(error.message, testCase.offending);
          return true;
        });
        assert.deepEqual(await readTree(target), before.target, 'target untouched');
        assert.deepEqual(await listNames(workspace), before.workspace, 'no staging or stray files next to it');
        assert.deepEqual(await readTree(outside()), before.outside, 'nothing written outside');
        assert.equal(await exists(path.join(workspace, 'absolute-evil')), false);
        assert.equal(await exists(path.join(workspace, 'evil')), false);
      });
    }
  });

  it('never writes through a link while extracting, even if the archive was swapped after the check', async () => {
    // extractToStaging is the second pass; called directly, it sees an archive the first pass never judged.
    const archive = await archiveOf([
      { path: 'a', type: 'SymbolicLink', linkpath: '../outside' },
      { path: 'a/file', content: 'evil' },
    ]);
    const stagingTree = path.join(workspace, 'staging');
    await mkdir(stagingTree);
    await mkdir(path.join(workspace, 'outside'));
    await assert.rejects(
      extractToStaging({ archivePath: archive, stagingTree, target: path.join(workspace, 'target'), declaredBytes: 100, strip: 0, expectedSha256: 'unused', signal: new AbortController().signal }),
      /'a\/file' leads through a symbolic link/,
    );
    assert.deepEqual(await listNames(path.join(workspace, 'outside')), []);
  });

  it('refuses to write through a symbolic link already in the target, or to swap a folder for a file', async () => {
    await writeTree(workspace, { 'elsewhere/keep.txt': 'keep', 'target/link': { symlink: '../elsewhere' }, 'target/folder/x': 'x' });
    const archive = await archiveOf([
      { path: 'link/file.txt', content: 'would land in elsewhere/' },
      { path: 'folder', content: 'a file where the target has a folder' },
    ]);
    const before = { target: await readTree(target), elsewhere: await readTree(path.join(workspace, 'elsewhere')) };
    await assert.rejects(runAction(restore, { archive, target: 'target', overwrite: true }, recordingContext(workspace)), (error: unknown) => {
      assert.ok(error instanceof RestoreRefusedError);
      assert.match(error.message, /'link\/file\.txt': the target has a symbolic link at 'link'/);
      assert.match(error.message, /'folder': the target has a folder where the archive has a file/);
      return true;
    });
    assert.deepEqual({ target: await readTree(target), elsewhere: await readTree(path.join(workspace, 'elsewhere')) }, before);
  });

  it('refuses an archive that is not readable to the end, writing nothing', async () => {
    const whole = rawTarGz([{ path: 'a.txt', content: 'a' }, { path: 'b.txt', content: randomBytes(5000).toString('hex') }]);
    const archive = path.join(workspace, 'truncated.tar.gz');
    await writeFile(archive, whole.subarray(0, whole.length - 100));
    const before = await readTree(target);
    await assert.rejects(runAction(restore, { archive, target: 'target' }, recordingContext(workspace)), (error: unknown) => {
      assert.ok(error instanceof RestoreRefusedError);
      assert.match(error.message, /the archive is not readable: unexpected end of file/);
      return true;
    });
    assert.deepEqual(await readTree(target), before);
  });

  it('restores links that stay inside the target', async () => {
    const archive = await archiveOf([
      { path: 'data/file.txt', content: 'content' },
      { path: 'latest', type: 'SymbolicLink', linkpath: 'data/file.txt' },
      { path: 'data/up', type: 'SymbolicLink', linkpath: '..' },
      { path: 'copy', type: 'Link', linkpath: 'data/file.txt' },
    ]);
    const result = await runAction<ArchiveRestoreResult>(restore, { archive, target: 'fresh' }, recordingContext(workspace));
    assert.equal(result.files, 4);
    const fresh = path.join(workspace, 'fresh');
    assert.equal(await readlink(path.join(fresh, 'latest')), 'data/file.txt');
    assert.equal((await stat(path.join(fresh, 'copy'))).ino, (await stat(path.join(fresh, 'data/file.txt'))).ino);
  });

  it('refuses a checksum mismatch with its sidecar before writing anything', async () => {
    const archive = await archiveOf([{ path: 'new.txt', content: 'x' }], 'p.tar.gz');
    await writeFile(`${archive}.sha256`, `${'a'.repeat(64)}  p.tar.gz\n`);
    const before = await readTree(target);
    await assert.rejects(runAction(restore, { archive, target: 'target' }, recordingContext(workspace)), /checksum mismatch: p\.tar\.gz\.sha256 says a{64}/);
    assert.deepEqual(await readTree(target), before);
  });

  describe('existing files', () => {
    let archive: string;
    beforeEach(async () => {
      archive = await archiveOf([
        { path: 'existing.txt', content: 'from the archive' },
        { path: 'new.txt', content: 'new' },
        { path: 'keep', type: 'Directory' },
        { path: 'keep/added.txt', content: 'added' },
      ]);
    });

    it('refuses to overwrite without overwrite: true, naming how many and which, writing nothing', async () => {
      const before = await readTree(target);
      for (const attempt of [() => runAction(restore, { archive, target: 'target' }, recordingContext(workspace)), () => planAction(restore, { archive, target: 'target' }, recordingContext(workspace))]) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof OverwriteRefusedError);
          assert.match(error.message, /1 file\(s\) already exist there \(existing\.txt\) and overwrite is false; nothing was written/);
          return true;
        });
      }
      assert.deepEqual(await readTree(target), before);
    });

    it('plans create vs overwrite with sizes, destructive only when something is overwritten', async () => {
      const before = await readTree(target);
      const plan = await planAction(restore, { archive, target: 'target', overwrite: true }, recordingContext(workspace));
      assert.equal(plan.destructive, true);
      const writes = plan.operations.filter((operation) => operation.kind === 'create' || operation.kind === 'overwrite');
      assert.deepEqual(
        writes.map((operation) => [operation.kind, path.relative(target, operation.target), operation.bytes]),
        [
          ['overwrite', 'existing.txt', 16],
          ['create', 'new.txt', 3],
          ['create', 'keep/added.txt', 5],
        ],
      );
      assert.deepEqual(await readTree(target), before, 'a plan writes nothing');

      const elsewhere = await planAction(restore, { archive, target: 'elsewhere' }, recordingContext(workspace));
      assert.equal(elsewhere.destructive, false);
      assert.ok(elsewhere.operations.every((operation) => operation.kind !== 'overwrite'));
      assert.equal(await exists(path.join(workspace, 'elsewhere')), false);
    });

    it('overwrites and merges with overwrite: true, keeping files the archive does not have', async () => {
      const result = await runAction<ArchiveRestoreResult>(restore, { archive, target: 'target', overwrite: true }, recordingContext(workspace));
      assert.deepEqual([result.created, result.overwritten, result.files], [2, 1, 3]);
      assert.equal(await readFile(path.join(target, 'existing.txt'), 'utf8'), 'from the archive');
      assert.equal(await readFile(path.join(target, 'keep/me.txt'), 'utf8'), 'me');
      assert.equal(await readFile(path.join(target, 'keep/added.txt'), 'utf8'), 'added');
      assert.deepEqual((await listNames(workspace)).filter((name) => name.includes('.restore-')), []);
    });

    it('puts everything back when the target changes under it while moving files in', async () => {
      const late = await archiveOf([
        { path: 'existing.txt', content: 'from the archive' },
        { path: 'new.txt', content: 'new' },
        { path: 'zz-late', content: 'a file where a folder appears during the restore' },
      ]);
      const before = await readTree(target);
      const ctx = recordingContext(workspace, {
        onProgress: (update) => {
          if (update.message?.startsWith('Extracting')) execFileSync('mkdir', ['-p', path.join(target, 'zz-late')]);
        },
      });
      await assert.rejects(runAction(restore, { archive: late, target: 'target', overwrite: true }, ctx), /zz-late changed during the restore/);
      assert.deepEqual(await readTree(target), { ...before, 'zz-late': { type: 'directory' } }, 'existing.txt back to its old content, new.txt gone');
      assert.deepEqual((await listNames(workspace)).filter((name) => name.includes('.restore-')), []);
    });

    it('puts everything back when cancelled while moving files in', async () => {
      const controller = new AbortController();
      const before = await readTree(target);
      const ctx = recordingContext(workspace, {
        signal: controller.signal,
        onProgress: (update) => {
          if (update.message?.startsWith('Moving files')) controller.abort();
        },
      });
      await assert.rejects(runAction(restore, { archive, target: 'target', overwrite: true }, ctx), CancelledError);
      assert.ok(controller.signal.aborted);
      assert.deepEqual(await readTree(target), before);
      assert.deepEqual((await listNames(workspace)).filter((name) => name.includes('.restore-')), []);
    });
  });

  it('stops promptly when cancelled while extracting and leaves the target as it was', async () => {
    const source = path.join(workspace, 'big');
    await writeTree(source, Object.fromEntries(Array.from({ length: 24 }, (_, index) => [`f${index}.bin`, randomBytes(1024 * 1024)])));
    const archive = path.join(workspace, 'big.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', source, '.']);
    const before = await readTree(target);
    const ctx = cancelledWhileExtracting(workspace);
    await assert.rejects(runAction(restore, { archive, target: 'target' }, ctx), CancelledError);
    assert.deepEqual(await readTree(target), before);
    assert.deepEqual((await listNames(workspace)).filter((name) => name.includes('.restore-')), []);
    const extracting = ctx.progressUpdates.filter((update) => update.message?.startsWith('Extracting'));
    assert.ok((extracting.at(-1)?.items ?? 99) < 24, 'stopped before the end');
  });

  it('removes the parent folders it created when a restore into a new nested target is cancelled', async () => {
    const archive = await archiveOf([{ path: 'a.txt', content: 'a' }, { path: 'b.txt', content: 'b' }], 'small.tar.gz');
    const before = await listNames(workspace);
    const ctx = cancelledWhileExtracting(workspace);
    await assert.rejects(runAction(restore, { archive, target: 'new/deeper/target' }, ctx), CancelledError);
    assert.deepEqual(await listNames(workspace), before);
  });

  it('restores a legacy frigate-faces archive made by GNU tar with one top folder using strip 1', async () => {
    const staging = path.join(workspace, 'legacy');
    await writeTree(staging, { 'faces/alice/1.jpg': randomBytes(5000), 'faces/bob/2.jpg': randomBytes(7000), 'faces/bob/._2.jpg': 'AppleDouble' });
    const backups = path.join(workspace, 'backups');
    await mkdir(backups);
    const legacy = path.join(backups, 'frigate-faces-20260124.tar.gz');
    execFileSync('tar', ['-czf', legacy, '-C', staging, 'faces']);

    const ctx = recordingContext(workspace);
    const result = await runAction<ArchiveRestoreResult>(restore, { archive: legacy, target: 'faces-restore', strip: 1 }, ctx);
    assert.equal(result.files, 3);
    assert.equal(result.checksum, 'missing');
    assert.deepEqual(await readTree(path.join(workspace, 'faces-restore')), await readTree(path.join(staging, 'faces')));
    const progress = ctx.progressUpdates.filter((update) => update.totalItems === 3);
    assert.ok(progress.length > 0 && progress.at(-1)?.items === 3, 'progress counts files up to the total');

    const listed = await runAction<ArchiveListResult>(list, { location: 'backups', prefix: 'frigate-faces' }, ctx);
    assert.equal(listed.archives[0]?.date, new Date(2026, 0, 24).toISOString());
  });

  it('restores archives of `tar -C dir .` (a ./ root entry) and drops setuid/setgid bits', async () => {
    const source = path.join(workspace, 'dotted');
    await writeTree(source, { 'bin/tool': '#!/bin/sh\n', 'conf/secret.conf': 'x' });
    await chmod(path.join(source, 'bin/tool'), 0o4755);
    await chmod(path.join(source, 'conf/secret.conf'), 0o640);
    const archive = path.join(workspace, 'dotted.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', source, '.']);
    await runAction(restore, { archive, target: 'out' }, recordingContext(workspace));
    assert.equal((await stat(path.join(workspace, 'out/bin/tool'))).mode & 0o7777, 0o755);
    assert.equal((await stat(path.join(workspace, 'out/conf/secret.conf'))).mode & 0o7777, 0o640);
  });

  it('round-trips an archive.create archive into an existing, empty target', async () => {
    await writeTree(workspace, { 'src/a.txt': 'a', 'src/deeper/b.txt': 'b', 'empty': { directory: true } });
    const created = await runAction<ArchiveCreateResult>(create, { paths: ['.'], base: 'src', destination: 'out', prefix: 'p' }, recordingContext(workspace));
    await runAction(restore, { archive: created.path, target: 'empty' }, recordingContext(workspace));
    assert.deepEqual(await readTree(path.join(workspace, 'empty')), await readTree(path.join(workspace, 'src')));
  });

  it('refuses a target that is a file', async () => {
    const archive = await archiveOf([{ path: 'a', content: 'a' }]);
    await assert.rejects(runAction(restore, { archive, target: 'target/existing.txt' }, recordingContext(workspace)), /exists and is not a folder/);
  });
  it('stops with CancelledError while checking the archive, before anything is written', async () => {
    const archive = await archiveOf([{ path: 'big.bin', content: randomBytes(3 * 1024 * 1024) }], 'big.tar.gz');
    const controller = new AbortController();
    const ctx = recordingContext(workspace, {
      signal: controller.signal,
      onProgress: (update) => {
        if (update.message?.startsWith('Checking')) controller.abort();
      },
    });
    const before = await listNames(workspace);
    // A rejection nobody awaits ends the CLI's process as an uncaught exception (exit 1, not 130).
    const unobserved: unknown[] = [];
    const record = (reason: unknown) => unobserved.push(reason);
    process.on('unhandledRejection', record);
    try {
      await assert.rejects(runAction(restore, { archive, target: 'fresh' }, ctx), CancelledError);
    } finally {
      process.off('unhandledRejection', record);
    }
    assert.deepEqual(unobserved, [], 'no rejection left unawaited');
    assert.deepEqual(await listNames(workspace), before);
  });

  it('refuses an archive whose files hold more than maxBytes (a tar bomb), in plan and run, writing nothing', async () => {
    const bomb = path.join(workspace, 'bomb.tar.gz');
    await writeFile(bomb, gzipSync(rawTar([{ path: 'zeros.bin', content: Buffer.alloc(16 * 1024 * 1024) }]), { level: 9 }));
    assert.ok((await stat(bomb)).size < 100_000, 'a small file');
    const before = await listNames(workspace);
    const params = { archive: bomb, target: 'fresh', maxBytes: 1024 * 1024 };
    for (const attempt of [() => planAction(restore, params, recordingContext(workspace)), () => runAction(restore, params, recordingContext(workspace))]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof RestoreRefusedError);
        assert.match(error.message, /the archive expands to 16 MiB \(16777216 bytes\), more than maxBytes allows \(1048576 bytes\)/);
        assert.match(error.message, /nothing was written/);
        return true;
      });
    }
    assert.deepEqual(await listNames(workspace), before);
    await runAction(restore, { ...params, maxBytes: 16 * 1024 * 1024 }, recordingContext(workspace));
    assert.equal((await stat(path.join(workspace, 'fresh/zeros.bin'))).size, 16 * 1024 * 1024);
  });

  it('stops extracting an archive that holds more bytes than it did when checked', async () => {
    const archive = await archiveOf([{ path: 'a.txt', content: 'abc' }, { path: 'b.txt', content: 'more' }]);
    const stagingTree = path.join(workspace, 'staging');
    await mkdir(stagingTree);
    await assert.rejects(
      extractToStaging({ archivePath: archive, stagingTree, target: path.join(workspace, 'fresh'), declaredBytes: 3, strip: 0, expectedSha256: 'unused', signal: new AbortController().signal }),
      (error: unknown) => error instanceof ArchiveChangedError && /its files hold more than the 3 bytes counted when it was checked/.test(error.message),
    );
    assert.deepEqual(await listNames(stagingTree), ['a.txt'], 'b.txt never written');
  });

  it('removes the staging folder a killed restore left, and keeps one whose restore still runs', async () => {
    const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(exited.stdout);
    const abandoned = path.join(workspace, `.target.restore-${deadPid}-0123456789ab`);
    const running = path.join(workspace, `.target.restore-${process.pid}-ba9876543210`);
    await writeTree(abandoned, { 'tree/half-written.bin': randomBytes(1000) });
    await mkdir(running);
    const archive = await archiveOf([{ path: 'new.txt', content: 'new' }]);
    const plan = await planAction(restore, { archive, target: 'target' }, recordingContext(workspace));
    assert.deepEqual(
      plan.operations.filter((operation) => operation.kind === 'delete').map((operation) => [operation.target, operation.detail]),
      [[abandoned, `staging left by an interrupted restore (process ${deadPid} no longer runs)`]],
    );
    const ctx = recordingContext(workspace);
    await runAction(restore, { archive, target: 'target' }, ctx);
    assert.equal(await exists(abandoned), false);
    assert.equal(await exists(running), true);
    assert.ok(ctx.logLines.some((line) => line.includes(`left by an interrupted restore (process ${deadPid} no longer runs)`)), ctx.logLines.join('\n'));
  });
});
