import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { findPigz } from '../../src/actions/archive/pigz';
import { writeArchive } from '../../src/actions/archive/writeArchive';
import { CancelledError } from '../../src/core/errors';
import type { ArchiveCreateResult, ArchiveVerifyResult } from '../../src/actions/archive';
import { lifeboat } from '../support/cli';
import { hostilePayloads } from '../support/payloads';
import { archiveAction, listNames, makeTempDir, readTree, recordingContext, removeTempDir, runAction, useSmallTmpfs, writeTree } from './archiveSupport';

/**
 * archive.create with the real pigz (installed by scripts/test.sh) and without it: archives GNU tar
 * and our own reader take byte for byte, and every way pigz can stop early (cancellation, a kill,
 * a full disk, output that is not the tar stream) ends in a clean error with no archive, no partial
 * file and no pigz process left behind.
 */

const create = archiveAction('archive.create');
const verify = archiveAction('archive.verify');

/** pigz processes this test process started and that still exist. */
function pigzChildren(): string[] {
  const found = spawnSync('pgrep', ['-P', String(process.pid), '-x', 'pigz'], { encoding: 'utf8' });
  return found.stdout.split('\n').filter(Boolean);
}

/** A source folder with files, modes, mtimes, links and a long name, and the same tree extracted by GNU tar from `archive`. */
async function sourceAndExtracted(workspace: string): Promise<{ source: string; extract: (archive: string) => Promise<string> }> {
  const source = path.join(workspace, 'source');
  await writeTree(source, {
    'photos/a.jpg': randomBytes(3 * 1024 * 1024 + 17),
    'photos/empty.txt': '',
    'photos/empty-folder': { directory: true },
    'notes/log.txt': 'a line that compresses well\n'.repeat(100_000),
    'notes/latest': { symlink: 'log.txt' },
    'bin/run.sh': '#!/bin/sh\necho hi\n',
    [`deep/${'long-folder-name/'.repeat(10)}file.txt`]: 'needs a PAX header',
  });
  await chmod(path.join(source, 'bin/run.sh'), 0o750);
  await chmod(path.join(source, 'notes/log.txt'), 0o600);
  await utimes(path.join(source, 'photos/a.jpg'), new Date('2024-02-29T12:00:00Z'), new Date('2024-02-29T12:00:00Z'));
  const extract = async (archive: string) => {
    const target = path.join(workspace, `extracted-${path.basename(archive)}`);
    await mkdir(target);
    execFileSync('tar', ['-xzpf', archive, '-C', target]);
    return target;
  };
  return { source, extract };
}

describe('archive.create with pigz and without it', () => {
  let workspace: string;
  let pigz: string;
  before(async () => {
    const found = await findPigz();
    assert.ok(found, 'pigz is on the PATH (scripts/test.sh installs it)');
    pigz = found;
  });
  beforeEach(async () => {
    workspace = await makeTempDir('pigz');
  });
  afterEach(async () => {
    await removeTempDir(workspace);
    assert.deepEqual(pigzChildren(), [], 'no pigz process outlives a run');
  });

  it('compresses with pigz: GNU tar extracts the same files, modes, mtimes and links, and archive.verify reads it', async () => {
    const { source, extract } = await sourceAndExtracted(workspace);
    const ctx = recordingContext(workspace);
    const created = await runAction<ArchiveCreateResult>(create, { paths: ['.'], base: 'source', destination: 'out', prefix: 'p' }, ctx);
    assert.equal(created.compressor, 'pigz');
    assert.ok(ctx.logLines.some((line) => line.includes(`gzip by ${pigz}`)));
    assert.deepEqual(await readTree(await extract(created.path), { withMetadata: true }), await readTree(source, { withMetadata: true }));
    execFileSync('sha256sum', ['-c', `${created.name}.sha256`], { cwd: path.join(workspace, 'out') });
    // node:zlib (archive.verify and archive.restore read through it) takes pigz's output to the end.
    const verified = await runAction<ArchiveVerifyResult>(verify, { path: created.path }, ctx);
    assert.equal(verified.ok, true);
    assert.equal(verified.archives[0]?.checksum, 'match');
    assert.equal(verified.archives[0]?.entries, created.files + created.directories);
  });

  it('gives pigz no value of the run: hostile file names travel only inside the tar stream, byte-exact', async () => {
    const sentinel = 'pwned-by-archive';
    // Those a file name can hold: no `/`, no NUL, not `.` or `..`, within the 255 bytes of a name.
    const names = [...new Set(hostilePayloads(sentinel))].filter((name) => name !== '' && !/[/\0]/.test(name) && name !== '.' && name !== '..' && Buffer.byteLength(name) <= 255);
    await writeTree(workspace, Object.fromEntries(names.map((name, index) => [`odd/${name}`, `file ${index}`])));
    const created = await runAction<ArchiveCreateResult>(create, { paths: ['odd'], destination: 'out', prefix: 'p' }, recordingContext(workspace));
    assert.equal(created.compressor, 'pigz');
    assert.equal(created.files, names.length);
    const target = path.join(workspace, 'extracted');
    await mkdir(target);
    // stdio piped: GNU tar notes on stderr that it ignores node-tar's SCHILY.dev/ino/nlink PAX keywords.
    execFileSync('tar', ['-xzf', created.path, '-C', target], { stdio: 'pipe' });
    assert.deepEqual(await readTree(path.join(target, 'odd')), await readTree(path.join(workspace, 'odd')));
    for (const folder of [workspace, process.cwd(), path.join(workspace, 'out')]) assert.equal(existsSync(path.join(folder, sentinel)), false, folder);
  });

  it('passes the level to pigz', async () => {
    await writeTree(workspace, { 'src/text.txt': Array.from({ length: 200_000 }, (_, index) => `line ${index % 977} of a log\n`).join('') });
    const fast = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'fast', prefix: 'p', level: 1 }, recordingContext(workspace));
    const small = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'small', prefix: 'p', level: 9 }, recordingContext(workspace));
    assert.ok(small.bytes < fast.bytes, `level 9 (${small.bytes} bytes) is smaller than level 1 (${fast.bytes} bytes)`);
  });

  it('stops pigz when cancelled mid-way and leaves no archive and no partial file', async () => {
    await writeTree(workspace, { 'big/a.bin': randomBytes(24 * 1024 * 1024), 'big/b.bin': randomBytes(8 * 1024 * 1024) });
    const controller = new AbortController();
    let pigzRunning: string[] = [];
    const ctx = recordingContext(workspace, {
      signal: controller.signal,
      onProgress: (update) => {
        if ((update.bytes ?? 0) > 4 * 1024 * 1024 && !controller.signal.aborted) {
          pigzRunning = pigzChildren();
          controller.abort();
        }
      },
    });
    await assert.rejects(runAction(create, { paths: ['big'], destination: 'out', prefix: 'big' }, ctx), CancelledError);
    assert.equal(pigzRunning.length, 1, 'pigz was running when the run was cancelled');
    assert.deepEqual(pigzChildren(), []);
    assert.deepEqual(await listNames(path.join(workspace, 'out')), []);
  });

  it('fails cleanly when pigz is killed mid-way: its end in the error, no archive, no retention', async () => {
    await writeTree(workspace, { 'big/a.bin': randomBytes(24 * 1024 * 1024), 'out/big-20200101-000000.tar.gz': 'the last good archive' });
    let killed = false;
    const ctx = recordingContext(workspace, {
      onProgress: (update) => {
        if ((update.bytes ?? 0) > 4 * 1024 * 1024 && !killed) {
          for (const pid of pigzChildren()) process.kill(Number(pid), 'SIGKILL');
          killed = true;
        }
      },
    });
    await assert.rejects(runAction(create, { paths: ['big'], destination: 'out', prefix: 'big', keep: 1 }, ctx), /^Error: pigz was stopped by SIGKILL$/);
    assert.ok(killed);
    assert.deepEqual(await listNames(path.join(workspace, 'out')), ['big-20200101-000000.tar.gz']);
  });

  it('reads back, to its last byte, an archive that pigz writes slowly and in pieces', async () => {
    await writeTree(workspace, { 'src/a.bin': randomBytes(3 * 1024 * 1024), 'src/b.txt': 'b'.repeat(500_000) });
    // The real pigz, its output passed on to the archive file a piece at a time, with pauses between.
    const slow = path.join(workspace, 'slow-pigz');
    const relay = `const { spawn } = require('node:child_process');
const pigz = spawn(${JSON.stringify(pigz)}, process.argv.slice(2), { stdio: ['inherit', 'pipe', 'inherit'] });
pigz.stdout.on('data', (chunk) => { pigz.stdout.pause(); require('node:fs').writeSync(1, chunk); setTimeout(() => pigz.stdout.resume(), 30); });
pigz.on('close', (code) => { process.exitCode = code; });`;
    await writeFile(slow, `#!${process.execPath}\n${relay}\n`, { mode: 0o755 });
    const created = await writeArchive({
      base: path.join(workspace, 'src'),
      entries: ['a.bin', 'b.txt'],
      level: 6,
      outputPath: path.join(workspace, 'out.tar.gz'),
      signal: new AbortController().signal,
      pigz: slow,
    });
    const file = await readFile(path.join(workspace, 'out.tar.gz'));
    assert.equal(created.bytes, file.length);
    assert.equal(created.sha256, createHash('sha256').update(file).digest('hex'));
    assert.equal(gunzipSync(file).length % 512, 0, 'a whole tar stream');
  });

  describe('writeArchive', () => {
    beforeEach(async () => {
      await writeTree(workspace, { 'src/a.bin': randomBytes(2 * 1024 * 1024), 'src/b.txt': 'b'.repeat(100_000) });
      // Headers carry each file's atime, which the first write's reading would move (relatime moves an
      // atime not newer than the mtime and the ctime): one ahead of both stays, and both writes see it.
      for (const file of ['a.bin', 'b.txt']) await utimes(path.join(workspace, 'src', file), new Date(Date.now() + 3_600_000), new Date('2020-01-01T00:00:00Z'));
    });

    function write(options: { pigz?: string } = {}) {
      return writeArchive({
        base: path.join(workspace, 'src'),
        entries: ['a.bin', 'b.txt'],
        level: 6,
        outputPath: path.join(workspace, 'out.tar.gz'),
        reportedPath: path.join(workspace, 'final.tar.gz'),
        signal: new AbortController().signal,
        ...(options.pigz ? { pigz: options.pigz } : {}),
      });
    }

    it('writes the same tar stream through pigz as in-process, each one a gzip file both gunzips read', async () => {
      const viaPigz = await write({ pigz });
      assert.equal(viaPigz.compressor, 'pigz');
      const pigzTar = gunzipSync(await readFile(path.join(workspace, 'out.tar.gz')));
      assert.deepEqual(execFileSync('gzip', ['-dc', path.join(workspace, 'out.tar.gz')], { maxBuffer: 64 * 1024 * 1024 }), pigzTar);
      await rm(path.join(workspace, 'out.tar.gz'));
      const inProcess = await write();
      assert.equal(inProcess.compressor, 'in-process');
      const inProcessTar = gunzipSync(await readFile(path.join(workspace, 'out.tar.gz')));
      assert.ok(pigzTar.equals(inProcessTar), 'the same tar bytes either way');
      assert.equal(viaPigz.entries, 2);
    });

    it('refuses pigz output whose gzip trailer is not that of the tar stream written', async () => {
      // A "pigz" that loses the end of its output while exiting 0.
      const cut = path.join(workspace, 'cut-pigz');
      await writeFile(cut, `#!/bin/sh\n"${pigz}" "$@" | head -c -8\n`, { mode: 0o755 });
      await assert.rejects(write({ pigz: cut }), /pigz's output for .*final\.tar\.gz does not hold the tar stream: the gzip trailer says CRC-32 [0-9a-f]{8} over \d+ bytes \(mod 2\^32\), but the tar stream written has CRC-32 [0-9a-f]{8} over \d+$/);
    });

    it('reports a pigz that fails with its exit code and what it said', async () => {
      const failing = path.join(workspace, 'failing-pigz');
      await writeFile(failing, '#!/bin/sh\necho "pigz: abort: something went wrong" >&2\nexit 3\n', { mode: 0o755 });
      await assert.rejects(write({ pigz: failing }), /^Error: pigz exited with code 3: pigz: abort: something went wrong$/);
    });

    it('reports a pigz that cannot be started', async () => {
      await assert.rejects(write({ pigz: path.join(workspace, 'src', 'b.txt') }), /EACCES/);
    });
  });

  describe('on a full disk (a small tmpfs)', () => {
    const tmpfsMount = useSmallTmpfs('pigz-tmpfs', '2m');

    it('names the archive and the cause, and leaves the disk as it was', async () => {
      const tmpfs = tmpfsMount.path();
      await writeTree(tmpfs, { 'p-20200101-000000.tar.gz': 'the last good archive' });
      await writeTree(workspace, { 'src/a.bin': randomBytes(8 * 1024 * 1024) });
      await assert.rejects(
        runAction(create, { paths: ['src'], destination: tmpfs, prefix: 'p', keep: 1 }, recordingContext(workspace)),
        (error: Error) => {
          assert.match(error.message, new RegExp(`^cannot write ${tmpfs}/p-\\d{8}-\\d{6}\\.tar\\.gz: pigz exited with code \\d+: pigz: abort: write error on <stdout> \\(No space left on device\\)$`));
          return true;
        },
      );
      assert.deepEqual(await readdir(tmpfs), ['p-20200101-000000.tar.gz']);
    });
  });

  it('compresses in its own process, through the CLI, when pigz is not on the PATH', async () => {
    const { source, extract } = await sourceAndExtracted(workspace);
    await writeFile(path.join(workspace, 'backup.runbook.md'), ['# Backup', '', '```lifeboat', 'action: archive.create', 'paths: ["."]', 'base: source', 'destination: out', 'prefix: p', '```', ''].join('\n'));
    // node is started by its full path; nothing else the CLI runs is looked up on this PATH.
    const run = await lifeboat(['run', 'backup.runbook.md', '--json', '--yes'], { cwd: workspace, env: { PATH: path.join(workspace, 'no-tools-here') } });
    assert.equal(run.code, 0, run.stderr);
    const step = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as { status: string; result: ArchiveCreateResult };
    assert.equal(step.status, 'succeeded');
    assert.equal(step.result.compressor, 'in-process');
    assert.equal(step.result.verified, true);
    assert.deepEqual(await readTree(await extract(step.result.path), { withMetadata: true }), await readTree(source, { withMetadata: true }));
  });
});
