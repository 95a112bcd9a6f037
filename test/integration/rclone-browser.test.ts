import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { rcloneCopy } from '../../src/actions/rclone/copy';
import type { RcloneListResult } from '../../src/actions/rclone/list';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import { childPath, joinPath, type BrowseNode } from '../../src/core/browse/node';
import { assertListedUnder } from '../support/browseNodes';
import { REPO_ROOT } from '../support/paths';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

const REMOTES = 'rclone/remotes';

describe('the rclone browser: remotes of rclone.conf and lifeboat.yaml, their buckets, folders and files', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  let work: string;
  let ctx: ActionContext;
  let model: BrowseModel;
  const registry = new ActionRegistry(builtinActions);
  const inheritedConfig = process.env.RCLONE_CONFIG;

  const labels = (nodes: readonly BrowseNode[]) => nodes.map((node) => node.label);
  async function page(parent: string, limit = 100, cursor?: string) {
    return assertListedUnder(parent, await model.children(parent, { limit, ...(cursor ? { cursor } : {}) }, ctx));
  }

  before(async () => {
    server = await startS3rver({ buckets: ['drive'], tls: true });
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-rclone-browser-'));
    // A remote of the user's own rclone.conf beside those of lifeboat.yaml.
    const config = path.join(work, 'rclone.conf');
    await writeFile(config, '[pi_backups]\ntype = local\n');
    process.env.RCLONE_CONFIG = config;
    const inventory = {
      stores: { garage: { endpoint: server.endpoint, region: 'us-east-1', bucket: 'drive', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:garage-secret' } } },
      rcloneRemotes: { badr_gdrive: { store: 'garage', caFile: server.caFile }, broken: { store: 'garage' } },
    } as Inventory;
    ctx = createActionContext({ workspaceDir: work, inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_GARAGE_SECRET: S3RVER_CREDENTIALS.secretAccessKey }) });
    model = new BrowseModel(builtinBrowsers, registry, path.join(work, 'lifeboat.yaml'));

    const source = path.join(work, 'upload');
    await mkdir(path.join(source, 'BadrBackups'), { recursive: true });
    await writeFile(path.join(source, 'BadrBackups', 'badr_backup_20250105_020000.tar.gz'), Buffer.alloc(2048, 1));
    await writeFile(path.join(source, 'BadrBackups', '--delete'), 'x');
    await writeFile(path.join(source, 'BadrBackups', '50% $(touch x)'), 'y');
    await writeFile(path.join(source, 'notes.txt'), 'n');
    await rcloneCopy.run(rcloneCopy.params.parse({ source, destination: 'badr_gdrive:drive' }), ctx);
    const many = path.join(work, 'many');
    await mkdir(many);
    for (let index = 0; index < 250; index++) await writeFile(path.join(many, `video-${String(index).padStart(3, '0')}.mp4`), '');
  });
  after(async () => {
    if (inheritedConfig === undefined) delete process.env.RCLONE_CONFIG;
    else process.env.RCLONE_CONFIG = inheritedConfig;
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('has a root when a remote is declared or rclone.conf exists, and none otherwise', () => {
    assert.ok(model.roots(ctx).some((node) => node.path === REMOTES && node.label === 'rclone remotes'));
    process.env.RCLONE_CONFIG = '/dev/null';
    try {
      assert.ok(!model.roots({ ...ctx, inventory: {} }).some((node) => node.path === REMOTES));
    } finally {
      process.env.RCLONE_CONFIG = path.join(work, 'rclone.conf');
    }
  });

  it("lists lifeboat.yaml's remotes and rclone.conf's, with their backends", async () => {
    const { nodes } = await page(REMOTES);
    assert.deepEqual(nodes.map((node) => [node.label, node.description]), [
      ['badr_gdrive', 's3 · lifeboat.yaml'],
      ['broken', 's3 · lifeboat.yaml'],
      ['pi_backups', 'local'],
    ]);
    assert.deepEqual(nodes[0]?.operations.map((operation) => operation.label), ['List']);
  });

  it('opens a remote: buckets, then folders before files, with sizes; a file offers its checksums', async () => {
    const buckets = await page(childPath(REMOTES, 'badr_gdrive'));
    assert.deepEqual(buckets.nodes.map((node) => [node.label, node.kind]), [['drive', 'rclone.bucket']]);
    const top = await page(joinPath('rclone', 'remotes', 'badr_gdrive', 'drive'));
    assert.deepEqual(labels(top.nodes), ['BadrBackups', 'notes.txt']);
    const backups = await page(joinPath('rclone', 'remotes', 'badr_gdrive', 'drive', 'BadrBackups'));
    assert.deepEqual(labels(backups.nodes), ['--delete', '50% $(touch x)', 'badr_backup_20250105_020000.tar.gz']);
    const archive = backups.nodes[2] as BrowseNode;
    assert.match(archive.description ?? '', /^2\.0 KiB · /);
    const checksums = archive.operations.find((operation) => operation.id === 'checksums');
    assert.ok(checksums?.kind === 'action');
    assert.deepEqual(checksums.params, { path: 'badr_gdrive:drive/BadrBackups/badr_backup_20250105_020000.tar.gz', hashes: true });
    const action = registry.get(checksums.action);
    assert.ok(action);
    const listed = (await action.run(action.params.parse(checksums.params), ctx)) as RcloneListResult;
    assert.match(listed.entries[0]?.hashes.md5 ?? '', /^[0-9a-f]{32}$/);
    // The odd names are nodes of their own, reachable by their paths.
    const odd = await model.node(joinPath('rclone', 'remotes', 'badr_gdrive', 'drive', 'BadrBackups', '50% $(touch x)'), ctx);
    assert.equal(odd?.facts.path, 'badr_gdrive:drive/BadrBackups/50% $(touch x)');
  });

  it('pages a long folder of a local remote from the file system root, reading it once', async () => {
    const folder = joinPath('rclone', 'remotes', 'pi_backups', ...path.join(work, 'many').split('/').filter(Boolean));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const listed = await page(folder, 100, cursor);
      seen.push(...labels(listed.nodes));
      assert.equal(listed.total, 250);
      cursor = listed.next;
      pages++;
      // A file appearing between pages does not shift them: the listing was kept.
      if (pages === 1) await writeFile(path.join(work, 'many', 'video-000a.mp4'), '');
    } while (cursor !== undefined);
    assert.equal(pages, 3);
    assert.equal(seen.length, 250);
    assert.equal(new Set(seen).size, 250);
    model.forget(folder);
    assert.equal((await page(folder, 500)).total, 251, 'read again after a refresh');
  });

  it("offers List Files and Show Checksums in the tree's context menu", () => {
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[]; menus: Record<string, { command: string; when?: string }[]> } };
    for (const [operation, title] of [['list', 'List Files'], ['checksums', 'Show Checksums']]) {
      const command = `lifeboat.backups.${operation}`;
      assert.equal(manifest.contributes.commands.find((entry) => entry.command === command)?.title, title);
      assert.ok(manifest.contributes.menus['view/item/context']?.some((entry) => entry.command === command && entry.when?.includes(`op:${operation}(`)), command);
      assert.ok(manifest.contributes.menus.commandPalette?.some((entry) => entry.command === command && entry.when === 'false'), command);
    }
  });

  it('shows a remote that cannot be listed as an error node, not an exception', async () => {
    const { nodes } = await page(childPath(REMOTES, 'broken'));
    assert.equal(nodes[0]?.kind, 'error');
    assert.match(nodes[0]?.description ?? '', /listing rclone\/remotes\/broken failed: rclone list broken: failed .*(x509|certificate)/s);
  });
});
