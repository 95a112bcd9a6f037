import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { DEFAULT_RETRY_POLICY } from '../../src/clients/retry';
import { environmentSecrets } from '../../src/core/actions/context';
import type { Inventory } from '../../src/core/actions/spec';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode, PageRequest } from '../../src/core/browse/node';
import { isCancellationError } from '../../src/core/errors';
import { assertListedUnder } from '../support/browseNodes';
import { FrigateSimulator } from '../testbed/frigateSim';
import { runFrigateInPod } from '../testbed/frigatePod';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { freePort } from '../testbed/sshd';
import { solidWebp } from '../testbed/webp';
import { makeTempDir, recordingContext, removeTempDir, type RecordingContext } from './archiveSupport';

const PASSWORD = 'frigate-admin-pass';
const ASHA_IMAGES = 120;

describe('browse model: the Frigate browser against the simulator', function () {
  this.timeout(30_000);
  let sim: FrigateSimulator;
  let kube: KubeApiSimulator;
  let kubeconfig: string;
  let workspace: string;
  let model: BrowseModel;

  before(async () => {
    [sim, kube] = await Promise.all([FrigateSimulator.start(), KubeApiSimulator.start()]);
    await runFrigateInPod(kube, sim, 'frigate-5c6b');
    kubeconfig = await kube.writeKubeconfig();
    // Frigate's own layout in the pod: DATE/HH/<camera>/MM.SS.mp4.
    for (const [day, camera] of [['2026-01-05', 'front'], ['2026-01-06', 'front'], ['2026-01-06', 'yard']] as const) {
      await mkdir(join(sim.mediaDir, 'recordings', day, '03', camera), { recursive: true });
      await writeFile(join(sim.mediaDir, 'recordings', day, '03', camera, '00.00.mp4'), 'mp4');
    }
    const image = solidWebp({ width: 112, height: 112 });
    for (let index = 1; index <= ASHA_IMAGES; index++) await sim.addFace('Asha', `Asha_${1738800000 + index}.webp`, image);
    for (const file of ['bob_1.webp', 'bob_2.webp']) await sim.addFace('bob', file, image);
    await sim.addFace("Zoë O'Neil", 'z.webp', image);
    await sim.addFace('train', '1700000000.1-abc123-1700000001.2-person-0.81.webp', solidWebp({ width: 60, height: 60 }));
    workspace = await makeTempDir('browse-frigate');
  });

  after(async () => {
    await Promise.all([sim?.stop(), kube?.stop()]);
    await removeTempDir(workspace);
  });

  beforeEach(() => {
    model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), '/w/lifeboat.yaml');
  });

  function inventory(url = sim.url): Inventory {
    const auth = { username: 'admin', password: 'secret:frigate_password' };
    return {
      clusters: { k3s: { kubeconfig } },
      frigate: {
        home: { url, auth, tls: { insecure: true }, backups: { recordings: ['nowhere', 'local'] } },
        nvr: { url, auth, tls: { insecure: true }, files: { cluster: 'k3s', namespace: 'frigate', labelSelector: 'app.kubernetes.io/name=frigate' } },
      },
      locations: { local: { path: 'backups' } },
    } as Inventory;
  }

  function context(options: { url?: string; signal?: AbortSignal; password?: string } = {}): RecordingContext {
    const secrets = environmentSecrets({ LIFEBOAT_SECRET_FRIGATE_PASSWORD: options.password ?? PASSWORD });
    return { ...recordingContext(workspace, options.signal ? { signal: options.signal } : {}), inventory: inventory(options.url), secrets };
  }

  const facesRequests = () => sim.requests.filter((request) => request.path === '/api/faces').length;

  async function list(at: string, request: PageRequest, ctx = context()) {
    try {
      return assertListedUnder(at, await model.children(at, request, ctx));
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  it('lists the people by name, the train folder apart, then the recordings backups the instance names and where its snapshot mirrors are looked for', async () => {
    const page = await list('frigate/home', { limit: 50 });
    assert.deepEqual(
      page.nodes.map((node) => [node.path, node.kind, node.label, node.description, node.hasChildren]),
      [
        ['frigate/home/people/Asha', 'frigate.person', 'Asha', '120 images', true],
        ['frigate/home/people/bob', 'frigate.person', 'bob', '2 images', true],
        ["frigate/home/people/Zoë O'Neil", 'frigate.person', "Zoë O'Neil", '1 image', true],
        ['frigate/home/train', 'frigate.train', 'train', '1 image · recent recognition attempts, not a person', true],
        ['frigate/home/recordings/nowhere', 'frigate.recordings.invalid', 'Recordings backup nowhere', "`frigate.home.backups.recordings` names 'nowhere', which is not under `locations:`", false],
        ['frigate/home/recordings/local', 'frigate.recordings.invalid', 'Recordings backup local', "`frigate.home.backups.recordings`: location 'local' needs a `host` and `path` (recordings are backed up to an SSH host)", false],
        ['frigate/home/snapshot-mirrors', 'frigate.snapshotMirrors', 'Snapshot mirrors', 'clusters: k3s', true],
      ],
    );
    assert.equal(page.total, 7);
    assert.deepEqual(page.nodes[4]?.status?.level, 'warning');
  });

  it('pages through a person\'s images: each once, by file name, the library read once for every page', async () => {
    const ctx = context();
    const before = facesRequests();
    const files: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    try {
      do {
        const page = await model.children('frigate/home/people/Asha', { limit: 50, ...(cursor === undefined ? {} : { cursor }) }, ctx);
        assert.equal(page.total, ASHA_IMAGES);
        files.push(...page.nodes.map((node) => node.label));
        cursor = page.next;
        pages++;
      } while (cursor !== undefined);
      assert.equal((await model.node('frigate/home/people/Asha', ctx))?.kind, 'frigate.person', 'a person is found by its path');
      assert.equal((await model.node('frigate/home/people/Asha/Asha_1738800007.webp', ctx))?.facts.file, 'Asha_1738800007.webp');
    } finally {
      await ctx.clients.disposeAll();
    }
    assert.equal(pages, 3);
    assert.deepEqual(files, Array.from({ length: ASHA_IMAGES }, (_, index) => `Asha_${1738800001 + index}.webp`));
    assert.equal(facesRequests() - before, 1);
  });

  it('filters a listing by a case-insensitive substring of the label', async () => {
    const page = await list('frigate/home/people/Asha', { limit: 50, filter: 'ASHA_173880010' });
    assert.deepEqual(page.nodes.map((node) => node.label), Array.from({ length: 10 }, (_, index) => `Asha_173880010${index}.webp`));
    assert.equal(page.total, 10);
    const train = await list('frigate/home/train', { limit: 50 });
    assert.deepEqual(train.nodes.map((node: BrowseNode) => [node.path, node.facts.person]), [['frigate/home/train/1700000000.1-abc123-1700000001.2-person-0.81.webp', 'train']]);
  });

  it('an unreachable Frigate is an error node with the message, and the password is nowhere in it', async () => {
    const ctx = context({ url: `https://127.0.0.1:${await freePort()}` });
    const page = await list('frigate/home', { limit: 50 }, ctx);
    assert.equal(page.nodes.length, 1);
    assert.equal(page.nodes[0]?.kind, 'error');
    assert.match(page.nodes[0]?.description ?? '', /^listing frigate\/home failed: .*127\.0\.0\.1.*/);
    assert.ok(!JSON.stringify([page, ctx.logLines]).includes(PASSWORD));
  });

  it('a refused login is an error node, and the wrong password is nowhere in it', async () => {
    const ctx = context({ password: 'not-the-password-9f3' });
    const page = await list('frigate/home', { limit: 50 }, ctx);
    assert.match(page.nodes[0]?.description ?? '', /refused the login of user 'admin'/);
    assert.ok(!JSON.stringify([page, ctx.logLines]).includes('not-the-password-9f3'));
  });

  it('a failed listing is not kept: the next expand lists again', async () => {
    // As many 500s as the client tries (DEFAULT_RETRY_POLICY): this listing fails, the next one is answered.
    sim.injectFault({ kind: 'status', status: 500, path: /^\/api\/faces$/, times: DEFAULT_RETRY_POLICY.attempts });
    const failed = await list('frigate/home', { limit: 50 });
    assert.equal(failed.nodes[0]?.kind, 'error');
    assert.match(failed.nodes[0]?.description ?? '', /^listing frigate\/home failed: /);
    const again = await list('frigate/home', { limit: 50 });
    assert.equal(again.nodes[0]?.path, 'frigate/home/people/Asha');
  });

  it('cancelling a slow listing rejects with the cancellation, at once, and keeps nothing', async () => {
    sim.injectFault({ kind: 'slow', delayMs: 10_000, path: /^\/api\/faces$/ });
    const abort = new AbortController();
    const started = Date.now();
    const listing = list('frigate/home', { limit: 50 }, context({ signal: abort.signal }));
    setTimeout(() => abort.abort(), 200);
    await assert.rejects(listing, (error: unknown) => isCancellationError(error));
    assert.ok(Date.now() - started < 5_000, `cancelled after ${Date.now() - started} ms`);
    assert.equal((await list('frigate/home', { limit: 50 })).nodes[0]?.path, 'frigate/home/people/Asha', 'listed afresh once cancelled');
  });

  it('a listing shared by two readers (the tree and a pick list) still arrives for the one whose reader was not cancelled', async () => {
    sim.injectFault({ kind: 'slow', delayMs: 500, path: /^\/api\/faces$/ });
    const abort = new AbortController();
    const cancelled = list('frigate/home', { limit: 50 }, context({ signal: abort.signal }));
    // The second reader comes while the first one's listing is under way, and shares it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const kept = list('frigate/home', { limit: 50 });
    abort.abort();
    await assert.rejects(cancelled, (error: unknown) => isCancellationError(error));
    assert.equal((await kept).nodes[0]?.path, 'frigate/home/people/Asha');
  });

  it('an instance whose files are in a cluster lists the recordings in its pod, by camera and by day', async () => {
    const instance = await list('frigate/nvr', { limit: 50 });
    const pod = instance.nodes.find((node) => node.kind === 'frigate.podRecordings');
    assert.deepEqual([pod?.path, pod?.description], ['frigate/nvr/pod', 'k3s: frigate, app.kubernetes.io/name=frigate']);
    const cameras = await list('frigate/nvr/pod', { limit: 50 });
    assert.deepEqual(cameras.nodes.map((node) => [node.path, node.facts.days]), [['frigate/nvr/pod/front', 2], ['frigate/nvr/pod/yard', 1]]);
    const days = await list('frigate/nvr/pod/front', { limit: 1 });
    assert.deepEqual([days.nodes.map((node) => node.label), days.total], [['2026-01-06'], 2]);
  });

  it('an instance that is not in the inventory lists nothing; an empty library says so', async () => {
    assert.deepEqual((await list('frigate/attic', { limit: 50 })).nodes, []);
    await sim.removePeople();
    const page = await list('frigate/home', { limit: 50 });
    assert.deepEqual(page.nodes.slice(0, 2).map((node) => [node.path, node.label]), [['frigate/home/!empty', 'No people in the face library'], ['frigate/home/train', 'train']]);
  });
});
