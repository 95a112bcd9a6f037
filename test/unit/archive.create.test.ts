import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { packArchive, synchronousFileAccess } from '../../src/actions/archive/packArchive';
import { PlanHandOver } from '../../src/core/actions/handOver';
import { CancelledError } from '../../src/core/errors';
import { archiveActions, FileExistsError, VERIFIED_STATE_FILE, type ArchiveCreateResult, type ArchiveListResult, type ArchiveRestoreResult, type ArchiveVerifyResult } from '../../src/actions/archive';
import { within } from '../support/within';
import { archiveAction, corruptMiddleByte, exists, listNames, makeTempDir, planAction, readTree, recordingContext, removeTempDir, runAction, withoutPigz, writeTree } from './archiveSupport';

const create = archiveAction('archive.create');
const verify = archiveAction('archive.verify');
const list = archiveAction('archive.list');
const restore = archiveAction('archive.restore');

function tarListing(archive: string): string[] {
  return execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace(/\/$/, ''))
    .sort();
}

describe('archive.create', () => {
  let workspace: string;
  beforeEach(async () => {
    workspace = await makeTempDir('create');
  });
  afterEach(async () => {
    await removeTempDir(workspace);
  });

  it('round-trips create → verify → list → restore byte-exact, with modes, mtimes and links', async () => {
    const source = path.join(workspace, 'source');
    await writeTree(source, {
      'faces/alice/1.jpg': randomBytes(70_000),
      'faces/alice/2.jpg': randomBytes(3),
      'faces/bob/empty.txt': '',
      'faces/empty-folder': { directory: true },
      'notes/readme.md': '# notes\n'.repeat(500),
      'notes/latest': { symlink: 'readme.md' },
      'bin/run.sh': '#!/bin/sh\necho hi\n',
      [`deep/${'very-long-folder-name/'.repeat(8)}file.txt`]: 'long path needs a pax header',
    });
    await chmod(path.join(source, 'bin/run.sh'), 0o750);
    await chmod(path.join(source, 'notes/readme.md'), 0o600);
    await utimes(path.join(source, 'faces/alice/1.jpg'), new Date('2025-12-01T10:00:00Z'), new Date('2025-12-01T10:00:00Z'));

    const ctx = recordingContext(workspace);
    const created = await runAction<ArchiveCreateResult>(create, { paths: ['faces', 'notes', 'bin', 'deep'], base: 'source', destination: 'backups', prefix: 'home' }, ctx);
    assert.equal(created.verified, true);
    assert.match(created.name, /^home-\d{8}-\d{6}\.tar\.gz$/);
    assert.equal(created.path, path.join(workspace, 'backups', created.name));
    assert.equal(created.files, 7);
    const onDisk = await readFile(created.path);
    assert.equal(created.bytes, onDisk.length);
    assert.equal(await readFile(`${created.path}.sha256`, 'utf8'), `${created.sha256}  ${created.name}\n`);
    // The sidecar is in the format the standard tool checks.
    execFileSync('sha256sum', ['-c', `${created.name}.sha256`], { cwd: path.join(workspace, 'backups') });
    // GNU tar reads our (multi-member) gzip without complaint.
    assert.ok(tarListing(created.path).includes('notes/latest'));

    const verified = await runAction<ArchiveVerifyResult>(verify, { path: created.path }, ctx);
    assert.equal(verified.ok, true);
    assert.equal(verified.archives[0]?.checksum, 'match');
    assert.equal(verified.archives[0]?.sha256, created.sha256);

    const listed = await runAction<ArchiveListResult>(list, { location: 'backups' }, ctx);
    assert.equal(listed.archives.length, 1);
    assert.equal(listed.archives[0]?.verified, 'ok');
    assert.equal(listed.archives[0]?.checksumFile, true);

    const restored = await runAction<ArchiveRestoreResult>(restore, { archive: created.path, target: 'restored' }, ctx);
    assert.equal(restored.created, 7);
    assert.equal(restored.overwritten, 0);
    assert.equal(restored.checksum, 'match');
    assert.deepEqual(await readTree(path.join(workspace, 'restored'), { withMetadata: true }), await readTree(source, { withMetadata: true }));
  });

  it('leaves out excluded names, paths and folders', async () => {
    await writeTree(workspace, {
      'data/keep.txt': 'keep',
      'data/debug.log': 'log',
      'data/sub/trace.log': 'log',
      'data/cache/blob': 'cache',
      'data/sub/cache': 'a file named cache is kept: the pattern says folders only',
      'data/node_modules/pkg/index.js': 'x',
      'data/tmp/a.tmp': 'x',
      'data/tmp/b.txt': 'kept',
    });
    const ctx = recordingContext(workspace);
    const result = await runAction<ArchiveCreateResult>(
      create,
      { paths: ['data'], destination: 'out', prefix: 'data', exclude: ['*.log', 'cache/', 'node_modules', 'data/tmp/*.tmp'] },
      ctx,
    );
    assert.deepEqual(tarListing(result.path), ['data', 'data/keep.txt', 'data/sub', 'data/sub/cache', 'data/tmp', 'data/tmp/b.txt']);
    assert.equal(result.files, 3);
  });

  it('names archives from the pattern in local time and rejects unsafe patterns and prefixes', async () => {
    await writeTree(workspace, { 'a.txt': 'a' });
    const before = new Date();
    const result = await runAction<ArchiveCreateResult>(create, { paths: ['a.txt'], destination: 'out', prefix: 'badr_backup', namePattern: '{prefix}_{YYYY}{MM}{DD}_{hh}{mm}{ss}.tgz' }, recordingContext(workspace));
    const day = `${before.getFullYear()}${String(before.getMonth() + 1).padStart(2, '0')}${String(before.getDate()).padStart(2, '0')}`;
    assert.match(result.name, new RegExp(`^badr_backup_${day}_\\d{6}\\.tgz$`));

    const parse = (params: object) => create.params.safeParse({ paths: ['a.txt'], destination: 'out', prefix: 'p', ...params });
    assert.equal(parse({ namePattern: 'backup-{YYYY}.tar.gz' }).success, false, 'a pattern without {prefix}');
    assert.equal(parse({ namePattern: '{prefix}-{week}.tar.gz' }).success, false, 'an unknown placeholder');
    assert.equal(parse({ namePattern: '../{prefix}.tar.gz' }).success, false, 'a path in the pattern');
    assert.equal(parse({ namePattern: '{prefix}.zip' }).success, false, 'not a tar.gz');
    assert.equal(parse({ prefix: '../etc' }).success, false, 'a prefix with a separator');
    assert.equal(parse({ prefix: '.hidden' }).success, false, 'a prefix hiding the archive');
    assert.equal(parse({ dryRun: true }).success, false, 'unknown fields are rejected');
    assert.equal(parse({}).success, true);
  });

  it('refuses to overwrite an archive of the same final name and leaves it as it was', async () => {
    await writeTree(workspace, { 'a.txt': 'first' });
    const params = { paths: ['a.txt'], destination: 'out', prefix: 'daily', namePattern: '{prefix}-{YYYY}{MM}{DD}.tar.gz' };
    const first = await runAction<ArchiveCreateResult>(create, params, recordingContext(workspace));
    const original = await readFile(first.path);
    await writeFile(path.join(workspace, 'a.txt'), 'second');

    await assert.rejects(runAction(create, params, recordingContext(workspace)), (error: unknown) => {
      assert.ok(error instanceof FileExistsError);
      assert.match(error.message, new RegExp(`${first.name}.*already exists`));
      return true;
    });
    await assert.rejects(planAction(create, params, recordingContext(workspace)), FileExistsError);
    assert.deepEqual(await readFile(first.path), original);
    assert.deepEqual(await listNames(path.join(workspace, 'out')), [VERIFIED_STATE_FILE, first.name, `${first.name}.sha256`].sort());
  });

  it('leaves no final and no temporary file when cancelled mid-way, and runs no retention', async () => {
    await writeTree(workspace, { 'big/a.bin': randomBytes(24 * 1024 * 1024), 'big/b.bin': randomBytes(8 * 1024 * 1024) });
    const out = path.join(workspace, 'out');
    await writeTree(out, { 'big-20200101-000000.tar.gz': 'old archive', 'big-20200101-000000.tar.gz.sha256': 'x' });
    const controller = new AbortController();
    const ctx = recordingContext(workspace, {
      signal: controller.signal,
      onProgress: (update) => {
        if ((update.bytes ?? 0) > 4 * 1024 * 1024) controller.abort();
      },
    });
    await assert.rejects(runAction(create, { paths: ['big'], destination: 'out', prefix: 'big', keep: 1 }, ctx), CancelledError);
    assert.ok(controller.signal.aborted, 'the abort came from the progress hook, mid-way');
    assert.deepEqual(await listNames(out), ['big-20200101-000000.tar.gz', 'big-20200101-000000.tar.gz.sha256']);
  });

  it('keeps the newest N of its own archives and deletes older ones with their sidecars, touching nothing else', async () => {
    await writeTree(workspace, { 'src/a.txt': 'a' });
    const out = path.join(workspace, 'out');
    const ours = ['faces-20240101-000000.tar.gz', 'faces-20250101-000000.tar.gz', 'faces-20251231-235959.tar.gz'];
    const foreign = [
      'faces-20190101.tar.gz', // legacy name: another pattern
      'faces-old-20190101-000000.tar.gz', // another prefix that starts the same
      'facesX-20190101-000000.tar.gz',
      'other-20190101-000000.tar.gz',
      'faces-20190101-000000.tar.gz.partial', // not an archive name
      'notes.txt',
    ];
    await writeTree(out, Object.fromEntries([...ours, ...foreign].map((name) => [name, 'x'])));
    for (const name of ours) await writeFile(path.join(out, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
    await writeFile(path.join(out, VERIFIED_STATE_FILE), JSON.stringify({ [ours[0] as string]: { verifiedAt: '2024-01-01T00:00:00.000Z', ok: true } }));

    const ctx = recordingContext(workspace);
    const plan = await planAction(create, { paths: ['src'], destination: 'out', prefix: 'faces', keep: 2 }, ctx);
    assert.equal(plan.destructive, true);
    assert.deepEqual(
      plan.operations.filter((operation) => operation.kind === 'delete').map((operation) => path.basename(operation.target)),
      ['faces-20250101-000000.tar.gz', 'faces-20240101-000000.tar.gz'],
    );
    assert.equal((await listNames(out)).length, ours.length * 2 + foreign.length + 1, 'plan changed nothing');

    const result = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'faces', keep: 2 }, ctx);
    assert.deepEqual(result.deleted.map((archive) => archive.name).sort(), ['faces-20240101-000000.tar.gz', 'faces-20250101-000000.tar.gz']);
    assert.deepEqual(
      await listNames(out),
      [...foreign, 'faces-20251231-235959.tar.gz', 'faces-20251231-235959.tar.gz.sha256', result.name, `${result.name}.sha256`, VERIFIED_STATE_FILE].sort(),
    );
    const state = JSON.parse(await readFile(path.join(out, VERIFIED_STATE_FILE), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(state), [result.name], 'records of deleted archives are dropped');
  });

  it('never deletes the new archive, even when its clock is behind the names of older ones', async () => {
    await writeTree(workspace, { 'src/a.txt': 'a', 'out/p-29991231-000000.tar.gz': 'from the future' });
    const result = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'p', keep: 1 }, recordingContext(workspace));
    assert.deepEqual(result.deleted.map((archive) => archive.name), ['p-29991231-000000.tar.gz']);
    assert.ok(await exists(result.path));
  });

  it('never runs retention when an archive it compressed itself fails its read-back check', async () => {
    await writeTree(workspace, { 'src/a.bin': randomBytes(200_000), 'out/p-20200101-000000.tar.gz': 'old' });
    const out = path.join(workspace, 'out');
    // Simulates the disk returning other bytes than were written: corrupt the temporary file
    // between writing and reading back.
    const ctx = recordingContext(workspace, {
      onLog: (line) => {
        const match = /reading back (\S+)/.exec(line);
        if (match?.[1]) corruptMiddleByte(match[1]);
      },
    });
    await assert.rejects(withoutPigz(() => runAction(create, { paths: ['src'], destination: 'out', prefix: 'p', keep: 1 }, ctx)), /verification|unexpected|invalid|incorrect/i);
    assert.deepEqual(await listNames(out), ['p-20200101-000000.tar.gz']);
  });

  it('leaves out, with a warning, a source file removed during the run, and archives the rest', async () => {
    await writeTree(workspace, { 'src/a.txt': 'a', 'src/b.txt': 'b' });
    const ctx = recordingContext(workspace, {
      onLog: (line) => {
        if (line.startsWith('info: archiving')) execFileSync('rm', [path.join(workspace, 'src/b.txt')]);
      },
    });
    const result = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'p' }, ctx);
    assert.deepEqual(tarListing(result.path), ['src', 'src/a.txt']);
    assert.deepEqual([result.files, result.directories], [1, 1]);
    assert.ok(ctx.logLines.includes('warn: left out src/b.txt: it was removed after the sources were listed'), ctx.logLines.join('\n'));
  });

  it('packs the contents under the next name of a hard-linked file whose first name went between its lstat and its open', async () => {
    await writeTree(workspace, { 'src/a1.txt': 'shared contents' });
    for (const name of ['a2.txt', 'a3.txt']) execFileSync('ln', [path.join(workspace, 'src/a1.txt'), path.join(workspace, 'src', name)]);
    const warnings: string[] = [];
    // The race, made to happen: the first name is removed just before it is opened.
    const racingAccess = { ...synchronousFileAccess, open: (file: string) => (file.endsWith('a1.txt') && rmSync(file), synchronousFileAccess.open(file)) };
    const output = path.join(workspace, 'out.tar.gz');
    const packed = await packArchive({ base: workspace, entries: ['src', 'src/a1.txt', 'src/a2.txt', 'src/a3.txt'], level: 6, outputPath: output, signal: new AbortController().signal, onWarning: (message) => warnings.push(message) }, racingAccess);
    assert.deepEqual([packed.entries, packed.files, packed.directories], [3, 2, 1]);
    assert.deepEqual(warnings, ['left out src/a1.txt: it was removed after the sources were listed']);
    const listing = execFileSync('tar', ['-tvzf', output], { encoding: 'utf8' });
    assert.match(listing, /^-\S+ .* src\/a2\.txt$/m, 'a2 holds the contents');
    assert.match(listing, /^h\S+ .* src\/a3\.txt link to src\/a2\.txt$/m, 'a3 links to a2, not to the name that is gone');
    const extracted = path.join(workspace, 'extracted');
    await mkdir(extracted);
    execFileSync('tar', ['-xzf', output, '-C', extracted]);
    assert.deepEqual([await readFile(path.join(extracted, 'src/a2.txt'), 'utf8'), await readFile(path.join(extracted, 'src/a3.txt'), 'utf8')], ['shared contents', 'shared contents']);
  });

  it('archives what its plan listed, when the run follows the plan: no second walk of the sources', async () => {
    await writeTree(workspace, { 'src/a.txt': 'a', 'src/b.txt': 'b' });
    const ctx = Object.assign(recordingContext(workspace), { handOver: new PlanHandOver() });
    const plan = await planAction(create, { paths: ['src'], destination: 'out', prefix: 'p' }, ctx);
    assert.match(plan.summary, /^Archive 2 files /);
    // A person reads the plan; meanwhile one file goes and another comes.
    await rm(path.join(workspace, 'src/b.txt'));
    await writeTree(workspace, { 'src/c.txt': 'c' });
    const result = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'p' }, ctx);
    assert.deepEqual(tarListing(result.path), ['src', 'src/a.txt'], 'the planned entries, less the one removed');
    assert.ok(ctx.logLines.includes('warn: left out src/b.txt: it was removed after the sources were listed'));
    // Without a plan before it, a run lists the sources itself.
    const fresh = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out2', prefix: 'p' }, recordingContext(workspace));
    assert.deepEqual(tarListing(fresh.path), ['src', 'src/a.txt', 'src/c.txt']);
  });

  it('leaves out, with a warning, an entry that turned into something a tar cannot hold during the run', async () => {
    await writeTree(workspace, { 'src/a.txt': 'a', 'src/pipe': 'a file for now' });
    const ctx = recordingContext(workspace, {
      onLog: (line) => {
        if (line.startsWith('info: archiving')) {
          execFileSync('rm', [path.join(workspace, 'src/pipe')]);
          execFileSync('mkfifo', [path.join(workspace, 'src/pipe')]);
        }
      },
    });
    const result = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'p' }, ctx);
    assert.deepEqual(tarListing(result.path), ['src', 'src/a.txt']);
    assert.ok(ctx.logLines.some((line) => line.startsWith('warn: ') && line.includes('src/pipe')));
  });

  it('rejects paths outside the base folder and paths that do not exist, before writing anything', async () => {
    await writeTree(workspace, { 'base/a.txt': 'a', 'secret.txt': 's' });
    const ctx = recordingContext(workspace);
    await assert.rejects(runAction(create, { paths: ['../secret.txt'], base: 'base', destination: 'out', prefix: 'p' }, ctx), /'\.\.\/secret\.txt' is outside the base folder/);
    await assert.rejects(runAction(create, { paths: ['missing'], base: 'base', destination: 'out', prefix: 'p' }, ctx), /path to archive does not exist: .*missing/);
    assert.equal(await exists(path.join(workspace, 'out')), false);
  });

  it('fails at once, naming the folder, for a destination where no folder can be made (under /proc)', async () => {
    await writeTree(workspace, { 'src/a.txt': 'a' });
    // Node's own recursive mkdir never returns there.
    const run = runAction(create, { paths: ['src'], destination: '/proc/self/lifeboat-backups', prefix: 'p' }, recordingContext(workspace));
    await assert.rejects(within(10_000, run, 'archive.create'), /ENOENT: no such file or directory, mkdir '\/proc\/self\/lifeboat-backups'/);
  });

  it('plans without touching the disk: reads with counts and sizes, the archive to create', async () => {
    await writeTree(workspace, { 'a/one.txt': '12345', 'a/two.txt': '123', 'b/three.txt': '1' });
    const plan = await planAction(create, { paths: ['a', 'b'], destination: 'not-yet', prefix: 'p' }, recordingContext(workspace));
    assert.equal(plan.destructive, false);
    const reads = plan.operations.filter((operation) => operation.kind === 'read');
    assert.deepEqual(
      reads.map((operation) => [path.basename(operation.target), operation.items, operation.bytes]),
      [
        ['a', 2, 8],
        ['b', 1, 1],
      ],
    );
    const creates = plan.operations.filter((operation) => operation.kind === 'create');
    assert.equal(creates.length, 1);
    assert.match(path.basename(creates[0]?.target ?? ''), /^p-\d{8}-\d{6}\.tar\.gz$/);
    assert.equal(await exists(path.join(workspace, 'not-yet')), false);
  });

  it('leaves the destination out when it lies inside the archived folder', async () => {
    await writeTree(workspace, { 'a.txt': 'a', 'backups/p-20200101-000000.tar.gz': 'old' });
    const result = await runAction<ArchiveCreateResult>(create, { paths: ['.'], destination: 'backups', prefix: 'p' }, recordingContext(workspace));
    assert.deepEqual(tarListing(result.path), ['a.txt']);
  });

  it('reports progress with items and bytes up to the totals', async () => {
    const files = Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`src/f${index}.bin`, randomBytes(50_000)]));
    await writeTree(workspace, files);
    for (const compressor of ['pigz', 'in-process'] as const) {
      const ctx = recordingContext(workspace);
      const create = () => runAction<ArchiveCreateResult>(archiveAction('archive.create'), { paths: ['src'], destination: compressor, prefix: 'p' }, ctx);
      const result = compressor === 'pigz' ? await create() : await withoutPigz(create);
      assert.equal(result.compressor, compressor);
      const compressing = ctx.progressUpdates.filter((update) => update.message?.startsWith('Compressing'));
      assert.ok(compressing.length >= 2, 'first and final update at least');
      for (const update of compressing) assert.ok((update.bytes ?? 0) <= (update.totalBytes ?? 0));
      const last = compressing.at(-1);
      assert.equal(last?.items, 41);
      assert.equal(last?.totalItems, 41);
      assert.equal(last?.bytes, last?.totalBytes);
      // pigz's output is read back as pigz writes it, not in a phase of its own.
      assert.equal(ctx.progressUpdates.some((update) => update.message?.startsWith('Verifying')), compressor === 'in-process');
    }
  });

  it('describes every parameter in the JSON Schema the CLI prints', () => {
    for (const spec of archiveActions) {
      const schema = z.toJSONSchema(spec.params) as { properties: Record<string, { description?: string }>; additionalProperties: boolean };
      assert.equal(schema.additionalProperties, false, spec.id);
      for (const [name, property] of Object.entries(schema.properties)) assert.ok(property.description, `${spec.id}.${name} has a description`);
    }
  });

  it('counts any file named by its own pattern and prefix as a retention candidate', async () => {
    // An archive put there by hand under the pattern counts; the stale sidecar of a removed one is replaced.
    await writeTree(workspace, { 'src/a.txt': 'a' });
    const first = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'p', namePattern: '{prefix}-{YYYY}.tar.gz' }, recordingContext(workspace));
    const older = path.join(workspace, 'out', 'p-2001.tar.gz');
    await copyFile(first.path, older);
    await unlink(first.path);
    const second = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'p', namePattern: '{prefix}-{YYYY}.tar.gz', keep: 1 }, recordingContext(workspace));
    assert.deepEqual(second.deleted.map((archive) => archive.name), ['p-2001.tar.gz']);
    assert.ok((await stat(second.path)).size > 0);
  });
});
