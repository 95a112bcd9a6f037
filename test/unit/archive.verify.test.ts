import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ArchiveVerificationError, VERIFIED_STATE_FILE, type ArchiveCreateResult, type ArchiveListResult, type ArchiveVerifyResult } from '../../src/actions/archive';
import { CancelledError } from '../../src/core/errors';
import { archiveAction, corruptMiddleByte, makeTempDir, planAction, rawTarGz, recordingContext, removeTempDir, runAction, writeTree } from './archiveSupport';

const create = archiveAction('archive.create');
const verify = archiveAction('archive.verify');
const list = archiveAction('archive.list');

async function verifyFailure(params: object, workspace: string): Promise<ArchiveVerificationError> {
  try {
    await runAction(verify, params, recordingContext(workspace));
  } catch (error) {
    if (error instanceof ArchiveVerificationError) return error;
    throw error;
  }
  assert.fail('verify should have failed');
}

describe('archive.verify and archive.list', () => {
  let workspace: string;
  let archive: ArchiveCreateResult;
  beforeEach(async () => {
    workspace = await makeTempDir('verify');
    await writeTree(workspace, { 'src/random.bin': randomBytes(300_000), 'src/text.txt': 'line\n'.repeat(20_000) });
    archive = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'p' }, recordingContext(workspace));
  });
  afterEach(async () => {
    await removeTempDir(workspace);
  });

  it('passes a good archive: readable, entries counted, checksum matching', async () => {
    const result = await runAction<ArchiveVerifyResult>(verify, { path: archive.path }, recordingContext(workspace));
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.archives.map((entry) => [entry.name, entry.readable, entry.checksum, entry.entries, entry.ok, entry.bytes]),
      [[archive.name, true, 'match', 3, true, archive.bytes]],
    );
  });

  it('detects a corrupted byte as a checksum mismatch and fails naming the archive', async () => {
    corruptMiddleByte(archive.path);
    const error = await verifyFailure({ path: archive.path }, workspace);
    const [only] = error.result.archives;
    assert.equal(only?.checksum, 'mismatch');
    assert.equal(only?.ok, false);
    assert.match(error.message, new RegExp(`1 of 1 archive\\(s\\) failed verification: ${archive.name}`));
    assert.match(error.message, /\| Archive \| Size \|/, 'the per-archive table is in the message');
  });

  it('detects a truncated archive as not readable', async () => {
    await truncate(archive.path, Math.floor(archive.bytes / 2));
    const error = await verifyFailure({ path: archive.path }, workspace);
    const [only] = error.result.archives;
    assert.equal(only?.readable, false);
    assert.match(only?.error ?? '', /unexpected end of file/);
  });

  it('detects a tar stream cut at an entry boundary (valid gzip, no end-of-archive marker)', async () => {
    const cut = path.join(workspace, 'out', 'cut-20260101.tar.gz');
    await writeFile(cut, rawTarGz([{ path: 'a.txt', content: 'a' }], { endMarker: false }));
    const error = await verifyFailure({ path: cut }, workspace);
    assert.equal(error.result.archives[0]?.readable, false);
    assert.match(error.result.archives[0]?.error ?? '', /end-of-archive/);
  });

  it('detects a tar entry cut short inside a valid gzip stream', async () => {
    const cut = path.join(workspace, 'out', 'cut-20260102.tar.gz');
    await writeFile(cut, rawTarGz([{ path: 'a.txt', content: 'x'.repeat(2000) }], { endMarker: false, cutTarAt: 512 + 1000 }));
    const error = await verifyFailure({ path: cut }, workspace);
    assert.equal(error.result.archives[0]?.readable, false);
    assert.match(error.result.archives[0]?.error ?? '', /Truncated input/);
  });

  it('reports a missing sidecar without failing (legacy archives have none)', async () => {
    await unlink(`${archive.path}.sha256`);
    const result = await runAction<ArchiveVerifyResult>(verify, { path: archive.path }, recordingContext(workspace));
    assert.equal(result.archives[0]?.checksum, 'missing');
    assert.equal(result.ok, true);
  });

  it('fails on a sidecar that is not a sha256sum file', async () => {
    await writeFile(`${archive.path}.sha256`, 'not a digest\n');
    const error = await verifyFailure({ path: archive.path }, workspace);
    assert.equal(error.result.archives[0]?.checksum, 'mismatch');
    assert.match(error.result.archives[0]?.error ?? '', /not a sha256sum file/);
  });

  it('verifies a folder (prefix filter), records outcomes, and list shows ok / failed / never', async () => {
    const out = path.join(workspace, 'out');
    const bad = path.join(out, 'p-20200101-000000.tar.gz');
    await writeFile(bad, (await readFile(archive.path)).subarray(0, 100));
    const untouched = path.join(out, 'q-20200101-000000.tar.gz');
    await writeFile(untouched, rawTarGz([{ path: 'x', content: 'x' }]));

    const error = await verifyFailure({ path: 'out', prefix: 'p' }, workspace);
    assert.deepEqual(error.result.archives.map((entry) => [entry.name, entry.ok]), [
      ['p-20200101-000000.tar.gz', false],
      [archive.name, true],
    ]);
    assert.match(error.message, /1 of 2 archive\(s\) failed verification: p-20200101-000000\.tar\.gz \(not readable/);

    const state = JSON.parse(await readFile(path.join(out, VERIFIED_STATE_FILE), 'utf8')) as Record<string, { ok: boolean; verifiedAt: string }>;
    assert.equal(state[archive.name]?.ok, true);
    assert.equal(state['p-20200101-000000.tar.gz']?.ok, false);

    const listed = await runAction<ArchiveListResult>(list, { location: 'out' }, recordingContext(workspace));
    const byName = Object.fromEntries(listed.archives.map((entry) => [entry.name, entry]));
    assert.equal(byName[archive.name]?.verified, 'ok');
    assert.ok(byName[archive.name]?.verifiedAt);
    assert.equal(byName['p-20200101-000000.tar.gz']?.verified, 'failed');
    assert.equal(byName['q-20200101-000000.tar.gz']?.verified, 'never');
  });

  it('fails when a folder holds no archives to verify', async () => {
    await assert.rejects(runAction(verify, { path: 'out', prefix: 'nothing' }, recordingContext(workspace)), /no archives .* with prefix nothing found/);
  });

  it('plans one verify operation per archive and changes nothing', async () => {
    const plan = await planAction(verify, { path: 'out' }, recordingContext(workspace));
    assert.equal(plan.destructive, false);
    assert.deepEqual(plan.operations, [{ kind: 'verify', target: archive.path, bytes: archive.bytes }]);
    const state = JSON.parse(await readFile(path.join(workspace, 'out', VERIFIED_STATE_FILE), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(state), [archive.name], 'only the record archive.create wrote');
  });

  it('stops with CancelledError when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(runAction(verify, { path: archive.path }, recordingContext(workspace, { signal: controller.signal })), CancelledError);
  });

  it('lists newest first with dates from names (new, legacy and underscore styles), else mtime, without opening archives', async () => {
    const out = path.join(workspace, 'out');
    await writeTree(out, {
      'frigate-faces-20260124.tar.gz': 'not even gzip: list must not read it',
      'frigate-faces-20260206.tar.gz': 'x',
      'frigate-faces-20260206.tar.gz.sha256': `${'0'.repeat(64)}  frigate-faces-20260206.tar.gz\n`,
      'badr_backup_20250102_030405.tar.gz': 'x',
      'undated.tgz': 'x',
      '.frigate-faces-20270101.tar.gz.partial-abc': 'temporary',
      'frigate-faces-20260101.txt': 'not an archive',
    });
    await utimes(path.join(out, 'undated.tgz'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));

    const all = await runAction<ArchiveListResult>(list, { location: 'out' }, recordingContext(workspace));
    assert.deepEqual(
      all.archives.map((entry) => entry.name),
      [archive.name, 'frigate-faces-20260206.tar.gz', 'frigate-faces-20260124.tar.gz', 'badr_backup_20250102_030405.tar.gz', 'undated.tgz'],
    );
    const byName = Object.fromEntries(all.archives.map((entry) => [entry.name, entry]));
    assert.equal(byName['frigate-faces-20260124.tar.gz']?.date, new Date(2026, 0, 24).toISOString());
    assert.equal(byName['frigate-faces-20260124.tar.gz']?.dateSource, 'name');
    assert.equal(byName['badr_backup_20250102_030405.tar.gz']?.date, new Date(2025, 0, 2, 3, 4, 5).toISOString());
    assert.equal(byName['undated.tgz']?.dateSource, 'mtime');
    assert.equal(byName['undated.tgz']?.date, '2001-02-03T04:05:06.000Z');
    assert.equal(byName['frigate-faces-20260206.tar.gz']?.checksumFile, true);
    assert.equal(byName['frigate-faces-20260124.tar.gz']?.checksumFile, false);

    const faces = await runAction<ArchiveListResult>(list, { location: 'out', prefix: 'frigate-faces' }, recordingContext(workspace));
    assert.deepEqual(
      faces.archives.map((entry) => entry.name),
      ['frigate-faces-20260206.tar.gz', 'frigate-faces-20260124.tar.gz'],
    );
    const rendered = list.render(faces);
    assert.match(rendered, /\| frigate-faces-20260206\.tar\.gz \| 2026-02-06 00:00 \|/);
  });

  it('ignores a verification record made for a file of another size', async () => {
    await writeFile(archive.path, Buffer.concat([await readFile(archive.path), Buffer.from('appended')]));
    const listed = await runAction<ArchiveListResult>(list, { location: 'out' }, recordingContext(workspace));
    assert.equal(listed.archives[0]?.verified, 'never');
  });

  it('checks archives GNU tar wrote too', async () => {
    const gnu = path.join(workspace, 'out', 'gnu-20260101.tar.gz');
    execFileSync('tar', ['-czf', gnu, '-C', workspace, 'src']);
    const result = await runAction<ArchiveVerifyResult>(verify, { path: gnu }, recordingContext(workspace));
    assert.equal(result.archives[0]?.entries, 3);
    assert.equal(result.archives[0]?.checksum, 'missing');
  });
});
