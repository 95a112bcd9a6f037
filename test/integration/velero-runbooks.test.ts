import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CUSTOM_RESOURCES, type KubeObject } from '../../src/clients/kube';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { addLocation, startVeleroCluster, type SimulatedVelero } from '../support/veleroLab';

const BACKUP_RUNBOOK = 'velero-manual-backup.runbook.md';
const SCHEDULE_RUNBOOK = 'velero-add-schedule.runbook.md';
const FOLDER = 'kubernetes/apps/velero/velero/app';

/** Velero's kustomization.yaml as a Flux repository keeps it: a schema comment, commented entries, a blank line. */
const KUSTOMIZATION = [
  '---',
  '# yaml-language-server: $schema=https://json.schemastore.org/kustomization',
  'apiVersion: kustomize.config.k8s.io/v1beta1',
  'kind: Kustomization',
  'namespace: velero',
  'resources:',
  '  - ./helmrelease.yaml',
  '  - ./secret.sops.yaml  # credentials for the S3 bucket',
  '',
  '  # one file per application, 2 AM UTC',
  '  - ./schedules/pricebuddy-schedule.yaml',
  '  - ./schedules/n8n-schedule.yaml',
  'configMapGenerator:',
  '  - name: velero-values',
  '    files:',
  '      - values.yaml',
  '',
].join('\n');

/** The workspace's copy of a shipped runbook, optionally changed: runs are recorded beside it, not in the repository. */
async function copyRunbook(workspace: string, file: string, as = file, change: (text: string) => string = (text) => text): Promise<void> {
  await writeFile(join(workspace, as), change(await readFile(join(REPO_ROOT, 'runbooks', file), 'utf8')));
}

/** The actions and outcomes of the workspace's last recorded run, in order. */
async function lastRun(workspace: string): Promise<[unknown, unknown][]> {
  const records = await readRecords(workspace);
  return records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]);
}

describe('runbooks velero-manual-backup and velero-add-schedule, end to end with the CLI against the Kubernetes simulator', function () {
  this.timeout(120_000);
  let prod: SimulatedVelero;
  let broken: SimulatedVelero;
  let workspace: string;
  let stopFlux = () => {};
  let fluxFailure: unknown;

  const kustomizationPath = () => join(workspace, FOLDER, 'kustomization.yaml');

  /**
   * What kustomize-controller does on `flux reconcile` and the simulator leaves to the test: it applies
   * the repository's folder, here the Schedule files listed in Velero's kustomization.yaml that the
   * cluster lacks. Applied as soon as a reconcile is requested, before the simulator marks it handled.
   */
  function playFluxApplying(sim: SimulatedVelero): () => void {
    let handled: string | undefined;
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        const kustomization = await sim.kube.getObject(CUSTOM_RESOURCES.fluxKustomization, 'flux-system', 'velero');
        const requested = kustomization.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
        if (requested === undefined || requested === handled) return;
        handled = requested;
        const folder = join(workspace, FOLDER);
        const listed = (parse(await readFile(join(folder, 'kustomization.yaml'), 'utf8')) as { resources: string[] }).resources.filter((entry) => entry.includes('/schedules/'));
        const present = new Set((await sim.kube.listObjects(CUSTOM_RESOURCES.veleroSchedule, 'velero')).map((schedule) => schedule.metadata.name));
        for (const entry of listed) {
          const schedule = parse(await readFile(join(folder, entry), 'utf8').catch(() => '')) as KubeObject | null;
          if (schedule && !present.has(schedule.metadata.name)) await sim.kube.createObject(CUSTOM_RESOURCES.veleroSchedule, 'velero', schedule);
        }
      })()
        .catch((error: unknown) => (fluxFailure = error))
        .finally(() => (busy = false));
    }, 5);
    return () => clearInterval(timer);
  }

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    prod = await startVeleroCluster(100);
    broken = await startVeleroCluster(10);
    // A second location whose bucket is gone: Velero marks it Unavailable.
    await addLocation(broken.kube, 'offsite', { provider: 'aws', objectStorage: { bucket: '' } });
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-velero-runbooks-'));
    await writeFile(join(workspace, 'lifeboat.yaml'), `clusters:\n  prod:\n    kubeconfig: ${prod.kubeconfig}\n  broken:\n    kubeconfig: ${broken.kubeconfig}\n`);
    await copyRunbook(workspace, BACKUP_RUNBOOK);
    await copyRunbook(workspace, SCHEDULE_RUNBOOK);
    await mkdir(join(workspace, FOLDER), { recursive: true });
    await writeFile(kustomizationPath(), KUSTOMIZATION);
    await prod.kube.createObject(CUSTOM_RESOURCES.fluxKustomization, 'flux-system', {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'velero' },
      spec: { interval: '1h', path: `./${FOLDER}`, prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
    });
    stopFlux = playFluxApplying(prod);
  });

  after(async () => {
    stopFlux();
    await prod?.sim.stop();
    await broken?.sim.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  for (const [runbook, steps] of [[BACKUP_RUNBOOK, 4], [SCHEDULE_RUNBOOK, 3]] as const) {
    it(`passes lifeboat check: ${runbook}`, async () => {
      const result = await lifeboat(['check', runbook], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.ok((result.stderr + result.stdout).includes(`${runbook}: ${steps} steps valid`), result.stderr + result.stdout);
    });
  }

  describe('velero-manual-backup', () => {
    it('plans every step in a dry run and creates no backup', async () => {
      const result = await lifeboat(['run', BACKUP_RUNBOOK, '--param', 'cluster=prod', '--dry-run'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const output = result.stderr + result.stdout;
      for (const step of ['Check the backup storage location', 'Back up the namespace', 'Describe the backup', "Read the backup's log"]) assert.ok(output.includes(`] ${step}`), `${step} is planned:\n${output}`);
      assert.match(output, /\*\*Plan\*\*: Create Velero backup pelican-\d{14} of namespaces pelican in cluster prod/);
      // The backup's name is known once it is made: the two steps after it say so.
      assert.equal(output.match(/uses the result of step `backup`, which a dry run does not produce/g)?.length, 2, output);
      assert.deepEqual(await prod.kube.listObjects(CUSTOM_RESOURCES.veleroBackup, 'velero'), []);
    });

    it('checks the location, backs the namespace up with its volumes, then describes it and reads its log', async () => {
      const result = await lifeboat(['run', BACKUP_RUNBOOK, '--param', 'cluster=prod', '--param', 'namespace=pelican', '--param', 'ttl=168h', '--yes'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const backups = await prod.kube.listObjects(CUSTOM_RESOURCES.veleroBackup, 'velero');
      assert.equal(backups.length, 1);
      const [backup] = backups;
      assert.ok(backup);
      assert.match(backup.metadata.name, /^pelican-\d{14}$/);
      assert.deepEqual(
        [backup.spec?.includedNamespaces, backup.spec?.defaultVolumesToFsBackup, backup.spec?.includeClusterResources, backup.spec?.ttl, backup.metadata.labels?.['backup-type'], backup.status?.phase],
        [['pelican'], true, true, '168h', 'manual', 'Completed'],
      );
      assert.ok(result.stdout.includes(`Log of Velero backup ${backup.metadata.name} in cluster prod:`), result.stdout);
      assert.deepEqual(await lastRun(workspace), ['velero.locations.check', 'velero.backup.create', 'velero.backup.describe', 'velero.backup.logs'].map((action) => [action, 'succeeded']));
    });

    it('stops at the first step when a location is Unavailable, naming it and Velero\'s reason, and backs nothing up', async () => {
      await broken.kube.waitForObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', 'offsite', { isDone: (location) => location.status?.phase === 'Unavailable', intervalMs: 10, timeoutMs: 10_000 });
      const result = await lifeboat(['run', BACKUP_RUNBOOK, '--param', 'cluster=broken', '--yes'], { cwd: workspace });
      assert.equal(result.code, 1, result.stderr + result.stdout);
      assert.match(result.stderr + result.stdout, /Velero cannot use a backup storage location in cluster broken: offsite \(no bucket, validated [^)]*\): BackupStorageLocation is unavailable: spec\.objectStorage\.bucket is empty/);
      assert.doesNotMatch(result.stderr + result.stdout, /\n\s+at /, 'no stack trace');
      assert.deepEqual(await lastRun(workspace), [['velero.locations.check', 'failed']]);
      assert.deepEqual(await broken.kube.listObjects(CUSTOM_RESOURCES.veleroBackup, 'velero'), []);
    });
  });

  describe('velero-add-schedule', () => {
    const scheduleFile = (app: string) => join(workspace, FOLDER, 'schedules', `${app}-schedule.yaml`);
    const withLine = (text: string, ...entries: string[]) => text.replace('  - ./schedules/n8n-schedule.yaml\n', ['  - ./schedules/n8n-schedule.yaml', ...entries.map((entry) => `  - ${entry}`)].join('\n') + '\n');

    it('plans every step in a dry run and writes nothing', async () => {
      const result = await lifeboat(['run', SCHEDULE_RUNBOOK, '--param', 'cluster=prod', '--param', 'app=pelican', '--dry-run'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const output = result.stderr + result.stdout;
      for (const step of ['Write the Schedule into the repository', 'Have Flux apply the schedule', 'Check the cluster has the schedule']) assert.ok(output.includes(`] ${step}`), `${step} is planned:\n${output}`);
      assert.match(output, /\*\*Plan\*\*: Reconcile Kustomization flux-system\/velero on cluster 'prod'/);
      assert.match(result.stdout, /kind: Schedule/, 'the plan shows the YAML');
      assert.equal(await readFile(kustomizationPath(), 'utf8'), KUSTOMIZATION);
      await assert.rejects(readFile(scheduleFile('pelican')), { code: 'ENOENT' });
    });

    it('writes the schedule and its one kustomization line, has Flux apply it and finds it Enabled in the cluster', async () => {
      const result = await lifeboat(['run', SCHEDULE_RUNBOOK, '--param', 'cluster=prod', '--param', 'app=pelican', '--yes'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.equal(await readFile(kustomizationPath(), 'utf8'), withLine(KUSTOMIZATION, './schedules/pelican-schedule.yaml'));
      const written = parse(await readFile(scheduleFile('pelican'), 'utf8')) as KubeObject;
      assert.deepEqual([written.kind, written.metadata.name, written.spec?.schedule], ['Schedule', 'pelican-daily', '0 2 * * *']);
      assert.deepEqual(written.spec?.template, {
        includedNamespaces: ['pelican'],
        includedResources: ['*'],
        defaultVolumesToFsBackup: true,
        storageLocation: 'default',
        ttl: '720h0m0s',
        includeClusterResources: true,
        metadata: { labels: { 'app.kubernetes.io/name': 'pelican', 'backup-type': 'scheduled' } },
      });
      assert.equal(fluxFailure, undefined);
      const schedule = await prod.kube.getObject(CUSTOM_RESOURCES.veleroSchedule, 'velero', 'pelican-daily');
      assert.equal(schedule.status?.phase, 'Enabled');
      assert.ok(result.stdout.includes('pelican-daily'), result.stdout);
      assert.deepEqual(await lastRun(workspace), ['velero.schedule.add', 'flux.reconcile', 'velero.schedules.list'].map((action) => [action, 'succeeded']));
    });

    it('writes the database hooks the runbook shows when they are added to its cell', async () => {
      const hooksBlock = (await readFile(join(REPO_ROOT, 'runbooks', SCHEDULE_RUNBOOK), 'utf8')).match(/```yaml\n(hooks:\n[\s\S]*?)```/)?.[1];
      assert.ok(hooksBlock, 'the runbook shows the hooks');
      await copyRunbook(workspace, SCHEDULE_RUNBOOK, 'hooks.runbook.md', (text) => text.replace('folder: ${params.folder}\n', `folder: \${params.folder}\n${hooksBlock}`));
      const result = await lifeboat(['run', 'hooks.runbook.md', '--param', 'cluster=prod', '--param', 'app=pricedb', '--param', 'cron=30 1 * * *', '--yes'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const written = parse(await readFile(scheduleFile('pricedb'), 'utf8')) as KubeObject;
      const [hook] = ((written.spec?.template as { hooks: { resources: Record<string, unknown>[] } }).hooks.resources);
      assert.deepEqual(hook?.labelSelector, { matchLabels: { app: 'mysql' } });
      const commands = (phase: string) => (hook?.[phase] as { exec: { container: string; command: string[] } }[]).map(({ exec }) => [exec.container, exec.command.at(-1)]);
      assert.deepEqual(commands('pre'), [['mysql', 'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -e \'FLUSH TABLES WITH READ LOCK\'']]);
      assert.deepEqual(commands('post'), [['mysql', 'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -e \'UNLOCK TABLES\'']]);
      assert.equal((await prod.kube.getObject(CUSTOM_RESOURCES.veleroSchedule, 'velero', 'pricedb-daily')).spec?.schedule, '30 1 * * *');
    });

    it('refuses an application that has a schedule file already, leaving both files as they were', async () => {
      const kustomization = await readFile(kustomizationPath(), 'utf8');
      const existing = await readFile(scheduleFile('pelican'), 'utf8');
      const result = await lifeboat(['run', SCHEDULE_RUNBOOK, '--param', 'cluster=prod', '--param', 'app=pelican', '--param', 'cron=0 4 * * *', '--yes'], { cwd: workspace });
      assert.equal(result.code, 1, result.stderr + result.stdout);
      assert.match(result.stderr + result.stdout, /schedules\/pelican-schedule\.yaml/);
      assert.doesNotMatch(result.stderr + result.stdout, /\n\s+at /, 'no stack trace');
      assert.equal(await readFile(kustomizationPath(), 'utf8'), kustomization);
      assert.equal(await readFile(scheduleFile('pelican'), 'utf8'), existing);
      assert.deepEqual(await lastRun(workspace), [['velero.schedule.add', 'failed']]);
    });
  });
});
