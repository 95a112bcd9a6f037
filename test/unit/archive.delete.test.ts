import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LastVerifiedArchiveError, VERIFIED_STATE_FILE, type ArchiveCreateResult, type ArchiveDeleteResult } from '../../src/actions/archive';
import { archiveAction, exists, listNames, makeTempDir, planAction, rawTarGz, recordingContext, removeTempDir, runAction, writeTree } from './archiveSupport';

const create = archiveAction('archive.create');
const remove = archiveAction('archive.delete');

describe('archive.delete', () => {
  let workspace: string;
  let out: string;
  /** Two archives archive.create made, so both are verified. */
  let older: ArchiveCreateResult;
  let newer: ArchiveCreateResult;

  async function readState(): Promise<Record<string, unknown>> {
    return JSON.parse(await readFile(path.join(out, VERIFIED_STATE_FILE), 'utf8')) as Record<string, unknown>;
  }

  beforeEach(async () => {
    workspace = await makeTempDir('delete');
    out = path.join(workspace, 'out');
    await writeTree(workspace, { 'src/a.txt': 'a\n', 'src/b.txt': 'b\n' });
    // Different prefixes: two archives made within one second would otherwise want the same name.
    older = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'older' }, recordingContext(workspace));
    newer = await runAction<ArchiveCreateResult>(create, { paths: ['src'], destination: 'out', prefix: 'newer' }, recordingContext(workspace));
  });
  afterEach(async () => {
    await removeTempDir(workspace);
  });

  it('plans the archive, its checksum file and its verification record as what goes', async () => {
    const plan = await planAction(remove, { path: 'out/' + older.name }, recordingContext(workspace));
    assert.equal(plan.destructive, true);
    assert.match(plan.summary, new RegExp(`Delete the archive ${older.name} \\(.+\\) from ${out} with its checksum file`));
    assert.deepEqual(
      plan.operations.map((operation) => [operation.kind, operation.target]),
      [
        ['delete', older.path],
        ['delete', `${older.path}.sha256`],
        ['overwrite', path.join(out, VERIFIED_STATE_FILE)],
      ],
    );
    assert.equal(plan.operations[0]?.bytes, older.bytes);
    assert.ok(await exists(older.path), 'planning deletes nothing');
  });

  it('refuses to delete from a folder another run is writing, and to create an archive there, naming that run', async () => {
    const renewedAt = new Date().toISOString();
    const lock = path.join(out, '.lifeboat-lock');
    await writeFile(lock, JSON.stringify({ format: 'lifeboat.lock/1', id: 'nas-run', host: 'nas', pid: 4121, user: 'backup', runbook: 'nightly.runbook.md', action: 'archive.create', startedAt: renewedAt, renewedAt }));
    const held = /out is being written by another run: archive\.create of nightly\.runbook\.md, pid 4121 of backup on nas/;
    await assert.rejects(runAction(remove, { path: 'out/' + older.name }, recordingContext(workspace)), held);
    await assert.rejects(runAction(create, { paths: ['src'], destination: 'out', prefix: 'third', keep: 1 }, recordingContext(workspace)), held);
    assert.deepEqual((await listNames(out)).filter((name) => name.endsWith('.tar.gz')).sort(), [newer.name, older.name].sort());
    await rm(lock);
    await runAction(remove, { path: 'out/' + older.name }, recordingContext(workspace));
    assert.equal(await exists(lock), false, 'the run released its own lock');
  });

  it('deletes an archive with its checksum file and verification record, leaving the others', async () => {
    const result = await runAction<ArchiveDeleteResult>(remove, { path: older.path }, recordingContext(workspace));
    assert.deepEqual(result.deleted, [older.path, `${older.path}.sha256`]);
    assert.equal(result.forgotVerification, true);
    assert.deepEqual(await listNames(out), [VERIFIED_STATE_FILE, newer.name, `${newer.name}.sha256`].sort());
    assert.deepEqual(Object.keys(await readState()), [newer.name]);
    assert.match(remove.render(result), new RegExp(`Deleted ${older.name} .* and its verification record`));
  });

  it('refuses to delete the last verified archive of a folder, in the plan and in the run', async () => {
    await runAction(remove, { path: older.path }, recordingContext(workspace));
    await assert.rejects(planAction(remove, { path: newer.path }, recordingContext(workspace)), LastVerifiedArchiveError);
    await assert.rejects(runAction(remove, { path: newer.path }, recordingContext(workspace)), (error: Error) => {
      assert.ok(error instanceof LastVerifiedArchiveError);
      assert.match(error.message, new RegExp(`refusing to delete ${newer.path}: it is the last verified archive in ${out}, and Lifeboat never deletes the last good backup`));
      return true;
    });
    assert.ok(await exists(newer.path));
    assert.ok(await exists(`${newer.path}.sha256`));
    assert.deepEqual(Object.keys(await readState()), [newer.name]);
  });

  it('does not count an archive whose verification failed or no longer matches its size as good', async () => {
    // The other archive changed since it was verified: its record describes another file.
    await writeFile(older.path, Buffer.concat([await readFile(older.path), Buffer.from('appended')]));
    await assert.rejects(runAction(remove, { path: newer.path }, recordingContext(workspace)), LastVerifiedArchiveError);

    const state = await readState();
    await writeFile(path.join(out, VERIFIED_STATE_FILE), JSON.stringify({ ...state, [older.name]: { verifiedAt: new Date().toISOString(), ok: false } }));
    await assert.rejects(runAction(remove, { path: newer.path }, recordingContext(workspace)), LastVerifiedArchiveError);
  });

  it('deletes an archive that was never verified, even when no verified archive remains besides the last', async () => {
    const legacy = path.join(out, 'legacy-20200101.tar.gz');
    await writeFile(legacy, rawTarGz([{ path: 'x', content: 'x' }]));
    const result = await runAction<ArchiveDeleteResult>(remove, { path: legacy }, recordingContext(workspace));
    assert.deepEqual(result.deleted, [legacy]);
    assert.equal(result.forgotVerification, false);
    assert.equal(await exists(legacy), false);
  });

  it('deletes archives only: not other files, folders or missing paths', async () => {
    await writeFile(path.join(out, 'notes.txt'), 'keep me');
    await assert.rejects(runAction(remove, { path: 'out/notes.txt' }, recordingContext(workspace)), /notes\.txt is not an archive \(\*\.tar\.gz, \*\.tgz\)/);
    await assert.rejects(runAction(remove, { path: 'out/gone-20200101.tar.gz' }, recordingContext(workspace)), /archive .*gone-20200101\.tar\.gz does not exist/);
    await writeTree(out, { 'folder.tar.gz': { directory: true } });
    await assert.rejects(runAction(remove, { path: 'out/folder.tar.gz' }, recordingContext(workspace)), /folder\.tar\.gz is not a regular file/);
    assert.ok(await exists(path.join(out, 'notes.txt')));
  });
});
