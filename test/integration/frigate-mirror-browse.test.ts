import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import type { MirrorResult } from '../../src/actions/frigate/mirror';
import type { MirrorStatusResult } from '../../src/actions/frigate/mirrorStatus';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { paramsFromPicks } from '../../src/core/browse/palette';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode } from '../../src/core/browse/node';
import { assertListedUnder, assertOperationsInTreeMenu } from '../support/browseNodes';
import { runFrigateAction } from '../support/frigateActions';
import { REPO_ROOT } from '../support/paths';
import { FrigateSimulator } from '../testbed/frigateSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

const BUCKET = 'cams';
const T0 = 1_765_100_000.25;

describe('Snapshot mirrors in the Frigate tree and the palette', function () {
  this.timeout(60_000);
  let sim: FrigateSimulator;
  let s3: RunningS3rver;
  let workspace: string;

  before(async () => {
    [sim, s3] = await Promise.all([FrigateSimulator.start(), startS3rver({ buckets: [BUCKET] })]);
    workspace = await mkdtemp(path.join(tmpdir(), 'lifeboat-mirror-browse-'));
    for (let index = 0; index < 6; index++) sim.events.push({ id: `${T0 + index}-b${index}`, camera: 'gate', label: 'person', start_time: T0 + index, end_time: T0 + index + 2, has_snapshot: true, has_clip: false });
    sim.events.push({ id: 'bad/../id', camera: 'gate', label: 'person', start_time: T0 + 10, end_time: T0 + 12, has_snapshot: true, has_clip: false });
  });
  after(async () => {
    await Promise.all([sim?.stop(), s3?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  function context(): ActionContext {
    return createActionContext(contextOptions());
  }

  function contextOptions(): Parameters<typeof createActionContext>[0] {
    return {
      workspaceDir: workspace,
      inventory: {
        frigate: { home: { url: sim.internalUrl } },
        stores: { snaps: { endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3' } } },
      },
      secrets: { resolve: async () => S3RVER_CREDENTIALS.secretAccessKey },
    };
  }

  it('shows a mirror under its Frigate with statistics, health and failed events, and its operations', async () => {
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), '/w/lifeboat.yaml');
    const before = await model.children('frigate/home', { limit: 100 }, context());
    assert.equal(before.nodes.filter((node) => node.kind === 'frigate.snapshotMirrors').length, 0, 'no mirror before its first run, and no cluster to look in');

    const result = await runFrigateAction<MirrorResult>('frigate.snapshots.mirror', { frigate: 'home', store: 'snaps' }, context());
    assert.equal(result.uploaded, 6);

    // A refreshed tree (a model of its own: the first one keeps what it listed) shows the mirror.
    const refreshed = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), '/w/lifeboat.yaml');
    const ctx = context();
    const children = assertListedUnder('frigate/home', await refreshed.children('frigate/home', { limit: 100 }, ctx));
    const mirrors = children.nodes.find((node) => node.kind === 'frigate.snapshotMirrors') as BrowseNode;
    assert.ok(mirrors, children.nodes.map((node) => node.kind).join());
    assert.deepEqual([mirrors.path, mirrors.label, mirrors.description, mirrors.status], ['frigate/home/snapshot-mirrors', 'Snapshot mirrors', '1 mirror in this workspace', { level: 'warning', reason: '1 mirror in this workspace with failed events or a health other than OK' }]);
    const listed = assertListedUnder(mirrors.path, await refreshed.children(mirrors.path, { limit: 100 }, ctx));
    const mirror = listed.nodes.find((node) => node.kind === 'frigate.snapshotMirror') as BrowseNode;
    assert.ok(mirror, listed.nodes.map((node) => node.kind).join());
    assert.equal(mirror.description, 's3://cams/frigate/snapshots · 6 tracked events · 1 failed · OK');
    assert.deepEqual(mirror.status, { level: 'warning', reason: '1 failed event' });
    assert.deepEqual(
      mirror.operations.map((operation) => [operation.id, operation.kind === 'action' ? operation.action : '', operation.kind === 'action' ? operation.destructive : true]),
      [['mirror', 'frigate.snapshots.mirror', false], ['retry', 'frigate.snapshots.mirror', false], ['status', 'frigate.snapshots.mirror.status', false]],
    );
    assertOperationsInTreeMenu(mirror);
    const failed = assertListedUnder(mirror.path, await refreshed.children(mirror.path, { limit: 100 }, ctx));
    assert.deepEqual(failed.nodes.map((node) => [node.label, node.status?.level]), [['bad/../id', 'error']]);
    assert.match(failed.nodes[0]?.description ?? '', /refused: the event id holds a slash/);
  });

  it("walks the palette's Mirror Frigate Snapshots Now and Show Mirror Status through the browse model", async () => {
    const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), '/w/lifeboat.yaml');
    for (const [id, title, action] of [
      ['lifeboat.mirrorFrigateSnapshots', 'Mirror Frigate Snapshots Now', 'frigate.snapshots.mirror'],
      ['lifeboat.showFrigateMirrorStatus', 'Show Mirror Status', 'frigate.snapshots.mirror.status'],
    ] as const) {
      const command = builtinPaletteCommands.find((candidate) => candidate.command === id);
      assert.ok(command, id);
      assert.equal(command.title, title);
      assert.equal(command.action, action);
      assert.equal(manifest.contributes.commands.find((entry) => entry.command === id)?.title, title);
      const ctx = context();
      const picked: Record<string, unknown> = {};
      for (const step of command.steps) {
        if (step.kind === 'choice') {
          assert.deepEqual([step.param, step.options.map((option) => [option.label, option.value])], ['watch', [['Once', false], ['Keep watching', true]]]);
          picked[step.param] = false;
          continue;
        }
        assert.ok(step.kind === 'node');
        const offered = (await model.children(step.under(picked), { limit: 100 }, ctx)).nodes.filter((node) => step.accept?.(node) ?? true);
        // The status offers the mirrors there are (one, in this workspace); the mirror, any store.
        assert.deepEqual(offered.map((node) => node.label), [step.param === 'frigate' ? 'home' : action === 'frigate.snapshots.mirror' ? 'snaps' : 'Snapshot mirror']);
        picked[step.param] = step.value?.(offered[0] as BrowseNode);
        Object.assign(picked, step.params?.(offered[0] as BrowseNode));
      }
      await ctx.clients.disposeAll();
      assert.deepEqual(picked, action === 'frigate.snapshots.mirror' ? { frigate: 'home', store: 'snaps', watch: false } : { frigate: 'home', store: 'snaps', prefix: 'frigate/snapshots' });
      if (action === 'frigate.snapshots.mirror.status') {
        const status = await runFrigateAction<MirrorStatusResult>(action, picked, context());
        assert.equal(status.tracked, 7, 'the six of the first test and the one the palette mirrored');
        assert.equal(status.failedEvents.length, 1);
      } else {
        sim.events.push({ id: `${T0 + 20}-new`, camera: 'gate', label: 'car', start_time: T0 + 20, end_time: T0 + 21, has_snapshot: true, has_clip: false });
        const mirrored = await runFrigateAction<MirrorResult>(action, picked, context());
        assert.equal(mirrored.uploaded, 1);
      }
    }
  });

  it('"Keep watching" from the palette mirrors each new event as it comes, with the statistics as its progress, until cancelled', async () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.mirrorFrigateSnapshots');
    const watching = command?.steps.find((step) => step.kind === 'choice')?.options.find((option) => option.label === 'Keep watching');
    assert.ok(watching);
    const controller = new AbortController();
    const progress: string[] = [];
    const ctx = createActionContext({ ...contextOptions(), signal: controller.signal, progress: { report: (update) => progress.push(update.message ?? '') } });
    const running = runFrigateAction<MirrorResult>('frigate.snapshots.mirror', paramsFromPicks({ frigate: 'home', store: 'snaps', watch: watching.value, pollSeconds: 0.1 }), ctx);
    running.catch(() => undefined);
    const lastStats = () => progress.filter((message) => message.startsWith('Success: ')).at(-1) ?? '';
    const waitForSuccesses = async (count: number) => {
      for (let tries = 0; tries < 200 && !lastStats().startsWith(`Success: ${count},`); tries++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(lastStats(), new RegExp(`^Success: ${count}, Failed: 0, Retry Queue: 0, Tracked Events: \\d+, Failed Events: 1, Health: OK$`));
    };
    try {
      for (const [index, at] of [T0 + 30, T0 + 31].entries()) {
        sim.events.push({ id: `${at}-watched`, camera: 'gate', label: 'person', start_time: at, end_time: at + 1, has_snapshot: true, has_clip: false });
        await waitForSuccesses(index + 1);
      }
    } finally {
      controller.abort();
    }
    await assert.rejects(running, /cancel/i);
    const status = await runFrigateAction<MirrorStatusResult>('frigate.snapshots.mirror.status', { frigate: 'home', store: 'snaps' }, context());
    assert.equal(status.tracked, 9, 'the seven before and the two watched');
    assert.equal(status.lastRun?.uploaded, 2);
    assert.ok(status.lastRun?.endedAt, 'a cancelled watch still records its end');
  });
});
