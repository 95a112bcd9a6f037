import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../../src/clients/kube';
import { lifeboat, readRecords } from '../support/cli';
import { addCnpgCluster, PLUGIN_BACKUP } from '../support/cnpgLab';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { addCnpgInstancePods, startPostgres, type TestPostgres } from '../testbed/postgres';
import { startSshd, type Sshd } from '../testbed/sshd';

const RUNBOOK = 'pg-dump-restore.runbook.md';
const ROWS = "SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM assets a";

describe('runbook pg-dump-restore, end to end with the CLI, two PostgreSQL servers behind two CloudNativePG Clusters', function () {
  this.timeout(120_000);
  /** The Cluster dumped (immich-postgres) and the one restored into (immich-postgres-restored): two servers, as two Clusters are. */
  let source: TestPostgres;
  let target: TestPostgres;
  let kube: KubeApiSimulator;
  let sshd: Sshd;
  let workspace: string;
  let kubeconfig: string;
  const dumps = () => join(sshd.remoteDir, 'postgres');

  async function lastRun(): Promise<[unknown, unknown][]> {
    const records = await readRecords(workspace);
    return records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]);
  }

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    [source, target, kube, sshd] = await Promise.all([startPostgres(), startPostgres(), KubeApiSimulator.start(), startSshd()]);
    addCnpgInstancePods(kube, source, 'immich', 'immich-postgres');
    addCnpgInstancePods(kube, target, 'immich', 'immich-postgres-restored');
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-pg-runbook-'));
    kubeconfig = await kube.writeKubeconfig();
    const host = `{ host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, identityFile: ${sshd.clientKey.privateKeyPath}, knownHosts: ${sshd.knownHostsPath} }`;
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      [`clusters:\n  prod:\n    kubeconfig: ${kubeconfig}`, `hosts:\n  nas: ${host}`, `locations:\n  postgres-dumps: { host: nas, path: ${dumps()} }`, ''].join('\n'),
    );
    // The workspace's copy of the shipped runbook: runs are recorded beside it, not in the repository.
    await writeFile(join(workspace, RUNBOOK), await readFile(join(REPO_ROOT, 'runbooks', RUNBOOK)));
    await source.sql('postgres', 'CREATE DATABASE immich');
    await source.sql('immich', "CREATE TABLE assets (id int PRIMARY KEY, path text, checksum bytea); INSERT INTO assets SELECT g, '/photos/' || g || '.jpg', decode(md5(g::text), 'hex') FROM generate_series(1, 2000) g; CREATE INDEX ON assets (path);");
    // The new Cluster's application database, as CloudNativePG's initdb makes it, with a stale table the dump replaces.
    await target.sql('postgres', 'CREATE DATABASE immich');
    await target.sql('immich', "CREATE TABLE assets (id int PRIMARY KEY, path text, checksum bytea); INSERT INTO assets VALUES (1, 'stale', NULL);");
  });

  after(async () => {
    await Promise.all([source?.stop(), target?.stop(), kube?.stop(), sshd?.stop()]);
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('plans the dump in a dry run, writing nothing', async () => {
    const result = await lifeboat(['run', RUNBOOK, '--dry-run'], { cwd: workspace });
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 0, output);
    for (const step of ['Dump the database', 'Restore the dump into the target database']) assert.ok(output.includes(`] ${step}`), `${step} is planned:\n${output}`);
    assert.match(output, /Dump database 'immich' in pod immich\/immich-postgres-1 of cluster prod \(1 table, [\d.]+ MiB on disk\) to nas:.*\/postgres\/immich-\d{14}\.dump/);
    assert.match(output, /uses the result of step `dump`, which a dry run does not produce/);
    assert.deepEqual(await readdir(dumps()).catch(() => []), []);
  });

  it('dumps the database to the SSH host and restores it into the other Cluster, every row', async () => {
    const result = await lifeboat(['run', RUNBOOK, '--yes'], { cwd: workspace });
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 0, output);
    assert.deepEqual(await lastRun(), [['pg.dump', 'succeeded'], ['pg.restore', 'succeeded']]);
    const files = await readdir(dumps());
    assert.equal(files.length, 1);
    assert.match(files[0] ?? '', /^immich-\d{14}\.dump$/);
    assert.equal((await target.sql('immich', ROWS)).trim(), (await source.sql('immich', ROWS)).trim());
    assert.equal((await target.sql('immich', "SELECT count(*) FROM pg_indexes WHERE tablename = 'assets'")).trim(), '2', 'the index came along');
    assert.match(output, /Restored nas:.*immich-\d{14}\.dump \(of database 'immich', taken [^)]+\) into database 'immich' in pod immich\/immich-postgres-restored-1: [^;]*\b1 TABLE\b[^;]*; the database now has 1 table\./);
  });

  it("runs from a CloudNativePG Cluster's node in the tree, Dump and Restore Database…, with the Cluster bound as the source", async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[]; menus: Record<string, { command: string; when?: string }[]> } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === 'lifeboat.backups.dumpRestore')?.title, 'Dump and Restore Database…');
    assert.ok(manifest.contributes.menus['view/item/context']?.some((entry) => entry.command === 'lifeboat.backups.dumpRestore' && /op:dumpRestore\b/.test(entry.when ?? '')));
    assert.ok(manifest.contributes.menus.commandPalette?.some((entry) => entry.command === 'lifeboat.backups.dumpRestore' && entry.when === 'false'));

    await addCnpgCluster(await KubeClient.connect({ kubeconfig }), 'immich', 'immich-postgres', PLUGIN_BACKUP);
    await source.sql('immich', "INSERT INTO assets VALUES (5001, '/photos/added-since.jpg', NULL)");
    const result = await lifeboat(['do', 'clusters/prod/cnpg/immich/immich-postgres', 'dumpRestore', '--yes'], { cwd: workspace });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.deepEqual(await lastRun(), [['pg.dump', 'succeeded'], ['pg.restore', 'succeeded']]);
    assert.equal((await target.sql('immich', ROWS)).trim(), (await source.sql('immich', ROWS)).trim());
  });

  it('stops at the restore when the target database does not exist, keeping the dump, without a stack trace', async () => {
    const before = await readdir(dumps());
    const result = await lifeboat(['run', RUNBOOK, '--param', 'targetDatabase=immich_missing', '--yes'], { cwd: workspace });
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 1, output);
    assert.match(output, /`database`: there is no database 'immich_missing' in pod immich\/immich-postgres-restored-1 of cluster prod/);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await lastRun(), [['pg.dump', 'succeeded'], ['pg.restore', 'failed']]);
    assert.equal((await readdir(dumps())).length, before.length + 1, 'the new dump is kept');
  });
});
