/**
 * The simulator's watches against the Kubernetes API's watch protocol: read off the wire (a chunked
 * `application/json` answer of one `{"type","object"}` event per line) and through the Watch of
 * @kubernetes/client-node, which parses them as it parses a real API server's.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { get } from 'node:https';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { CUSTOM_RESOURCES, KubeClient, type KubeObject } from '../../src/clients/kube';
import { KubeApiSimulator } from '../testbed/kubeSim';

interface WatchEvent {
  type: string;
  object: { kind?: string; apiVersion?: string; metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> }; status?: { phase?: string }; code?: number; reason?: string; message?: string };
}

interface OpenWatch {
  status: number;
  headers: IncomingHttpHeaders;
  events: WatchEvent[];
  /** Everything received, for an answer that is not a stream (a refusal's Status). */
  text(): string;
  /** Resolves once `test` holds for the events so far; rejects when the stream ends first. */
  until(test: (events: WatchEvent[]) => boolean): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

const BACKUPS = '/apis/velero.io/v1/namespaces/velero/backups';
const RESTORES = '/apis/velero.io/v1/namespaces/velero/restores';

/** A watch as the wire carries it: lines parsed as they complete, whatever the chunks' boundaries. */
function rawWatch(sim: KubeApiSimulator, pathAndQuery: string): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    const request = get(`${sim.url}${pathAndQuery}`, { ca: sim.certificate.cert, headers: { Authorization: `Bearer ${sim.token}` } }, (response) => {
      const events: WatchEvent[] = [];
      const waiters = new Set<() => void>();
      let rest = '';
      let received = '';
      let over = false;
      const ended = new Promise<void>((done) =>
        response.on('close', () => {
          over = true;
          for (const waiter of waiters) waiter();
          done();
        }),
      );
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        received += chunk;
        if (response.statusCode !== 200) return;
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) events.push(JSON.parse(line) as WatchEvent);
        for (const waiter of waiters) waiter();
      });
      const until = (test: (seen: WatchEvent[]) => boolean) =>
        new Promise<void>((met, failed) => {
          const check = () => {
            if (test(events)) {
              waiters.delete(check);
              met();
            } else if (over) {
              waiters.delete(check);
              failed(new Error(`the stream ended first; events: ${JSON.stringify(events.map(summary))}`));
            }
          };
          waiters.add(check);
          check();
        });
      resolve({ status: response.statusCode ?? 0, headers: response.headers, events, text: () => received, until, ended, close: () => request.destroy() });
    });
    request.on('error', reject);
  });
}

const summary = (event: WatchEvent) => `${event.type} ${event.object.metadata?.name ?? event.object.reason ?? ''} ${event.object.metadata?.resourceVersion ?? ''} ${event.object.status?.phase ?? ''}`;
const revisions = (events: WatchEvent[]) => events.map((event) => Number(event.object.metadata?.resourceVersion));
const phaseOf = (event: WatchEvent) => event.object.status?.phase;
/** Phases in the order they were first seen. */
const phasesSeen = (events: WatchEvent[]) => events.map(phaseOf).filter((phase, index, all): phase is string => phase !== undefined && phase !== all[index - 1]);

/** The same watch through @kubernetes/client-node's Watch: its callback's events, and how `done` was called. */
function sdkWatch(config: KubeConfig, path: string, query: Record<string, string | number | boolean>, stopWhen: (events: WatchEvent[]) => boolean): Promise<{ events: WatchEvent[]; error: unknown }> {
  const events: WatchEvent[] = [];
  return new Promise((resolve) => {
    let controller: AbortController | undefined;
    let stopped = false;
    void new Watch(config)
      .watch(
        path,
        query,
        (type: string, object: WatchEvent['object']) => {
          events.push({ type, object });
          if (stopWhen(events)) {
            stopped = true;
            controller?.abort();
          }
        },
        (error: unknown) => resolve({ events, error: stopped ? null : error }),
      )
      .then((opened) => {
        controller = opened;
        if (stopped) opened.abort();
      });
  });
}

describe('Kubernetes API simulator: watches of custom objects as the API server serves them', function () {
  this.timeout(30_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;
  let config: KubeConfig;
  const backup = (name: string, labels: Record<string, string> = {}) =>
    kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name, labels }, spec: { includedNamespaces: ['immich'] } });
  const listVersion = async () => ((await kube.listObjectsForWatch(CUSTOM_RESOURCES.veleroBackup, 'velero', '')).resourceVersion);
  const completed = (name: string) => (events: WatchEvent[]) => events.some((event) => event.object.metadata?.name === name && phaseOf(event) === 'Completed');

  before(async () => {
    sim = await KubeApiSimulator.start({ controllerStepMs: 20 });
    const kubeconfig = await sim.writeKubeconfig();
    kube = await KubeClient.connect({ kubeconfig });
    config = new KubeConfig();
    config.loadFromFile(kubeconfig);
    await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name: 'default' }, spec: { provider: 'aws', objectStorage: { bucket: 'velero' } } });
  });

  after(async () => {
    await sim?.stop();
  });

  it("streams a backup's changes from a list's resourceVersion as chunked JSON lines, each newer than the last, parsed alike by the SDK's Watch", async () => {
    const from = await listVersion();
    const wire = await rawWatch(sim, `${BACKUPS}?watch=true&resourceVersion=${from}`);
    const sdk = sdkWatch(config, BACKUPS, { resourceVersion: from }, completed('nightly'));
    await backup('nightly');
    await wire.until(completed('nightly'));
    const { events, error } = await sdk;
    wire.close();

    assert.equal(wire.status, 200);
    assert.equal(wire.headers['content-type'], 'application/json');
    assert.equal(wire.headers['transfer-encoding'], 'chunked');
    const nightly = wire.events.filter((event) => event.object.metadata?.name === 'nightly');
    assert.deepEqual([...new Set(nightly.map((event) => event.type))], ['ADDED', 'MODIFIED'], nightly.map(summary).join('\n'));
    assert.equal(nightly[0]?.type, 'ADDED');
    assert.ok(revisions(wire.events).every((revision, index, all) => revision > Number(from) && (index === 0 || revision > (all[index - 1] ?? 0))), `resourceVersions grow: ${revisions(wire.events).join(' ')}`);
    // Velero 1.18's backup controller: queued, ready to start, then in progress until done.
    assert.deepEqual(phasesSeen(nightly), ['New', 'Queued', 'ReadyToStart', 'InProgress', 'Completed']);
    assert.equal(error, null);
    assert.deepEqual(events.map(summary), wire.events.map(summary), 'the SDK reads the same events');
  });

  it('sends the changes made since the resourceVersion before the watch opened, then what comes after', async () => {
    const from = await listVersion();
    await backup('earlier');
    const done = await kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'earlier', { isDone: (object) => object.status?.phase === 'Completed', intervalMs: 10, timeoutMs: 10_000 });
    const wire = await rawWatch(sim, `${BACKUPS}?watch=true&resourceVersion=${from}&timeoutSeconds=1`);
    const { events } = await sdkWatch(config, BACKUPS, { resourceVersion: from, timeoutSeconds: 1 }, () => false);
    await wire.ended;
    const earlier = wire.events.filter((event) => event.object.metadata?.name === 'earlier');
    assert.equal(earlier[0]?.type, 'ADDED');
    assert.deepEqual(phasesSeen(earlier), ['New', 'Queued', 'ReadyToStart', 'InProgress', 'Completed']);
    assert.equal(earlier.at(-1)?.object.metadata?.resourceVersion, done.metadata.resourceVersion);
    assert.deepEqual(events.map(summary), wire.events.map(summary), 'the SDK reads the same events');
  });

  it('starts a watch without a resourceVersion with an ADDED for each object, and a field selector keeps to one object', async () => {
    await backup('first');
    await backup('second');
    const wire = await rawWatch(sim, `${BACKUPS}?watch=true&fieldSelector=${encodeURIComponent('metadata.name=first')}`);
    await wire.until(completed('first'));
    assert.deepEqual([wire.events[0]?.type, wire.events[0]?.object.metadata?.name], ['ADDED', 'first']);
    assert.deepEqual(wire.events.slice(1).map((event) => event.type), wire.events.slice(1).map(() => 'MODIFIED'));
    await kube.patchObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'second', { metadata: { labels: { touched: 'yes' } } });
    await kube.patchObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'first', { metadata: { labels: { touched: 'yes' } } });
    await wire.until((events) => events.some((event) => event.object.metadata?.labels?.touched === 'yes'));
    wire.close();
    assert.deepEqual([...new Set(wire.events.map((event) => event.object.metadata?.name))], ['first']);
    const listed = await kube.listObjectsForWatch(CUSTOM_RESOURCES.veleroBackup, 'velero', 'metadata.name!=first');
    assert.ok(listed.items.length > 0 && listed.items.every((item: KubeObject) => item.metadata.name !== 'first'), 'a list takes the field selector too');
  });

  it('sends DELETED with the deletion\'s own resourceVersion, and follows a label selector: an object leaving it is DELETED for the watch, one joining it ADDED', async () => {
    await backup('labelled', { app: 'immich' });
    await backup('other');
    const from = await listVersion();
    const wire = await rawWatch(sim, `${BACKUPS}?watch=true&resourceVersion=${from}&labelSelector=app%3Dimmich`);
    await kube.patchObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'labelled', { metadata: { labels: { app: null } } });
    await kube.patchObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'other', { metadata: { labels: { app: 'immich' } } });
    await kube.deleteObject(CUSTOM_RESOURCES.veleroBackup, 'velero', 'other');
    await wire.until((events) => events.filter((event) => event.type === 'DELETED').length === 2);
    wire.close();
    const changes = wire.events.filter((event) => event.type !== 'MODIFIED').map((event) => [event.type, event.object.metadata?.name]);
    assert.deepEqual(changes, [['DELETED', 'labelled'], ['ADDED', 'other'], ['DELETED', 'other']]);
    const [added, deleted] = wire.events.filter((event) => event.object.metadata?.name === 'other');
    assert.ok(Number(deleted?.object.metadata?.resourceVersion) > Number(added?.object.metadata?.resourceVersion), 'a deletion is a change of its own');
  });

  it('answers a resourceVersion older than the history kept with the 410 Expired Status as an ERROR event, then ends the stream', async () => {
    const old = await listVersion();
    await backup('after-compaction');
    sim.objects.history.compact();
    const wire = await rawWatch(sim, `${BACKUPS}?watch=true&resourceVersion=${old}`);
    await wire.ended;
    assert.equal(wire.status, 200);
    assert.deepEqual(wire.events.map((event) => [event.type, event.object.kind, event.object.code, event.object.reason]), [['ERROR', 'Status', 410, 'Expired']]);
    assert.match(wire.events[0]?.object.message ?? '', new RegExp(`^too old resource version: ${old} \\(\\d+\\)$`));
    const { events, error } = await sdkWatch(config, BACKUPS, { resourceVersion: old }, () => false);
    assert.equal(error, null, 'the SDK sees the end of the stream, not a failure');
    assert.deepEqual(events.map((event) => [event.type, event.object.code]), [['ERROR', 410]]);
    const current = await listVersion();
    const resumed = await rawWatch(sim, `${BACKUPS}?watch=true&resourceVersion=${current}&timeoutSeconds=1`);
    await resumed.ended;
    assert.ok(resumed.events.every((event) => event.type !== 'ERROR' && Number(event.object.metadata?.resourceVersion) > Number(current)), 'the list after it is at a resourceVersion the server still has');
  });

  it('ends the stream after timeoutSeconds, sending a BOOKMARK with the current resourceVersion first when the watch allows them', async () => {
    const from = await listVersion();
    const started = Date.now();
    const [plain, bookmarked] = await Promise.all([rawWatch(sim, `${RESTORES}?watch=true&resourceVersion=${from}&timeoutSeconds=1`), rawWatch(sim, `${RESTORES}?watch=true&resourceVersion=${from}&timeoutSeconds=1&allowWatchBookmarks=true`)]);
    sim.objects.history.bookmark();
    await Promise.all([plain.ended, bookmarked.ended]);
    assert.ok(Date.now() - started >= 1000, 'not before the timeout');
    assert.deepEqual(plain.events, []);
    assert.deepEqual(
      bookmarked.events.map((event) => [event.type, event.object.kind, event.object.apiVersion, Object.keys(event.object.metadata ?? {})]),
      [
        ['BOOKMARK', 'Restore', 'velero.io/v1', ['resourceVersion', 'creationTimestamp']],
        ['BOOKMARK', 'Restore', 'velero.io/v1', ['resourceVersion', 'creationTimestamp']],
      ],
    );
    assert.ok(revisions(bookmarked.events).every((revision) => revision >= Number(from)));
  });

  it('refuses a field the resource cannot be selected by, a resourceVersion that is not one, and a resource not installed, with a Status before any event', async () => {
    const cases: [string, number, string, RegExp][] = [
      [`${BACKUPS}?watch=true&fieldSelector=status.phase%3DCompleted`, 400, 'BadRequest', /^"status\.phase" is not a known field selector: only "metadata\.name", "metadata\.namespace"$/],
      [`${BACKUPS}?watch=true&resourceVersion=abc`, 400, 'BadRequest', /^invalid resource version: abc$/],
      ['/apis/velero.io/v1/namespaces/velero/nothings?watch=true', 404, 'NotFound', /could not find the requested resource/],
    ];
    for (const [path, status, reason, message] of cases) {
      const wire = await rawWatch(sim, path);
      await wire.ended;
      assert.equal(wire.status, status, path);
      const answer = JSON.parse(wire.text()) as { kind: string; code: number; reason: string; message: string };
      assert.deepEqual([answer.kind, answer.code, answer.reason], ['Status', status, reason], path);
      assert.match(answer.message, message);
      const [pathname = '', query = ''] = path.split('?');
      const { events, error } = await sdkWatch(config, pathname, Object.fromEntries(new URLSearchParams(query)), () => false);
      assert.deepEqual([events.length, (error as { statusCode?: number } | null)?.statusCode], [0, status], `the SDK's Watch fails with the status: ${path}`);
    }
  });

  it('loses every open watch when the connections drop, and keeps none open', async () => {
    const from = await listVersion();
    const watches = await Promise.all([rawWatch(sim, `${BACKUPS}?watch=true&resourceVersion=${from}`), rawWatch(sim, `${BACKUPS}?watch=true&resourceVersion=${from}`)]);
    assert.equal(sim.objects.history.openWatches, 2);
    const sdk = sdkWatch(config, BACKUPS, { resourceVersion: from }, () => false);
    for (let waited = 0; sim.objects.history.openWatches < 3 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(sim.objects.history.openWatches, 3);
    sim.objects.history.dropWatches();
    await Promise.all(watches.map((watch) => watch.ended));
    await sdk;
    assert.equal(sim.objects.history.openWatches, 0);
  });
});
