/**
 * Where a Frigate event's snapshot goes in the bucket: `{prefix}/{camera}/{YYYY-MM-DD}/{id}-{YYYYMMDD_HHMMSS}.jpg`,
 * the date and time of the event's start in UTC. Event ids and camera names come from Frigate's API:
 * they are checked before they become part of a key, so an answer can never name a key elsewhere.
 */

/** What an event contributes to its key, as Frigate's `/api/events` lists it. */
export interface MirrorEvent {
  id: string;
  camera: string;
  /** Epoch seconds, Frigate's clock. */
  startTime: number;
  /** Still running: Frigate may replace its snapshot with a better one until it ends. */
  inProgress: boolean;
}

const MAX_NAME_LENGTH = 200;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why a name from the API cannot be part of a key; undefined when it can. */
export function unsafeNameReason(what: 'event id' | 'camera', name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return `the ${what} is missing`;
  if (name.length > MAX_NAME_LENGTH) return `the ${what} is longer than ${MAX_NAME_LENGTH} characters`;
  if (CONTROL.test(name)) return `the ${what} holds control characters`;
  if (name.includes('/') || name.includes('\\')) return `the ${what} holds a slash`;
  if (name.includes('..')) return `the ${what} holds '..'`;
  return undefined;
}

/** Turns one `/api/events` entry into a mirror event, or says why it cannot be mirrored. */
export function readEvent(raw: unknown): { event: MirrorEvent } | { problem: string; id: string; startTime: number | undefined } {
  const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const id = typeof entry.id === 'string' ? entry.id : String(entry.id ?? '');
  const startTime = typeof entry.start_time === 'number' && Number.isFinite(entry.start_time) && entry.start_time > 0 ? entry.start_time : undefined;
  const problem = unsafeNameReason('event id', entry.id) ?? unsafeNameReason('camera', entry.camera) ?? (startTime === undefined ? 'the event has no valid start_time' : undefined);
  if (problem !== undefined || startTime === undefined) return { problem: problem ?? 'the event has no valid start_time', id, startTime };
  return { event: { id, camera: entry.camera as string, startTime, inProgress: entry.end_time === null || entry.end_time === undefined } };
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** `2024-01-15` of an epoch time, in UTC. */
export function utcDay(startTime: number): string {
  const date = new Date(Math.floor(startTime * 1000));
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

function utcStamp(startTime: number): string {
  const date = new Date(Math.floor(startTime * 1000));
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}_${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

/** The prefix as keys start with it: no slashes at either end; empty for the bucket's top. */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

/** The key of an event's snapshot; the event must have come through `readEvent`. */
export function snapshotKey(prefix: string, event: MirrorEvent): string {
  const top = normalizePrefix(prefix);
  const key = `${event.camera}/${utcDay(event.startTime)}/${event.id}-${utcStamp(event.startTime)}.jpg`;
  return top ? `${top}/${key}` : key;
}

const KEY_TAIL = /^([^/]+)\/(\d{4}-\d{2}-\d{2})\/([^/]+)-(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})\.jpg$/;

/** What a key of the bucket says about the event it holds (to rebuild a lost state); undefined for other objects. */
export function parseSnapshotKey(prefix: string, key: string): { id: string; camera: string; startSecond: number } | undefined {
  const top = normalizePrefix(prefix);
  if (top && !key.startsWith(`${top}/`)) return undefined;
  const match = KEY_TAIL.exec(top ? key.slice(top.length + 1) : key);
  if (!match) return undefined;
  const [, camera, , id, year, month, day, hours, minutes, seconds] = match as unknown as string[];
  const startSecond = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hours), Number(minutes), Number(seconds)) / 1000;
  return { id: id as string, camera: camera as string, startSecond };
}
