import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { kubeLeaseLockStore } from '../../src/actions/locationLocks';
import { CUSTOM_RESOURCES, KubeClient, KubeError } from '../../src/clients/kube';
import type { Logger } from '../../src/core/actions/spec';
import { acquireLock, LocationLockedError, STALE_AFTER_MS } from '../../src/core/locks';
import { KubeApiSimulator } from '../testbed/kubeSim';

const NAMESPACE = 'frigate';
const LEASE = 'lifeboat-snapshot-mirror';

/** A log that keeps the warnings, which is where a takeover is told. */
function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = () => undefined;
  return { warnings, debug: ignore, info: ignore, error: ignore, warn: (message) => void warnings.push(message) };
}

describe('one writer across pods: the lock as a Kubernetes Lease, against the simulated API server', function () {
  this.timeout(60_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;

  before(async () => {
    sim = await KubeApiSimulator.start();
    kube = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig() });
  });

  after(async () => {
    kube?.dispose();
    await sim?.stop();
  });

  const store = () => kubeLeaseLockStore(kube, NAMESPACE, LEASE, `Lease ${NAMESPACE}/${LEASE}`);

  it('lets one of two runs starting at once hold it, names the holder to the other, and removes the Lease on release', async () => {
    const log = recordingLog();
    const outcomes = await Promise.allSettled([acquireLock(store(), { action: 'frigate.snapshots.mirror' }, log), acquireLock(store(), { action: 'frigate.snapshots.mirror' }, log)]);
    const held = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    assert.equal(held.length, 1);
    assert.equal(refused.length, 1);
    assert.ok(refused[0]?.reason instanceof LocationLockedError);
    assert.match(String(refused[0]?.reason.message), new RegExp(`^Lease ${NAMESPACE}/${LEASE} is being written by another run: frigate\\.snapshots\\.mirror, pid ${process.pid} of \\S+ on ${hostname()}, since `));

    // The Lease's own fields name the holder, as `kubectl get lease` shows them.
    const lease = await kube.getObject(CUSTOM_RESOURCES.lease, NAMESPACE, LEASE);
    const spec = lease.spec as Record<string, unknown>;
    assert.equal(spec.holderIdentity, `pid ${process.pid} on ${hostname()}`);
    assert.equal(spec.leaseDurationSeconds, STALE_AFTER_MS / 1000);
    assert.match(String(spec.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(spec.acquireTime, spec.renewTime);

    await (held[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
    await assert.rejects(kube.getObject(CUSTOM_RESOURCES.lease, NAMESPACE, LEASE), (error: unknown) => error instanceof KubeError && error.failure === 'not-found');
  });

  it('renews the Lease while held, and takes over one its holder stopped renewing, saying whose it was', async () => {
    const log = recordingLog();
    const lock = await acquireLock(store(), { action: 'frigate.snapshots.mirror' }, log, { heartbeatMs: 200, staleAfterMs: 1_000 });
    const first = (await kube.getObject(CUSTOM_RESOURCES.lease, NAMESPACE, LEASE)).spec?.renewTime;
    await new Promise((resolve) => setTimeout(resolve, 600));
    const renewed = (await kube.getObject(CUSTOM_RESOURCES.lease, NAMESPACE, LEASE)).spec?.renewTime;
    assert.ok(String(renewed) > String(first), `renewTime moved on: ${String(first)} → ${String(renewed)}`);
    await lock.release();

    // A pod that was killed: its Lease is there, renewed long ago, from another host.
    const longAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    const left = { format: 'lifeboat.lock/1', id: 'gone', host: 'mirror-7c9d5-x2kq', pid: 1, user: 'lifeboat', action: 'frigate.snapshots.mirror', startedAt: longAgo, renewedAt: longAgo };
    assert.ok(await store().create(JSON.stringify(left)));
    const taken = await acquireLock(store(), { action: 'frigate.snapshots.mirror' }, log);
    assert.match(log.warnings.join('\n'), /taking over the lock of Lease frigate\/lifeboat-snapshot-mirror, left by a run that stopped \(it was last renewed .* ago\): frigate\.snapshots\.mirror, pid 1 of lifeboat on mirror-7c9d5-x2kq/);
    assert.equal((await kube.getObject(CUSTOM_RESOURCES.lease, NAMESPACE, LEASE)).spec?.holderIdentity, `pid ${process.pid} on ${hostname()}`);
    await taken.release();
  });

  it("never takes over a Lease that is not Lifeboat's, however long ago it was renewed", async () => {
    const name = 'kube-controller-manager';
    const foreign = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: 'node-1_4f2c', leaseDurationSeconds: 15, renewTime: '2020-01-01T00:00:00.000000Z' } };
    await kube.createObject(CUSTOM_RESOURCES.lease, NAMESPACE, foreign);
    const other = kubeLeaseLockStore(kube, NAMESPACE, name, `Lease ${NAMESPACE}/${name}`);
    await assert.rejects(acquireLock(other, { action: 'frigate.snapshots.mirror' }, recordingLog()), /^Error: Lease frigate\/kube-controller-manager exists and is not a Lifeboat lock \(held by node-1_4f2c\); Lifeboat leaves it alone: choose another Lease name$/);
    assert.deepEqual((await kube.getObject(CUSTOM_RESOURCES.lease, NAMESPACE, name)).spec, foreign.spec, 'left as it was');
    await kube.deleteObject(CUSTOM_RESOURCES.lease, NAMESPACE, name);
  });

  it('the simulator answers Leases as the API server does: a second create is 409 AlreadyExists, a missing one 404', async () => {
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'probe' }, spec: { holderIdentity: 'a' } };
    await kube.createObject(CUSTOM_RESOURCES.lease, NAMESPACE, body);
    await assert.rejects(kube.createObject(CUSTOM_RESOURCES.lease, NAMESPACE, body), (error: unknown) => error instanceof KubeError && error.failure === 'conflict' && error.statusCode === 409);
    await kube.deleteObject(CUSTOM_RESOURCES.lease, NAMESPACE, 'probe');
    await assert.rejects(kube.getObject(CUSTOM_RESOURCES.lease, NAMESPACE, 'probe'), (error: unknown) => error instanceof KubeError && error.statusCode === 404);
  });
});
