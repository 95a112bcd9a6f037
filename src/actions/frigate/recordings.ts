/**
 * What the Frigate recordings actions share: the two layouts (the pod's `DATE/HH/<camera>/MM.SS.mp4`
 * and the backup's `<camera>/DATE/HH/MM.SS.mp4`), listing either side with one `find`, the SSH
 * backup folder a call names, and how a finished transfer is moved out of its staging folder.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import * as z from 'zod';
import type { KubeClient, PodInfo, PodRef } from '../../clients/kube';
import { sshConnectionFor, type ExecOptions, type SshConnection } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';
import { CancelledError, errorMessage, isCancellationError } from '../../core/errors';
import { ThrottledProgress } from '../../core/progress';
import { findFrigatePod, frigateEntry, podLocationOf } from './target';

/** Where Frigate writes its recordings in its container (UTC dates and hours). */
export const RECORDINGS_DIR = '/media/frigate/recordings';
/** Staging folders of a transfer under way; a run removes those an earlier run left behind. */
const STAGING_PREFIX = '.lifeboat-partial-';
const STDERR_TAIL_CHARS = 2000;

export interface Recording {
  camera: string;
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  /** `HH`, UTC. */
  hour: string;
  /** `MM.SS.mp4`. */
  file: string;
  bytes: number;
  /** Modification time in whole seconds. */
  mtime: number;
}

const CAMERA = '[A-Za-z0-9_-]+';
const DATE = '\\d{4}-\\d{2}-\\d{2}';
const SEGMENT = '\\d{2}\\.\\d{2}\\.mp4';
const POD_ENTRY = new RegExp(`^(${DATE})/(\\d{2})/(${CAMERA})/(${SEGMENT})$`);
const BACKUP_ENTRY = new RegExp(`^(${CAMERA})/(${DATE})/(\\d{2})/(${SEGMENT})$`);

/** `<camera>/<date>/<hour>`: one hour of one camera, the unit a transfer publishes. */
export const hourOf = (recording: Recording): string => `${recording.camera}/${recording.date}/${recording.hour}`;
export const backupPathOf = (recording: Recording): string => `${hourOf(recording)}/${recording.file}`;
export const podPathOf = (recording: Recording): string => `${recording.date}/${recording.hour}/${recording.camera}/${recording.file}`;

type Layout = 'pod' | 'backup';

/**
 * Lists the recordings under `root` as `path<TAB>size<TAB>mtime` lines; an absent folder lists
 * nothing. Staging folders sit one level deeper than any recording and are not listed.
 */
function listCommand(root: string): string[] {
  return ['sh', '-c', '[ -d "$1" ] || exit 0; cd "$1" && exec find . -mindepth 4 -maxdepth 4 -type f -name "*.mp4" -printf "%P\\t%s\\t%T@\\n"', 'sh', root];
}

/** The recordings of a listing; anything that is not a recording in the layout's place is left out. */
function parseListing(listing: string, layout: Layout): Recording[] {
  const pattern = layout === 'pod' ? POD_ENTRY : BACKUP_ENTRY;
  const recordings: Recording[] = [];
  for (const line of listing.split('\n')) {
    const [entry, size, modified] = line.split('\t');
    const match = entry === undefined ? null : pattern.exec(entry);
    if (!match || size === undefined || modified === undefined) continue;
    const [first, second, third, file] = match.slice(1) as [string, string, string, string];
    const [camera, date, hour] = layout === 'pod' ? [third, first, second] : [first, second, third];
    recordings.push({ camera, date, hour, file, bytes: Number(size), mtime: Math.floor(Number(modified)) });
  }
  return recordings;
}

/**
 * GNU tar `--transform` expressions between the layouts: tar does the renaming in C while the bytes
 * stream, so no header passes through Lifeboat to be parsed and rewritten.
 */
export const TO_BACKUP_LAYOUT = 's,^\\([^/]*\\)/\\([^/]*\\)/\\([^/]*\\)/,\\3/\\1/\\2/,';
export const TO_POD_LAYOUT = 's,^\\([^/]*\\)/\\([^/]*\\)/\\([^/]*\\)/,\\2/\\3/\\1/,';

/**
 * Moves every hour folder (three levels down) of a staging folder into place, then removes the
 * staging folder. An hour not yet at its final place arrives whole with one rename; into an hour
 * that is there, each file moves with its own rename, so no file is ever seen half-written.
 */
function publishCommand(staging: string, root: string): string[] {
  const script = [
    'stage=$1; root=$2',
    'cd "$stage" || exit 1',
    'for hour in */*/*; do',
    '  [ -d "$hour" ] || continue',
    '  if [ -d "$root/$hour" ]; then mv -f "$hour"/* "$root/$hour/" || exit 1',
    '  else mkdir -p "$root/${hour%/*}" && mv "$hour" "$root/$hour" || exit 1; fi',
    'done',
    'cd / && rm -rf "$stage"',
  ].join('\n');
  return ['sh', '-c', script, 'sh', staging, root];
}

/** Creates a fresh staging folder under `root`, removing those that earlier, interrupted runs left. */
function prepareStagingCommand(root: string, staging: string): string[] {
  return ['sh', '-c', 'mkdir -p "$1" && cd "$1" && find . -mindepth 1 -maxdepth 1 -name "$3*" -exec rm -rf {} + && mkdir "$2"', 'sh', root, staging, STAGING_PREFIX];
}

function stagingFolderIn(root: string): string {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  return path.posix.join(root, `${STAGING_PREFIX}${stamp}-${randomBytes(3).toString('hex')}`);
}

// Parameters ---------------------------------------------------------------------------------------

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a UTC day as YYYY-MM-DD')
  .refine((day) => !Number.isNaN(Date.parse(`${day}T00:00:00Z`)) && new Date(`${day}T00:00:00Z`).toISOString().startsWith(day), 'not a calendar day');

/** A Frigate camera name, as Frigate allows them (and as the recordings folders are named). */
export const cameraName = z.string().regex(new RegExp(`^${CAMERA}$`), 'a Frigate camera name (letters, digits, _ and -)');

export const dayRangeParams = {
  from: isoDay.optional().describe('First UTC day to include (YYYY-MM-DD); from the oldest when left out.'),
  to: isoDay.optional().describe('Last UTC day to include (YYYY-MM-DD); up to the newest when left out.'),
};

export const backupFolderParams = {
  location: z.string().min(1).optional().describe('A location of `locations:` in lifeboat.yaml with `host` and `path`. Give this, or `host` and `path`.'),
  host: z.string().min(1).optional().describe('A host of `hosts:` (or an ssh alias) holding the recordings backup; with `path`.'),
  path: z.string().min(1).optional().describe('Absolute folder on `host` holding the recordings backup, one folder per camera.'),
};

interface BackupFolderFields {
  location?: string | undefined;
  host?: string | undefined;
  path?: string | undefined;
}

interface DayRange {
  from?: string | undefined;
  to?: string | undefined;
}

/** Checks the backup folder fields (`location`, or `host` with `path`) and the day range. */
export function checkFolderAndRange(params: BackupFolderFields & DayRange, issues: z.RefinementCtx): void {
  const named = params.location !== undefined;
  const direct = params.host !== undefined || params.path !== undefined;
  if (named && direct) issues.addIssue({ code: 'custom', message: 'give either `location` or `host` and `path`, not both', path: ['location'] });
  else if (direct && (params.host === undefined || params.path === undefined)) issues.addIssue({ code: 'custom', message: '`host` and `path` go together', path: [params.host === undefined ? 'host' : 'path'] });
  else if (!named && !direct) issues.addIssue({ code: 'custom', message: 'give `location` (a location of lifeboat.yaml), or `host` and `path`', path: ['location'] });
  if (params.from !== undefined && params.to !== undefined && params.from > params.to) issues.addIssue({ code: 'custom', message: `\`from\` (${params.from}) is after \`to\` (${params.to})`, path: ['from'] });
}

export function inDayRange(recording: Recording, range: DayRange): boolean {
  return (range.from === undefined || recording.date >= range.from) && (range.to === undefined || recording.date <= range.to);
}

// The two sides --------------------------------------------------------------------------------------

/** The recordings backup folder on an SSH host, with the connection to it. */
export interface BackupFolder {
  hostName: string;
  root: string;
  ssh: SshConnection;
  /** `host:path`, as messages name it. */
  description: string;
}

export async function openBackupFolder(params: BackupFolderFields, ctx: ActionContext): Promise<BackupFolder> {
  let hostName: string;
  let root: string;
  let field: string;
  if (params.location !== undefined) {
    const entry = ctx.inventory.locations?.[params.location];
    if (!entry) throw new Error(`no location '${params.location}' under \`locations:\` in lifeboat.yaml`);
    if (!('host' in entry)) throw new Error(`location '${params.location}' is not on an SSH host: recordings are backed up to a location with \`host\` and \`path\``);
    [hostName, root, field] = [entry.host, entry.path, `locations.${params.location}.path`];
  } else {
    [hostName, root, field] = [params.host as string, params.path as string, 'path'];
  }
  if (!path.posix.isAbsolute(root)) throw new Error(`\`${field}\` must be an absolute folder on host '${hostName}', not '${root}'`);
  const ssh = await sshConnectionFor(ctx.clients, ctx.inventory, hostName, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
  return { hostName, root: path.posix.normalize(root), ssh, description: `${hostName}:${path.posix.normalize(root)}` };
}

export async function listBackupFolder(folder: BackupFolder, signal: AbortSignal): Promise<Recording[]> {
  const result = await folder.ssh.run(listCommand(folder.root), { signal });
  return parseListing(result.stdout ?? '', 'backup');
}

/**
 * A bulk command of a transfer on the backup host. A broken connection surfaces as a bare stream
 * error (EPIPE): the failure then names the host and quotes what `ssh` and the command said last.
 */
export async function runBulkOnHost(folder: BackupFolder, argv: readonly string[], options: ExecOptions): Promise<void> {
  let stderr = '';
  try {
    await folder.ssh.runBulk(argv, { ...options, onStderr: (chunk) => (stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS)) });
  } catch (error) {
    if (isCancellationError(error)) throw error;
    const message = errorMessage(error);
    const tail = stderr.trim();
    throw new Error(`the transfer on ${folder.description} failed: ${message}${tail && !message.includes(tail) ? `\n${tail}` : ''}`);
  }
}

/** Layout renaming needs GNU tar on the host; checked before anything is written. */
export async function requireGnuTar(folder: BackupFolder, signal: AbortSignal): Promise<void> {
  const result = await folder.ssh.exec(['tar', '--version'], { signal });
  const first = (result.stdout ?? '').split('\n')[0] ?? '';
  if (result.exitCode !== 0 || !/GNU tar/.test(first)) {
    const found = result.exitCode === 0 ? `its tar is '${first.trim()}'` : `\`tar --version\` failed: ${result.stderrTail.trim() || `exit code ${result.exitCode ?? 'unknown'}`}`;
    throw new Error(`host '${folder.hostName}' needs GNU tar to rename recordings between Frigate's layout and the backup's (--transform); ${found}`);
  }
}

/** The Frigate pod holding the recordings, and how to run commands in it. */
export interface FrigatePod {
  kube: KubeClient;
  pod: PodInfo;
  ref: PodRef;
  description: string;
}

export async function openFrigatePod(frigate: string, ctx: ActionContext): Promise<FrigatePod> {
  const location = podLocationOf(frigateEntry(ctx, frigate));
  if (!location) throw new Error(`recordings are read from Frigate's pod: set \`frigate.${frigate}.files\` (cluster, namespace, labelSelector) in lifeboat.yaml`);
  const { kube, pod } = await findFrigatePod(ctx, frigate, location);
  return { kube, pod, ref: { namespace: pod.namespace, pod: pod.name, ...(location.container ? { container: location.container } : {}) }, description: `pod ${pod.namespace}/${pod.name}` };
}

export async function listPod(target: FrigatePod, signal: AbortSignal): Promise<Recording[]> {
  return parseListing(await target.kube.execText({ ...target.ref, command: listCommand(RECORDINGS_DIR), signal }), 'pod');
}

/** Both sides of a backup or restore, each listed with one `find`. */
export interface BothSides {
  pod: FrigatePod;
  folder: BackupFolder;
  inPod: Recording[];
  inBackup: Recording[];
}

export async function listBothSides(frigate: string, where: BackupFolderFields, ctx: ActionContext): Promise<BothSides> {
  const [pod, folder] = await Promise.all([openFrigatePod(frigate, ctx), openBackupFolder(where, ctx)]);
  const [inPod, inBackup] = await Promise.all([listPod(pod, ctx.signal), listBackupFolder(folder, ctx.signal)]);
  return { pod, folder, inPod, inBackup };
}

// Summaries --------------------------------------------------------------------------------------------

export interface RecordingsDay {
  date: string;
  hours: number;
  files: number;
  bytes: number;
}

export interface CameraRecordings {
  camera: string;
  days: RecordingsDay[];
}

/** Per camera (by name) and day (newest first): hours, files and bytes. */
export function summarizeRecordings(recordings: readonly Recording[]): CameraRecordings[] {
  const cameras = new Map<string, Map<string, { hours: Set<string>; files: number; bytes: number }>>();
  for (const recording of recordings) {
    const days = cameras.get(recording.camera) ?? new Map<string, { hours: Set<string>; files: number; bytes: number }>();
    cameras.set(recording.camera, days);
    const day = days.get(recording.date) ?? { hours: new Set<string>(), files: 0, bytes: 0 };
    days.set(recording.date, day);
    day.hours.add(recording.hour);
    day.files++;
    day.bytes += recording.bytes;
  }
  return [...cameras]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([camera, days]) => ({
      camera,
      days: [...days].sort(([a], [b]) => b.localeCompare(a)).map(([date, day]) => ({ date, hours: day.hours.size, files: day.files, bytes: day.bytes })),
    }));
}

// Transfer -----------------------------------------------------------------------------------------

/**
 * Streams one side's output into the other side's input. The first failure stops both sides (a
 * cancel too), and is the error reported: the other side then fails only because it was stopped.
 */
export async function streamBetween(options: {
  source: (output: Writable, signal: AbortSignal) => Promise<unknown>;
  sink: (input: Readable, signal: AbortSignal) => Promise<unknown>;
  signal: AbortSignal;
  onBytes: (transferred: number) => void;
}): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  let transferred = 0;
  const counted = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, done) {
      transferred += chunk.length;
      options.onBytes(transferred);
      done(null, chunk);
    },
  });
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    failure ??= { error };
    stop.abort();
  };
  try {
    await Promise.all([
      options.source(counted, stop.signal).then(
        () => {
          if (!counted.writableEnded) counted.end();
        },
        (error: unknown) => {
          fail(error);
          counted.destroy(error instanceof Error ? error : new Error(String(error)));
        },
      ),
      options.sink(counted, stop.signal).catch(fail),
    ]);
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
  if (options.signal.aborted) throw new CancelledError();
  if (failure) throw failure.error;
}

/** Removes a staging folder after a failure; when the host cannot be reached the next run removes it. */
async function discardStaging(remove: () => Promise<unknown>, staging: string, where: string, ctx: ActionContext): Promise<void> {
  try {
    await remove();
  } catch (error) {
    ctx.log.warn(`could not remove the staging folder ${staging} on ${where} (${errorMessage(error)}); the next run removes it`);
  }
}

/** Progress of one tar stream of `recordings`, in files and bytes, from the bytes seen so far. */
function tarProgress(ctx: ActionContext, message: string, recordings: readonly Recording[]): { onBytes: (bytes: number) => void; done: () => void } {
  const progress = new ThrottledProgress(ctx.progress);
  // A header block per file, its contents padded to whole blocks, and two end blocks.
  const ends: number[] = [];
  let end = 0;
  for (const recording of recordings) ends.push((end += 512 + Math.ceil(recording.bytes / 512) * 512));
  const totalBytes = end + 1024;
  let files = 0;
  progress.flush({ message, items: 0, totalItems: recordings.length, bytes: 0, totalBytes });
  return {
    onBytes(bytes) {
      while (files < ends.length && (ends[files] as number) <= bytes) files++;
      progress.update({ items: files, bytes });
    },
    done: () => progress.flush({ items: recordings.length, bytes: totalBytes }),
  };
}

/** Where a transfer lands: its root, and how to run a command there (a cleanup runs without the cancelled signal). */
export interface TransferTarget {
  root: string;
  description: string;
  run: (argv: readonly string[], signal?: AbortSignal) => Promise<unknown>;
}

/**
 * One tar stream of `recordings` from `source` into a fresh staging folder of the target (`sink`
 * unpacks it there), then each hour moved into place. A failure or cancel removes the staging folder,
 * so nothing of the run is left under a final name.
 */
export async function transferThroughStaging(options: {
  target: TransferTarget;
  recordings: readonly Recording[];
  message: string;
  source: (output: Writable, signal: AbortSignal) => Promise<unknown>;
  sink: (input: Readable, staging: string, signal: AbortSignal) => Promise<unknown>;
  ctx: ActionContext;
}): Promise<void> {
  const { target, ctx } = options;
  const staging = stagingFolderIn(target.root);
  await target.run(prepareStagingCommand(target.root, path.posix.basename(staging)), ctx.signal);
  const progress = tarProgress(ctx, options.message, options.recordings);
  try {
    await streamBetween({ signal: ctx.signal, onBytes: progress.onBytes, source: options.source, sink: (input, signal) => options.sink(input, staging, signal) });
    progress.done();
    await target.run(publishCommand(staging, target.root), ctx.signal);
  } catch (error) {
    await discardStaging(() => target.run(['rm', '-rf', '--', staging]), staging, target.description, ctx);
    throw error;
  }
}

/** Fails unless every transferred recording is now listed where it went, with its size. */
export function requireArrived(transferred: readonly Recording[], listed: readonly Recording[], where: string, name: (recording: Recording) => string): void {
  const present = new Map(listed.map((recording) => [backupPathOf(recording), recording.bytes]));
  const wrong = transferred.filter((recording) => present.get(backupPathOf(recording)) !== recording.bytes);
  if (wrong.length > 0) throw new Error(`${wrong.length} recordings are missing or of another size in ${where} after the transfer: ${wrong.slice(0, 5).map(name).join(', ')}${wrong.length > 5 ? ', …' : ''}`);
}

/** A list of files for `tar -T -`, one per line. */
export const fileList = (paths: readonly string[]): Readable => Readable.from([paths.map((entry) => `${entry}\n`).join('')]);
