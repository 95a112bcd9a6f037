/**
 * One writer per location: a run that writes a location (a backup, retention, a delete) first
 * creates a lock file there, naming itself, and renews it while it works. Another run finds it and
 * fails with a message naming the holder (host, pid, user, runbook, action, since when), unless the
 * lock was left by a run that stopped: its process is gone (when it ran on this machine) or it was
 * not renewed for STALE_AFTER_MS. The file's store decides how "create unless it exists" is made
 * atomic (O_EXCL locally and over SFTP, a conditional write in S3).
 */
import { randomUUID } from 'node:crypto';
import { link, readFile, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import type { Logger } from './actions/spec';
import { makeFolders, temporarySibling, unlinkIfPresent, writeFileAtomically } from './atomicFiles';
import { errorMessage } from './errors';
import { formatAge, formatDuration, printable } from './render';

export const LOCK_FILE_NAME = '.lifeboat-lock';
const LOCK_FORMAT = 'lifeboat.lock/1';
/** How often a holder renews its lock. */
export const HEARTBEAT_MS = 30_000;
/** A lock not renewed for this long was left by a run that stopped (a killed process, a lost machine). */
export const STALE_AFTER_MS = 3 * HEARTBEAT_MS;

/** Where a lock file lives, with the operations the lock needs. */
export interface LockStore {
  /** The location, as messages name it. */
  readonly description: string;
  /** Writes the lock file unless one exists: false when it exists. */
  create(content: string): Promise<boolean>;
  /** The lock file's content; undefined when there is none. */
  read(): Promise<string | undefined>;
  /** Replaces the content whole (a reader never sees half of it). */
  replace(content: string): Promise<void>;
  remove(): Promise<void>;
}

/**
 * The lock of a folder on this machine (made when missing): written whole under a temporary name and
 * hard-linked to its name, which fails when a lock is there (so no run ever reads a lock half
 * written), replaced by a rename.
 */
export function folderLockStore(folder: string): LockStore {
  const file = path.join(folder, LOCK_FILE_NAME);
  return {
    description: folder,
    create: async (content) => {
      await makeFolders(folder);
      const written = temporarySibling(file, 'new');
      await writeFile(written, content, { flag: 'wx' });
      try {
        await link(written, file);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      } finally {
        await unlinkIfPresent(written);
      }
    },
    read: () => readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error))),
    replace: (content) => writeFileAtomically(file, content, { overwrite: true }),
    remove: () => unlinkIfPresent(file),
  };
}

export interface LockHolder {
  format: typeof LOCK_FORMAT;
  /** Tells this holder's lock from a later one of the same process. */
  id: string;
  host: string;
  pid: number;
  user: string;
  /** The runbook the step belongs to, when it runs in one. */
  runbook?: string;
  action: string;
  startedAt: string;
  renewedAt: string;
}

export class LocationLockedError extends Error {
  constructor(
    message: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(message);
    this.name = 'LocationLockedError';
  }
}

/** "frigate.faces.backup of faces.runbook.md, pid 4121 of root on nas, since 2026-12-06 17:20:03 UTC, renewed 12 s ago". */
export function describeHolder(holder: LockHolder, now = Date.now()): string {
  // A lock file is written by whoever can write the location: its text is shown, never let act on a terminal.
  const of = holder.runbook ? ` of ${printable(holder.runbook)}` : '';
  const since = printable(holder.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));
  return `${printable(holder.action)}${of}, pid ${holder.pid} of ${printable(holder.user)} on ${printable(holder.host)}, since ${since}, renewed ${formatAge(new Date(holder.renewedAt), new Date(now))}`;
}

function parseHolder(content: string | undefined): LockHolder | undefined {
  if (content === undefined) return undefined;
  try {
    const parsed = JSON.parse(content) as Record<string, unknown>;
    const strings = ['id', 'host', 'user', 'action', 'startedAt', 'renewedAt'].every((field) => typeof parsed[field] === 'string');
    const runbook = parsed.runbook === undefined || typeof parsed.runbook === 'string';
    return parsed.format === LOCK_FORMAT && strings && runbook && Number.isInteger(parsed.pid) ? (parsed as unknown as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The ids of the locks this process holds now. */
const heldHere = new Set<string>();

/** How often a holder renews its lock, and after how long without renewal a lock counts as left behind. */
export interface LockTiming {
  heartbeatMs: number;
  staleAfterMs: number;
}

const DEFAULT_TIMING: LockTiming = { heartbeatMs: HEARTBEAT_MS, staleAfterMs: STALE_AFTER_MS };

/** Why a lock counts as left by a run that stopped; undefined while its holder may still be working. */
function staleness(holder: LockHolder, now: number, staleAfterMs: number): string | undefined {
  if (holder.host === hostname() && holder.pid === process.pid && !heldHere.has(holder.id)) return 'a run of this process ended without releasing it (its connection dropped)';
  if (holder.host === hostname() && !processAlive(holder.pid)) return `its process ${holder.pid} is gone`;
  const silent = now - Date.parse(holder.renewedAt);
  if (!(silent <= staleAfterMs)) return `it was last renewed ${formatAge(new Date(holder.renewedAt), new Date(now))}`;
  return undefined;
}

/** A lock this process holds: renewed until released; `assertHeld` fails once another run has taken it. */
export class HeldLock {
  private readonly timer: NodeJS.Timeout;
  private lost: string | undefined;
  private renewing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: LockStore,
    private readonly holder: LockHolder,
    private readonly log: Logger,
    heartbeatMs: number,
  ) {
    heldHere.add(holder.id);
    this.timer = setInterval(() => (this.renewing = this.renew()), heartbeatMs);
    // A forgotten release must not keep a CLI alive.
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.lost) return;
    try {
      const current = parseHolder(await this.store.read());
      if (current?.id !== this.holder.id) {
        this.lost = current ? `another run took it: ${describeHolder(current)}` : 'its file was removed';
        this.log.warn(`the lock of ${this.store.description} was lost (${this.lost})`);
        return;
      }
      await this.store.replace(JSON.stringify({ ...this.holder, renewedAt: new Date().toISOString() }));
    } catch (error) {
      // Renewed at the next beat; only a lock silent for STALE_AFTER_MS is taken over.
      this.log.warn(`could not renew the lock of ${this.store.description}: ${errorMessage(error)}`);
    }
  }

  /** Throws when the lock is no longer this run's, before a step changes the location relying on it. */
  assertHeld(): void {
    if (this.lost) throw new LocationLockedError(`${this.store.description} is no longer locked by this run (${this.lost}); stopped before changing it`, undefined);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    heldHere.delete(this.holder.id);
    await this.renewing;
    if (this.lost) return;
    const current = parseHolder(await this.store.read().catch(() => undefined));
    if (current?.id === this.holder.id) await this.store.remove();
  }
}

/**
 * Takes the lock of a location for `who`, or throws a LocationLockedError naming the run that holds
 * it. A lock left by a stopped run is taken over, with a warning saying whose it was and why.
 */
export async function acquireLock(store: LockStore, who: { action: string; runbook?: string }, log: Logger, timing: LockTiming = DEFAULT_TIMING): Promise<HeldLock> {
  const now = new Date().toISOString();
  const holder: LockHolder = { format: LOCK_FORMAT, id: randomUUID(), host: hostname(), pid: process.pid, user: userInfo().username, ...(who.runbook ? { runbook: who.runbook } : {}), action: who.action, startedAt: now, renewedAt: now };
  const content = JSON.stringify(holder);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await store.create(content)) {
      // Read back: a store whose create is not atomic may have let another run write over it.
      const written = parseHolder(await store.read());
      if (written?.id === holder.id) return new HeldLock(store, holder, log, timing.heartbeatMs);
      if (written) throw new LocationLockedError(`${store.description} is being written by another run: ${describeHolder(written)}`, written);
      continue;
    }
    const found = await store.read();
    if (found === undefined) continue;
    const existing = parseHolder(found);
    const stale = existing ? staleness(existing, Date.now(), timing.staleAfterMs) : 'it is not a lock Lifeboat can read';
    if (existing && !stale) {
      throw new LocationLockedError(
        `${store.description} is being written by another run: ${describeHolder(existing)}. Try again once it has finished; a lock not renewed for ${formatDuration(timing.staleAfterMs)} counts as left by a stopped run`,
        existing,
      );
    }
    log.warn(`taking over the lock of ${store.description}, left by a run that stopped (${stale})${existing ? `: ${describeHolder(existing)}` : ''}`);
    await store.remove();
  }
  throw new LocationLockedError(`could not lock ${store.description}: other runs kept taking it at the same time`, undefined);
}
