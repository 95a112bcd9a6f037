import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFolders } from '../../src/core/atomicFiles';
import { within } from '../support/within';

describe('makeFolders (mkdir -p)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-make-folders-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('makes the folder and its missing parents with the mode given, and names the first one it made', async () => {
    const folder = join(dir, 'a', 'b', 'c');
    assert.equal(await makeFolders(folder, 0o700), join(dir, 'a'));
    for (const made of [join(dir, 'a'), join(dir, 'a', 'b'), folder]) assert.equal((await stat(made)).mode & 0o777, 0o700, made);
  });

  it('makes nothing for a folder that is there, and only what is missing below one', async () => {
    await mkdir(join(dir, 'a'));
    assert.equal(await makeFolders(join(dir, 'a')), undefined);
    assert.equal(await makeFolders(join(dir, 'a', 'b', 'c')), join(dir, 'a', 'b'));
    assert.ok((await stat(join(dir, 'a', 'b', 'c'))).isDirectory());
  });

  it('refuses a file in the way, as the folder or as a parent', async () => {
    await writeFile(join(dir, 'file'), 'not a folder');
    const file = join(dir, 'file');
    await assert.rejects(makeFolders(file), { code: 'ENOTDIR', message: `ENOTDIR: not a directory, mkdir '${file}' (${file} is not a folder)` });
    await assert.rejects(makeFolders(join(file, 'below')), { code: 'ENOTDIR', message: `ENOTDIR: not a directory, mkdir '${join(file, 'below')}' (${file} is not a folder)` });
  });

  it('takes folders made at the same time by another writer', async () => {
    const folders = Array.from({ length: 8 }, (_, index) => join(dir, 'shared', 'deep', String(index % 2)));
    await Promise.all(folders.map((folder) => makeFolders(folder)));
    for (const folder of folders) assert.ok((await stat(folder)).isDirectory());
  });

  it('fails at once where no folder can be made below one that exists (/proc), where Node\'s recursive mkdir never returns', async () => {
    await assert.rejects(within(5_000, makeFolders('/proc/self/lifeboat-test/below')), { code: 'ENOENT' });
    await assert.rejects(within(5_000, makeFolders('/proc/self/lifeboat-test')), { code: 'ENOENT' });
  });
});
