/**
 * The snapshot mirror at work: pages through Frigate's events with a snapshot, oldest first from the
 * state's cursor (Frigate's own clock: the local one never enters the cursor), and uploads each
 * snapshot with `workers` uploads at once. An upload counts only once the store confirmed it (Content-MD5
 * checked by the store, the ETag compared where it is an MD5). A failed upload waits in the retry queue
 * (exponential backoff, full jitter) and is marked failed after `maxFailedRetries` retries. When the store
 * stops answering altogether, uploads pause and it is probed until it is back: nothing is dropped and no
 * event is charged for the outage.
 */
import { createHash } from 'node:crypto';
import { FrigateError, type FrigateClient } from '../../clients/frigate';
import { sleep } from '../../clients/retry';
import { S3StoreError, type S3Store } from '../../clients/s3';
import type { Logger, ProgressReporter } from '../../core/actions/spec';
import { CancelledError, errorMessage, isCancellationError, SignalScopes } from '../../core/errors';
import type { HeldLock } from '../../core/locks';
import { formatDuration, printable } from '../../core/render';
import { readEvent, snapshotKey, unsafeNameReason, type MirrorEvent } from './mirrorKeys';
import { PAGE_OVERLAP_SECONDS, type FailedEvent, type MirrorState } from './mirrorState';

/** A snapshot larger than this is no snapshot: refused rather than held in memory. */
export const MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;
/** The longest wait between two retries of an event, and between two probes of a store that is down. */
const MAX_RETRY_DELAY_MS = 60_000;
/** State saved at most this often while uploads finish (and always before a new page is handed out). */
const SAVE_INTERVAL_MS = 1_000;
const REPORT_INTERVAL_MS = 500;

export interface MirrorSettings {
  prefix: string;
  storageClass: string;
  workers: number;
  batchSize: number;
  maxFailedRetries: number;
  retryBaseDelayMs: number;
  retentionDays: number;
  watch: boolean;
  pollMs: number;
  /** Without `watch`: how long a store that is down is waited for before the run stops (its work kept for the next). */
  outageTimeoutMs: number;
}

export interface MirrorStats {
  success: number;
  failed: number;
  retryQueue: number;
  tracked: number;
  failedEvents: number;
  health: string;
}

export interface MirrorOutcome {
  uploaded: number;
  /** Found in the bucket already (sent before a crash the state did not record). */
  found: number;
  failed: number;
  /** Failed events of earlier runs retried in this one. */
  retried: number;
  /** Still in progress at Frigate: left for a later run, the cursor stays before them. */
  inProgress: number;
  stats: MirrorStats;
}

type EntryStatus = 'waiting' | 'uploading' | 'done' | 'deferred';

interface Entry {
  event: MirrorEvent;
  status: EntryStatus;
  /** Failed attempts counted against the event. */
  failures: number;
  lastError: string;
  /** From the failed list of an earlier run: not part of the cursor's line. */
  retry: boolean;
}

export interface MirrorDependencies {
  frigate: FrigateClient;
  store: S3Store;
  state: MirrorState;
  save: () => Promise<void>;
  /** Asked before each upload: a mirror whose lock another run took stops. */
  lock: Pick<HeldLock, 'assertHeld'>;
  settings: MirrorSettings;
  signal: AbortSignal;
  log: Logger;
  progress: ProgressReporter;
}

/** Store failures that say the store as a whole is away, not that this object failed. */
const OUTAGE_KINDS = new Set<S3StoreError['kind']>(['unreachable']);
const STORE_FATAL_KINDS = new Set<S3StoreError['kind']>(['access-denied', 'no-credentials', 'no-such-bucket', 'tls']);
const RETRYABLE_S3_KINDS = new Set<S3StoreError['kind']>(['server', 'throttled', 'connection-lost', 'unreachable', 'other']);
const RETRYABLE_FRIGATE = new Set<FrigateError['failure']>(['server', 'timeout', 'unreachable', 'dropped', 'protocol']);

class ChecksumMismatchError extends Error {}
/** The run cannot go on (the store refuses our credentials, the bucket is gone). */
class StoreFatalError extends Error {}

export class SnapshotMirror {
  private readonly active = new Map<string, Entry>();
  /** Events of the cursor's line, by start time: the cursor moves over those at the front that are done. */
  private readonly line: Entry[] = [];
  private readonly ready: Entry[] = [];
  private readonly retryQueue: { entry: Entry; dueAt: number }[] = [];
  private inFlight = 0;
  private pageAfter: number | undefined;
  private pageLimit: number;
  private morePages = true;
  /** The next page starts again from the cursor (a new poll). */
  private fromCursor = false;
  private nextPollAt = 0;
  /** Failures of the store in a row with no success between: as many as there are workers means it is down. */
  private storeFailuresInRow = 0;
  private outageSince: number | undefined;
  private health = 'OK';
  private readonly loadedFrontier: number | undefined;
  private lastSavedAt = 0;
  private wake: () => void = () => undefined;
  private fatal: Error | undefined;
  private lastReportAt = 0;
  /** The signals of uploads, following the run's. */
  private readonly uploadSignals: SignalScopes;
  private readonly outcome: MirrorOutcome = { uploaded: 0, found: 0, failed: 0, retried: 0, inProgress: 0, stats: { success: 0, failed: 0, retryQueue: 0, tracked: 0, failedEvents: 0, health: 'OK' } };

  constructor(
    private readonly deps: MirrorDependencies,
    retryFailed: boolean,
  ) {
    this.uploadSignals = new SignalScopes(deps.signal);
    this.loadedFrontier = deps.state.frontier;
    this.pageLimit = deps.settings.batchSize;
    this.pageAfter = deps.state.cursor === undefined ? undefined : deps.state.cursor - PAGE_OVERLAP_SECONDS;
    if (retryFailed) {
      for (const failure of deps.state.takeFailed()) {
        // A refused event stays refused: its id or camera can never become a key.
        if (unsafeNameReason('event id', failure.id) ?? unsafeNameReason('camera', failure.camera)) deps.state.recordFailed(failure);
        else this.enqueueRetryOfFailed(failure);
      }
    }
  }

  stats(): MirrorStats {
    const { state } = this.deps;
    return { success: this.outcome.uploaded + this.outcome.found, failed: this.outcome.failed, retryQueue: this.retryQueue.length, tracked: state.tracked, failedEvents: state.failed.length, health: this.health };
  }

  async run(): Promise<MirrorOutcome> {
    const { signal } = this.deps;
    const onAbort = () => this.wake();
    signal.addEventListener('abort', onAbort);
    try {
      await this.loop();
    } finally {
      signal.removeEventListener('abort', onAbort);
      // Uploads still running finish (or fail) before the state is written for the last time.
      while (this.inFlight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
      this.uploadSignals.dispose();
      this.outcome.inProgress = this.line.filter((entry) => entry.status === 'deferred').length;
      this.deps.state.prune(this.deps.settings.retentionDays);
      await this.saveNow();
      this.outcome.stats = this.stats();
      this.report(true);
    }
    return this.outcome;
  }

  private async loop(): Promise<void> {
    const { settings, signal } = this.deps;
    for (;;) {
      if (signal.aborted) throw new CancelledError();
      if (this.fatal) throw this.fatal;
      this.moveDueRetries();
      if (this.outageSince !== undefined) {
        await this.waitForStore();
        continue;
      }
      if (this.ready.length < settings.workers && this.morePages && Date.now() >= this.nextPollAt) {
        await this.fetchPage();
        continue;
      }
      while (this.inFlight < settings.workers && this.ready.length > 0) this.start(this.ready.shift() as Entry);
      if (Date.now() - this.lastSavedAt >= SAVE_INTERVAL_MS) await this.saveNow();
      this.report();
      const listed = this.ready.length === 0 && !this.morePages;
      if (listed && this.inFlight === 0 && this.retryQueue.length === 0 && !settings.watch) return;
      // Watching, new events are looked for while retries wait for their turn.
      if (listed && settings.watch) this.schedulePoll();
      await this.nap(this.nextWakeAt());
    }
  }

  /** After a pass reached the newest event: look again after `pollMs`, from the cursor as it is then. */
  private schedulePoll(): void {
    this.nextPollAt = Date.now() + this.deps.settings.pollMs;
    this.morePages = true;
    this.fromCursor = true;
    this.pageLimit = this.deps.settings.batchSize;
  }

  private nextWakeAt(): number {
    const times = this.retryQueue.map((item) => item.dueAt);
    if (this.morePages && this.nextPollAt > Date.now()) times.push(this.nextPollAt);
    if (this.inFlight > 0) times.push(Date.now() + SAVE_INTERVAL_MS);
    return times.length > 0 ? Math.min(...times) : Date.now() + SAVE_INTERVAL_MS;
  }

  /** Waits until `at`, an upload ends, or the run is cancelled. */
  private async nap(at: number): Promise<void> {
    const delay = Math.max(0, at - Date.now());
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, delay);
    });
    clearTimeout(timer);
  }

  private async fetchPage(): Promise<void> {
    const { frigate, signal, settings, state } = this.deps;
    if (this.fromCursor) {
      // Taken now, not when the poll was scheduled: uploads that ended meanwhile moved the cursor and
      // the state forgot the events behind it, which an older starting point would list again.
      this.pageAfter = state.cursor === undefined ? undefined : state.cursor - PAGE_OVERLAP_SECONDS;
      this.fromCursor = false;
    }
    let raw: unknown[];
    try {
      raw = await frigate.events({ after: this.pageAfter, hasSnapshot: true, sort: 'date_asc', limit: this.pageLimit }, signal);
      if (this.health.startsWith('Frigate')) this.health = 'OK';
    } catch (error) {
      if (isCancellationError(error) || !settings.watch) throw error;
      // Frigate restarting: the mirror keeps its queue and looks again at the next poll.
      this.health = `Frigate unavailable: ${errorMessage(error)}`;
      this.deps.log.warn(`listing the events of ${frigate.description} failed, trying again in ${formatDuration(settings.pollMs)}: ${errorMessage(error)}`);
      this.nextPollAt = Date.now() + settings.pollMs;
      return;
    }
    let fresh = 0;
    let newestStart = this.pageAfter;
    for (const item of raw) {
      const read = readEvent(item);
      const startTime = 'event' in read ? read.event.startTime : read.startTime;
      if (startTime !== undefined && (newestStart === undefined || startTime > newestStart)) newestStart = startTime;
      if (!('event' in read)) {
        if (this.active.has(read.id) || state.isSettled(read.id)) continue;
        fresh++;
        // A hostile or broken answer is reported as a failed event; it never becomes a key.
        this.refuse(read.id, read.startTime, `refused: ${read.problem}`);
        continue;
      }
      const { event } = read;
      state.seen(event.startTime);
      const known = this.active.get(event.id);
      if (known) {
        if (known.status === 'deferred' && !event.inProgress) {
          known.event = event;
          known.status = 'waiting';
          this.ready.push(known);
          fresh++;
        }
        continue;
      }
      if (state.isSettled(event.id)) continue;
      fresh++;
      const entry: Entry = { event, status: event.inProgress ? 'deferred' : 'waiting', failures: 0, lastError: '', retry: false };
      this.active.set(event.id, entry);
      this.insertInLine(entry);
      if (!event.inProgress) this.ready.push(entry);
    }
    const full = raw.length >= this.pageLimit;
    if (!full) {
      this.morePages = false;
    } else if (fresh === 0 && newestStart !== undefined && this.pageAfter !== undefined && newestStart - PAGE_OVERLAP_SECONDS <= this.pageAfter) {
      // A whole page of events sharing one start time: ask for more at once rather than for the same page again.
      this.pageLimit *= 2;
    }
    if (newestStart !== undefined && full) this.pageAfter = Math.max(this.pageAfter ?? -Infinity, newestStart - PAGE_OVERLAP_SECONDS);
    // Recorded before any of these uploads starts: after a crash, the next run looks before it sends again.
    if (newestStart !== undefined && (state.frontier === undefined || newestStart > state.frontier)) {
      state.frontier = newestStart;
      await this.saveNow();
    }
    this.advanceCursor();
  }

  private insertInLine(entry: Entry): void {
    let index = this.line.length;
    while (index > 0 && (this.line[index - 1] as Entry).event.startTime > entry.event.startTime) index--;
    this.line.splice(index, 0, entry);
  }

  private enqueueRetryOfFailed(failure: FailedEvent): void {
    const entry: Entry = { event: { id: failure.id, camera: failure.camera, startTime: failure.startTime, inProgress: false }, status: 'waiting', failures: 0, lastError: failure.error, retry: true };
    this.outcome.retried++;
    this.active.set(failure.id, entry);
    this.ready.push(entry);
  }

  private refuse(id: string, startTime: number | undefined, error: string): void {
    const time = startTime ?? this.deps.state.newest ?? 0;
    this.deps.state.recordFailed({ id, camera: '', startTime: time, attempts: 0, error, failedAt: new Date().toISOString() });
    this.outcome.failed++;
    this.deps.log.warn(`event ${printable(id)}: ${error}`);
  }

  private start(entry: Entry): void {
    entry.status = 'uploading';
    this.inFlight++;
    void this.upload(entry)
      .then((found) => this.succeeded(entry, found), (error: unknown) => this.failedAttempt(entry, error))
      .finally(() => {
        this.inFlight--;
        this.wake();
      });
  }

  /** One event: looked up first when an earlier run may have sent it; true when it was already there. */
  private async upload(entry: Entry): Promise<boolean> {
    // The SDK adds a listener per request to the signal it is given: one of this upload's own keeps
    // the run's signal under Node's limit of ten with eight uploads and their retries at once.
    const scope = this.uploadSignals.open();
    try {
      return await this.uploadUnder(entry, scope.signal);
    } finally {
      scope.release();
    }
  }

  private async uploadUnder(entry: Entry, signal: AbortSignal): Promise<boolean> {
    const { store, frigate, settings } = this.deps;
    const { event } = entry;
    const key = snapshotKey(settings.prefix, event);
    const maybeSent = this.loadedFrontier !== undefined && event.startTime <= this.loadedFrontier;
    if (maybeSent || entry.retry) {
      if (await store.head(key, signal)) return true;
    }
    const snapshot = await readSnapshot(frigate, event.id, signal);
    const md5 = createHash('md5').update(snapshot).digest();
    this.deps.lock.assertHeld();
    const put = await store.putBytes(key, snapshot, { contentMd5: md5.toString('base64'), contentType: 'image/jpeg', storageClass: settings.storageClass || undefined, signal });
    const etag = put.etag?.replace(/"/g, '') ?? '';
    // A multipart or encrypted object's ETag is no MD5; the store checked Content-MD5 itself then.
    if (/^[0-9a-f]{32}$/i.test(etag) && etag.toLowerCase() !== md5.toString('hex')) {
      throw new ChecksumMismatchError(`the store confirmed different bytes for ${key} (ETag ${etag}, MD5 sent ${md5.toString('hex')})`);
    }
    return false;
  }

  private succeeded(entry: Entry, found: boolean): void {
    entry.status = 'done';
    this.storeFailuresInRow = 0;
    if (found) this.outcome.found++;
    else this.outcome.uploaded++;
    this.deps.state.recordUploaded(entry.event);
    this.active.delete(entry.event.id);
    this.advanceCursor();
  }

  private failedAttempt(entry: Entry, error: unknown): void {
    const { settings, signal } = this.deps;
    if (isCancellationError(error) || signal.aborted) {
      entry.status = 'waiting';
      return;
    }
    const message = errorMessage(error);
    entry.lastError = message;
    if (error instanceof S3StoreError) {
      if (STORE_FATAL_KINDS.has(error.kind)) {
        entry.status = 'waiting';
        this.fatal ??= new StoreFatalError(message);
        return;
      }
      this.storeFailuresInRow++;
      if (OUTAGE_KINDS.has(error.kind) || this.storeFailuresInRow >= settings.workers) {
        // The store is away: the event waits at the front, uncharged, until it answers again.
        entry.status = 'waiting';
        this.ready.unshift(entry);
        if (this.outageSince === undefined) {
          this.outageSince = Date.now();
          this.health = `S3 unavailable: ${message}`;
          this.deps.log.warn(`${this.deps.store.label} is not answering (${message}); uploads pause until it is back, nothing is dropped`);
        }
        return;
      }
    }
    const retryable = error instanceof ChecksumMismatchError || (error instanceof S3StoreError && RETRYABLE_S3_KINDS.has(error.kind)) || (error instanceof FrigateError && RETRYABLE_FRIGATE.has(error.failure));
    entry.failures++;
    if (!retryable || entry.failures > settings.maxFailedRetries) {
      this.markFailed(entry, message);
      return;
    }
    entry.status = 'waiting';
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, settings.retryBaseDelayMs * 2 ** (entry.failures - 1));
    this.retryQueue.push({ entry, dueAt: Date.now() + Math.round(Math.random() * ceiling) });
    this.deps.log.debug(`event ${entry.event.id}: attempt ${entry.failures} failed, queued for a retry: ${message}`);
  }

  private markFailed(entry: Entry, message: string): void {
    entry.status = 'done';
    this.outcome.failed++;
    this.deps.state.recordFailed({ id: entry.event.id, camera: entry.event.camera, startTime: entry.event.startTime, attempts: entry.failures, error: message, failedAt: new Date().toISOString() });
    this.active.delete(entry.event.id);
    this.deps.log.warn(`event ${entry.event.id} (${entry.event.camera}) failed after ${entry.failures} attempts: ${message}`);
    this.advanceCursor();
  }

  private moveDueRetries(): void {
    const now = Date.now();
    for (let index = 0; index < this.retryQueue.length; ) {
      const item = this.retryQueue[index] as { entry: Entry; dueAt: number };
      if (item.dueAt <= now) {
        this.retryQueue.splice(index, 1);
        this.ready.push(item.entry);
      } else index++;
    }
  }

  /** The cursor moves over the events at the front of the line that are uploaded or failed. */
  private advanceCursor(): void {
    let reached: number | undefined;
    while (this.line.length > 0 && (this.line[0] as Entry).status === 'done') reached = (this.line.shift() as Entry).event.startTime;
    if (reached !== undefined) this.deps.state.advanceCursor(reached);
  }

  /** Probes the store with backoff until it answers; without `watch`, gives up after `outageTimeoutMs`. */
  private async waitForStore(): Promise<void> {
    const { store, settings, signal } = this.deps;
    while (this.inFlight > 0) await this.nap(Date.now() + SAVE_INTERVAL_MS);
    await this.saveNow();
    for (let probe = 1; ; probe++) {
      const down = Date.now() - (this.outageSince as number);
      if (!settings.watch && down > settings.outageTimeoutMs) {
        throw new Error(`${store.label} has not answered for ${formatDuration(down)}: stopped with ${this.ready.length + this.retryQueue.length} events queued; the next run uploads them (${this.health})`);
      }
      this.report();
      await sleep(Math.round(Math.min(MAX_RETRY_DELAY_MS / 4, settings.retryBaseDelayMs * 2 ** Math.min(probe - 1, 10)) * (0.5 + Math.random() / 2)), signal);
      try {
        await store.checkBucket(signal);
      } catch (error) {
        if (isCancellationError(error)) throw error;
        if (error instanceof S3StoreError && STORE_FATAL_KINDS.has(error.kind)) throw new StoreFatalError(errorMessage(error));
        continue;
      }
      this.deps.log.info(`${store.label} answers again after ${formatDuration(Date.now() - (this.outageSince as number))}; catching up`);
      this.outageSince = undefined;
      this.storeFailuresInRow = 0;
      this.health = 'OK';
      return;
    }
  }

  private async saveNow(): Promise<void> {
    this.deps.lock.assertHeld();
    this.lastSavedAt = Date.now();
    await this.deps.save();
  }

  /** The seed's statistics line, a couple of times a second at most. */
  private report(now = false): void {
    if (!now && Date.now() - this.lastReportAt < REPORT_INTERVAL_MS) return;
    this.lastReportAt = Date.now();
    const stats = this.stats();
    this.deps.progress.report({
      message: renderStats(stats),
      items: stats.success + stats.failed,
    });
  }
}

/** The snapshot whole, in memory (it is sent with its MD5); a body cut short or too large fails the attempt. */
async function readSnapshot(frigate: FrigateClient, eventId: string, signal: AbortSignal): Promise<Buffer> {
  const { stream, size } = await frigate.snapshot(eventId, signal);
  if (size !== undefined && size > MAX_SNAPSHOT_BYTES) {
    stream.destroy();
    throw new Error(`the snapshot of event ${eventId} is ${size} bytes, more than the ${MAX_SNAPSHOT_BYTES} a snapshot may have`);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      length += (chunk as Buffer).length;
      if (length > MAX_SNAPSHOT_BYTES) {
        stream.destroy();
        throw new Error(`the snapshot of event ${eventId} is larger than the ${MAX_SNAPSHOT_BYTES} bytes a snapshot may have`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (isCancellationError(error) || error instanceof FrigateError || !(error instanceof Error) || !/socket|ECONNRESET|aborted|premature/i.test(error.message + String((error as NodeJS.ErrnoException).code))) throw error;
    throw new FrigateError('dropped', `the snapshot of event ${eventId} broke off: ${error.message}`);
  }
  const data = Buffer.concat(chunks);
  if (size !== undefined && data.length !== size) throw new FrigateError('dropped', `the snapshot of event ${eventId} ended after ${data.length} of ${size} bytes`);
  return data;
}

/** The statistics line in the seed's own words, for the live progress and the result alike. */
export function renderStats(stats: MirrorStats): string {
  return `Success: ${stats.success}, Failed: ${stats.failed}, Retry Queue: ${stats.retryQueue}, Tracked Events: ${stats.tracked}, Failed Events: ${stats.failedEvents}, Health: ${stats.health}`;
}
