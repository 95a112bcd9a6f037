/**
 * Running backups and restores in the browse model follow the cluster through a Kubernetes watch, not
 * by listing again: against the simulator, whose controllers move the phases on and whose watches can
 * be dropped or expired.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { CUSTOM_RESOURCES, KubeError, type KubeObject } from '../../src/clients/kube';
import { followObject } from '../../src/clients/kubeWatch';
import type { ActionContext } from '../../src/core/actions/spec';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode } from '../../src/core/browse/node';
import { addCnpgCluster, SNAPSHOT_BACKUP } from '../support/cnpgLab';
import { makeBackup, startVeleroCluster, veleroWorkspace, type SimulatedVelero } from '../support/veleroLab';

const BACKUPS_PATH = '/apis/velero.io/v1/namespaces/velero/backups';

describe('running backups and restores follow the cluster through a watch', function () {
  this.timeout(60_000);
  let prod: SimulatedVelero;
  let workspace: Awaited<ReturnType<typeof veleroWorkspace>>;
  let model: BrowseModel;
  const contexts: ActionContext[] = [];
  const logged: string[] = [];
  const context = (signal?: AbortSignal) => {
    const log = { debug() {}, info() {}, warn: (line: string) => logged.push(`warn: ${line}`), error: (line: string) => logged.push(`error: ${line}`) };
    const ctx = workspace.context({ log, ...(signal ? { signal } : {}) });
    contexts.push(ctx);
    return ctx;
  };
  /** The requests the simulator answered from `start` on, as `METHOD /path?query`. */
  const requestsSince = (start: number) => prod.sim.requests.slice(start);
  const isWatch = (request: string) => /[?&]watch=true/.test(request);
  const createBackup = (name: string) => prod.kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name }, spec: { includedNamespaces: ['immich'] } });
  const listed = async (path: string, name: string): Promise<BrowseNode> => {
    // Listed afresh, as the tree's Refresh does.
    model.forget(path);
    const node = (await model.children(path, { limit: 50 }, context())).nodes.find((candidate) => candidate.label === name || candidate.label.endsWith(`/${name}`));
    assert.ok(node, `${name} is listed under ${path}`);
    return node;
  };
  /** Follows a node to its end, collecting every state it was shown in. */
  const follow = async (node: BrowseNode, ctx = context()) => {
    const shown: (BrowseNode | undefined)[] = [];
    await model.watch(node, ctx, (changed) => shown.push(changed));
    return shown;
  };
  const phases = (shown: (BrowseNode | undefined)[]) => shown.map((node) => node?.facts.phase).filter((phase, index, all) => phase !== all[index - 1]);
  const watchesClosed = async () => {
    // The server sees the connection close a moment after the client ends it.
    for (let waited = 0; prod.sim.objects.history.openWatches > 0 && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    return prod.sim.objects.history.openWatches === 0;
  };
  const phaseIs = (wanted: string) => (object: KubeObject | undefined) => object?.status?.phase === wanted;

  before(async () => {
    prod = await startVeleroCluster(40);
    workspace = await veleroWorkspace({ prod: prod.kubeconfig });
    model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), join(workspace.dir, 'lifeboat.yaml'));
  });

  afterEach(() => {
    for (const [name] of prod.sim.objects.outcomes) prod.sim.objects.outcomes.delete(name);
  });

  after(async () => {
    await Promise.all(contexts.map((ctx) => ctx.clients.disposeAll()));
    await prod?.sim.stop();
    await workspace?.remove();
  });

  it("shows a running Velero backup's phases as the cluster reports them, with one list and one watch, until it completes", async () => {
    await createBackup('nightly-running');
    const running = await listed('clusters/prod/velero/backups', 'nightly-running');
    assert.ok(running.watch, 'a running backup can be followed');
    const start = prod.sim.requests.length;
    const shown = await follow(running);

    // Velero 1.18's phases from the one it was listed in, none missed.
    const velero = ['New', 'Queued', 'ReadyToStart', 'InProgress', 'Completed'];
    assert.deepEqual(phases(shown), velero.slice(velero.indexOf(String(phases(shown)[0]))), JSON.stringify(phases(shown)));
    assert.ok(phases(shown).includes('InProgress'));
    const last = shown.at(-1);
    assert.equal(last?.watch, undefined, 'a completed backup no longer changes by itself');
    assert.deepEqual(last?.operations.map((operation) => operation.id), ['describe', 'logs', 'restore', 'delete']);
    // No polling: one list of the backup by name, then one watch that carried every change.
    const requests = requestsSince(start);
    assert.deepEqual(
      requests.map((request) => (isWatch(request) ? 'watch' : request.split('?')[0])),
      [`GET ${BACKUPS_PATH}`, 'watch'],
      requests.join('\n'),
    );
    assert.match(requests[0] ?? '', /fieldSelector=metadata\.name%3Dnightly-running/);
    assert.ok(await watchesClosed(), 'the watch is closed once the backup completed');
    assert.deepEqual(last, await listed('clusters/prod/velero/backups', 'nightly-running'), 'the node as listed again');
  });

  it("follows a Velero restore and a CloudNativePG backup to their end, each node made by its own backend", async () => {
    await makeBackup(prod.kube, 'for-restore', { includedNamespaces: ['immich'] });
    await prod.kube.createObject(CUSTOM_RESOURCES.veleroRestore, 'velero', { apiVersion: 'velero.io/v1', kind: 'Restore', metadata: { name: 'restore-now' }, spec: { backupName: 'for-restore' } });
    await addCnpgCluster(prod.kube, 'immich', 'immich-postgres', SNAPSHOT_BACKUP);
    await prod.kube.createObject(CUSTOM_RESOURCES.cnpgBackup, 'immich', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name: 'immich-now' }, spec: { cluster: { name: 'immich-postgres' }, method: 'volumeSnapshot' } });

    const [restore, cnpg] = await Promise.all([listed('clusters/prod/velero/restores', 'restore-now'), listed('clusters/prod/cnpg/immich/immich-postgres', 'immich-now')]);
    const [restoreShown, cnpgShown] = await Promise.all([follow(restore), follow(cnpg)]);

    assert.deepEqual(phases(restoreShown).slice(-2), ['InProgress', 'Completed']);
    assert.deepEqual(restoreShown.at(-1), await listed('clusters/prod/velero/restores', 'restore-now'));
    assert.deepEqual(cnpgShown.at(-1), await listed('clusters/prod/cnpg/immich/immich-postgres', 'immich-now'));
    // CloudNativePG's phases, through finalizing for a volume snapshot.
    assert.deepEqual(phases(cnpgShown).slice(-3), ['running', 'finalizing', 'completed']);
    assert.deepEqual(cnpgShown.at(-1)?.operations.map((operation) => operation.id), ['restore']);
    assert.ok(await watchesClosed());
  });

  it('keeps following a backup through phases it does not know, as a newer Velero may add, until a final one', async () => {
    prod.sim.objects.outcomes.set('future', 'Stuck');
    await createBackup('future');
    const node = await listed('clusters/prod/velero/backups', 'future');
    const shown: (BrowseNode | undefined)[] = [];
    let patched = false;
    await model.watch(node, context(), (changed) => {
      shown.push(changed);
      if (patched || changed?.facts.phase !== 'InProgress') return;
      patched = true;
      void (async () => {
        for (const phase of ['WaitingForPluginOperations', 'SomeFuturePhase', 'PartiallyFailed']) await prod.kube.patchObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'future', { status: { phase } });
      })();
    });
    assert.deepEqual(phases(shown).slice(-3), ['WaitingForPluginOperations', 'SomeFuturePhase', 'PartiallyFailed']);
    assert.ok(shown.slice(0, -1).every((changed) => changed?.watch !== undefined), 'followed while running');
    assert.equal(shown.at(-1)?.watch, undefined);
    assert.equal(shown.at(-1)?.status?.level, 'warning');
  });

  it('opens a dropped watch again from the last resourceVersion it saw, without listing again', async () => {
    prod.sim.objects.outcomes.set('held', 'Stuck');
    await createBackup('held');
    const start = prod.sim.requests.length;
    const seen: KubeObject[] = [];
    const retries: string[] = [];
    let dropped = false;
    let seenBeforeRetry = 0;
    await followObject(prod.kube, CUSTOM_RESOURCES.veleroBackup, 'velero', 'held', {
      signal: new AbortController().signal,
      retryMs: 100,
      isDone: phaseIs('Completed'),
      onRetry: (error) => {
        retries.push(error.failure);
        seenBeforeRetry = seen.length;
      },
      onChange: (object) => {
        if (object) seen.push(object);
        if (!dropped && phaseIs('InProgress')(object)) {
          dropped = true;
          prod.sim.objects.history.dropWatches();
          prod.sim.objects.outcomes.delete('held');
        }
      },
    });
    assert.equal(seen.at(-1)?.status?.phase, 'Completed');
    const requests = requestsSince(start);
    const watches = requests.filter(isWatch);
    assert.equal(requests.filter((request) => !isWatch(request)).length, 1, `listed once: ${requests.join('\n')}`);
    assert.equal(watches.length, 2, watches.join('\n'));
    assert.equal(retries.length, 1, 'the drop was told once');
    const lastBeforeDrop = seen[seenBeforeRetry - 1]?.metadata.resourceVersion;
    assert.ok(lastBeforeDrop && new URLSearchParams(watches[1]?.split('?')[1]).get('resourceVersion') === lastBeforeDrop, `${watches[1] ?? ''} resumes from ${lastBeforeDrop ?? ''}`);
    assert.ok(seen.slice(seenBeforeRetry).length > 0, 'the changes after the drop arrive through the second watch');
    const resourceVersions = seen.map((object) => Number(object.metadata.resourceVersion));
    assert.deepEqual(resourceVersions, [...new Set(resourceVersions)].sort((first, second) => first - second), 'no change twice, none out of order');
  });

  it('lists again when the resourceVersion to resume from has expired (410 Gone), and goes on from the new list', async () => {
    prod.sim.objects.outcomes.set('expired', 'Stuck');
    await createBackup('expired');
    const start = prod.sim.requests.length;
    let expiredOnce = false;
    const phasesSeen: string[] = [];
    const retries: string[] = [];
    await followObject(prod.kube, CUSTOM_RESOURCES.veleroBackup, 'velero', 'expired', {
      signal: new AbortController().signal,
      retryMs: 300,
      isDone: phaseIs('Completed'),
      onRetry: (error) => retries.push(error.failure),
      onChange: (object) => {
        phasesSeen.push(String(object?.status?.phase));
        if (!expiredOnce && phaseIs('InProgress')(object)) {
          expiredOnce = true;
          prod.sim.objects.history.dropWatches();
          // Changes after the last one seen, then a compaction: resuming from it finds them gone.
          void prod.kube.patchObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'expired', { metadata: { labels: { touched: 'yes' } } }).then(() => {
            prod.sim.objects.history.compact();
            prod.sim.objects.outcomes.delete('expired');
          });
        }
      },
    });
    assert.equal(phasesSeen.at(-1), 'Completed');
    const requests = requestsSince(start).filter((request) => request.startsWith(`GET ${BACKUPS_PATH}`));
    const kinds = requests.map((request) => (isWatch(request) ? 'watch' : 'list'));
    // The list, the watch that dropped, the one answered 410 at once, and the list again (then a watch unless it completed meanwhile).
    assert.deepEqual(kinds.slice(0, 4), ['list', 'watch', 'watch', 'list'], requests.join('\n'));
    assert.ok(kinds.length <= 5, requests.join('\n'));
    assert.deepEqual(retries.length, 1, 'a 410 is no failure: the list follows it at once');
  });

  it('stops following when cancelled, closing its watch, and says why when the cluster refuses the watch', async () => {
    prod.sim.objects.outcomes.set('cancelled', 'Stuck');
    await createBackup('cancelled');
    const node = await listed('clusters/prod/velero/backups', 'cancelled');
    const abort = new AbortController();
    const shown: (BrowseNode | undefined)[] = [];
    const following = model.watch(node, context(abort.signal), (changed) => {
      shown.push(changed);
      if (changed?.facts.phase === 'InProgress') abort.abort();
    });
    await following;
    assert.equal(shown.at(-1)?.facts.phase, 'InProgress');
    assert.ok(await watchesClosed(), 'the cancelled watch is closed');

    prod.sim.objects.uninstalledGroups.add('velero.io');
    try {
      const before = logged.length;
      await model.watch(node, context(), () => assert.fail('nothing changes'));
      assert.deepEqual(logged.slice(before), [`error: following ${node.path} failed: Backup objects in namespace velero not found on cluster 'sim' (${prod.sim.url}): the server could not find the requested resource`]);
    } finally {
      prod.sim.objects.uninstalledGroups.delete('velero.io');
    }
    const gone: (KubeObject | undefined)[] = [];
    await followObject(prod.kube, CUSTOM_RESOURCES.veleroBackup, 'velero', 'never-made', { signal: new AbortController().signal, isDone: () => true, onChange: (object) => gone.push(object) });
    assert.deepEqual(gone, [undefined], 'an object that is not there is told once, as gone');
    await assert.rejects(
      followObject(prod.kube, { ...CUSTOM_RESOURCES.veleroBackup, plural: 'nothings' }, 'velero', 'x', { signal: new AbortController().signal, isDone: () => true, onChange: () => undefined }),
      (error: unknown) => error instanceof KubeError && error.failure === 'not-found',
      'a refused list is not tried again',
    );
  });
});
