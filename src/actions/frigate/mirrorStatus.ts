import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { LOCK_FILE_NAME } from '../../core/locks';
import { formatCount } from '../../core/render';
import { mirrorIdentity, mirrorStatePath, prefixParam, renderFailedEvents, stateParam, storeParam } from './mirror';
import { loadMirrorState, type FailedEvent, type LastRun } from './mirrorState';
import { frigateEntry, frigateInstanceParam } from './target';

const statusParams = z.object({ frigate: frigateInstanceParam, store: storeParam, prefix: prefixParam, state: stateParam }).strict();

export interface MirrorStatusResult {
  frigate: string;
  store: string;
  bucket: string;
  prefix: string;
  statePath: string;
  /** Why there is no state to show (never run, or a file that is corrupt). */
  problem?: string;
  tracked: number;
  failedEvents: FailedEvent[];
  cursor?: string;
  lastRun?: LastRun;
  /** A run holds the lock now (its lock file is there). */
  running: boolean;
  health: string;
}

export const frigateSnapshotsMirrorStatus = defineAction({
  id: 'frigate.snapshots.mirror.status',
  title: 'Show Frigate Snapshot Mirror Status',
  description: "Shows a snapshot mirror's statistics from its state file: events tracked, failed events with their last errors, how far it got, its last run and its health. Reads nothing but the state.",
  params: statusParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    return { summary: `Show the snapshot mirror status of Frigate '${params.frigate}' to store '${params.store}'`, operations: [{ kind: 'read', target: mirrorStatePath(ctx, params) }], destructive: false };
  },
  async run(params, ctx): Promise<MirrorStatusResult> {
    frigateEntry(ctx, params.frigate);
    const identity = mirrorIdentity(ctx, params);
    const statePath = mirrorStatePath(ctx, params);
    const loaded = await loadMirrorState(statePath, identity);
    const running = await readFile(path.join(path.dirname(statePath), LOCK_FILE_NAME)).then(
      () => true,
      () => false,
    );
    const base = { frigate: params.frigate, store: params.store, bucket: identity.bucket, prefix: identity.prefix, statePath, running };
    if (!loaded.state) return { ...base, problem: loaded.problem, tracked: 0, failedEvents: [], health: 'never run' };
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
    if (result.problem) return `${head}: no state yet (${result.problem}).`;
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
    ].join('\n');
  },
});
