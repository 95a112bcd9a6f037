import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import type { MirrorResult } from '../../src/actions/frigate/mirror';
import type { MirrorStatusResult } from '../../src/actions/frigate/mirrorStatus';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { readRunCommand, runCommand, type ScheduledRunbook } from '../../src/actions/schedule/k8sManifests';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode, Operation } from '../../src/core/browse/node';
import { paramsFromPicks } from '../../src/core/browse/palette';
import { isCancellationError } from '../../src/core/errors';
import { assertListedUnder, assertOperationsInTreeMenu } from '../support/browseNodes';
import { addLifeboatImage, withMirrorLab, type MirrorLab } from '../support/clusterMirrorLab';
import { runFrigateAction } from '../support/frigateActions';
import { CLI, requireFiles } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';

const IMAGE = 'registry.example/lifeboat:test';
const HOSTILE_STATE = '$(touch pwned)`touch pwned`; touch pwned --help';

/** A `frigate.snapshots.mirror` cell with these fields, and the blank line after it. */
const mirrorCell = (...fields: string[]) => ['```lifeboat', 'action: frigate.snapshots.mirror', ...fields, '```', ''];

/** Watches Frigate `home` without end; its second cell, never reached, keeps its state at a hostile path. */
const WATCH = [...mirrorCell('frigate: home', 'store: snaps', 'lease: { cluster: prod, namespace: lifeboat }', 'watch: true', 'pollSeconds: 0.2'), ...mirrorCell('frigate: home', 'store: snaps', `state: '${HOSTILE_STATE}'`)].join('\n');

/** A mirror of the other Frigate instance, run by a CronJob. */
const GARAGE = mirrorCell('frigate: garage', 'store: snaps', 'prefix: garage').join('\n');

/** Its Frigate comes from a parameter (`garage` by default, `home` as installed), its prefix from a default; its second mirror's state from an earlier step. */
const PARAMS = [
  '---',
  'params:',
  '  frigate: { type: string, default: garage }',
  '  prefix: { type: string, default: cams/by-param }',
  '---',
  '',
  '```bash {id=pick}',
  'echo state.json',
  '```',
  '',
  ...mirrorCell('frigate: ${params.frigate}', 'store: snaps', 'prefix: ${params.prefix}'),
  ...mirrorCell('frigate: home', 'store: snaps', 'state: ${steps.pick.stdout}'),
].join('\n');

const statusOperation = (node: BrowseNode | undefined): Extract<Operation, { kind: 'action' }> | undefined => node?.operations.find((operation): operation is Extract<Operation, { kind: 'action' }> => operation.kind === 'action' && operation.id === 'status');

describe('Snapshot mirrors the clusters run, in the Frigate tree and the palette', function () {
  this.timeout(120_000);
  let sim: KubeApiSimulator;
  let imageDir: string;

  before(async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs --tests`']]);
    sim = await KubeApiSimulator.start({ controllerStepMs: 5 });
    imageDir = await mkdtemp(join(tmpdir(), 'lifeboat-mirror-image-'));
    await addLifeboatImage(sim, imageDir, IMAGE);
  });

  after(async () => {
    await sim?.stop();
    if (imageDir) await rm(imageDir, { recursive: true, force: true });
  });

  const model = () => new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), '/w/lifeboat.yaml');
  const browsing = (lab: MirrorLab, overrides: Partial<ActionContext> = {}): ActionContext => createActionContext({ workspaceDir: lab.workspace, inventory: lab.ctx.inventory, secrets: lab.ctx.secrets, ...overrides });

  it('reads back the `lifeboat run` command schedule.k8s.install writes, and nothing else', () => {
    const spec: ScheduledRunbook = {
      kind: 'Deployment',
      name: 'm',
      namespace: 'lifeboat',
      image: IMAGE,
      runbook: 'runbooks/m.runbook.md',
      runbookText: '',
      inventoryText: '',
      params: { frigate: 'home', note: 'a=b --yes', watch: true },
      yes: true,
      secrets: { steps: [], inventory: [] },
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      timeoutMinutes: 360,
    };
    assert.deepEqual(readRunCommand(runCommand(spec)), { runbookKey: 'm.runbook.md', params: { frigate: 'home', note: 'a=b --yes', watch: 'true' } });
    for (const command of [['sh', '-c', 'lifeboat run m.md'], ['lifeboat', 'run', 'm.md', '--param'], ['lifeboat', 'run', 'm.md', '--param', 'x=1', '--param', 'x=2'], ['lifeboat', 'run', 'm.md', '--dry-run'], ['lifeboat', 'run', 'm.md', '--param', '=1']]) {
      assert.equal(readRunCommand(command), undefined, command.join(' '));
    }
  });

  it('lists the mirrors a cluster runs beside the workspace\'s, each with its status read in its pod; the palette offers them; a cluster that is down is a node of its own', async () => {
    await withMirrorLab(sim, { image: IMAGE, events: 6, cell: [], frigates: ['home', 'garage'] }, async (lab) => {
      await writeFile(join(lab.workspace, 'watch.runbook.md'), WATCH);
      await writeFile(join(lab.workspace, 'garage.runbook.md'), GARAGE);
      await writeFile(join(lab.workspace, 'params.runbook.md'), PARAMS);
      await lab.install({ kind: 'Deployment', runbook: 'watch.runbook.md', name: 'mirror-watch' });
      await lab.install({ runbook: 'garage.runbook.md', name: 'garage-mirror', namespace: 'cams', schedule: '*/10 * * * *', secret: undefined });
      await lab.install({ runbook: 'params.runbook.md', name: 'params-mirror', schedule: '*/10 * * * *', params: { frigate: 'home' } });
      const inCluster = { cluster: 'prod', namespace: 'lifeboat', name: 'mirror-watch' };

      const pod = sim.jobs.runDeployment('lifeboat', 'mirror-watch');
      try {
        let shown = await lab.mirrorStatus({ inCluster });
        for (let tries = 0; tries < 300 && shown.tracked < 6; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          shown = await lab.mirrorStatus({ inCluster });
        }
        assert.equal(shown.tracked, 6, `${shown.problem ?? ''} ${pod.pods.at(-1)?.log ?? ''}`);
        // A mirror run here as well, to another prefix: its state is in the workspace.
        const local = await runFrigateAction<MirrorResult>('frigate.snapshots.mirror', { frigate: 'home', store: 'snaps', prefix: 'here' }, browsing(lab));
        assert.equal(local.uploaded, 6);

        // Listing the Frigate names where mirrors are looked for, and asks no cluster.
        const tree = model();
        const ctx = browsing(lab);
        // The pod renews its Lease meanwhile: what counts is whether workloads, runbooks or pods were read.
        const asked = sim.requests.length;
        const browsed = () => sim.requests.slice(asked).filter((request) => /\/(cronjobs|deployments|configmaps|pods)\b/.test(request));
        const frigateNodes = assertListedUnder('frigate/home', await tree.children('frigate/home', { limit: 100 }, ctx)).nodes;
        const mirrorsNode = frigateNodes.find((node) => node.kind === 'frigate.snapshotMirrors');
        assert.deepEqual([mirrorsNode?.path, mirrorsNode?.description], ['frigate/home/snapshot-mirrors', '1 mirror in this workspace · clusters: prod']);
        assert.deepEqual(browsed(), []);

        const mirrors = assertListedUnder('frigate/home/snapshot-mirrors', await tree.children('frigate/home/snapshot-mirrors', { limit: 100 }, ctx)).nodes;
        assert.ok(browsed().some((request) => request.startsWith('GET /apis/apps/v1/deployments?')), `opening the mirrors lists the Deployments of every namespace: ${browsed().join(', ')}`);
        assert.deepEqual(
          mirrors.map((node) => [node.kind, node.label, node.facts.cell ?? null]),
          [
            ['frigate.snapshotMirror', 'Snapshot mirror', null],
            ['frigate.clusterSnapshotMirror', 'mirror-watch on prod', 1],
            ['frigate.clusterSnapshotMirror', 'mirror-watch on prod', 2],
            ['frigate.clusterSnapshotMirror', 'params-mirror on prod', 2],
            ['frigate.clusterSnapshotMirror', 'params-mirror on prod', 3],
          ],
          'the mirror of Frigate garage in the same cluster is not one of these',
        );
        const [here, watched, hostile, byParam, fromStep] = mirrors as [BrowseNode, BrowseNode, BrowseNode, BrowseNode, BrowseNode];
        assert.equal(here.description, 's3://nvr/here · 6 tracked events · OK');

        // The watching mirror: its statistics and health from the state in its pod, which runs it now.
        assert.deepEqual([watched.facts.tracked, watched.facts.failed, watched.facts.health, watched.facts.running, watched.status], [6, 0, 'OK', true, undefined]);
        assert.equal(watched.description, 's3://nvr/frigate/snapshots · 6 tracked events · OK · running now');
        assert.deepEqual(
          watched.operations.map((operation) => [operation.id, operation.kind === 'action' ? operation.action : '']),
          [['status', 'frigate.snapshots.mirror.status'], ['workload', 'schedule.k8s.status']],
          'no Mirror Snapshots Now: it would run here, with a state of its own',
        );
        assertOperationsInTreeMenu(watched);
        assert.deepEqual(statusOperation(watched)?.params, { frigate: 'home', store: 'snaps', inCluster });
        const status = await runFrigateAction<MirrorStatusResult>('frigate.snapshots.mirror.status', statusOperation(watched)?.params ?? {}, browsing(lab));
        assert.deepEqual([status.tracked, status.health, status.running], [6, 'OK', true]);
        assert.match(status.statePath, / in pod lifeboat\/mirror-watch-[0-9a-f]{5} on cluster 'prod'$/);

        // A hostile state path is one argument of the commands run in the pod, never a script.
        assert.equal(statusOperation(hostile)?.params.state, HOSTILE_STATE);
        assert.equal(hostile.status?.level, 'warning');
        assert.ok(hostile.status?.reason.startsWith(`there is no state file /workspace/${HOSTILE_STATE} in pod lifeboat/mirror-watch-`), hostile.status?.reason);

        // Resolved before the run as the pod's `lifeboat run` resolves it: the --param value, else the default.
        assert.deepEqual(statusOperation(byParam)?.params, { frigate: 'home', store: 'snaps', prefix: 'cams/by-param', inCluster: { cluster: 'prod', namespace: 'lifeboat', name: 'params-mirror' } });
        assert.deepEqual([byParam.description, byParam.status?.level, byParam.facts.health], ['s3://nvr/cams/by-param · no pod running · health unknown', 'unknown', 'unknown']);
        assert.match(byParam.status?.reason ?? '', /^none of the pods of 'params-mirror' in namespace lifeboat on cluster 'prod' is running/);
        // An earlier step's result is known only as the runbook runs: skipped, and said why.
        assert.equal(statusOperation(fromStep), undefined);
        assert.equal(fromStep.status?.level, 'warning');
        assert.match(fromStep.status?.reason ?? '', /^cell 3 is skipped: `state` \("\$\{steps\.pick\.stdout\}"\) has no value before the run/);

        // The other instance's mirror is under that instance, alone.
        const garage = assertListedUnder('frigate/garage/snapshot-mirrors', await tree.children('frigate/garage/snapshot-mirrors', { limit: 100 }, ctx)).nodes;
        assert.deepEqual(garage.map((node) => [node.label, node.description]), [['garage-mirror on prod', 's3://nvr/garage · no pod running · health unknown']]);
        assert.deepEqual(statusOperation(garage[0])?.params.inCluster, { cluster: 'prod', namespace: 'cams', name: 'garage-mirror' });

        // The palette's Show Mirror Status offers the mirrors that have a status, and reads the one picked in its pod.
        const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.showFrigateMirrorStatus');
        assert.ok(command);
        const picked: Record<string, unknown> = {};
        const palette = model();
        for (const step of command.steps) {
          assert.ok(step.kind === 'node');
          const offered = (await palette.children(step.under(picked), { limit: 100 }, ctx)).nodes.filter((node) => step.accept?.(node) ?? true);
          const chosen = step.param === 'frigate' ? offered.find((node) => node.label === 'home') : offered.find((node) => node.path === watched.path);
          if (step.param !== 'frigate') assert.deepEqual(offered.map((node) => node.label), ['Snapshot mirror', 'mirror-watch on prod', 'mirror-watch on prod', 'params-mirror on prod']);
          assert.ok(chosen, step.question);
          picked[step.param] = step.value?.(chosen);
          Object.assign(picked, step.params?.(chosen));
        }
        const params = paramsFromPicks(picked);
        assert.deepEqual(params, { frigate: 'home', store: 'snaps', inCluster });
        const fromPalette = await runFrigateAction<MirrorStatusResult>(command.action, params, browsing(lab));
        assert.deepEqual([fromPalette.tracked, fromPalette.health], [6, 'OK']);

        // A cluster that cannot be reached is a node naming it and the cause; everything else still shows.
        const stopped = await KubeApiSimulator.start();
        const unreachable = await stopped.writeKubeconfig({ file: join(lab.workspace, 'stopped-kubeconfig') });
        await stopped.stop();
        const withDown = browsing(lab, { inventory: { ...lab.ctx.inventory, clusters: { ...lab.ctx.inventory.clusters, down: { kubeconfig: unreachable } } } });
        const downTree = model();
        assert.ok((await downTree.children('frigate/home', { limit: 100 }, withDown)).nodes.some((node) => node.kind === 'frigate.snapshotMirrors'));
        const despiteDown = assertListedUnder('frigate/home/snapshot-mirrors', await downTree.children('frigate/home/snapshot-mirrors', { limit: 100 }, withDown)).nodes;
        assert.deepEqual(
          despiteDown.map((node) => node.label),
          ['Snapshot mirror', 'mirror-watch on prod', 'mirror-watch on prod', 'params-mirror on prod', 'params-mirror on prod', 'Cluster down'],
        );
        const down = despiteDown.at(-1);
        assert.equal(down?.status?.level, 'error');
        assert.match(down?.status?.reason ?? '', /^cluster 'down': its snapshot mirrors could not be listed: cannot reach cluster 'sim' \([^)]+\) for (CronJobs|Deployments) in every namespace\b.*ECONNREFUSED/);

        // Cancelled, the listing stops instead of turning into failure nodes.
        const cancelled = new AbortController();
        cancelled.abort();
        await assert.rejects(model().children('frigate/home/snapshot-mirrors', { limit: 100 }, browsing(lab, { signal: cancelled.signal })), isCancellationError);
        await ctx.clients.disposeAll();
        await withDown.clients.disposeAll();
      } finally {
        await pod.stop();
      }
      const sandbox = pod.pods.at(-1)?.sandbox ?? '';
      assert.deepEqual((await readdir(sandbox, { recursive: true })).filter((entry) => basename(entry) === 'pwned'), [], 'nothing ran the hostile path in the pod');
      assert.deepEqual((await readdir(lab.workspace, { recursive: true })).filter((entry) => basename(entry) === 'pwned'), []);
    });
  });
});
