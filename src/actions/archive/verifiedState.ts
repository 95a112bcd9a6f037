import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { writeFileAtomically } from '../../core/atomicFiles';

/**
 * `.lifeboat-verified.json` in an archive folder remembers the last verification of each archive
 * (by file name), so `archive.list` can show it without reading any archive. It is a cache of
 * evidence, not a source of truth: a missing or damaged file just means "never verified".
 */

export const VERIFIED_STATE_FILE = '.lifeboat-verified.json';

const verificationRecordSchema = z.object({
  verifiedAt: z.string(),
  ok: z.boolean(),
  sha256: z.string().optional(),
  /** Size at verification time: a record for a different size describes another file. */
  bytes: z.number().optional(),
});

export type VerificationRecord = z.infer<typeof verificationRecordSchema>;
export type VerifiedState = Record<string, VerificationRecord>;

/** Whether a record describes the file now under its name: one made for another size does not. */
export function recordApplies(record: VerificationRecord | undefined, bytes: number): record is VerificationRecord {
  return record !== undefined && (record.bytes === undefined || record.bytes === bytes);
}

export async function readVerifiedState(directory: string): Promise<VerifiedState> {
  let text: string;
  try {
    text = await readFile(path.join(directory, VERIFIED_STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const state: VerifiedState = {};
  for (const [name, value] of Object.entries(parsed)) {
    const record = verificationRecordSchema.safeParse(value);
    if (record.success) state[name] = record.data;
  }
  return state;
}

/**
 * Merges records into the state file (`null` removes a name) and replaces it atomically. Two
 * processes updating the same folder at the same instant can lose one update; the loser's archive
 * then shows as never verified, which is the safe direction.
 */
export async function updateVerifiedState(directory: string, updates: Readonly<Record<string, VerificationRecord | null>>): Promise<void> {
  const state = await readVerifiedState(directory);
  for (const [name, record] of Object.entries(updates)) {
    if (record === null) delete state[name];
    else state[name] = record;
  }
  const sorted = Object.fromEntries(Object.entries(state).sort(([a], [b]) => a.localeCompare(b)));
  await writeFileAtomically(path.join(directory, VERIFIED_STATE_FILE), `${JSON.stringify(sorted, null, 2)}\n`, { overwrite: true });
}
