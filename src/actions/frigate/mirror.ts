import { createHash } from 'node:crypto';
import path from 'node:path';
import * as z from 'zod';
import { sleep } from '../../clients/retry';
import { S3StoreError } from '../../clients/s3';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import { acquireLock, folderLockStore, LocationLockedError, type HeldLock, type LockStore } from '../../core/locks';
import { formatCount, formatDuration, markdownTable, printable } from '../../core/render';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { kubeLeaseLockStore } from '../locationLocks';
import { kubernetesName, namespaceName } from '../schedule/k8sFields';
import { s3StoreFor } from '../s3Stores';
import { normalizePrefix } from './mirrorKeys';
import { renderStats, SnapshotMirror, type MirrorOutcome } from './mirrorRun';
import { defaultStatePath, loadMirrorState, MirrorState, type FailedEvent, type MirrorIdentity } from './mirrorState';
import { frigateClientFor, frigateEntry, frigateInstanceParam } from './target';

/** The defaults of the procedure the mirror replaces (S3_PATH_PREFIX, S3_UPLOAD_THREADS, S3_BATCH_SIZE, …). */
export const MIRROR_DEFAULTS = { prefix: 'frigate/snapshots', storageClass: 'STANDARD_IA', workers: 8, batchSize: 50, maxFailedRetries: 3, retentionDays: 7 } as const;
/** How often a mirror that waits for another one's lock looks again. */
const LOCK_WAIT_MS = 2_000;

const storeParam = z.string().min(1).describe('Name of an S3 store in `stores:` of lifeboat.yaml.');
const prefixParam = z.string().max(512).default(MIRROR_DEFAULTS.prefix).describe('Key prefix: snapshots go to `{prefix}/{camera}/{YYYY-MM-DD}/{event-id}-{YYYYMMDD_HHMMSS}.jpg` (UTC).');
const stateParam = z.string().min(1).optional().describe('State file (relative to the workspace); by default one per Frigate, store and prefix under `.lifeboat/frigate-mirror/`. The lock that keeps a second mirror out lives beside it.');

const mirrorParams = z
  .object({
    frigate: frigateInstanceParam,
    store: storeParam,
    prefix: prefixParam,
    storageClass: z.string().regex(/^[A-Z_]*$/).default(MIRROR_DEFAULTS.storageClass).describe('S3 storage class of the snapshots (empty: the bucket\'s default).'),
    workers: z.int().min(1).max(64).default(MIRROR_DEFAULTS.workers).describe('Snapshots uploaded at once.'),
    batchSize: z.int().min(1).max(1000).default(MIRROR_DEFAULTS.batchSize).describe('Events asked of Frigate per page.'),
    maxFailedRetries: z.int().min(0).max(100).default(MIRROR_DEFAULTS.maxFailedRetries).describe('Retries from the retry queue before an event is marked failed (with its last error).'),
    retryFailed: z.boolean().default(false).describe('Upload the events earlier runs marked failed again.'),
    retryDelayMs: z.int().min(1).max(60_000).default(1000).describe('Delay before the first retry of an event; each later one doubles it (with jitter), up to a minute.'),
    retentionDays: z.int().min(1).max(3650).default(MIRROR_DEFAULTS.retentionDays).describe('Failed events and upload counts older than this (by Frigate\'s event times) are dropped from the state.'),
    watch: z.boolean().default(false).describe('Keep mirroring new events until cancelled.'),
    pollSeconds: z.number().min(0.05).max(3600).default(10).describe('With `watch`: how often Frigate is asked for new events.'),
    outageMinutes: z.number().min(0).max(1440).default(10).describe('Without `watch`: how long a store that stopped answering is waited for before the run stops (the queued events go in the next run).'),
    wait: z.boolean().default(false).describe('When another mirror of the same state runs: wait for it to finish instead of stopping at once.'),
    state: stateParam,
    lease: z
      .object({
        cluster: clusterParam,
        namespace: namespaceName.describe('The namespace of the Lease.'),
        name: kubernetesName.optional().describe('The Lease; by default one per Frigate, store and prefix.'),
      })
      .strict()
      .optional()
      .describe('In a cluster, where mirrors in pods share no state folder: also hold this Kubernetes Lease (coordination.k8s.io) for the run, so two of them never upload at once.'),
  })
  .strict();

type MirrorParams = z.output<typeof mirrorParams>;

export interface MirrorResult extends MirrorOutcome {
  frigate: string;
  store: string;
  bucket: string;
  prefix: string;
  statePath: string;
  /** Why the state was rebuilt from the bucket's listing, when it was. */
  rebuilt?: string;
  /** Start of the newest event every earlier one is settled up to (Frigate's clock), ISO. */
  cursor?: string;
  failedEvents: FailedEvent[];
  durationMs: number;
}

/** The state file of a mirror run in `workspaceDir` (`paths` is `path.posix` for a workspace in a pod). */
export function mirrorStatePath(workspaceDir: string, params: { frigate: string; store: string; prefix: string; state?: string | undefined }, paths: path.PlatformPath = path): string {
  return params.state ? paths.resolve(workspaceDir, params.state) : defaultStatePath(workspaceDir, params, paths);
}

export function mirrorIdentity(ctx: ActionContext, params: { frigate: string; store: string; prefix: string }): MirrorIdentity {
  const entry = ctx.inventory.stores?.[params.store];
  if (!entry) throw new Error(`no S3 store '${params.store}' under \`stores:\` in lifeboat.yaml`);
  return { frigate: params.frigate, store: params.store, bucket: entry.bucket, prefix: normalizePrefix(params.prefix) };
}

/** The Lease of a mirror when `lease.name` is not given: one per Frigate, store and prefix, as its state file is. */
function defaultLeaseName(identity: MirrorIdentity): string {
  const digest = createHash('sha256').update([identity.frigate, identity.store, identity.bucket, identity.prefix].join('\0')).digest('hex');
  return `lifeboat-snapshot-mirror-${digest.slice(0, 12)}`;
}

/** The locks a run holds, the Lease (when asked) first: stopped by either one's loss, released together. */
class MirrorLocks {
  constructor(private readonly held: readonly HeldLock[]) {}

  assertHeld(): void {
    for (const lock of this.held) lock.assertHeld();
  }

  async release(): Promise<void> {
    for (const lock of [...this.held].reverse()) await lock.release();
  }
}

async function lockMirror(ctx: ActionContext, params: MirrorParams, identity: MirrorIdentity, statePath: string): Promise<MirrorLocks> {
  const held: HeldLock[] = [];
  try {
    if (params.lease) {
      const { cluster, namespace, name = defaultLeaseName(identity) } = params.lease;
      const kube = await kubeClientFor(ctx, cluster, '`lease.cluster`');
      held.push(await lockState(ctx, kubeLeaseLockStore(kube, namespace, name, `Lease ${namespace}/${name} on cluster '${cluster}'`), params.wait));
    }
    held.push(await lockState(ctx, folderLockStore(path.dirname(statePath)), params.wait));
    return new MirrorLocks(held);
  } catch (error) {
    await new MirrorLocks(held).release();
    throw error;
  }
}

/** Takes one lock; another mirror holding it stops this one, or is waited for with `wait`. */
async function lockState(ctx: ActionContext, store: LockStore, wait: boolean): Promise<HeldLock> {
  for (;;) {
    try {
      return await acquireLock(store, { action: frigateSnapshotsMirror.id, ...(ctx.runbook ? { runbook: ctx.runbook } : {}) }, ctx.log);
    } catch (error) {
      if (!(error instanceof LocationLockedError) || !wait) {
        if (error instanceof LocationLockedError) throw new LocationLockedError(`another snapshot mirror is running: ${error.message}. Set \`wait: true\` to wait for it`, error.holder);
        throw error;
      }
      ctx.progress.report({ message: `waiting for the other mirror to finish (${error.message})` });
      await sleep(LOCK_WAIT_MS, ctx.signal);
    }
  }
}

/** A listing the store fails to answer is asked again (with backoff) for as long as an outage is waited for during uploads. */
async function whenStoreAnswers<Result>(ctx: ActionContext, label: string, params: MirrorParams, work: () => Promise<Result>): Promise<Result> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const down = error instanceof S3StoreError && ['unreachable', 'connection-lost', 'server', 'throttled'].includes(error.kind);
      if (!down || (!params.watch && Date.now() - started > params.outageMinutes * 60_000)) throw error;
      ctx.progress.report({ message: `Health: S3 unavailable: ${errorMessage(error)}; waiting for ${label}` });
      await sleep(Math.min(15_000, params.retryDelayMs * 2 ** Math.min(attempt - 1, 10)) * (0.5 + Math.random() / 2), ctx.signal);
    }
  }
}

async function runMirror(params: MirrorParams, ctx: ActionContext): Promise<MirrorResult> {
  const started = Date.now();
  frigateEntry(ctx, params.frigate);
  const identity = mirrorIdentity(ctx, params);
  const statePath = mirrorStatePath(ctx.workspaceDir, params);
  const lock = await lockMirror(ctx, params, identity, statePath);
  try {
    const [frigate, store] = await Promise.all([frigateClientFor(ctx, params.frigate), s3StoreFor(ctx, params.store)]);
    const loaded = await loadMirrorState(statePath, identity);
    let state: MirrorState;
    let rebuilt: string | undefined;
    if (loaded.state) {
      state = loaded.state;
    } else {
      ctx.progress.report({ message: `rebuilding the mirror state from the bucket: ${loaded.problem}` });
      const fromBucket = await whenStoreAnswers(ctx, store.label, params, () => MirrorState.rebuild(store, identity, ctx.signal));
      state = fromBucket.state;
      rebuilt = `${loaded.problem}; it was rebuilt from the listing of s3://${identity.bucket}/${identity.prefix} (${formatCount(fromBucket.objects, 'snapshot')} already there, not uploaded again)`;
      ctx.log.warn(rebuilt);
    }
    state.lastRun = { startedAt: new Date(started).toISOString(), endedAt: null, uploaded: 0, failed: 0, health: 'OK' };
    const mirror = new SnapshotMirror(
      {
        frigate,
        store,
        state,
        lock,
        save: () => state.save(statePath),
        settings: {
          prefix: identity.prefix,
          storageClass: params.storageClass,
          workers: params.workers,
          batchSize: params.batchSize,
          maxFailedRetries: params.maxFailedRetries,
          retryBaseDelayMs: params.retryDelayMs,
          retentionDays: params.retentionDays,
          watch: params.watch,
          pollMs: params.pollSeconds * 1000,
          outageTimeoutMs: params.outageMinutes * 60_000,
        },
        signal: ctx.signal,
        log: ctx.log,
        progress: ctx.progress,
      },
      params.retryFailed,
    );
    const outcome = await mirror.run().finally(async () => {
      const stats = mirror.stats();
      state.lastRun = { startedAt: new Date(started).toISOString(), endedAt: new Date().toISOString(), uploaded: stats.success, failed: stats.failed, health: stats.health };
      await state.save(statePath);
    });
    return {
      frigate: params.frigate,
      store: params.store,
      bucket: identity.bucket,
      prefix: identity.prefix,
      statePath,
      ...(rebuilt ? { rebuilt } : {}),
      ...outcome,
      ...(state.cursor === undefined ? {} : { cursor: new Date(state.cursor * 1000).toISOString() }),
      failedEvents: [...state.failed],
      durationMs: Date.now() - started,
    };
  } finally {
    await lock.release();
  }
}

export function renderFailedEvents(failed: readonly FailedEvent[], limit = 50): string {
  if (failed.length === 0) return 'No failed events.';
  const rows = failed.slice(0, limit).map((event) => [printable(event.id), printable(event.camera), new Date(event.startTime * 1000).toISOString(), event.attempts, printable(event.error)]);
  const more = failed.length > limit ? `\n\n…and ${failed.length - limit} more.` : '';
  return `${markdownTable(['Event', 'Camera', 'Start (UTC)', 'Attempts', 'Last error'], rows)}${more}`;
}

export const frigateSnapshotsMirror = defineAction({
  id: 'frigate.snapshots.mirror',
  title: 'Mirror Frigate Snapshots to S3',
  description:
    'Uploads the snapshot of every Frigate event that has one to an S3 store, oldest first from where the last run stopped, as `{prefix}/{camera}/{YYYY-MM-DD}/{event-id}-{YYYYMMDD_HHMMSS}.jpg`. Uploads are confirmed by the store (Content-MD5), retried with backoff, and marked failed after `maxFailedRetries`; the state survives restarts and is rebuilt from the bucket when lost. `watch` keeps mirroring until cancelled.',
  params: mirrorParams,
  destructive: false,
  steadyHeap: true,
  async plan(params, ctx) {
    const identity = mirrorIdentity(ctx, params);
    const entry = frigateEntry(ctx, params.frigate);
    const statePath = mirrorStatePath(ctx.workspaceDir, params);
    const loaded = await loadMirrorState(statePath, identity);
    const from = loaded.state?.cursor === undefined ? (loaded.state ? 'the oldest event' : `the oldest event not in the bucket (${loaded.problem}; rebuilt from its listing)`) : `after ${new Date(loaded.state.cursor * 1000).toISOString()}`;
    const failed = loaded.state?.failed.length ?? 0;
    return {
      summary: `Mirror the snapshots of Frigate '${params.frigate}' to s3://${identity.bucket}/${identity.prefix}, from ${from}${params.watch ? ', then keep watching' : ''}`,
      operations: [
        { kind: 'read', target: `${entry.url} /api/events (has_snapshot)`, detail: `pages of ${params.batchSize}` },
        { kind: 'create', target: `s3://${identity.bucket}/${identity.prefix}/`, detail: `${params.storageClass || 'default'} storage class, ${params.workers} at once${failed > 0 ? `; ${formatCount(failed, 'failed event')} ${params.retryFailed ? 'retried' : 'left as failed (retryFailed: false)'}` : ''}` },
        { kind: 'overwrite', target: statePath, detail: 'mirror state' },
      ],
      destructive: false,
    };
  },
  run: runMirror,
  render(result: MirrorResult) {
    const lines = [
      `Mirrored the snapshots of Frigate '${result.frigate}' to s3://${result.bucket}/${result.prefix} in ${formatDuration(result.durationMs)}: ${formatCount(result.uploaded, 'snapshot')} uploaded${result.found > 0 ? `, ${result.found} found already there` : ''}${result.failed > 0 ? `, ${result.failed} failed` : ''}${result.retried > 0 ? ` (${result.retried} failed events retried)` : ''}.`,
      '',
      renderStats(result.stats),
    ];
    if (result.rebuilt) lines.push('', `${result.rebuilt.charAt(0).toUpperCase()}${result.rebuilt.slice(1)}.`);
    if (result.inProgress > 0) lines.push('', `${formatCount(result.inProgress, 'event')} still in progress at Frigate: mirrored by a later run.`);
    if (result.cursor) lines.push('', `Every event up to ${result.cursor} is mirrored or failed.`);
    if (result.failedEvents.length > 0) lines.push('', renderFailedEvents(result.failedEvents), '', 'Run again with `retryFailed: true` to retry them.');
    return lines.join('\n');
  },
});

export { mirrorParams, storeParam, prefixParam, stateParam };
