/**
 * The tiered storage policy for recordings, as a pure function of two folder listings and the time:
 * a file older than `moveAfterDays` leaves tier 1 for tier 2; on tier 2, one older than
 * `notifyAfterDays` is due for a notice, and one older than `expireAfterDays` is archived or deleted,
 * unless it is flagged for retention by a marker file beside it (`clip.mp4.keep` keeps `clip.mp4`).
 * Ages are from modification times, which every move keeps.
 */
import type { RemoteEntry } from '../sync/remoteListing';

export interface TierPolicy {
  moveAfterDays: number;
  notifyAfterDays: number;
  expireAfterDays: number;
  /** The suffix of a marker file that flags the file it is named after for retention. */
  retainMarker: string;
}

export interface TierFile {
  path: string;
  bytes: number;
  ageDays: number;
}

export interface TierClassification {
  /** Tier 1 files young enough to stay there. */
  stay: TierFile[];
  /** Tier 1 files to move to tier 2 (with the markers of those that have one). */
  move: TierFile[];
  /** Tier 2 files (after the move) between the notice and the expiry age. */
  notice: TierFile[];
  /** Tier 2 files (after the move) past the expiry age and not flagged: archived or deleted. */
  expire: TierFile[];
  /** Tier 2 files past the expiry age that a marker keeps. */
  retained: TierFile[];
  /** Everything on tier 2 once the move is done and before expiry. */
  tier2: TierFile[];
}

const DAY_MS = 86_400_000;

export function checkPolicy(policy: TierPolicy): void {
  if (!(policy.moveAfterDays <= policy.notifyAfterDays && policy.notifyAfterDays <= policy.expireAfterDays)) {
    throw new Error(`the ages must grow: moveAfterDays (${policy.moveAfterDays}) ≤ notifyAfterDays (${policy.notifyAfterDays}) ≤ expireAfterDays (${policy.expireAfterDays})`);
  }
}

function filesOf(entries: readonly RemoteEntry[], now: number): TierFile[] {
  return entries.filter((entry) => entry.type === 'f').map((entry) => ({ path: entry.path, bytes: entry.size, ageDays: (now - entry.mtimeSeconds * 1000) / DAY_MS }));
}

export function classify(tier1: readonly RemoteEntry[], tier2: readonly RemoteEntry[], policy: TierPolicy, now: number): TierClassification {
  const isMarker = (path: string) => path.endsWith(policy.retainMarker);
  const first = filesOf(tier1, now);
  const firstPaths = new Set(first.map((file) => file.path));
  const moving = first.filter((file) => !isMarker(file.path) && file.ageDays > policy.moveAfterDays);
  const movingPaths = new Set(moving.map((file) => file.path));
  // A marker goes with its file; a marker of nothing on tier 1 stays where it is.
  const markers = first.filter((file) => isMarker(file.path) && movingPaths.has(file.path.slice(0, -policy.retainMarker.length)));
  const move = [...moving, ...markers].sort((a, b) => a.path.localeCompare(b.path));
  const moved = new Set(move.map((file) => file.path));
  const stay = first.filter((file) => !moved.has(file.path));
  const after = new Map(filesOf(tier2, now).map((file) => [file.path, file]));
  for (const file of move) after.set(file.path, file);
  const tier2Files = [...after.values()].sort((a, b) => a.path.localeCompare(b.path));
  const flagged = (path: string) => after.has(path + policy.retainMarker) || (firstPaths.has(path + policy.retainMarker) && !moved.has(path + policy.retainMarker));
  const videos = tier2Files.filter((file) => !isMarker(file.path));
  return {
    stay,
    move,
    notice: videos.filter((file) => file.ageDays > policy.notifyAfterDays && file.ageDays <= policy.expireAfterDays),
    expire: videos.filter((file) => file.ageDays > policy.expireAfterDays && !flagged(file.path)),
    retained: videos.filter((file) => file.ageDays > policy.expireAfterDays && flagged(file.path)),
    tier2: tier2Files,
  };
}

export interface Tally {
  files: number;
  bytes: number;
}

export function tally(files: readonly TierFile[]): Tally {
  return { files: files.length, bytes: files.reduce((sum, file) => sum + file.bytes, 0) };
}
