import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { frigateSnapshotsMirrorStatus, type MirrorStatusResult } from '../../src/actions/frigate/mirrorStatus';
import { scheduleActions } from '../../src/actions/schedule';
import type { K8sInstallResult } from '../../src/actions/schedule/k8sInstall';
import { IMAGE_PROGRAM } from '../../src/actions/schedule/k8sManifests';
import { openS3Store } from '../../src/clients/s3';
import { CUSTOM_RESOURCES, KubeClient } from '../../src/clients/kube';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext } from '../../src/core/actions/spec';
import { loadInventory } from '../../src/core/workspace';
import { FrigateSimulator } from '../testbed/frigateSim';
import type { KubeApiSimulator } from '../testbed/kubeSim';
import { S3RVER_CREDENTIALS, startS3rver } from '../testbed/s3rver';
import { REPO_ROOT } from './paths';

const run = promisify(execFile);

/**
 * The Lifeboat image a simulated pod runs, registered with the simulator as `image`: the packed CLI
 * installed as the Dockerfile installs it (`npm install -g`), under `dir`. Returns the folder it is
 * installed in, with the tarball `npm pack` made.
 */
export async function addLifeboatImage(sim: KubeApiSimulator, dir: string, image: string): Promise<string> {
  const installed = join(dir, '.image');
  await mkdir(installed);
  const packed = JSON.parse((await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', installed], { cwd: REPO_ROOT })).stdout) as [{ filename: string }];
  await run('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', join(installed, 'usr'), join(installed, packed[0].filename)], { cwd: installed });
  sim.jobs.addImage(image, { programs: { [IMAGE_PROGRAM]: [join(installed, 'usr', 'bin', IMAGE_PROGRAM)] }, entrypoint: [IMAGE_PROGRAM] });
  return installed;
}

/** The mirror's test events: a person on the porch, one a second from 2025-12-06T05:46:40Z. */
export const mirrorEvent = (index: number) => ({ id: `1765000000.${index}-m${index}`, camera: 'porch', label: 'person', start_time: 1_765_000_000 + index, end_time: 1_765_000_003 + index, has_snapshot: true, has_clip: false });

export interface MirrorLab {
  frigate: FrigateSimulator;
  workspace: string;
  /** The workspace's context: its lifeboat.yaml, and the store's secret. */
  ctx: ActionContext;
  bucketKeys: () => Promise<string[]>;
  /** schedule.k8s.install of `snapshot-mirror.runbook.md` (unless `runbook` says another) on cluster `prod`, its secrets from `mirror-secrets`. */
  install: (params: Record<string, unknown>) => Promise<K8sInstallResult>;
  /** frigate.snapshots.mirror.status of Frigate `home` to store `snaps`. */
  mirrorStatus: (params: Record<string, unknown>) => Promise<MirrorStatusResult>;
}

export interface MirrorLabOptions {
  /** The image `addLifeboatImage` registered. */
  image: string;
  /** Events Frigate has at the start. */
  events: number;
  /** Lines added to the mirror cell of `snapshot-mirror.runbook.md`. */
  cell: string[];
  /** The Frigate instances of lifeboat.yaml, all of them the one simulated Frigate; `home` unless given. */
  frigates?: string[];
}

/**
 * A Frigate with `options.events` events, a bucket, and a workspace whose runbook mirrors one to the
 * other holding a Lease in the cluster `sim` (cluster `prod` of lifeboat.yaml); `install` schedules it
 * there. Once `work` is done, the Lease must have been given back through the pod's service account.
 */
export async function withMirrorLab(sim: KubeApiSimulator, options: MirrorLabOptions, work: (lab: MirrorLab) => Promise<void>): Promise<void> {
  const [frigate, s3] = await Promise.all([FrigateSimulator.start(), startS3rver({ buckets: ['nvr'] })]);
  const reader = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'nvr', credentials: { ...S3RVER_CREDENTIALS } });
  const workspace = await mkdtemp(join(tmpdir(), 'lifeboat-mirror-k8s-'));
  const kubeconfig = await sim.writeKubeconfig();
  let ctx: ActionContext | undefined;
  try {
    for (let index = 0; index < options.events; index++) frigate.events.push(mirrorEvent(index));
    const frigates = (options.frigates ?? ['home']).map((name) => `  ${name}: { url: ${frigate.internalUrl} }`);
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      ['clusters:', `  prod: { kubeconfig: ${kubeconfig} }`, 'frigate:', ...frigates, 'stores:', `  snaps: { endpoint: ${s3.endpoint}, bucket: nvr, credentials: { accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}, secretAccessKey: secret:s3 } }`, ''].join('\n'),
    );
    await writeFile(join(workspace, 'snapshot-mirror.runbook.md'), ['```lifeboat', 'action: frigate.snapshots.mirror', 'frigate: home', 'store: snaps', 'lease: { cluster: prod, namespace: lifeboat }', ...options.cell, '```', ''].join('\n'));
    sim.jobs.addSecret('lifeboat', 'mirror-secrets', { s3: S3RVER_CREDENTIALS.secretAccessKey });
    const labCtx = createActionContext({ workspaceDir: workspace, inventory: await loadInventory(join(workspace, 'lifeboat.yaml'), { required: true }), secrets: { resolve: async () => S3RVER_CREDENTIALS.secretAccessKey } });
    ctx = labCtx;
    const install = scheduleActions.find((candidate) => candidate.id === 'schedule.k8s.install');
    assert.ok(install, 'schedule.k8s.install is registered');
    const bucketKeys = async () => {
      const keys: string[] = [];
      for await (const object of reader.listObjects()) keys.push(object.key);
      return keys;
    };
    await work({
      frigate,
      workspace,
      ctx: labCtx,
      bucketKeys,
      install: async (params) => (await install.run(install.params.parse({ cluster: 'prod', image: options.image, runbook: 'snapshot-mirror.runbook.md', secret: 'mirror-secrets', ...params }), labCtx)) as K8sInstallResult,
      mirrorStatus: async (params) => (await frigateSnapshotsMirrorStatus.run(frigateSnapshotsMirrorStatus.params.parse({ frigate: 'home', store: 'snaps', ...params }), labCtx)) as MirrorStatusResult,
    });
    const kube = await KubeClient.connect({ kubeconfig });
    assert.deepEqual(await kube.listObjects(CUSTOM_RESOURCES.lease, 'lifeboat'), []);
  } finally {
    await ctx?.clients.disposeAll();
    reader.dispose();
    await Promise.all([frigate.stop(), s3.stop()]);
    await rm(workspace, { recursive: true, force: true });
  }
}
