import { readFile } from 'node:fs/promises';
import path, { posix } from 'node:path';
import * as z from 'zod';
import { PodCommandError } from '../../clients/kube';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { LOCK_FILE_NAME } from '../../core/locks';
import { formatCount } from '../../core/render';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { namespaceParam, scheduleNameParam } from '../schedule/k8sFields';
import { POD_WORKSPACE, scheduledRunbookSelector } from '../schedule/k8sManifests';
import { mirrorIdentity, mirrorStatePath, prefixParam, renderFailedEvents, stateParam, storeParam } from './mirror';
import { loadMirrorState, MAX_STATE_BYTES, parseMirrorState, type FailedEvent, type LastRun, type LoadedState, type MirrorIdentity } from './mirrorState';
import { frigateEntry, frigateInstanceParam } from './target';

const inClusterParam = z
  .object({
    cluster: clusterParam,
    namespace: namespaceParam,
    name: scheduleNameParam.describe('The name `schedule.k8s.install` gave the runbook that mirrors: its Deployment, or its CronJob while a Job of it runs.'),
  })
  .strict()
  .optional()
  .describe("A mirror the cluster runs (`schedule.k8s.install`): its state is read in the pod running it (on the PersistentVolumeClaim or in the pod's own workspace), not in this workspace.");

const statusParams = z.object({ frigate: frigateInstanceParam, store: storeParam, prefix: prefixParam, state: stateParam, inCluster: inClusterParam }).strict();

type InCluster = NonNullable<z.output<typeof inClusterParam>>;

export interface MirrorStatusResult {
  frigate: string;
  store: string;
  bucket: string;
  prefix: string;
  /** The state file, and for a mirror in the cluster the pod it was read in. */
  statePath: string;
  /** Why there is no state to show (never run, no pod running, or a file that is corrupt). */
  problem?: string;
  tracked: number;
  failedEvents: FailedEvent[];
  cursor?: string;
  lastRun?: LastRun;
  /** A run holds the lock now (its lock file is there). */
  running: boolean;
  health: string;
}

interface ReadState {
  statePath: string;
  loaded: LoadedState;
  running: boolean;
  /** No pod runs the mirror: its state, and so its health, cannot be read now. */
  unreadable?: boolean;
}

async function readStateHere(ctx: ActionContext, params: z.output<typeof statusParams>, identity: MirrorIdentity): Promise<ReadState> {
  const statePath = mirrorStatePath(ctx.workspaceDir, params);
  const running = await readFile(path.join(path.dirname(statePath), LOCK_FILE_NAME)).then(
    () => true,
    () => false,
  );
  return { statePath, loaded: await loadMirrorState(statePath, identity), running };
}

function podsOf(where: InCluster): string {
  return `the pods of '${where.name}' in namespace ${where.namespace} on cluster '${where.cluster}'`;
}

/** Reads the state in the running pod of a scheduled runbook, through exec (programs and arguments, never a shell); the pod bounds what it sends. */
async function readStateInPod(ctx: ActionContext, where: InCluster, file: string, identity: MirrorIdentity): Promise<ReadState> {
  const kube = await kubeClientFor(ctx, where.cluster, '`inCluster.cluster`');
  const pods = await kube.listPods(where.namespace, scheduledRunbookSelector(where.name));
  const pod = pods.find((candidate) => candidate.phase === 'Running');
  if (!pod) {
    const seen = pods.length > 0 ? `; found ${pods.map((candidate) => `${candidate.name} (${candidate.phase})`).join(', ')}` : '';
    return { statePath: `${file} in ${podsOf(where)}`, running: false, unreadable: true, loaded: { state: undefined, problem: `none of ${podsOf(where)} is running${seen}, and the state is read in a running one` } };
  }
  const ref = { namespace: where.namespace, pod: pod.name, signal: ctx.signal };
  const statePath = `${file} in pod ${where.namespace}/${pod.name} on cluster '${where.cluster}'`;
  const exitsZero = (command: string[]) =>
    kube.exec({ ...ref, command }).then(
      () => true,
      (error: unknown) => {
        if (error instanceof PodCommandError) return false;
        throw error;
      },
    );
  const running = await exitsZero(['test', '-e', posix.join(posix.dirname(file), LOCK_FILE_NAME)]);
  if (!(await exitsZero(['test', '-f', file]))) return { statePath, running, loaded: { state: undefined, problem: `there is no state file ${statePath}` } };
  const text = await kube.execText({ ...ref, command: ['head', '-c', String(MAX_STATE_BYTES + 1), '--', file] });
  if (Buffer.byteLength(text) > MAX_STATE_BYTES) return { statePath, running, loaded: { state: undefined, problem: `the state file ${statePath} is larger than ${MAX_STATE_BYTES} bytes` } };
  return { statePath, running, loaded: parseMirrorState(text, identity, `the state file ${statePath}`) };
}

export const frigateSnapshotsMirrorStatus = defineAction({
  id: 'frigate.snapshots.mirror.status',
  title: 'Show Frigate Snapshot Mirror Status',
  description:
    "Shows a snapshot mirror's statistics from its state file: events tracked, failed events with their last errors, how far it got, its last run and its health. Reads nothing but the state: in the workspace, or with `inCluster` in the pod that runs the mirror.",
  params: statusParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const target = params.inCluster ? `${mirrorStatePath(POD_WORKSPACE, params, posix)} in the running pod of ${podsOf(params.inCluster)}` : mirrorStatePath(ctx.workspaceDir, params);
    return { summary: `Show the snapshot mirror status of Frigate '${params.frigate}' to store '${params.store}'`, operations: [{ kind: 'read', target }], destructive: false };
  },
  async run(params, ctx): Promise<MirrorStatusResult> {
    frigateEntry(ctx, params.frigate);
    const identity = mirrorIdentity(ctx, params);
    const { statePath, loaded, running, unreadable } = params.inCluster ? await readStateInPod(ctx, params.inCluster, mirrorStatePath(POD_WORKSPACE, params, posix), identity) : await readStateHere(ctx, params, identity);
    const base = { frigate: params.frigate, store: params.store, bucket: identity.bucket, prefix: identity.prefix, statePath, running };
    if (!loaded.state) return { ...base, problem: loaded.problem, tracked: 0, failedEvents: [], health: unreadable ? 'unknown' : 'never run' };
    const { state } = loaded;
    const failed = [...state.failed];
    const health = state.lastRun?.health ?? 'OK';
    return {
      ...base,
      tracked: state.tracked,
      failedEvents: failed,
      ...(state.cursor === undefined ? {} : { cursor: new Date(state.cursor * 1000).toISOString() }),
      ...(state.lastRun ? { lastRun: state.lastRun } : {}),
      health: failed.length > 0 && health === 'OK' ? `OK, ${formatCount(failed.length, 'failed event')}` : health,
    };
  },
  render(result: MirrorStatusResult) {
    const head = `Snapshot mirror of Frigate '${result.frigate}' to s3://${result.bucket}/${result.prefix}${result.running ? ' (running now)' : ''}`;
    if (result.problem) return `${head}: no state to show (${result.problem}).`;
    const last = result.lastRun ? `Last run ${result.lastRun.startedAt}${result.lastRun.endedAt ? ` to ${result.lastRun.endedAt}` : ' (did not finish)'}: ${result.lastRun.uploaded} uploaded, ${result.lastRun.failed} failed.` : 'No run recorded.';
    return [
      `${head}.`,
      '',
      `Tracked Events: ${result.tracked}, Failed Events: ${result.failedEvents.length}, Health: ${result.health}`,
      '',
      last,
      ...(result.cursor ? ['', `Every event up to ${result.cursor} is mirrored or failed.`] : []),
      '',
      renderFailedEvents(result.failedEvents),
      '',
      `State: ${result.statePath}`,
    ].join('\n');
  },
});
