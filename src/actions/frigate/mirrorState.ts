/**
 * What a snapshot mirror remembers between runs, in one small JSON file written whole (temporary
 * name, then rename). It stays small however many events pass: every event that starts at or before
 * `cursor` is uploaded or failed, so only the events around and after the cursor are listed one by one
 * (those finished out of order), with the failed ones and a count of uploads per day for the
 * statistics. `frontier` is the newest event ever handed to an upload: one the state does not name
 * but that starts at or before it may have reached the bucket before a crash, so it is looked up
 * (HEAD) before it is sent again.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { S3Store } from '../../clients/s3';
import { makeFolders, writeFileAtomically } from '../../core/atomicFiles';
import { errorMessage } from '../../core/errors';
import { normalizePrefix, parseSnapshotKey, utcDay, type MirrorEvent } from './mirrorKeys';

const STATE_FORMAT = 'lifeboat.frigate-mirror/1';
/** Where in a workspace the mirrors keep their states, one folder each. */
const MIRROR_STATE_FOLDER = ['.lifeboat', 'frigate-mirror'] as const;
export const MIRROR_STATE_FILE = 'mirror-state.json';
/** A state file larger than this is not one this code wrote; it is rebuilt instead of read. */
export const MAX_STATE_BYTES = 64 * 1024 * 1024;
/**
 * Events are paged by `after`, which Frigate compares strictly: pages overlap by this many seconds so
 * events sharing a start time across a page boundary are never skipped; the overlap is recognised by id.
 */
export const PAGE_OVERLAP_SECONDS = 0.001;

export interface FailedEvent {
  id: string;
  camera: string;
  startTime: number;
  attempts: number;
  error: string;
  /** When it was marked failed (this machine's clock, for people). */
  failedAt: string;
}

/** Which mirror a state belongs to; a state of another mirror is never used nor overwritten. */
export interface MirrorIdentity {
  frigate: string;
  store: string;
  bucket: string;
  prefix: string;
}

interface StateFile extends MirrorIdentity {
  format: typeof STATE_FORMAT;
  cursor: number | null;
  frontier: number | null;
  /** Uploaded events at or after the cursor (less the overlap): `[id, startTime]`. */
  done: [string, number][];
  failed: FailedEvent[];
  /** Uploads per UTC day of the event, within the retention window: the tracked events. */
  days: Record<string, number>;
  /** Newest event start seen (Frigate's clock): the retention window ends there. */
  newest: number | null;
  lastRun: LastRun | null;
  updatedAt: string;
}

/** The statistics of the last run, as the tree and the status show them. */
export interface LastRun {
  startedAt: string;
  endedAt: string | null;
  uploaded: number;
  failed: number;
  health: string;
}

/**
 * The folder of a mirror's state (the lock lives beside the file): one per Frigate, store and prefix.
 * `paths` is `path.posix` for a workspace in a pod, whatever this machine's paths are.
 */
export function defaultStatePath(workspaceDir: string, identity: Pick<MirrorIdentity, 'frigate' | 'store' | 'prefix'>, paths: path.PlatformPath = path): string {
  const safe = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, '_');
  const prefixHash = createHash('sha256').update(normalizePrefix(identity.prefix)).digest('hex').slice(0, 8);
  return paths.join(workspaceDir, ...MIRROR_STATE_FOLDER, `${safe(identity.frigate)}--${safe(identity.store)}--${prefixHash}`, MIRROR_STATE_FILE);
}

export class MirrorState {
  cursor: number | undefined;
  frontier: number | undefined;
  newest: number | undefined;
  lastRun: LastRun | undefined;
  private readonly done = new Map<string, number>();
  private readonly failedEvents = new Map<string, FailedEvent>();
  private readonly days = new Map<string, number>();

  constructor(readonly identity: MirrorIdentity) {}

  get tracked(): number {
    let sum = 0;
    for (const count of this.days.values()) sum += count;
    return sum;
  }

  get failed(): readonly FailedEvent[] {
    return [...this.failedEvents.values()].sort((a, b) => a.startTime - b.startTime);
  }

  /** Uploaded, or failed and not to be retried now. */
  isSettled(id: string): boolean {
    return this.done.has(id) || this.failedEvents.has(id);
  }

  isUploaded(id: string): boolean {
    return this.done.has(id);
  }

  recordUploaded(event: MirrorEvent): void {
    this.done.set(event.id, event.startTime);
    this.failedEvents.delete(event.id);
    const day = utcDay(event.startTime);
    this.days.set(day, (this.days.get(day) ?? 0) + 1);
    this.seen(event.startTime);
  }

  recordFailed(failure: FailedEvent): void {
    this.failedEvents.set(failure.id, failure);
    this.seen(failure.startTime);
  }

  /** Takes the failed events out of the state, to be retried. */
  takeFailed(): FailedEvent[] {
    const failed = this.failed;
    this.failedEvents.clear();
    return [...failed];
  }

  seen(startTime: number): void {
    if (this.newest === undefined || startTime > this.newest) this.newest = startTime;
  }

  /** Every event up to `startTime` is settled; forgets the uploads the cursor now covers. */
  advanceCursor(startTime: number): void {
    if (this.cursor !== undefined && startTime <= this.cursor) return;
    this.cursor = startTime;
    const below = startTime - PAGE_OVERLAP_SECONDS - 1;
    for (const [id, time] of this.done) if (time < below) this.done.delete(id);
  }

  /** Forgets failed events and day counts older than the retention window, which ends at the newest event seen. */
  prune(retentionDays: number): void {
    if (this.newest === undefined) return;
    const oldest = this.newest - retentionDays * 86_400;
    const oldestDay = utcDay(oldest);
    for (const day of [...this.days.keys()]) if (day < oldestDay) this.days.delete(day);
    for (const [id, failure] of this.failedEvents) if (failure.startTime < oldest) this.failedEvents.delete(id);
  }

  serialize(): string {
    const file: StateFile = {
      format: STATE_FORMAT,
      ...this.identity,
      cursor: this.cursor ?? null,
      frontier: this.frontier ?? null,
      newest: this.newest ?? null,
      done: [...this.done],
      failed: [...this.failed],
      days: Object.fromEntries([...this.days].sort(([a], [b]) => a.localeCompare(b))),
      lastRun: this.lastRun ?? null,
      updatedAt: new Date().toISOString(),
    };
    return JSON.stringify(file);
  }

  async save(file: string): Promise<void> {
    await makeFolders(path.dirname(file));
    await writeFileAtomically(file, this.serialize(), { overwrite: true });
  }

  static parse(text: string, identity: MirrorIdentity): MirrorState {
    const data = JSON.parse(text) as Partial<StateFile>;
    if (data.format !== STATE_FORMAT) throw new Error(`it is not a snapshot mirror state (format ${JSON.stringify(data.format)})`);
    for (const field of ['frigate', 'store', 'bucket', 'prefix'] as const) {
      if (data[field] !== identity[field]) throw new ForeignStateError(`it belongs to another mirror (${field} ${JSON.stringify(data[field])}, not ${JSON.stringify(identity[field])})`);
    }
    const state = new MirrorState(identity);
    const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
    state.cursor = number(data.cursor);
    state.frontier = number(data.frontier);
    state.newest = number(data.newest);
    if (!Array.isArray(data.done) || !Array.isArray(data.failed) || typeof data.days !== 'object' || data.days === null) throw new Error('its lists are missing');
    for (const entry of data.done) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || number(entry[1]) === undefined) throw new Error('an uploaded event is malformed');
      state.done.set(entry[0], entry[1]);
    }
    for (const failure of data.failed) {
      if (typeof failure?.id !== 'string' || typeof failure.camera !== 'string' || number(failure.startTime) === undefined || typeof failure.error !== 'string') throw new Error('a failed event is malformed');
      state.failedEvents.set(failure.id, { id: failure.id, camera: failure.camera, startTime: failure.startTime, attempts: number(failure.attempts) ?? 0, error: failure.error, failedAt: String(failure.failedAt ?? '') });
    }
    for (const [day, count] of Object.entries(data.days)) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !Number.isInteger(count)) throw new Error(`the day count ${JSON.stringify(day)} is malformed`);
      state.days.set(day, count as number);
    }
    state.lastRun = data.lastRun ?? undefined;
    return state;
  }

  /** The events the bucket already holds under the prefix: what a lost state is rebuilt from. */
  static async rebuild(store: S3Store, identity: MirrorIdentity, signal: AbortSignal): Promise<{ state: MirrorState; objects: number }> {
    const state = new MirrorState(identity);
    const top = normalizePrefix(identity.prefix);
    let objects = 0;
    for await (const object of store.listObjects({ prefix: top ? `${top}/` : '', signal })) {
      const parsed = parseSnapshotKey(identity.prefix, object.key);
      if (!parsed) continue;
      objects++;
      // The key keeps the start to the second: the event counts as uploaded from its second on.
      state.recordUploaded({ id: parsed.id, camera: parsed.camera, startTime: parsed.startSecond, inProgress: false });
    }
    return { state, objects };
  }
}

export class ForeignStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForeignStateError';
  }
}

/** A mirror found in the workspace: its identity as its state file names it, and that state. */
export interface FoundMirror {
  file: string;
  folder: string;
  state: MirrorState;
}

/** The mirrors whose states the workspace holds under `.lifeboat/frigate-mirror/`, those of `frigate` only; unreadable states are left out. */
export async function findMirrors(workspaceDir: string, frigate: string): Promise<FoundMirror[]> {
  const root = path.join(workspaceDir, ...MIRROR_STATE_FOLDER);
  const folders = await readdir(root).catch(() => [] as string[]);
  const found: FoundMirror[] = [];
  for (const folder of folders.sort()) {
    const file = path.join(root, folder, MIRROR_STATE_FILE);
    try {
      if ((await stat(file)).size > MAX_STATE_BYTES) continue;
      const text = await readFile(file, 'utf8');
      const claimed = JSON.parse(text) as Partial<MirrorIdentity>;
      if (claimed.frigate !== frigate || typeof claimed.store !== 'string' || typeof claimed.bucket !== 'string' || typeof claimed.prefix !== 'string') continue;
      found.push({ file, folder, state: MirrorState.parse(text, { frigate, store: claimed.store, bucket: claimed.bucket, prefix: claimed.prefix }) });
    } catch {
      // Not a state this code can read: the mirror's next run says why and rebuilds it.
    }
  }
  return found;
}

export type LoadedState = { state: MirrorState; problem?: undefined } | { state: undefined; problem: string };

/** Reads a state file: missing, unreadable or corrupt files come back as a problem to rebuild from; another mirror's state is an error. */
export async function loadMirrorState(file: string, identity: MirrorIdentity): Promise<LoadedState> {
  let text: string;
  try {
    const info = await stat(file);
    if (info.size > MAX_STATE_BYTES) return { state: undefined, problem: `the state file ${file} is larger than ${MAX_STATE_BYTES} bytes` };
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: undefined, problem: `there is no state file ${file}` };
    return { state: undefined, problem: `the state file ${file} cannot be read: ${errorMessage(error)}` };
  }
  return parseMirrorState(text, identity, `the state file ${file}`);
}

/** A state's text read from `where` (a file here, or one in a pod): corrupt is a problem, another mirror's state an error. */
export function parseMirrorState(text: string, identity: MirrorIdentity, where: string): LoadedState {
  try {
    return { state: MirrorState.parse(text, identity) };
  } catch (error) {
    if (error instanceof ForeignStateError) throw new ForeignStateError(`${where} ${error.message}; give this mirror its own \`state\` path`);
    return { state: undefined, problem: `${where} is corrupt (${errorMessage(error)})` };
  }
}
