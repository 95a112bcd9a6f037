import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { unlinkIfPresent } from '../../core/atomicFiles';
import { sidecarPath } from './checksum';
import { compileNameMatcher } from './naming';
import { updateVerifiedState } from './verifiedState';

/**
 * "Keep the last N" for archives `archive.create` made: only regular files whose name this
 * pattern and prefix produce are ever candidates, so other prefixes, legacy names and foreign
 * files in the same folder are never touched.
 */

export interface RetentionCandidate {
  name: string;
  path: string;
  bytes: number;
  /** YYYYMMDDhhmmss from the name; the primary sort key. */
  timestampKey: string;
  mtimeMs: number;
}

export async function findRetentionCandidates(directory: string, pattern: string, prefix: string): Promise<RetentionCandidate[]> {
  const matchName = compileNameMatcher(pattern, prefix);
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const candidates: RetentionCandidate[] = [];
  for (const name of names) {
    const timestampKey = matchName(name);
    if (timestampKey === undefined) continue;
    const filePath = path.join(directory, name);
    const stats = await lstat(filePath);
    if (!stats.isFile()) continue;
    candidates.push({ name, path: filePath, bytes: stats.size, timestampKey, mtimeMs: stats.mtimeMs });
  }
  return candidates;
}

/**
 * The candidates to delete so that `keep` remain, newest by name timestamp (then mtime). The
 * archive just written and verified counts as kept whatever its timestamp says, so a clock that
 * went backwards can never make retention delete the only good new archive.
 */
export function selectForDeletion(candidates: readonly RetentionCandidate[], keep: number, newArchiveName: string): RetentionCandidate[] {
  const others = candidates.filter((candidate) => candidate.name !== newArchiveName).sort(newestFirst);
  const othersToKeep = Math.max(0, keep - 1);
  return others.slice(othersToKeep);
}

function newestFirst(a: RetentionCandidate, b: RetentionCandidate): number {
  if (a.timestampKey !== b.timestampKey) return a.timestampKey < b.timestampKey ? 1 : -1;
  if (a.mtimeMs !== b.mtimeMs) return b.mtimeMs - a.mtimeMs;
  return b.name.localeCompare(a.name);
}

/** Deletes archives with their checksum sidecars and forgets their verification records. */
export async function deleteArchives(directory: string, doomed: readonly { name: string; path: string }[]): Promise<void> {
  for (const archive of doomed) {
    await unlinkIfPresent(archive.path);
    await unlinkIfPresent(sidecarPath(archive.path));
  }
  if (doomed.length > 0) {
    await updateVerifiedState(directory, Object.fromEntries(doomed.map((archive) => [archive.name, null])));
  }
}
