import path from 'node:path';
import * as z from 'zod';
import type { Disposable } from '../../core/actions/clients';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import type { HeldLock } from '../../core/locks';
import { formatBytes, formatDuration, markdownTable } from '../../core/render';
import {
  backupFolderParams,
  backupPathOf,
  cameraName,
  checkFolderAndRange,
  dayRangeParams,
  fileList,
  hourOf,
  inDayRange,
  listBothSides,
  listBackupFolder,
  podPathOf,
  RECORDINGS_DIR,
  requireArrived,
  requireGnuTar,
  runBulkOnHost,
  TO_BACKUP_LAYOUT,
  transferThroughStaging,
  type BackupFolder,
  type FrigatePod,
  type Recording,
} from './recordings';
import { hostFolderLockStore, lockLocation } from '../locationLocks';
import { frigateInstanceParam } from './target';

const recordingsBackupParams = z
  .object({
    frigate: frigateInstanceParam,
    ...backupFolderParams,
    cameras: z.array(cameraName).min(1).optional().describe('Cameras to back up; all when left out.'),
    ...dayRangeParams,
    retentionDays: z.int().min(0).default(7).describe('Day folders older than this many days are deleted from the backup after a successful run (never a camera\'s newest day); 0 keeps everything.'),
  })
  .strict()
  .superRefine((params, issues) => checkFolderAndRange(params, issues));

type RecordingsBackupParams = z.output<typeof recordingsBackupParams>;

export interface BackupDay {
  camera: string;
  date: string;
  /** In the pod, within the filters. */
  files: number;
  bytes: number;
  copiedFiles: number;
  copiedBytes: number;
}

export interface ExpiredDay {
  camera: string;
  date: string;
  files: number;
  bytes: number;
}

export interface RecordingsBackupResult {
  frigate: string;
  pod: string;
  /** `host:path`. */
  target: string;
  copiedFiles: number;
  copiedBytes: number;
  /** Hours already complete on the target, left as they are. */
  skippedHours: number;
  skippedFiles: number;
  /** Recordings in the pod older than `retentionDays`, not copied. */
  olderThanRetention: number;
  days: BackupDay[];
  deletedDays: ExpiredDay[];
  durationMs: number;
}

interface BackupSelection {
  copy: Recording[];
  days: BackupDay[];
  skippedHours: number;
  skippedFiles: number;
  olderThanRetention: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long removing a staging folder after a failure may take before the next run is left to do it. */
const CLEANUP_TIMEOUT_MS = 30_000;

/** The first UTC day retention keeps, or undefined when it keeps everything. */
function retentionCutoff(retentionDays: number, now: Date): string | undefined {
  return retentionDays === 0 ? undefined : new Date(now.getTime() - retentionDays * DAY_MS).toISOString().slice(0, 10);
}

/**
 * What to copy: every recording within the filters that the target lacks or holds with another size
 * (an hour copied while Frigate was still writing it is completed this way). An hour of which nothing
 * is to be copied is complete on the target and skipped.
 */
function selectForBackup(pod: readonly Recording[], target: readonly Recording[], params: RecordingsBackupParams, now: Date): BackupSelection {
  const cameras = params.cameras ? new Set(params.cameras) : undefined;
  const cutoff = retentionCutoff(params.retentionDays, now);
  const onTarget = new Map(target.map((recording) => [backupPathOf(recording), recording.bytes]));
  const inScope = pod.filter((recording) => (!cameras || cameras.has(recording.camera)) && inDayRange(recording, params));
  const kept = inScope.filter((recording) => cutoff === undefined || recording.date >= cutoff);
  const copy = kept.filter((recording) => onTarget.get(backupPathOf(recording)) !== recording.bytes).sort((a, b) => podPathOf(a).localeCompare(podPathOf(b)));
  const copiedHours = new Set(copy.map(hourOf));
  const days = new Map<string, BackupDay>();
  for (const recording of kept) {
    const key = `${recording.camera}/${recording.date}`;
    const day = days.get(key) ?? { camera: recording.camera, date: recording.date, files: 0, bytes: 0, copiedFiles: 0, copiedBytes: 0 };
    days.set(key, day);
    day.files++;
    day.bytes += recording.bytes;
  }
  for (const recording of copy) {
    const day = days.get(`${recording.camera}/${recording.date}`) as BackupDay;
    day.copiedFiles++;
    day.copiedBytes += recording.bytes;
  }
  const skippedHours = new Set(kept.map(hourOf).filter((hour) => !copiedHours.has(hour)));
  return {
    copy,
    days: [...days.values()].sort((a, b) => a.camera.localeCompare(b.camera) || b.date.localeCompare(a.date)),
    skippedHours: skippedHours.size,
    skippedFiles: kept.length - copy.length,
    olderThanRetention: inScope.length - kept.length,
  };
}

/** Day folders of the target older than the retention, leaving each camera its newest day. */
function expiredDays(target: readonly Recording[], params: RecordingsBackupParams, now: Date): ExpiredDay[] {
  const cutoff = retentionCutoff(params.retentionDays, now);
  if (cutoff === undefined) return [];
  const cameras = params.cameras ? new Set(params.cameras) : undefined;
  const days = new Map<string, ExpiredDay>();
  const newest = new Map<string, string>();
  for (const recording of target) {
    if (cameras && !cameras.has(recording.camera)) continue;
    if ((newest.get(recording.camera) ?? '') < recording.date) newest.set(recording.camera, recording.date);
    const key = `${recording.camera}/${recording.date}`;
    const day = days.get(key) ?? { camera: recording.camera, date: recording.date, files: 0, bytes: 0 };
    days.set(key, day);
    day.files++;
    day.bytes += recording.bytes;
  }
  return [...days.values()].filter((day) => day.date < cutoff && newest.get(day.camera) !== day.date).sort((a, b) => a.camera.localeCompare(b.camera) || a.date.localeCompare(b.date));
}

/** After the run the target holds what it held plus what is copied. */
function targetAfterCopy(target: readonly Recording[], copy: readonly Recording[]): Recording[] {
  const byKey = new Map(target.map((recording) => [backupPathOf(recording), recording]));
  for (const recording of copy) byKey.set(backupPathOf(recording), recording);
  return [...byKey.values()];
}

interface Surveyed {
  pod: FrigatePod;
  folder: BackupFolder;
  podRecordings: Recording[];
  targetRecordings: Recording[];
}

async function survey(params: RecordingsBackupParams, ctx: ActionContext): Promise<Surveyed> {
  const { pod, folder, inPod: podRecordings, inBackup: targetRecordings } = await listBothSides(params.frigate, params, ctx);
  const missing = (params.cameras ?? []).filter((camera) => !podRecordings.some((recording) => recording.camera === camera));
  if (missing.length > 0) {
    const present = [...new Set(podRecordings.map((recording) => recording.camera))].sort();
    throw new Error(`\`cameras\`: ${missing.map((camera) => `'${camera}'`).join(', ')} ha${missing.length === 1 ? 's' : 've'} no recordings in ${pod.description}; cameras there: ${present.join(', ') || 'none'}`);
  }
  return { pod, folder, podRecordings, targetRecordings };
}

/** What a plan a run follows found and chose: the run copies that selection and deletes those days, without listing both sides again. */
class PlannedBackup implements Disposable {
  constructor(
    readonly surveyed: Surveyed,
    readonly selection: BackupSelection,
    readonly expired: ExpiredDay[],
    /** Started with the plan: the host's tar is checked while the plan is shown. */
    readonly gnuTar: Promise<void>,
  ) {}

  // Holds nothing open: the connections belong to the run's client pool.
  dispose(): void {}
}

async function planBackup(params: RecordingsBackupParams, ctx: ActionContext): Promise<ActionPlan> {
  const surveyed = await survey(params, ctx);
  const { pod, folder, podRecordings, targetRecordings } = surveyed;
  const now = new Date();
  const selection = selectForBackup(podRecordings, targetRecordings, params, now);
  const expired = expiredDays(targetAfterCopy(targetRecordings, selection.copy), params, now);
  if (ctx.handOver) {
    const gnuTar = requireGnuTar(folder, ctx.signal);
    gnuTar.catch(() => undefined);
    ctx.handOver.give(new PlannedBackup(surveyed, selection, expired, gnuTar));
  }
  const copyBytes = selection.copy.reduce((sum, recording) => sum + recording.bytes, 0);
  const operations: PlannedOperation[] = selection.days.map((day) => ({
    kind: 'create',
    target: `${folder.description}/${day.camera}/${day.date}`,
    items: day.copiedFiles,
    bytes: day.copiedBytes,
    detail: day.copiedFiles === 0 ? `all ${day.files} files already backed up, skipped` : `copy ${day.copiedFiles} of ${day.files} files (${formatBytes(day.copiedBytes)} of ${formatBytes(day.bytes)})`,
  }));
  for (const day of expired) operations.push({ kind: 'delete', target: `${folder.description}/${day.camera}/${day.date}`, items: day.files, bytes: day.bytes, detail: `older than ${params.retentionDays} days` });
  const older = selection.olderThanRetention > 0 ? `; ${selection.olderThanRetention} recordings older than ${params.retentionDays} days are left out` : '';
  const deleting = expired.length > 0 ? `; then delete ${expired.length} day folder(s) older than ${params.retentionDays} days` : '';
  return {
    summary: `Copy ${selection.copy.length} recordings (${formatBytes(copyBytes)}) from ${pod.description}:${RECORDINGS_DIR} to ${folder.description}; ${selection.skippedHours} hours (${selection.skippedFiles} files) already complete there are skipped${older}${deleting}`,
    operations,
    destructive: expired.length > 0,
  };
}

async function runBackup(params: RecordingsBackupParams, ctx: ActionContext): Promise<RecordingsBackupResult> {
  const started = performance.now();
  const planned = ctx.handOver?.take(PlannedBackup);
  const { pod, folder, podRecordings, targetRecordings } = planned?.surveyed ?? (await survey(params, ctx));
  await (planned?.gnuTar ?? requireGnuTar(folder, ctx.signal));
  const selection = planned?.selection ?? selectForBackup(podRecordings, targetRecordings, params, new Date());
  ctx.log.info(`copying ${selection.copy.length} recordings from ${pod.description} to ${folder.description}; ${selection.skippedHours} hours already complete there`);
  const lock = await lockLocation(hostFolderLockStore(() => folder.ssh.sftp(), folder.root, folder.description), 'frigate.recordings.backup', ctx);
  try {
    return await copyAndExpire(params, ctx, { pod, folder, targetRecordings, selection, expired: planned?.expired, lock, started });
  } finally {
    await lock.release();
  }
}

/** The run's changes to the backup folder, made while the run holds its lock. */
async function copyAndExpire(
  params: RecordingsBackupParams,
  ctx: ActionContext,
  { pod, folder, targetRecordings, selection, expired: plannedExpired, lock, started }: Pick<Surveyed, 'pod' | 'folder' | 'targetRecordings'> & { selection: BackupSelection; expired: ExpiredDay[] | undefined; lock: HeldLock; started: number },
): Promise<RecordingsBackupResult> {
  let after = targetRecordings;
  if (selection.copy.length > 0) {
    await transferThroughStaging({
      target: { root: folder.root, description: folder.description, run: (argv, signal) => folder.ssh.run(argv, signal ? { signal } : { timeoutMs: CLEANUP_TIMEOUT_MS }) },
      recordings: selection.copy,
      message: 'Copying recordings',
      source: (output, signal) => pod.kube.exec({ ...pod.ref, command: ['tar', 'cf', '-', '-C', RECORDINGS_DIR, '-T', '-'], stdin: fileList(selection.copy.map(podPathOf)), stdout: output, signal }),
      sink: (input, staging, signal) => runBulkOnHost(folder, ['tar', 'xf', '-', '-C', staging, '--no-same-owner', '--transform', TO_BACKUP_LAYOUT], { stdin: input, signal }),
      ctx,
    });
    after = await listBackupFolder(folder, ctx.signal);
    requireArrived(selection.copy, after, folder.description, backupPathOf);
  }
  // The days the plan showed, when there was one.
  const expired = plannedExpired ?? expiredDays(after, params, new Date());
  if (expired.length > 0) {
    lock.assertHeld();
    ctx.log.info(`deleting ${expired.length} day folder(s) older than ${params.retentionDays} days from ${folder.description}`);
    await folder.ssh.run(['rm', '-rf', '--', ...expired.map((day) => path.posix.join(folder.root, day.camera, day.date))], { signal: ctx.signal });
  }
  return {
    frigate: params.frigate,
    pod: `${pod.pod.namespace}/${pod.pod.name}`,
    target: folder.description,
    copiedFiles: selection.copy.length,
    copiedBytes: selection.copy.reduce((sum, recording) => sum + recording.bytes, 0),
    skippedHours: selection.skippedHours,
    skippedFiles: selection.skippedFiles,
    olderThanRetention: selection.olderThanRetention,
    days: selection.days,
    deletedDays: expired,
    durationMs: Math.round(performance.now() - started),
  };
}

function renderBackup(result: RecordingsBackupResult): string {
  const summary = `Copied ${result.copiedFiles} recordings (${formatBytes(result.copiedBytes)}) from pod ${result.pod} to ${result.target} in ${formatDuration(result.durationMs)}; ${result.skippedHours} hours (${result.skippedFiles} files) were already complete there.`;
  const days = markdownTable(
    ['Camera', 'Day (UTC)', 'Files', 'Size', 'Copied now'],
    result.days.map((day) => [day.camera, day.date, day.files, formatBytes(day.bytes), `${day.copiedFiles} (${formatBytes(day.copiedBytes)})`]),
  );
  const notes: string[] = [];
  if (result.olderThanRetention > 0) notes.push(`${result.olderThanRetention} recordings in the pod are older than the retention and were not copied.`);
  if (result.deletedDays.length > 0) notes.push(`Deleted after the copy (older than the retention): ${result.deletedDays.map((day) => `${day.camera}/${day.date}`).join(', ')}.`);
  return [summary, result.days.length > 0 ? days : 'No recordings within the filters.', ...notes].join('\n\n');
}

export const frigateRecordingsBackup = defineAction({
  id: 'frigate.recordings.backup',
  title: 'Back up Frigate recordings',
  description:
    "Streams Frigate's recordings out of its pod with tar into a folder on an SSH host, one folder per camera, day and hour; copies only what the backup lacks, publishes each hour only once it arrived whole, and deletes day folders older than the retention.",
  params: recordingsBackupParams,
  destructive: true,
  plan: planBackup,
  run: runBackup,
  render: renderBackup,
});
