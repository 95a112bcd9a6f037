import assert from 'node:assert/strict';
import path from 'node:path';
import { archiveListParams, prefixOfArchiveName, type ArchiveListResult } from '../../src/actions/archive';
import { archiveAction, makeTempDir, recordingContext, removeTempDir, runAction, writeTree } from './archiveSupport';

const list = archiveAction('archive.list');

describe('archive.list selecting one archive', () => {
  let workspace: string;
  before(async () => {
    workspace = await makeTempDir('select');
    await writeTree(path.join(workspace, 'out'), {
      'app-20260124-065100.tar.gz': 'x',
      'app-20260201-000000.tar.gz': 'x',
      'db-20260301-000000.tar.gz': 'x',
    });
  });
  after(async () => {
    await removeTempDir(workspace);
  });

  const select = (params: object) => runAction<ArchiveListResult>(list, { location: 'out', ...params }, recordingContext(workspace));

  it('selects nothing unless asked', async () => {
    const result = await select({ prefix: 'app' });
    assert.equal(result.selected, undefined);
    assert.equal(result.archives.length, 2);
  });

  it('selects the newest listed archive for `latest`, within the prefix', async () => {
    assert.equal((await select({ archive: 'latest' })).selected?.name, 'db-20260301-000000.tar.gz');
    const app = await select({ prefix: 'app', archive: 'latest' });
    assert.equal(app.selected?.name, 'app-20260201-000000.tar.gz');
    assert.equal(app.selected?.path, path.join(workspace, 'out', 'app-20260201-000000.tar.gz'));
    assert.match(list.render(app), /Selected: `app-20260201-000000\.tar\.gz`\./);
  });

  it('selects an archive by file name', async () => {
    assert.equal((await select({ prefix: 'app', archive: 'app-20260124-065100.tar.gz' })).selected?.name, 'app-20260124-065100.tar.gz');
  });

  it('says why nothing can be selected', async () => {
    await assert.rejects(select({ prefix: 'web', archive: 'latest' }), /no archive to select: .*out holds no archives with prefix web/);
    await assert.rejects(select({ prefix: 'app', archive: 'db-20260301-000000.tar.gz' }), /archive db-20260301-000000\.tar\.gz in .*out does not have the prefix app; pass the prefix it was made with/);
    await assert.rejects(
      select({ prefix: 'app', archive: 'app-20250101.tar.gz' }),
      /archive app-20250101\.tar\.gz is not in .*out; the newest with prefix app are app-20260201-000000\.tar\.gz, app-20260124-065100\.tar\.gz$/,
    );
  });

  it('accepts only `latest` or a bare archive file name', () => {
    for (const archive of ['latest', 'app-20260124.tar.gz', 'x.tgz']) assert.ok(archiveListParams.safeParse({ location: 'out', archive }).success, archive);
    for (const archive of ['', 'newest', '../app-20260124.tar.gz', 'out/app-20260124.tar.gz', 'notes.txt', '.hidden.tar.gz']) {
      const parsed = archiveListParams.safeParse({ location: 'out', archive });
      assert.equal(parsed.success, false, archive);
      assert.match(parsed.error?.issues[0]?.message ?? '', /must be `latest` or the file name of an archive/);
    }
  });

  it('reads the prefix an archive was made with back from its name', () => {
    const cases: [string, string | undefined][] = [
      ['app-20260124-065100.tar.gz', 'app'],
      ['frigate-faces-20260124.tar.gz', 'frigate-faces'],
      ['badr_backup_20250102_030405.tar.gz', 'badr_backup'],
      ['undated.tgz', 'undated'],
      ['20260124-065100.tar.gz', undefined],
      ['with space-20260124.tar.gz', undefined],
    ];
    for (const [name, prefix] of cases) assert.equal(prefixOfArchiveName(name), prefix, name);
  });
});
