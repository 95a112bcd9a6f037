import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { RestoreRefusedError, type ArchiveRestoreResult } from '../../src/actions/archive';
import { archiveAction, listNames, makeTempDir, planAction, readTree, recordingContext, removeTempDir, runAction, writeRawTarGz, writeTree, type RawTarEntry } from './archiveSupport';

const restore = archiveAction('archive.restore');

/** Outcome of the plan or the run: the refusal's message, or 'ok'. */
async function outcome(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
    return 'ok';
  } catch (error) {
    if (error instanceof RestoreRefusedError) return error.message;
    throw error;
  }
}

describe('archive.restore plans every conflict the run would hit', () => {
  let workspace: string;
  let archiveNumber = 0;
  beforeEach(async () => {
    workspace = await makeTempDir('restore-conflicts');
  });
  afterEach(async () => {
    await removeTempDir(workspace);
  });

  const archiveOf = (entries: readonly RawTarEntry[]) => writeRawTarGz(path.join(workspace, `a${archiveNumber++}.tar.gz`), entries);

  const longName = 'n'.repeat(256);
  const longPath = Array.from({ length: 17 }, (_, index) => `${String(index).padStart(2, '0')}${'p'.repeat(240)}`).join('/');
  const cases: { name: string; entries: RawTarEntry[]; problem: RegExp }[] = [
    { name: 'a file, then a folder of the same name', entries: [{ path: 'a', content: 'file' }, { path: 'a', type: 'Directory' }], problem: /'a': the archive has both a file and a folder at this path/ },
    { name: 'a folder, then a file of the same name', entries: [{ path: 'a', type: 'Directory' }, { path: 'a', content: 'file' }], problem: /'a': the archive has both a folder and a file at this path/ },
    { name: 'a file, then a path below it', entries: [{ path: 'a', content: 'file' }, { path: 'a/b', content: 'below' }], problem: /'a\/b': 'a' is a file earlier in the archive, so it cannot be a folder/ },
    { name: 'a path below a name, then a file of that name', entries: [{ path: 'a/b', content: 'below' }, { path: 'a', content: 'file' }], problem: /'a': the archive has both a folder and a file at this path/ },
    { name: 'a path below a hard link', entries: [{ path: 'f', content: 'f' }, { path: 'h', type: 'Link', linkpath: 'f' }, { path: 'h/x', content: 'x' }], problem: /'h\/x': 'h' is a hard link earlier in the archive/ },
    { name: 'a hard link to a later entry', entries: [{ path: 'h', type: 'Link', linkpath: 'f' }, { path: 'f', content: 'f' }], problem: /'h': hard link to 'f', which is not an entry before it in the archive/ },
    { name: 'a hard link to a missing entry', entries: [{ path: 'f', content: 'f' }, { path: 'h', type: 'Link', linkpath: 'missing' }], problem: /'h': hard link to 'missing', which is not an entry before it/ },
    { name: 'a hard link to a folder', entries: [{ path: 'd/x', content: 'x' }, { path: 'h', type: 'Link', linkpath: 'd' }], problem: /'h': hard link to the folder 'd'/ },
    { name: 'a hard link to itself', entries: [{ path: 'h', type: 'Link', linkpath: 'h' }], problem: /'h': hard link to itself/ },
    { name: 'a file, then a symbolic link of the same name', entries: [{ path: 'a', content: 'file' }, { path: 'a', type: 'SymbolicLink', linkpath: 'b' }], problem: /'a': the archive has both a file and a symbolic link/ },
    { name: 'a symbolic link, then a file of the same name', entries: [{ path: 'a', type: 'SymbolicLink', linkpath: 'gone' }, { path: 'a', content: 'file' }], problem: /'a': the archive has both a symbolic link and a file/ },
    { name: 'a name longer than 255 bytes', entries: [{ path: `d/${longName}`, content: 'x' }], problem: /a name in this path is 256 bytes long, more than the 255/ },
    { name: 'a name of 128 two-byte characters', entries: [{ path: 'é'.repeat(128), content: 'x' }], problem: /is 256 bytes long/ },
    { name: 'a path longer than a system call takes', entries: [{ path: longPath, content: 'x' }], problem: /the path would be \d+ bytes long where it is written, more than the 4095/ },
    { name: 'a symbolic link longer than a system call takes', entries: [{ path: 'l', type: 'SymbolicLink', linkpath: 'x/'.repeat(2100) }], problem: /'l': the symbolic link's target is 4200 bytes long/ },
  ];

  for (const testCase of cases) {
    it(`refuses ${testCase.name} in the plan and in the run, with the same message, writing nothing`, async () => {
      const archive = await archiveOf(testCase.entries);
      const before = await listNames(workspace);
      const params = { archive, target: 'restored' };
      const planned = await outcome(planAction(restore, params, recordingContext(workspace)));
      const ran = await outcome(runAction(restore, params, recordingContext(workspace)));
      assert.match(planned, testCase.problem);
      assert.match(planned, /nothing was written/);
      assert.equal(ran, planned, 'the run refuses exactly what the plan refused');
      assert.deepEqual(await listNames(workspace), before, 'no target, no staging folder');
    });
  }

  it('still restores what tar writes: a repeated file (the last wins), a folder named twice, a hard link to a symbolic link', async () => {
    const archive = await archiveOf([
      { path: 'a', content: 'first' },
      { path: 'd', type: 'Directory' },
      { path: 'd/x', content: 'x' },
      { path: 'd', type: 'Directory' },
      { path: 'a', content: 'second' },
      { path: 'l', type: 'SymbolicLink', linkpath: 'a' },
      { path: 'hl', type: 'Link', linkpath: 'l' },
    ]);
    await runAction<ArchiveRestoreResult>(restore, { archive, target: 'restored' }, recordingContext(workspace));
    const tree = await readTree(path.join(workspace, 'restored'));
    assert.equal(tree.hl?.type, 'symlink');
    assert.deepEqual(Object.keys(tree).sort(), ['a', 'd', 'd/x', 'hl', 'l']);
  });

  it('a plan that accepts an archive means the run restores it (generated archives)', async function () {
    this.timeout(120_000);
    const names = ['a', 'b', 'a/b', 'a/c', 'b/a', 'a/b/c'];
    const entry = fc.oneof(
      fc.record({ path: fc.constantFrom(...names), type: fc.constant('File' as const), content: fc.constantFrom('x', 'yy', '') }),
      fc.record({ path: fc.constantFrom(...names), type: fc.constant('Directory' as const) }),
      fc.record({ path: fc.constantFrom(...names), type: fc.constant('SymbolicLink' as const), linkpath: fc.constantFrom('a', 'b', 'missing') }),
      fc.record({ path: fc.constantFrom(...names), type: fc.constant('Link' as const), linkpath: fc.constantFrom(...names, 'missing') }),
    );
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 6 }), async (entries) => {
        const archive = await archiveOf(entries);
        const target = `t${archiveNumber}`;
        const planned = await outcome(planAction(restore, { archive, target }, recordingContext(workspace)));
        const ran = await outcome(runAction(restore, { archive, target }, recordingContext(workspace)));
        assert.equal(ran, planned, JSON.stringify(entries));
        if (planned === 'ok') accepted++;
        else refused++;
        assert.deepEqual((await listNames(workspace)).filter((name) => name.includes('.restore-')), [], 'no staging left');
      }),
      { numRuns: 150 },
    );
    assert.ok(accepted > 10 && refused > 10, `both outcomes generated (${accepted} accepted, ${refused} refused)`);
  });

  it('refuses an archive that conflicts with a file already in the target the same way in plan and run', async () => {
    await writeTree(workspace, { 'restored/a': 'a file in the target' });
    const archive = await archiveOf([{ path: 'a/b', content: 'x' }]);
    const planned = await outcome(planAction(restore, { archive, target: 'restored', overwrite: true }, recordingContext(workspace)));
    assert.match(planned, /'a\/b': the target has a file at 'a' where this entry needs a folder/);
    assert.equal(await outcome(runAction(restore, { archive, target: 'restored', overwrite: true }, recordingContext(workspace))), planned);
  });
});
