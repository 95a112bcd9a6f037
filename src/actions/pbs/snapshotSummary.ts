import type { PbsSnapshot } from '../../clients/pbs';
import { printable } from '../../core/render';

export type VerificationState = 'ok' | 'failed' | 'none';

/** One snapshot as results, the tree and tables show it: text from the server made printable. */
export interface SnapshotSummary {
  type: PbsSnapshot['type'];
  id: string;
  /** Unix epoch seconds, as PBS names the snapshot. */
  epoch: number;
  /** The same time in UTC, `2026-12-06T02:00:00Z`. */
  time: string;
  size: number | null;
  verification: VerificationState;
  /** The task that last verified it. */
  verifyTask: string | null;
  protected: boolean;
  encrypted: boolean;
  comment: string | null;
  owner: string | null;
}

/** A snapshot's time as PBS writes it in paths and logs: RFC 3339 in UTC, whole seconds. */
export function snapshotTime(epoch: number): string {
  // `YYYY-MM-DDTHH:MM:SS` of toISOString, without its milliseconds.
  return `${new Date(epoch * 1000).toISOString().slice(0, 19)}Z`;
}

/** `datastore 'store1'`, or `namespace 'prod' of datastore 'store1'`, as messages name where snapshots are. */
export function describeStore(datastore: string, namespace: string | undefined | null): string {
  const store = `datastore '${printable(datastore)}'`;
  return namespace ? `namespace '${printable(namespace)}' of ${store}` : store;
}

/** `vm/100/2026-12-06T02:00:00Z`, the way PBS names a snapshot. */
export function snapshotName(snapshot: Pick<SnapshotSummary, 'type' | 'id' | 'time'>): string {
  return `${snapshot.type}/${printable(snapshot.id)}/${snapshot.time}`;
}

export function summarizeSnapshot(snapshot: PbsSnapshot): SnapshotSummary {
  return {
    type: snapshot.type,
    id: snapshot.id,
    epoch: snapshot.time,
    time: snapshotTime(snapshot.time),
    size: snapshot.size ?? null,
    verification: snapshot.verification?.state ?? 'none',
    verifyTask: snapshot.verification?.upid ?? null,
    protected: snapshot.protected,
    encrypted: snapshot.files.some((file) => file.cryptMode === 'encrypt'),
    comment: snapshot.comment === undefined ? null : printable(snapshot.comment),
    owner: snapshot.owner ?? null,
  };
}

/** Newest first, then by type and id. */
export function newestFirst(a: SnapshotSummary, b: SnapshotSummary): number {
  return b.epoch - a.epoch || a.type.localeCompare(b.type) || a.id.localeCompare(b.id);
}

export function describeVerification(state: VerificationState): string {
  if (state === 'ok') return 'verified';
  if (state === 'failed') return 'verification FAILED';
  return 'not verified';
}
