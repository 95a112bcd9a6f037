import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CUSTOM_RESOURCES, type KubeObject } from '../../src/clients/kube';
import { pathExists } from '../../src/core/atomicFiles';
import { addCnpgCluster, PLUGIN_BACKUP, startCnpgCluster, type SimulatedCnpg } from '../support/cnpgLab';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';

const RUNBOOK = join(REPO_ROOT, 'runbooks', 'cnpg-restore.runbook.md');
const FILE = 'kubernetes/apps/immich/immich-postgres-restored.yaml';

describe('runbook cnpg-restore, end to end with the CLI against the Kubernetes simulator', function () {
  this.timeout(60_000);
  let prod: SimulatedCnpg;
  let workspace: string;

  const finished = (object: KubeObject) => ['completed', 'failed'].includes(String(object.status?.phase));
  async function backup(name: string): Promise<void> {
    await prod.kube.createObject(CUSTOM_RESOURCES.cnpgBackup, 'immich', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name }, spec: { cluster: { name: 'immich-postgres' }, method: 'plugin', pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io' } } });
    await prod.kube.waitForObject(CUSTOM_RESOURCES.cnpgBackup, 'immich', name, { isDone: finished, intervalMs: 10, timeoutMs: 10_000 });
  }
  const run = (...params: string[]) => lifeboat(['run', 'cnpg-restore.runbook.md', '--param', 'cluster=prod', ...params.flatMap((param) => ['--param', param]), '--yes'], { cwd: workspace });
  const clusters = async () => (await prod.kube.listObjects(CUSTOM_RESOURCES.cnpgCluster, 'immich')).map((object) => object.metadata.name).sort();

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    prod = await startCnpgCluster(10);
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-cnpg-runbook-'));
    await writeFile(join(workspace, 'lifeboat.yaml'), `clusters:\n  prod:\n    kubeconfig: ${prod.kubeconfig}\n`);
    // The workspace's copy of the shipped runbook: runs are recorded beside it, not in the repository.
    await writeFile(join(workspace, 'cnpg-restore.runbook.md'), await readFile(RUNBOOK));
    await addCnpgCluster(prod.kube, 'immich', 'immich-postgres', PLUGIN_BACKUP);
    await backup('immich-postgres-20261204020000');
    await backup('immich-postgres-20261205020000');
    prod.sim.objects.outcomes.set('immich-postgres-20261206020000', 'Failed');
    await backup('immich-postgres-20261206020000');
  });

  after(async () => {
    await prod?.sim.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('shows the recovery manifest in a dry run, writing nothing', async () => {
    const result = await lifeboat(['run', 'cnpg-restore.runbook.md', '--param', 'cluster=prod', '--dry-run'], { cwd: workspace });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /from Backup immich-postgres-20261205020000/);
    assert.match(result.stdout, /bootstrap:\s+recovery:\s+backup:\s+name: immich-postgres-20261205020000/);
    assert.equal(await pathExists(join(workspace, FILE)), false);
    assert.deepEqual(await clusters(), ['immich-postgres']);
  });

  it('lists the Backups and writes the new Cluster for GitOps from the newest completed Backup, creating nothing in the cluster', async () => {
    const result = await run();
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const manifest = parse(await readFile(join(workspace, FILE), 'utf8')) as KubeObject;
    assert.deepEqual([manifest.kind, manifest.metadata.name, manifest.metadata.namespace], ['Cluster', 'immich-postgres-restored', 'immich']);
    assert.deepEqual((manifest.spec?.bootstrap as Record<string, unknown>).recovery, { backup: { name: 'immich-postgres-20261205020000' } });
    assert.deepEqual(await clusters(), ['immich-postgres']);
    const records = await readRecords(workspace);
    const lastRun = records.filter((record) => record.run === records.at(-1)?.run);
    assert.deepEqual(lastRun.map((record) => [record.action, record.status]), [['cnpg.backups.list', 'succeeded'], ['cnpg.restore', 'succeeded']]);
  });

  it('refuses to overwrite the manifest written before, and leaves it as it was', async () => {
    const before = await readFile(join(workspace, FILE), 'utf8');
    const result = await run('backup=immich-postgres-20261204020000');
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stderr + result.stdout, /immich-postgres-restored\.yaml already exists; refusing to overwrite it/);
    assert.equal(await readFile(join(workspace, FILE), 'utf8'), before);
  });

  it('applies the new Cluster from a named Backup, and refuses to replace it on the next run', async () => {
    const result = await run('backup=immich-postgres-20261204020000', 'apply=true', 'file=older.yaml', 'newClusterName=immich-postgres-older');
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.deepEqual(await clusters(), ['immich-postgres', 'immich-postgres-older']);
    const applied = await prod.kube.getObject(CUSTOM_RESOURCES.cnpgCluster, 'immich', 'immich-postgres-older');
    assert.deepEqual((applied.spec?.bootstrap as Record<string, unknown>).recovery, { backup: { name: 'immich-postgres-20261204020000' } });
    const again = await run('apply=true', 'file=again.yaml', 'newClusterName=immich-postgres-older');
    assert.equal(again.code, 1, again.stderr + again.stdout);
    assert.match(again.stderr + again.stdout, /CloudNativePG Cluster immich-postgres-older already exists in namespace immich of cluster prod/);
    assert.equal(await pathExists(join(workspace, 'again.yaml')), false, 'nothing written when refused');
  });

  it('stops at the failed Backup when it is named', async () => {
    const result = await run('backup=immich-postgres-20261206020000', 'file=failed.yaml');
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stderr + result.stdout, /CloudNativePG Backup immich-postgres-20261206020000 in namespace immich of cluster prod is failed, not completed/);
  });
});
