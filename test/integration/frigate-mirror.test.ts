import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MirrorResult } from '../../src/actions/frigate/mirror';
import { openS3Store, type S3Store } from '../../src/clients/s3';
import { createActionContext } from '../../src/core/actions/context';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { CUSTOM_RESOURCES, KubeClient } from '../../src/clients/kube';
import type { ActionContext, ProgressUpdate } from '../../src/core/actions/spec';
import { runFrigateAction } from '../support/frigateActions';
import { startFaultProxy, startTcpFaultProxy, type FaultProxy } from '../testbed/faultProxy';
import { FrigateSimulator, type SimEvent } from '../testbed/frigateSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

const BUCKET = 'snapshots';
const PREFIX = 'frigate/snapshots';
const CAMERAS = ['front_door', 'garage', 'yard'];
/** 2024-01-15 14:30:22 UTC, as in the procedure's example key. */
const T0 = 1705329022.25;

function simEvent(index: number, overrides: Partial<SimEvent> = {}): SimEvent {
  const start = T0 + index * 7.5;
  return { id: `${start.toFixed(6)}-e${index}`, camera: CAMERAS[index % CAMERAS.length] as string, label: 'person', start_time: start, end_time: start + 5, has_snapshot: true, has_clip: true, ...overrides };
}

/** The PUTs of snapshot objects the store was sent, by key (a key sent twice shows twice). */
function snapshotPuts(proxy: FaultProxy, from = 0): string[] {
  return proxy.requests
    .slice(from)
    .map((line) => line.split('?')[0] as string)
    .filter((line) => line.startsWith(`PUT /${BUCKET}/`) && line.endsWith('.jpg'))
    .map((line) => decodeURIComponent(line.slice(`PUT /${BUCKET}/`.length)));
}

describe('frigate.snapshots.mirror: Frigate events to S3 (simulator, s3rver behind a fault proxy)', function () {
  this.timeout(120_000);
  let sim: FrigateSimulator;
  let s3: RunningS3rver;
  let proxy: FaultProxy;
  let reader: S3Store;
  let workspace: string;

  before(async () => {
    [sim, s3] = await Promise.all([FrigateSimulator.start(), startS3rver({ buckets: [BUCKET] })]);
    proxy = await startFaultProxy(s3.endpoint);
    reader = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS } });
  });
  after(async () => {
    reader?.dispose();
    await proxy?.stop();
    await Promise.all([sim?.stop(), s3?.stop()]);
  });

  beforeEach(async () => {
    workspace = await mkdtemp(path.join(tmpdir(), 'lifeboat-mirror-'));
    sim.events.length = 0;
    sim.clearFaults();
    for await (const object of reader.listObjects()) await reader.delete(object.key);
  });
  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  function context(endpoint = proxy.endpoint, overrides: Partial<ActionContext> = {}): ActionContext {
    return createActionContext({
      workspaceDir: workspace,
      inventory: {
        frigate: { home: { url: sim.internalUrl } },
        stores: { snaps: { endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3' } } },
      },
      secrets: { resolve: async () => S3RVER_CREDENTIALS.secretAccessKey },
      ...overrides,
    });
  }

  const mirror = (params: Record<string, unknown> = {}, ctx = context()) =>
    runFrigateAction<MirrorResult>('frigate.snapshots.mirror', { frigate: 'home', store: 'snaps', retryDelayMs: 20, ...params }, ctx);

  async function bucketKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of reader.listObjects()) keys.push(object.key);
    return keys.sort();
  }

  const expectedKey = (event: SimEvent) => {
    const date = new Date(Math.floor(event.start_time * 1000)).toISOString();
    return `${PREFIX}/${event.camera}/${date.slice(0, 10)}/${event.id}-${date.slice(0, 19).replace(/-/g, '').replace(/:/g, '').replace('T', '_')}.jpg`;
  };

  it('uploads every ended event with a snapshot once, under the procedure\'s keys, confirmed byte for byte; the next run sends nothing', async () => {
    for (let index = 0; index < 120; index++) sim.events.push(simEvent(index, { has_snapshot: index % 10 !== 3, end_time: index === 117 ? null : T0 + index * 7.5 + 5 }));
    const expected = sim.events.filter((event) => event.has_snapshot && event.end_time !== null);
    const progress: ProgressUpdate[] = [];
    const result = await mirror({ batchSize: 25 }, context(proxy.endpoint, { progress: { report: (update) => progress.push(update) } }));
    assert.equal(result.uploaded, expected.length);
    assert.equal(result.failed, 0);
    assert.equal(result.inProgress, 1, 'the event still in progress waits for a later run');
    assert.deepEqual(result.stats, { success: expected.length, failed: 0, retryQueue: 0, tracked: expected.length, failedEvents: 0, health: 'OK' });
    assert.match(progress.at(-1)?.message ?? '', /^Success: \d+, Failed: 0, Retry Queue: 0, Tracked Events: \d+, Failed Events: 0, Health: OK$/);
    assert.deepEqual(await bucketKeys(), expected.map(expectedKey).sort());
    assert.equal(expectedKey(simEvent(0)), `${PREFIX}/front_door/2024-01-15/1705329022.250000-e0-20240115_143022.jpg`);
    const stored = await reader.getStream(expectedKey(expected[0] as SimEvent));
    const chunks: Buffer[] = [];
    for await (const chunk of stored.body) chunks.push(chunk as Buffer);
    const snapshot = await (await fetch(`${sim.internalUrl}/api/events/${expected[0]?.id}/snapshot.jpg`)).arrayBuffer();
    assert.equal(createHash('md5').update(Buffer.concat(chunks)).digest('hex'), createHash('md5').update(Buffer.from(snapshot)).digest('hex'));
    assert.equal(stored.etag?.replace(/"/g, ''), createHash('md5').update(Buffer.from(snapshot)).digest('hex'));
    const puts = snapshotPuts(proxy);
    assert.equal(new Set(puts).size, puts.length, 'no key was sent twice');

    // The in-progress event ends; the next run sends it and nothing else.
    (sim.events[117] as SimEvent).end_time = T0 + 117 * 7.5 + 30;
    const before = proxy.requests.length;
    const again = await mirror({ batchSize: 25 });
    assert.equal(again.uploaded, 1);
    assert.deepEqual(snapshotPuts(proxy, before), [expectedKey(sim.events[117] as SimEvent)]);
    const third = await mirror({ batchSize: 25 });
    assert.equal(third.uploaded, 0);
    const state = await readFile(result.statePath, 'utf8');
    assert.ok(state.length < 4096, `the state stays small (${state.length} bytes)`);
  });

  it('pages through events sharing one start time across page boundaries without losing any', async () => {
    for (let index = 0; index < 30; index++) sim.events.push(simEvent(index, { start_time: T0, id: `${T0}-same${index}` }));
    for (let index = 30; index < 45; index++) sim.events.push(simEvent(index));
    const result = await mirror({ batchSize: 10 });
    assert.equal(result.uploaded, 45);
    assert.equal((await bucketKeys()).length, 45);
  });

  it('rides out 5xx answers, SlowDown and dropped connections with retries', async () => {
    for (let index = 0; index < 60; index++) sim.events.push(simEvent(index));
    proxy.failNext('PUT', 10, 'status-500');
    proxy.failNext('PUT', 10, 'slow-down');
    proxy.failNext('PUT', 6, 'drop-connection');
    const before = proxy.requests.length;
    const result = await mirror();
    assert.equal(result.uploaded, 60);
    assert.equal(result.failed, 0);
    assert.equal((await bucketKeys()).length, 60);
    assert.ok(snapshotPuts(proxy, before).length >= 60 + 26, 'the failed PUTs were sent again');
  });

  it('pauses while S3 is down and catches up once it is back, dropping nothing and failing nothing', async () => {
    for (let index = 0; index < 40; index++) sim.events.push(simEvent(index));
    proxy.setDown(true);
    const progress: string[] = [];
    const running = mirror({ maxFailedRetries: 1 }, context(proxy.endpoint, { progress: { report: (update) => progress.push(update.message ?? '') } }));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    proxy.setDown(false);
    const result = await running;
    assert.equal(result.uploaded, 40);
    assert.equal(result.failed, 0);
    assert.equal(result.stats.health, 'OK');
    assert.ok(progress.some((message) => /Health: S3 unavailable/.test(message)), 'the outage showed in the health');
    assert.equal((await bucketKeys()).length, 40);
  });

  it('survives connections cut in the middle of uploads', async () => {
    for (let index = 0; index < 30; index++) sim.events.push(simEvent(index));
    const tcp = await startTcpFaultProxy(s3.port);
    try {
      tcp.cutAfter(3000);
      const running = mirror({}, context(`http://127.0.0.1:${tcp.port}`));
      await new Promise((resolve) => setTimeout(resolve, 150));
      tcp.cutAfter(2000);
      const result = await running;
      assert.equal(result.uploaded + result.found, 30);
      assert.equal(result.failed, 0);
      assert.equal((await bucketKeys()).length, 30);
    } finally {
      await tcp.stop();
    }
  });

  it('marks an event failed with its last error after maxFailedRetries, and retries it only when asked', async () => {
    for (let index = 0; index < 12; index++) sim.events.push(simEvent(index));
    const broken = sim.events[4] as SimEvent;
    sim.injectFault({ kind: 'status', status: 500, path: new RegExp(`/events/${broken.id.replace(/\./g, '\\.')}/snapshot`), times: 1000 });
    const first = await mirror({ maxFailedRetries: 1 });
    assert.equal(first.uploaded, 11);
    assert.equal(first.failed, 1);
    assert.deepEqual(first.failedEvents.map((event) => [event.id, event.attempts]), [[broken.id, 2]]);
    assert.match(first.failedEvents[0]?.error ?? '', /HTTP 500/);
    assert.equal(first.stats.failedEvents, 1);

    sim.clearFaults();
    const withoutRetry = await mirror();
    assert.equal(withoutRetry.uploaded, 0);
    assert.equal(withoutRetry.failedEvents.length, 1, 'a failed event stays failed until retryFailed');
    const retried = await mirror({ retryFailed: true });
    assert.equal(retried.retried, 1);
    assert.equal(retried.uploaded, 1);
    assert.deepEqual(retried.failedEvents, []);
    assert.ok((await bucketKeys()).includes(expectedKey(broken)));
  });

  it('reports hostile event ids and cameras as failed events and never writes them anywhere', async () => {
    for (let index = 0; index < 5; index++) sim.events.push(simEvent(index));
    const hostile = [
      simEvent(5, { id: '../../escape' }),
      simEvent(6, { id: 'a/b' }),
      simEvent(7, { id: 'x\u0000y' }),
      simEvent(8, { camera: '..' }),
      simEvent(9, { camera: 'cam/../../x' }),
      simEvent(10, { id: 'line\nbreak' }),
    ];
    sim.events.push(...hostile);
    const result = await mirror({ retryFailed: true });
    assert.equal(result.uploaded, 5);
    assert.equal(result.failed, hostile.length);
    assert.deepEqual(new Set(result.failedEvents.map((event) => event.id)), new Set(hostile.map((event) => event.id)));
    for (const event of result.failedEvents) assert.match(event.error, /^refused: the (event id|camera) holds/);
    const keys = await bucketKeys();
    assert.equal(keys.length, 5);
    for (const key of keys) assert.match(key, /^frigate\/snapshots\/(front_door|garage|yard)\/2024-01-15\/[\d.]+-e\d-\d{8}_\d{6}\.jpg$/);
    const again = await mirror({ retryFailed: true });
    assert.equal(again.uploaded, 0);
    assert.equal(again.failedEvents.length, hostile.length, 'refused events stay refused');
  });

  it('rebuilds a corrupt or deleted state from the bucket listing instead of uploading again', async () => {
    for (let index = 0; index < 25; index++) sim.events.push(simEvent(index));
    const first = await mirror();
    assert.equal(first.uploaded, 25);

    await writeFile(first.statePath, '{"format":"lifeboat.frigate-mirror/1","cursor":');
    let before = proxy.requests.length;
    const corrupt = await mirror();
    assert.match(corrupt.rebuilt ?? '', /is corrupt .*rebuilt from the listing of s3:\/\/snapshots\/frigate\/snapshots \(25 snapshots already there, not uploaded again\)/);
    assert.equal(corrupt.uploaded, 0);
    assert.deepEqual(snapshotPuts(proxy, before), []);

    await unlink(first.statePath);
    sim.events.push(simEvent(25));
    before = proxy.requests.length;
    const deleted = await mirror();
    assert.match(deleted.rebuilt ?? '', /there is no state file/);
    assert.deepEqual(snapshotPuts(proxy, before), [expectedKey(simEvent(25))]);
  });

  it('after a crash that left uploads unrecorded, looks them up before sending: nothing goes twice', async () => {
    for (let index = 0; index < 20; index++) sim.events.push(simEvent(index));
    const first = await mirror();
    // What a crash after the uploads and before their record leaves: the frontier, no cursor, no uploads.
    const state = JSON.parse(await readFile(first.statePath, 'utf8')) as Record<string, unknown>;
    await writeFile(first.statePath, JSON.stringify({ ...state, cursor: null, done: [], days: {} }));
    const before = proxy.requests.length;
    const again = await mirror();
    assert.equal(again.found, 20);
    assert.equal(again.uploaded, 0);
    assert.deepEqual(snapshotPuts(proxy, before), []);
    assert.equal(proxy.requests.slice(before).filter((line) => line.startsWith('HEAD ') && line.endsWith('.jpg')).length, 20);
  });

  it('lets one mirror of a state run at a time: a second one stops with a clear message, or waits when asked', async () => {
    for (let index = 0; index < 80; index++) sim.events.push(simEvent(index));
    sim.injectFault({ kind: 'slow', delayMs: 400, path: /\/api\/events$/, times: 1 });
    const before = proxy.requests.length;
    const running = mirror();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await assert.rejects(mirror(), /another snapshot mirror is running: .*frigate-mirror.* is being written by another run: frigate\.snapshots\.mirror.*Set `wait: true` to wait for it/);
    const waited = await mirror({ wait: true });
    const first = await running;
    assert.equal(first.uploaded, 80);
    assert.equal(waited.uploaded, 0);
    const puts = snapshotPuts(proxy, before);
    assert.equal(puts.length, 80);
    assert.equal(new Set(puts).size, puts.length);
  });

  it('in a cluster, mirrors in two pods (each its own state folder) hold one Lease: the second stops naming the first, or waits for it', async () => {
    const cluster = await KubeApiSimulator.start();
    try {
      const kubeconfig = await cluster.writeKubeconfig();
      // Two pods: the same Frigate and store, each with a state folder of its own.
      const inPod = (pod: string) => {
        const ctx = context();
        return createActionContext({ workspaceDir: path.join(workspace, pod), inventory: { ...ctx.inventory, clusters: { home: { kubeconfig } } }, secrets: { resolve: async () => S3RVER_CREDENTIALS.secretAccessKey } });
      };
      const lease = { cluster: 'home', namespace: 'frigate' };
      for (let index = 0; index < 40; index++) sim.events.push(simEvent(index));
      sim.injectFault({ kind: 'slow', delayMs: 600, path: /\/api\/events$/, times: 1 });
      const before = proxy.requests.length;
      const running = mirror({ lease }, inPod('pod-a'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await assert.rejects(mirror({ lease }, inPod('pod-b')), /another snapshot mirror is running: Lease frigate\/lifeboat-snapshot-mirror-[0-9a-f]{12} on cluster 'home' is being written by another run: frigate\.snapshots\.mirror, pid \d+/);
      const waited = await mirror({ lease, wait: true }, inPod('pod-b'));
      assert.equal((await running).uploaded, 40);
      // The second pod's state was rebuilt from the bucket: nothing sent twice.
      assert.equal(waited.uploaded, 0);
      const puts = snapshotPuts(proxy, before);
      assert.deepEqual([puts.length, new Set(puts).size], [40, 40]);
      const kube = await KubeClient.connect({ kubeconfig });
      try {
        assert.deepEqual(await kube.listObjects(CUSTOM_RESOURCES.lease, 'frigate'), [], 'released by both');
      } finally {
        kube.dispose();
      }
    } finally {
      await cluster.stop();
    }
  });

  it('keeps watching: new events are mirrored, Frigate restarting and S3 going away are ridden out, cancelling stops it', async () => {
    for (let index = 0; index < 10; index++) sim.events.push(simEvent(index));
    const controller = new AbortController();
    const progress: string[] = [];
    const ctx = context(proxy.endpoint, { signal: controller.signal, progress: { report: (update) => progress.push(update.message ?? '') } });
    const running = mirror({ watch: true, pollSeconds: 0.1 }, ctx);
    running.catch(() => undefined);
    try {
      const waitFor = async (count: number) => {
        for (let tries = 0; tries < 200 && (await bucketKeys()).length < count; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal((await bucketKeys()).length, count);
      };
      await waitFor(10);
      // Frigate restarts: its API drops connections and answers 502 for a while.
      sim.injectFault({ kind: 'drop', path: /\/api\/events$/, times: 6 });
      sim.injectFault({ kind: 'status', status: 502, path: /\/api\/events$/, times: 8 });
      for (let index = 10; index < 25; index++) sim.events.push(simEvent(index));
      await waitFor(25);
      // S3 goes away for a while: new events queue up, and are all uploaded once it is back.
      proxy.setDown(true);
      for (let index = 25; index < 40; index++) sim.events.push(simEvent(index));
      for (let tries = 0; tries < 100 && !progress.some((message) => /Health: S3 unavailable/.test(message)); tries++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(progress.some((message) => /Health: S3 unavailable/.test(message)), 'the live statistics show the outage');
      proxy.setDown(false);
      await waitFor(40);
      // The statistics are reported when a batch ends, which is after its objects are in the bucket.
      const caughtUp = /^Success: 40, Failed: 0, Retry Queue: 0, Tracked Events: 40, Failed Events: 0, Health: OK$/;
      for (let tries = 0; tries < 100 && !caughtUp.test(progress.at(-1) ?? ''); tries++) await new Promise((resolve) => setTimeout(resolve, 100));
      // 40 successes for 40 events: polls that start while uploads are still ending list nothing twice.
      assert.match(progress.at(-1) ?? '', caughtUp);
    } finally {
      // A failed check must not leave the mirror running into the next test's workspace.
      controller.abort();
      proxy.setDown(false);
    }
    await assert.rejects(running, /cancel/i);
    const state = JSON.parse(await readFile(path.join(path.dirname((await mirrorStatePathOf(workspace)) ?? ''), 'mirror-state.json'), 'utf8')) as { cursor: number; lastRun: { endedAt: string | null } };
    assert.equal(state.cursor, simEvent(39).start_time);
    assert.ok(state.lastRun.endedAt);
  });

  it('takes the cursor from Frigate\'s event times, whatever this machine\'s clock says', async () => {
    // Frigate's clock runs years ahead of this machine's.
    const ahead = 4_102_444_800; // 2100-01-01
    for (let index = 0; index < 5; index++) sim.events.push(simEvent(index, { start_time: ahead + index, end_time: ahead + index + 1, id: `${ahead + index}.0-f${index}` }));
    const first = await mirror();
    assert.equal(first.uploaded, 5);
    assert.equal(first.cursor, new Date((ahead + 4) * 1000).toISOString());
    // Events that happen "earlier" than this machine's now are still after the cursor for Frigate.
    for (let index = 5; index < 8; index++) sim.events.push(simEvent(index, { start_time: ahead + index, end_time: ahead + index + 1, id: `${ahead + index}.0-f${index}` }));
    const second = await mirror();
    assert.equal(second.uploaded, 3);
    assert.ok((await bucketKeys()).every((key) => key.includes('/2100-01-01/')));
  });
});

/** The state file the default path gives in a workspace (one mirror per workspace in these tests). */
async function mirrorStatePathOf(workspace: string): Promise<string | undefined> {
  const { readdir } = await import('node:fs/promises');
  const folder = path.join(workspace, '.lifeboat', 'frigate-mirror');
  const [first] = await readdir(folder);
  return first ? path.join(folder, first, 'mirror-state.json') : undefined;
}
