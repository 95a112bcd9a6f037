import path from 'node:path';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { formatBytes, formatDuration, markdownTable } from '../../core/render';
import {
  backupFolderParams,
  backupPathOf,
  checkFolderAndRange,
  dayRangeParams,
  discardStaging,
  inDayRange,
  listBackupFolder,
  listPod,
  openBackupFolder,
  openFrigatePod,
  podPathOf,
  prepareStagingCommand,
  publishCommand,
  RECORDINGS_DIR,
  requireGnuTar,
  runBulkOnHost,
  stagingFolderIn,
  streamBetween,
  summarizeRecordings,
  tarProgress,
  TO_POD_LAYOUT,
  type BackupFolder,
  type FrigatePod,
  type Recording,
} from './recordings';
import { frigateInstanceParam } from './target';

const recordingsRestoreParams = z
  .object({
    frigate: frigateInstanceParam,
    ...backupFolderParams,
    camera: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a Frigate camera name (letters, digits, _ and -)').optional().describe('The one camera to restore; all when left out.'),
    ...dayRangeParams,
    overwrite: z.boolean().default(false).describe('Replace recordings the pod holds with another size or time than the backup (listed in the plan); by default they are kept and reported.'),
  })
  .strict()
  .superRefine((params, issues) => checkFolderAndRange(params, issues));

type RecordingsRestoreParams = z.output<typeof recordingsRestoreParams>;

export interface RecordingsRestoreResult {
  frigate: string;
  pod: string;
  source: string;
  restoredFiles: number;
  restoredBytes: number;
  /** Already in the pod with the same size and time. */
  identical: number;
  /** In the pod with another size or time: kept, unless `overwrite` replaced them (then also in `overwritten`). */
  conflicts: string[];
  overwritten: number;
  durationMs: number;
}

interface RestoreSelection {
  copy: Recording[];
  identical: number;
  /** Backup-layout paths of recordings the pod holds differently. */
  conflicts: Recording[];
}

/** Compares the backup (within the filters) with the pod by size and modification time, which tar carries over both ways. */
export function selectForRestore(backup: readonly Recording[], pod: readonly Recording[], params: RecordingsRestoreParams): RestoreSelection {
  const inPod = new Map(pod.map((recording) => [backupPathOf(recording), recording]));
  const wanted = backup.filter((recording) => (params.camera === undefined || recording.camera === params.camera) && inDayRange(recording, params));
  const missing: Recording[] = [];
  const conflicts: Recording[] = [];
  let identical = 0;
  for (const recording of wanted) {
    const present = inPod.get(backupPathOf(recording));
    if (!present) missing.push(recording);
    else if (present.bytes === recording.bytes && present.mtime === recording.mtime) identical++;
    else conflicts.push(recording);
  }
  const copy = [...missing, ...(params.overwrite ? conflicts : [])].sort((a, b) => backupPathOf(a).localeCompare(backupPathOf(b)));
  return { copy, identical, conflicts };
}

async function survey(params: RecordingsRestoreParams, ctx: ActionContext): Promise<{ pod: FrigatePod; folder: BackupFolder; selection: RestoreSelection }> {
  const [pod, folder] = await Promise.all([openFrigatePod(params.frigate, ctx), openBackupFolder(params, ctx)]);
  const [backup, present] = await Promise.all([listBackupFolder(folder, ctx.signal), listPod(pod, ctx.signal)]);
  if (params.camera !== undefined && !backup.some((recording) => recording.camera === params.camera)) {
    const cameras = [...new Set(backup.map((recording) => recording.camera))].sort();
    throw new Error(`\`camera\`: no recordings of '${params.camera}' in ${folder.description}; cameras there: ${cameras.join(', ') || 'none'}`);
  }
  return { pod, folder, selection: selectForRestore(backup, present, params) };
}

const sizeOf = (recordings: readonly Recording[]) => recordings.reduce((sum, recording) => sum + recording.bytes, 0);

async function planRestore(params: RecordingsRestoreParams, ctx: ActionContext): Promise<ActionPlan> {
  const { pod, folder, selection } = await survey(params, ctx);
  const missing = selection.copy.length - (params.overwrite ? selection.conflicts.length : 0);
  const operations: PlannedOperation[] = [{ kind: 'read', target: folder.description, items: selection.copy.length, bytes: sizeOf(selection.copy), detail: `${selection.identical} identical recordings already in the pod are skipped` }];
  const differing = new Set(selection.conflicts);
  for (const camera of summarizeRecordings(selection.copy.filter((recording) => !differing.has(recording)))) {
    for (const day of camera.days) operations.push({ kind: 'create', target: `${pod.description}:${RECORDINGS_DIR}/${day.date}/*/${camera.camera}`, items: day.files, bytes: day.bytes, detail: `${day.hours} hours` });
  }
  if (selection.conflicts.length > 0) {
    operations.push(
      params.overwrite
        ? { kind: 'overwrite', target: `${pod.description}:${RECORDINGS_DIR}`, items: selection.conflicts.length, detail: selection.conflicts.map(podPathOf).join(', ') }
        : { kind: 'verify', target: `${pod.description}:${RECORDINGS_DIR}`, items: selection.conflicts.length, detail: `kept as they are (they differ from the backup): ${selection.conflicts.map(podPathOf).join(', ')}` },
    );
  }
  const conflicts =
    selection.conflicts.length === 0 ? '' : params.overwrite ? `; overwrite ${selection.conflicts.length} that differ` : `; keep ${selection.conflicts.length} that differ from the backup (overwrite: true replaces them)`;
  return {
    summary: `Restore ${missing} recordings (${formatBytes(sizeOf(selection.copy))}) from ${folder.description} into ${pod.description}; ${selection.identical} identical are skipped${conflicts}`,
    operations,
    destructive: params.overwrite && selection.conflicts.length > 0,
  };
}

async function runRestore(params: RecordingsRestoreParams, ctx: ActionContext): Promise<RecordingsRestoreResult> {
  const started = performance.now();
  const { pod, folder, selection } = await survey(params, ctx);
  await requireGnuTar(folder, ctx.signal);
  for (const conflict of params.overwrite ? [] : selection.conflicts) ctx.log.warn(`${podPathOf(conflict)} is in the pod with another size or time than in the backup; kept as it is`);
  if (selection.copy.length > 0) {
    const staging = stagingFolderIn(RECORDINGS_DIR);
    await pod.kube.exec({ ...pod.ref, command: prepareStagingCommand(RECORDINGS_DIR, path.posix.basename(staging)), signal: ctx.signal });
    const progress = tarProgress(ctx, 'Restoring recordings', selection.copy);
    try {
      await streamBetween({
        signal: ctx.signal,
        onBytes: progress.onBytes,
        source: (output, signal) =>
          runBulkOnHost(folder, ['tar', 'cf', '-', '-C', folder.root, '--transform', TO_POD_LAYOUT, '-T', '-'], { stdin: Readable.from([selection.copy.map((recording) => `${backupPathOf(recording)}\n`).join('')]), stdout: output, signal }),
        sink: (input, signal) => pod.kube.tarIntoPod({ ...pod.ref, directory: staging, signal }, input),
      });
      progress.done();
      await pod.kube.exec({ ...pod.ref, command: publishCommand(staging, RECORDINGS_DIR), signal: ctx.signal });
    } catch (error) {
      await discardStaging(() => pod.kube.exec({ ...pod.ref, command: ['rm', '-rf', '--', staging] }), staging, pod.description, ctx);
      throw error;
    }
    const present = new Map((await listPod(pod, ctx.signal)).map((recording) => [backupPathOf(recording), recording.bytes]));
    const wrong = selection.copy.filter((recording) => present.get(backupPathOf(recording)) !== recording.bytes);
    if (wrong.length > 0) throw new Error(`${wrong.length} recordings are missing or of another size in ${pod.description} after the restore: ${wrong.slice(0, 5).map(podPathOf).join(', ')}${wrong.length > 5 ? ', …' : ''}`);
  }
  return {
    frigate: params.frigate,
    pod: `${pod.pod.namespace}/${pod.pod.name}`,
    source: folder.description,
    restoredFiles: selection.copy.length,
    restoredBytes: sizeOf(selection.copy),
    identical: selection.identical,
    conflicts: selection.conflicts.map(podPathOf),
    overwritten: params.overwrite ? selection.conflicts.length : 0,
    durationMs: Math.round(performance.now() - started),
  };
}

function renderRestore(result: RecordingsRestoreResult): string {
  const table = markdownTable(
    ['Restored', 'Size', 'Already identical', 'Differing', 'Took'],
    [[result.restoredFiles, formatBytes(result.restoredBytes), result.identical, result.conflicts.length, formatDuration(result.durationMs)]],
  );
  const notes = [`Restored from ${result.source} into pod ${result.pod}.`];
  if (result.conflicts.length > 0) {
    notes.push(result.overwritten > 0 ? `Overwritten with the backup's copy: ${result.conflicts.join(', ')}.` : `Kept as they are, differing from the backup: ${result.conflicts.join(', ')}.`);
  }
  notes.push("Frigate shows only recordings its database knows: files restored after the database lost them are on disk, but appear in Frigate's UI only once its database has them again (restore the database too).");
  return [table, ...notes].join('\n\n');
}

export const frigateRecordingsRestore = defineAction({
  id: 'frigate.recordings.restore',
  title: 'Restore Frigate recordings',
  description:
    "Streams recordings from the SSH backup folder back into Frigate's pod (all cameras or one, within a date range); skips those already there and never replaces one that differs unless `overwrite` is set.",
  params: recordingsRestoreParams,
  destructive: true,
  plan: planRestore,
  run: runRestore,
  render: renderRestore,
});
