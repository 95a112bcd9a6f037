import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import type { BackupsListResult } from '../../src/actions/velero/backups';
import type { BackupDescription } from '../../src/actions/velero/describe';
import { veleroInspectActions } from '../../src/actions/velero/inspectActions';
import type { LocationsCheckResult } from '../../src/actions/velero/locations';
import type { BackupLogsResult } from '../../src/actions/velero/logs';
import type { SchedulesListResult } from '../../src/actions/velero/schedules';
import { CUSTOM_RESOURCES } from '../../src/clients/kube';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode } from '../../src/core/browse/node';
import { assertListedUnder } from '../support/browseNodes';
import { REPO_ROOT } from '../support/paths';
import { addLocation, makeBackup, runVeleroAction, startVeleroCluster, veleroWorkspace, type SimulatedVelero } from '../support/veleroLab';

const render = (id: string, result: unknown) => veleroInspectActions.find((action) => action.id === id)?.render(result) ?? '';
const HOUR = 3600_000;
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: unknown[] } };

describe('Velero backups inspected across two clusters against the Kubernetes simulator', function () {
  this.timeout(30_000);
  let prod: SimulatedVelero;
  let monit: SimulatedVelero;
  let bare: SimulatedVelero;
  let workspace: Awaited<ReturnType<typeof veleroWorkspace>>;

  const run = <Result>(id: string, params: Record<string, unknown>) => runVeleroAction<Result>(id, { cluster: 'prod', ...params }, workspace.context());
  const schedules = CUSTOM_RESOURCES.veleroSchedule;
  const backups = CUSTOM_RESOURCES.veleroBackup;

  before(async () => {
    [prod, monit, bare] = await Promise.all([startVeleroCluster(5), startVeleroCluster(5), startVeleroCluster(5)]);
    bare.sim.objects.uninstalledGroups.add('velero.io');
    workspace = await veleroWorkspace({ prod: prod.kubeconfig, monit: monit.kubeconfig, bare: bare.kubeconfig });
    prod.sim.objects.podVolumes.push({ namespace: 'shop', pod: 'db-0', volume: 'data', bytes: 5 * 1024 * 1024 }, { namespace: 'shop', pod: 'web-1', volume: 'uploads', bytes: 2048 });
    // An in-cluster object store: the signed URLs Velero gives for it name a host only the cluster resolves.
    await addLocation(prod.kube, 'minio', { provider: 'aws', objectStorage: { bucket: 'velero' }, config: { region: 'minio', s3Url: 'http://minio.velero.svc.cluster.local:9000' } });
    await prod.kube.createObject(schedules, 'velero', { apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: 'shop-daily' }, spec: { schedule: '0 2 * * *', template: { includedNamespaces: ['shop'] } } });
    await prod.kube.createObject(schedules, 'velero', { apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: 'pelican-hourly' }, spec: { schedule: '0 * * * *', template: { includedNamespaces: ['pelican'] } } });
    await prod.kube.createObject(schedules, 'velero', { apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: 'typo' }, spec: { schedule: '0 2 * *', template: {} } });
    await makeBackup(prod.kube, 'shop-daily-20261201020000', { includedNamespaces: ['shop'] }, { 'velero.io/schedule-name': 'shop-daily' });
    await makeBackup(prod.kube, 'shop-fs', {
      includedNamespaces: ['shop'],
      defaultVolumesToFsBackup: true,
      hooks: { resources: [{ name: 'mariadb', includedNamespaces: ['shop'], pre: [{ exec: { container: 'mariadb', command: ['mysql', '-e', 'FLUSH TABLES WITH READ LOCK'] } }], post: [{ exec: { container: 'mariadb', command: ['mysql', '-e', 'UNLOCK TABLES'] } }] }] },
    });
    prod.sim.objects.outcomes.set('pelican-partial', 'PartiallyFailed');
    await makeBackup(prod.kube, 'pelican-partial', { includedNamespaces: ['pelican'] }, { 'velero.io/schedule-name': 'pelican-hourly' });
    await makeBackup(prod.kube, 'in-cluster-store', { includedNamespaces: ['shop'], storageLocation: 'minio' });
    await makeBackup(monit.kube, 'grafana-1', { includedNamespaces: ['grafana'] });
    // Made on four days, the oldest first (creation times have whole seconds: these would tie otherwise).
    for (const [index, name] of ['shop-daily-20261201020000', 'shop-fs', 'pelican-partial', 'in-cluster-store'].entries()) {
      prod.sim.objects.patch(backups, 'velero', name, { metadata: { creationTimestamp: new Date(Date.now() - (4 - index) * 24 * HOUR).toISOString().replace(/\.\d+Z$/, 'Z') } });
    }
    // What the schedule controller recorded: shop-daily ran an hour ago, pelican-hourly three days ago; both exist for ten days.
    const created = new Date(Date.now() - 240 * HOUR).toISOString();
    prod.sim.objects.patch(schedules, 'velero', 'shop-daily', { metadata: { creationTimestamp: created }, status: { lastBackup: new Date(Date.now() - HOUR).toISOString() } });
    prod.sim.objects.patch(schedules, 'velero', 'pelican-hourly', { metadata: { creationTimestamp: created }, status: { lastBackup: new Date(Date.now() - 72 * HOUR).toISOString() } });
  });

  after(async () => {
    await Promise.all([prod?.sim.stop(), monit?.sim.stop(), bare?.sim.stop()]);
    await workspace?.remove();
  });

  describe('velero.locations.check', () => {
    it('reports each location with its phase and last validation', async () => {
      const result = await run<LocationsCheckResult>('velero.locations.check', {});
      assert.deepEqual(result.locations.map((location) => [location.name, location.phase, location.objectStorage, location.default]), [
        ['default', 'Available', 'velero/cluster', true],
        ['minio', 'Available', 'velero', false],
      ]);
      assert.ok(result.locations.every((location) => Date.parse(location.lastValidationTime ?? '') > Date.now() - 60_000));
      assert.match(render('velero.locations.check', result), /\| default \(default\) \| Available \| aws \| velero\/cluster \| ReadWrite \| validated \d+ s ago \|/);
    });

    it("fails on an Unavailable location with Velero's message, in another Velero namespace", async () => {
      await addLocation(monit.kube, 'empty', { provider: 'aws', objectStorage: {} }, 'backup-system');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await assert.rejects(
        runVeleroAction('velero.locations.check', { cluster: 'monit', veleroNamespace: 'backup-system' }, workspace.context()),
        /^Error: Velero cannot use a backup storage location in cluster monit: empty \(no bucket, validated \d+ s ago\): BackupStorageLocation is unavailable: spec.objectStorage.bucket is empty$/,
      );
    });
  });

  describe('velero.backups.list', () => {
    it('lists newest first with phase, schedule, times, expiry, warnings, errors, items and uploader', async () => {
      const result = await run<BackupsListResult>('velero.backups.list', {});
      assert.deepEqual(result.backups.map((backup) => backup.name), ['in-cluster-store', 'pelican-partial', 'shop-fs', 'shop-daily-20261201020000']);
      const byName = new Map(result.backups.map((backup) => [backup.name, backup]));
      assert.deepEqual(byName.get('shop-fs')?.uploaders, ['kopia']);
      assert.deepEqual(byName.get('shop-daily-20261201020000')?.uploaders, []);
      const partial = byName.get('pelican-partial');
      assert.deepEqual([partial?.phase, partial?.schedule, partial?.warnings, partial?.errors, partial?.itemsBackedUp, partial?.totalItems], ['PartiallyFailed', 'pelican-hourly', 1, 2, 42, 42]);
      const days = (Date.parse(partial?.expiration ?? '') - Date.parse(partial?.started ?? '')) / (24 * HOUR);
      assert.equal(days, 30, 'the default ttl of 720h');
      const text = render('velero.backups.list', result);
      assert.match(text, /^4 Velero backups in cluster prod:/);
      assert.match(text, /\| shop-fs \| Completed \| {2}\| shop \| \S+ \| \S+ \| in 30 d \| 42\/42 items \| 0\/0 \| kopia \|/);
    });

    it('filters by namespace, schedule and phase', async () => {
      const names = async (params: Record<string, unknown>) => (await run<BackupsListResult>('velero.backups.list', params)).backups.map((backup) => backup.name);
      assert.deepEqual(await names({ namespace: 'pelican' }), ['pelican-partial']);
      assert.deepEqual(await names({ schedule: 'shop-daily' }), ['shop-daily-20261201020000']);
      assert.deepEqual(await names({ phase: 'partiallyfailed' }), ['pelican-partial']);
      assert.deepEqual(await names({ namespace: 'shop', phase: 'Completed' }), ['in-cluster-store', 'shop-fs', 'shop-daily-20261201020000']);
      assert.deepEqual(await names({ namespace: 'nothing-here' }), []);
    });

    it('names restic as the uploader of a backup made before Velero 1.17, and what that means', async () => {
      await prod.kube.createObject({ group: 'velero.io', version: 'v1', plural: 'podvolumebackups', kind: 'PodVolumeBackup' }, 'velero', {
        apiVersion: 'velero.io/v1',
        kind: 'PodVolumeBackup',
        metadata: { name: 'legacy-1', labels: { 'velero.io/backup-name': 'in-cluster-store' } },
        spec: { node: 'node-1', pod: { kind: 'Pod', namespace: 'shop', name: 'db-0', uid: 'shop-db-0' }, volume: 'data', uploaderType: 'restic' },
      });
      const listed = await run<BackupsListResult>('velero.backups.list', { namespace: 'shop' });
      assert.deepEqual(listed.backups.find((backup) => backup.name === 'in-cluster-store')?.uploaders, ['restic']);
      assert.match(render('velero.backups.list', listed), /restic pod volume backups come from before Velero 1\.17, which refuses new ones \(kopia makes them\)/);
      const described = await run<BackupDescription>('velero.backup.describe', { backup: 'in-cluster-store' });
      assert.deepEqual(described.podVolumeBackups.map((volume) => [volume.pod, volume.uploader]), [['shop/db-0', 'restic']]);
      assert.match(render('velero.backup.describe', described), /Velero 1\.19 no longer restores them/);
      assert.doesNotMatch(render('velero.backup.describe', await run<BackupDescription>('velero.backup.describe', { backup: 'shop-fs' })), /restic/);
    });

    it('keeps the two clusters apart', async () => {
      const monitBackups = await runVeleroAction<BackupsListResult>('velero.backups.list', { cluster: 'monit' }, workspace.context());
      assert.deepEqual(monitBackups.backups.map((backup) => backup.name), ['grafana-1']);
      const prodBackups = await run<BackupsListResult>('velero.backups.list', {});
      assert.ok(!prodBackups.backups.some((backup) => backup.name === 'grafana-1'));
    });
  });

  describe('velero.backup.describe', () => {
    it('describes the spec, status, hooks and the pod volume backups by pod and volume with their bytes', async () => {
      const result = await run<BackupDescription>('velero.backup.describe', { backup: 'shop-fs' });
      assert.deepEqual(result.spec, { includedNamespaces: ['shop'], defaultVolumesToFsBackup: true });
      assert.deepEqual(
        result.podVolumeBackups.map((volume) => [volume.pod, volume.volume, volume.phase, volume.uploader, volume.bytesDone, volume.totalBytes]),
        [
          ['shop/db-0', 'data', 'Completed', 'kopia', 5 * 1024 * 1024, 5 * 1024 * 1024],
          ['shop/web-1', 'uploads', 'Completed', 'kopia', 2048, 2048],
        ],
      );
      assert.deepEqual(result.hooks, [{ name: 'mariadb', namespaces: ['shop'], pre: ['mariadb: mysql -e FLUSH TABLES WITH READ LOCK'], post: ['mariadb: mysql -e UNLOCK TABLES'] }]);
      assert.deepEqual(result.hookStatus, { hooksAttempted: 2, hooksFailed: 0 });
      const text = render('velero.backup.describe', result);
      assert.match(text, /^Velero backup shop-fs in cluster prod: Completed\./);
      assert.match(text, /\| shop\/db-0 \| data \| Completed \| kopia \| 5\.0 MiB of 5\.0 MiB \| {2}\|/);
      assert.match(text, /- Hooks: 2 attempted, 0 failed/);
    });

    it('names the backups there are when the one asked for is not there', async () => {
      await assert.rejects(run('velero.backup.describe', { backup: 'shop-nightly' }), /^KubeError: no Backup 'shop-nightly' in namespace velero of cluster prod; there are: in-cluster-store, pelican-partial, shop-daily-20261201020000, shop-fs/);
    });
  });

  describe('velero.backup.logs', () => {
    it('reads the log through a DownloadRequest and gunzips it, streaming it to the output', async () => {
      let streamed = '';
      const ctx = workspace.context({ output: { write: (_stream, chunk) => (streamed += chunk) } });
      const result = await runVeleroAction<BackupLogsResult>('velero.backup.logs', { cluster: 'prod', backup: 'pelican-partial', tailLines: 3 }, ctx);
      assert.deepEqual([result.lines, result.warnings, result.errors], [2 + 42 + 1 + 2 + 1, 1, 2]);
      assert.equal(result.tail.length, 3);
      assert.match(result.tail.at(-1) ?? '', /level=info msg="Backup PartiallyFailed" backup=velero\/pelican-partial/);
      assert.equal(streamed.split('\n').filter(Boolean).length, result.lines);
      assert.equal(Buffer.byteLength(streamed), result.bytes);
      const requests = await prod.kube.listObjects({ group: 'velero.io', version: 'v1', plural: 'downloadrequests', kind: 'DownloadRequest' }, 'velero');
      assert.ok(requests.some((request) => /^pelican-partial-[0-9a-f-]{36}$/.test(request.metadata.name) && (request.spec?.target as { kind: string }).kind === 'BackupLog'));
      assert.match(render('velero.backup.logs', result), /^Log of Velero backup pelican-partial in cluster prod: 48 lines \([\d.]+ KiB\), 1 warnings, 2 errors\.\n\nThe last 3 lines:/);
    });

    it("says when the signed URL cannot be reached from here, naming its host and not its signature", async () => {
      await assert.rejects(run('velero.backup.logs', { backup: 'in-cluster-store' }), (error: unknown) => {
        const message = String(error);
        assert.match(message, /the log of Velero backup in-cluster-store is at a signed URL on minio\.velero\.svc\.cluster\.local:9000, which cannot be reached from this machine \(.*ENOTFOUND.*\): that is the object store as cluster prod sees it/);
        assert.doesNotMatch(message, /X-Amz|Signature|backups\/in-cluster-store/);
        return true;
      });
    });

    it('waits for no log of a backup that has not finished', async () => {
      prod.sim.objects.outcomes.set('running', 'Stuck');
      await prod.kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: 'running' }, spec: {} });
      try {
        await assert.rejects(run('velero.backup.logs', { backup: 'running' }), /the log of Velero backup running in cluster prod is not available until it has finished \(phase (New|Queued|ReadyToStart|InProgress)\)/);
      } finally {
        prod.sim.objects.outcomes.set('running', 'Completed');
      }
      await prod.kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'running', { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 10, timeoutMs: 10_000 });
    });
  });

  describe('velero.schedules.list', () => {
    it('gives each schedule its last backup and age against the cron, flagging the stale and the invalid', async () => {
      const result = await run<SchedulesListResult>('velero.schedules.list', {});
      const verdicts = Object.fromEntries(result.schedules.map((schedule) => [schedule.name, [schedule.verdict, schedule.reason]]));
      assert.deepEqual(verdicts['shop-daily'], ['ok', 'last backup 60 min ago (0 2 * * *)']);
      assert.equal(verdicts['pelican-hourly']?.[0], 'failed', 'its newest backup is PartiallyFailed');
      assert.match(String(verdicts['pelican-hourly']?.[1]), /^its newest backup pelican-partial ended PartiallyFailed; last backup 3 d ago$/);
      assert.deepEqual(verdicts.typo, ['invalid', 'Velero refused the schedule: invalid schedule: 0 2 * *']);
      assert.match(render('velero.schedules.list', result), /^2 of 3 Velero schedules of cluster prod need a look: pelican-hourly \(failed\), typo \(invalid\)\./);
    });

    it('flags a schedule whose due backup is missing as stale', async () => {
      await monit.kube.createObject(schedules, 'velero', { apiVersion: 'velero.io/v1', kind: 'Schedule', metadata: { name: 'grafana-hourly' }, spec: { schedule: '0 * * * *', template: { includedNamespaces: ['grafana'] } } });
      monit.sim.objects.patch(schedules, 'velero', 'grafana-hourly', { metadata: { creationTimestamp: new Date(Date.now() - 48 * HOUR).toISOString() }, status: { lastBackup: new Date(Date.now() - 5 * HOUR).toISOString() } });
      const result = await runVeleroAction<SchedulesListResult>('velero.schedules.list', { cluster: 'monit', schedule: 'grafana-hourly' }, workspace.context());
      assert.equal(result.schedules[0]?.verdict, 'stale');
      assert.match(result.schedules[0]?.reason ?? '', /^last backup 5 h ago, but a backup was due \d+ min ago \(0 \* \* \* \*\)$/);
    });
  });

  describe('bad input', () => {
    it('names the clusters there are for an unknown one', async () => {
      await assert.rejects(run('velero.backups.list', { cluster: 'staging' }), /`cluster` names 'staging', which is not under `clusters:`; lifeboat.yaml names 'prod', 'monit', 'bare'/);
    });

    it('says Velero is not where veleroNamespace points', async () => {
      await assert.rejects(run('velero.backups.list', { veleroNamespace: 'valero' }), /no BackupStorageLocation in namespace valero of cluster prod: Velero keeps its objects in the namespace it was installed in/);
      assert.throws(() => veleroInspectActions[0]?.params.parse({ cluster: 'prod', veleroNamespace: 'Velero System' }), /a Kubernetes namespace name/);
      // A label selector is a query: a comma in a schedule's name would add a term of its own.
      assert.throws(() => veleroInspectActions.find((action) => action.id === 'velero.backups.list')?.params.parse({ cluster: 'prod', schedule: 'shop-daily,!velero.io/schedule-name' }), /schedule[\s\S]*a Kubernetes object name/);
    });

    it('says once that Velero is not installed, for every action, without a 404 or a stack', async () => {
      const calls: [string, Record<string, unknown>][] = [
        ['velero.locations.check', {}],
        ['velero.backups.list', {}],
        ['velero.backup.describe', { backup: 'x' }],
        ['velero.backup.logs', { backup: 'x' }],
        ['velero.backup.create', { namespaces: ['shop'] }],
        ['velero.schedules.list', {}],
      ];
      for (const [id, params] of calls) {
        await assert.rejects(runVeleroAction(id, { cluster: 'bare', ...params }, workspace.context()), (error: unknown) => {
          assert.equal((error as Error).message, 'Velero is not installed in cluster bare (no velero.io/v1 Backup resource)', id);
          return true;
        });
      }
    });
  });

  describe('the Backups tree', () => {
    let model: BrowseModel;
    const children = async (path: string) => assertListedUnder(path, await model.children(path, { limit: 50 }, workspace.context())).nodes;
    const node = (nodes: readonly BrowseNode[], label: string) => {
      const found = nodes.find((candidate) => candidate.label === label);
      assert.ok(found, `${label} among ${nodes.map((candidate) => candidate.label).join(', ')}`);
      return found;
    };

    before(() => {
      model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), join(workspace.dir, 'lifeboat.yaml'));
    });

    it('shows Velero under each cluster with its locations, schedules, backups and restores', async () => {
      const sections = await children('clusters/prod');
      assert.equal(node(sections, 'Velero').path, 'clusters/prod/velero');
      assert.deepEqual((await children('clusters/prod/velero')).map((folder) => folder.label), ['Locations', 'Schedules', 'Backups', 'Restores']);
      const locations = await children('clusters/prod/velero/locations');
      assert.deepEqual(locations.map((location) => [location.label, location.status?.level]), [
        ['default (default)', 'ok'],
        ['minio', 'ok'],
      ]);
      assert.match(node(locations, 'default (default)').description ?? '', /^Available · velero\/cluster · validated \d+ s ago$/);
      const scheduleNodes = await children('clusters/prod/velero/schedules');
      assert.match(node(scheduleNodes, 'shop-daily').description ?? '', /^0 2 \* \* \* · last backup 60 min ago$/);
      assert.deepEqual([node(scheduleNodes, 'pelican-hourly').status?.level, node(scheduleNodes, 'typo').status?.level], ['error', 'error']);
      const monitSchedules = await children('clusters/monit/velero/schedules');
      assert.deepEqual([node(monitSchedules, 'grafana-hourly').status?.level, node(monitSchedules, 'grafana-hourly').icon], ['warning', 'warning']);
      assert.match(node(monitSchedules, 'grafana-hourly').description ?? '', /last backup 5 h ago · stale$/);
    });

    it('shows backups newest first with phase icons, item counts and expiry, and offers Describe and Show Logs', async () => {
      const backups = await children('clusters/prod/velero/backups');
      assert.deepEqual(backups.slice(0, 4).map((backup) => [backup.label, backup.icon]), [
        ['running', 'pass'],
        ['in-cluster-store', 'pass'],
        ['pelican-partial', 'warning'],
        ['shop-fs', 'pass'],
      ]);
      const partial = node(backups, 'pelican-partial');
      assert.equal(partial.description, 'PartiallyFailed · 42/42 items · expires in 30 d');
      assert.deepEqual(partial.status, { level: 'warning', reason: 'PartiallyFailed (1 warnings, 2 errors)' });
      assert.deepEqual(
        partial.operations.map((operation) => [operation.id, operation.kind === 'action' ? operation.action : '', operation.params, operation.kind === 'action' ? operation.destructive : '']),
        [
          ['describe', 'velero.backup.describe', { cluster: 'prod', backup: 'pelican-partial' }, false],
          ['logs', 'velero.backup.logs', { cluster: 'prod', backup: 'pelican-partial' }, false],
          ...partial.operations.slice(2).map((operation) => [operation.id, operation.kind === 'action' ? operation.action : '', operation.params, operation.kind === 'action' ? operation.destructive : '']),
        ],
      );
      const paged = await model.children('clusters/prod/velero/backups', { limit: 2 }, workspace.context());
      assert.deepEqual([paged.nodes.length, paged.next, paged.total], [2, '2', backups.length]);
    });

    it("offers the inventory's clusters to the palette's Create Velero Backup…, whose action needs nothing more to be asked", async () => {
      const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.createVeleroBackup');
      assert.ok(command);
      const contributed = (packageJson.contributes.commands as { command: string; title: string }[]).find((entry) => entry.command === command.command);
      assert.equal(contributed?.title, 'Create Velero Backup…');
      const [step] = command.steps;
      assert.ok(step?.kind === 'node');
      const offered = (await children(step.under({}))).filter((candidate) => step.accept?.(candidate) ?? true);
      assert.deepEqual(offered.map((candidate) => step.value?.(candidate)), ['prod', 'monit', 'bare']);
      const create = builtinActions.find((action) => action.id === command.action);
      const params = create?.params.parse({ cluster: 'monit' });
      assert.deepEqual(params, { cluster: 'monit', veleroNamespace: 'velero', wait: true, timeoutMinutes: 60 });
      const plan = await create?.plan(params, workspace.context());
      assert.match(plan?.summary ?? '', /^Create Velero backup backup-\d{14} of every namespace in cluster monit$/);
      assert.equal(plan?.destructive, false);
    });

    it('shows restores, and a cluster without Velero as one error node with the clear message', async () => {
      await prod.kube.createObject(CUSTOM_RESOURCES.veleroRestore, 'velero', { apiVersion: 'velero.io/v1', kind: 'Restore', metadata: { name: 'shop-back' }, spec: { backupName: 'shop-fs' } });
      await prod.kube.waitForObject(CUSTOM_RESOURCES.veleroRestore, 'velero', 'shop-back', { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 10, timeoutMs: 10_000 });
      const restores = await children('clusters/prod/velero/restores');
      assert.equal(node(restores, 'shop-back').description, 'Completed · from shop-fs · 42/42 items');
      model.forget();
      const failed = await model.children('clusters/bare/velero/backups', { limit: 50 }, workspace.context());
      assert.deepEqual(failed.nodes.map((entry) => [entry.kind, entry.description]), [['error', 'listing clusters/bare/velero/backups failed: Velero is not installed in cluster bare (no velero.io/v1 Backup resource)']]);
    });
  });
});
