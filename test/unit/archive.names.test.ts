import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { ArchiveVerificationError, OverwriteRefusedError, RestoreRefusedError, type ArchiveListResult, type ArchiveRestoreResult } from '../../src/actions/archive';
import { printable } from '../../src/core/render';
import { archiveAction, makeTempDir, planAction, recordingContext, removeTempDir, runAction, writeRawTarGz, writeTree, type RawTarEntry } from './archiveSupport';

const restore = archiveAction('archive.restore');
const verify = archiveAction('archive.verify');
const list = archiveAction('archive.list');
const remove = archiveAction('archive.delete');

/** Every line of every text, so a test can say none holds a control or format character. */
function assertPrintable(texts: readonly string[]): void {
  for (const line of texts.flatMap((text) => text.split('\n'))) assert.doesNotMatch(line, /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u, JSON.stringify(line));
}

async function failure(attempt: Promise<unknown>): Promise<Error> {
  const error = await attempt.then(
    () => assert.fail('expected a failure'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof Error);
  return error;
}

describe('names from an archive are escaped in every message', () => {
  let workspace: string;
  let target: string;
  beforeEach(async () => {
    workspace = await makeTempDir('names');
    target = path.join(workspace, 'target');
    await writeTree(target, { 'existing.txt': 'already here' });
  });
  afterEach(async () => {
    await removeTempDir(workspace);
  });

  const archiveOf = (entries: RawTarEntry[], name = 'hostile.tar.gz') => writeRawTarGz(path.join(workspace, name), entries);

  const hostile = 'evil\n✔ [cell 9] forged line \x1b[31mred\x1b[0m \u202eexe.txt';

  it('by one helper that leaves nothing unprintable and loses nothing (generated strings)', () => {
    const decode = (shown: string) =>
      shown.replace(/\\(?:x([0-9a-f]{2})|u\{([0-9a-f]+)\}|u([0-9a-f]{4})|([nrt\\]))/g, (_match, byte?: string, braced?: string, unit?: string, named?: string) => {
        if (byte !== undefined) return String.fromCharCode(parseInt(byte, 16));
        if (braced !== undefined) return String.fromCodePoint(parseInt(braced, 16));
        if (unit !== undefined) return String.fromCharCode(parseInt(unit, 16));
        return { n: '\n', r: '\r', t: '\t', '\\': '\\' }[named as 'n' | 'r' | 't' | '\\'];
      });
    const character = fc.oneof(fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), fc.constantFrom('\n', '\\', '\x1b', '\u202e', '\u2028', '\u{1f600}', '\u{e0001}', 'a', '/'));
    fc.assert(
      fc.property(fc.string({ unit: character, maxLength: 40 }), (text) => {
        const shown = printable(text);
        assert.doesNotMatch(shown, /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u);
        assert.equal(decode(shown), text);
      }),
      { numRuns: 3000 },
    );
  });

  it('in refusals', async () => {
    const archive = await archiveOf([{ path: `../${hostile}`, content: 'x' }, { path: hostile, type: 'SymbolicLink', linkpath: `/etc/${hostile}` }]);
    const planned = await failure(planAction(restore, { archive, target: 'fresh' }, recordingContext(workspace)));
    assert.ok(planned instanceof RestoreRefusedError);
    assert.equal(planned.message.split('\n').length, 3, 'one line per problem, none forged');
    assertPrintable([planned.message]);
    assert.match(planned.message, /'\.\.\/evil\\n✔ \[cell 9\] forged line \\x1b\[31mred\\x1b\[0m \\u202eexe\.txt': path contains "\.\."/);
  });

  it('in plans, logs, progress and the rendered result', async () => {
    const archive = await archiveOf([{ path: hostile, content: 'x' }, { path: 'link', type: 'SymbolicLink', linkpath: hostile }], `${hostile}.tar.gz`);
    const plan = await planAction(restore, { archive, target: 'fresh' }, recordingContext(workspace));
    const ctx = recordingContext(workspace);
    const result = await runAction<ArchiveRestoreResult>(restore, { archive, target: 'fresh' }, ctx);
    assertPrintable([plan.summary, ...plan.operations.flatMap((operation) => [operation.target, operation.detail ?? '']), ...ctx.logLines, ...ctx.progressUpdates.map((update) => update.message ?? ''), restore.render(result)]);
    assert.ok(plan.operations.some((operation) => operation.target.endsWith('fresh/evil\\n✔ [cell 9] forged line \\x1b[31mred\\x1b[0m \\u202eexe.txt')));
    assert.equal(await readFile(path.join(workspace, 'fresh', hostile), 'utf8'), 'x', 'the file itself keeps its real name');
  });

  it('when the overwrite refusal lists existing files', async () => {
    await writeTree(target, { [hostile]: 'old' });
    const archive = await archiveOf([{ path: hostile, content: 'new' }]);
    const error = await failure(runAction(restore, { archive, target: 'target' }, recordingContext(workspace)));
    assert.ok(error instanceof OverwriteRefusedError);
    assertPrintable([error.message]);
    assert.match(error.message, /\(evil\\n✔/);
  });

  it('by archive.verify, in its error, its table and its log', async () => {
    await writeTree(workspace, { [`out/${hostile}.tar.gz`]: 'not a gzip file' });
    const ctx = recordingContext(workspace);
    const error = await failure(runAction(verify, { path: 'out' }, ctx));
    assert.ok(error instanceof ArchiveVerificationError);
    assert.equal(error.result.archives[0]?.name, `${hostile}.tar.gz`, 'the result keeps the real name');
    assertPrintable([error.message, ...ctx.logLines, ...ctx.progressUpdates.map((update) => update.message ?? ''), verify.render(error.result)]);
    assert.match(error.message, /failed verification: evil\\n✔ \[cell 9\] forged line \\x1b\[31mred/);
  });

  it('by archive.list, in its listing and when the archive asked for is missing', async () => {
    await writeTree(workspace, { [`out/${hostile}.tar.gz`]: 'x' });
    const listed = await runAction<ArchiveListResult>(list, { location: 'out' }, recordingContext(workspace));
    assert.equal(listed.archives[0]?.name, `${hostile}.tar.gz`);
    const error = await failure(runAction(list, { location: 'out', archive: 'other.tar.gz' }, recordingContext(workspace)));
    assertPrintable([list.render(listed), error.message]);
    assert.match(error.message, /the newest are evil\\n/);
  });

  it('by archive.delete, in its plan, its result and its refusal', async () => {
    await writeTree(workspace, { [`out/${hostile}.tar.gz`]: 'x', 'out/.lifeboat-verified.json': JSON.stringify({ [`${hostile}.tar.gz`]: { verifiedAt: new Date().toISOString(), ok: true, bytes: 1 } }) });
    const archive = path.join('out', `${hostile}.tar.gz`);
    const refusal = await failure(runAction(remove, { path: archive }, recordingContext(workspace)));
    assert.match(refusal.message, /last verified archive/);
    await writeFile(path.join(workspace, 'out', '.lifeboat-verified.json'), '{}');
    const plan = await planAction(remove, { path: archive }, recordingContext(workspace));
    const ctx = recordingContext(workspace);
    const result = await runAction(remove, { path: archive }, ctx);
    assertPrintable([refusal.message, plan.summary, ...plan.operations.flatMap((operation) => [operation.target, operation.detail ?? '']), remove.render(result), ...ctx.logLines]);
  });
});
