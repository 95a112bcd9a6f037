import assert from 'node:assert/strict';
import type { BackupCreateResult } from '../../src/actions/velero/create';
import { veleroInspectActions } from '../../src/actions/velero/inspectActions';
import { CUSTOM_RESOURCES } from '../../src/clients/kube';
import type { ProgressUpdate } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { makeBackup, runVeleroAction, startVeleroCluster, veleroWorkspace, type SimulatedVelero } from '../support/veleroLab';

const create = veleroInspectActions.find((action) => action.id === 'velero.backup.create');

describe('velero.backup.create against the Kubernetes simulator', function () {
  this.timeout(30_000);
  let prod: SimulatedVelero;
  let workspace: Awaited<ReturnType<typeof veleroWorkspace>>;

  const run = (params: Record<string, unknown>, overrides = {}) => runVeleroAction<BackupCreateResult>('velero.backup.create', { cluster: 'prod', ...params }, workspace.context(overrides));
  const backupObject = (name: string) => prod.kube.getObject(CUSTOM_RESOURCES.veleroBackup, 'velero', name);

  before(async () => {
    // Slow enough steps for the 250 ms polling to see the queue and the items counted up.
    prod = await startVeleroCluster(120);
    workspace = await veleroWorkspace({ prod: prod.kubeconfig });
    prod.sim.objects.podVolumes.push({ namespace: 'shop', pod: 'db-0', volume: 'data', bytes: 8 * 1024 * 1024 });
  });

  after(async () => {
    await prod?.sim.stop();
    await workspace?.remove();
  });

  it('backs up a namespace behind a running backup: Queued with its position, then InProgress with items counted, then Completed', async () => {
    await prod.kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: 'ahead' }, spec: {} });
    const updates: ProgressUpdate[] = [];
    const result = await run({ name: 'shop-now', namespaces: ['shop'], defaultVolumesToFsBackup: true, ttl: '72h', labels: { team: 'web' } }, { progress: { report: (update: ProgressUpdate) => updates.push(update) } });
    assert.equal(result.backup.phase, 'Completed');
    assert.equal(result.phases[0], 'New');
    assert.deepEqual(result.phases.filter((phase) => ['Queued', 'InProgress', 'Completed'].includes(phase)), ['Queued', 'InProgress', 'Completed']);
    assert.ok(updates.some((update) => /backup shop-now: Queued \(position 1\)/.test(update.message ?? '')), `queue position shown: ${updates.map((update) => update.message).join(' | ')}`);
    assert.ok(updates.some((update) => update.totalItems === 42 && (update.items ?? 0) > 0 && (update.items ?? 0) < 42), 'items counted while InProgress');
    assert.equal(updates.at(-1)?.items, 42);
    const object = await backupObject('shop-now');
    assert.deepEqual(object.spec, { includedNamespaces: ['shop'], defaultVolumesToFsBackup: true, ttl: '72h' });
    assert.equal(object.metadata.labels?.team, 'web');
    const hours = (Date.parse(String(object.status?.expiration)) - Date.parse(String(object.status?.startTimestamp))) / 3600_000;
    assert.equal(hours, 72);
    const rendered = create?.render(result) ?? '';
    assert.match(rendered, /Velero backup shop-now in cluster prod: Completed, 42\/42 items/);
    assert.match(rendered, /Phases: New → .*Queued → .*InProgress → Completed/);
  });

  it("backs up with a Schedule's template and labels, named as Velero names it", async () => {
    await prod.kube.createObject(CUSTOM_RESOURCES.veleroSchedule, 'velero', {
      apiVersion: 'velero.io/v1',
      kind: 'Schedule',
      metadata: { name: 'shop-daily', labels: { ignored: 'yes' } },
      spec: { schedule: '0 2 * * *', template: { includedNamespaces: ['shop'], ttl: '240h0m0s', metadata: { labels: { tier: 'gold' } } } },
    });
    const result = await run({ fromSchedule: 'shop-daily' });
    assert.match(result.backup.name, /^shop-daily-\d{14}$/);
    const object = await backupObject(result.backup.name);
    assert.deepEqual(object.spec, { includedNamespaces: ['shop'], ttl: '240h0m0s' });
    assert.deepEqual([object.metadata.labels?.['velero.io/schedule-name'], object.metadata.labels?.tier, object.metadata.labels?.ignored], ['shop-daily', 'gold', undefined]);
    assert.equal(result.backup.schedule, 'shop-daily');
  });

  it('refuses a schedule backup with fields the template sets, a bad ttl and a bad label, each naming its field', () => {
    const parse = (params: Record<string, unknown>) => create?.params.safeParse({ cluster: 'prod', ...params });
    const paths = (params: Record<string, unknown>) => parse(params)?.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? [];
    assert.match(paths({ fromSchedule: 'shop-daily', namespaces: ['shop'] }).join(), /^namespaces: `fromSchedule` takes the schedule's template/);
    assert.match(paths({ ttl: '3d' }).join(), /^ttl: a duration in hours, minutes and seconds/);
    assert.match(paths({ labels: { 'team name': 'x' } }).join(), /^labels.team name: 'team name' is not a label key/);
    assert.match(paths({ name: 'Shop_Now' }).join(), /^name: a Kubernetes object name/);
    assert.match(paths({ namespaces: ['shop', 'Shop Floor'] }).join(' | '), /namespaces\.1: a Kubernetes namespace name/);
    assert.deepEqual(paths({ namespaces: ['*'] }), []);
  });

  it("fails with Velero's reasons when a backup ends Failed, PartiallyFailed or FailedValidation, and keeps the backup", async () => {
    prod.sim.objects.outcomes.set('broken', 'Failed');
    prod.sim.objects.outcomes.set('partial', 'PartiallyFailed');
    await assert.rejects(run({ name: 'broken', namespaces: ['shop'] }), /Velero backup broken in cluster prod ended Failed: simulated failure \(1 warnings, 2 errors\); its log: velero.backup.logs with backup broken/);
    await assert.rejects(run({ name: 'partial', namespaces: ['shop'] }), /Velero backup partial in cluster prod ended PartiallyFailed \(1 warnings, 2 errors\)/);
    await assert.rejects(run({ name: 'nowhere', storageLocation: 'nowhere' }), /ended FailedValidation: .*'nowhere' does not exist/);
    assert.equal((await backupObject('partial')).status?.phase, 'PartiallyFailed');
  });

  it('stops waiting for a backup stuck InProgress when cancelled: says it keeps running, and deletes nothing', async () => {
    prod.sim.objects.outcomes.set('stuck', 'Stuck');
    const cancel = new AbortController();
    const updates: ProgressUpdate[] = [];
    const progress = {
      report(update: ProgressUpdate) {
        updates.push(update);
        if (update.message?.includes('InProgress')) cancel.abort();
      },
    };
    await assert.rejects(run({ name: 'stuck', namespaces: ['shop'] }, { signal: cancel.signal, progress }), (error: unknown) => {
      assert.ok(error instanceof CancelledError, String(error));
      assert.match(error.message, /^Stopped waiting: backup stuck keeps running in cluster prod \(InProgress, 21\/42 items\); nothing was deleted\./);
      return true;
    });
    const left = await backupObject('stuck');
    assert.equal(left.status?.phase, 'InProgress');
    prod.sim.objects.outcomes.set('stuck', 'Completed');
    await makeBackup(prod.kube, 'after-stuck', {});
  });

  it('keeps waiting through a phase it does not know (a newer Velero adds phases, as 1.18 added Queued)', async () => {
    prod.sim.objects.outcomes.set('future', 'Stuck');
    const updates: ProgressUpdate[] = [];
    const progress = {
      report(update: ProgressUpdate) {
        updates.push(update);
        if (update.message === 'backup future: InProgress') prod.sim.objects.patch(CUSTOM_RESOURCES.veleroBackup, 'velero', 'future', { status: { phase: 'WaitingForSomethingNew' } });
        if (update.message === 'backup future: WaitingForSomethingNew') prod.sim.objects.outcomes.set('future', 'Completed');
      },
    };
    const result = await run({ name: 'future' }, { progress });
    assert.deepEqual(result.phases.slice(-3), ['InProgress', 'WaitingForSomethingNew', 'Completed']);
  });

  it('gives up after the timeout, saying the backup keeps running', async () => {
    prod.sim.objects.outcomes.set('slow', 'Stuck');
    await assert.rejects(run({ name: 'slow', timeoutMinutes: 0.01 }), /Velero did not finish within 600 ms: backup slow keeps running in cluster prod \((InProgress|Queued|ReadyToStart|New)[^)]*\); nothing was deleted/);
    prod.sim.objects.outcomes.set('slow', 'Completed');
  });

  it('creates without waiting when asked', async () => {
    const result = await run({ name: 'fire-and-forget', wait: false });
    assert.equal(result.waited, false);
    assert.match(create?.render(result) ?? '', /was created in cluster prod; not waited for/);
    await makeBackup(prod.kube, 'after-fire', {});
  });
});
