import * as z from 'zod';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { formatBytes, formatDuration, markdownTable } from '../../core/render';
import {
  backupFolderParams,
  backupPathOf,
  cameraName,
  checkFolderAndRange,
  dayRangeParams,
  fileList,
  inDayRange,
  listBothSides,
  listPod,
  podPathOf,
  RECORDINGS_DIR,
  requireArrived,
  requireGnuTar,
  runBulkOnHost,
  summarizeRecordings,
  TO_POD_LAYOUT,
  transferThroughStaging,
  type BackupFolder,
  type FrigatePod,
  type Recording,
} from './recordings';
import { frigateInstanceParam } from './target';

const recordingsRestoreParams = z
  .object({
    frigate: frigateInstanceParam,
    ...backupFolderParams,
    camera: cameraName.optional().describe('The one camera to restore; all when left out.'),
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
function selectForRestore(backup: readonly Recording[], pod: readonly Recording[], params: RecordingsRestoreParams): RestoreSelection {
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
  const { pod, folder, inPod: present, inBackup: backup } = await listBothSides(params.frigate, params, ctx);
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
    await transferThroughStaging({
      target: { root: RECORDINGS_DIR, description: pod.description, run: (argv, signal) => pod.kube.exec({ ...pod.ref, command: argv, ...(signal ? { signal } : {}) }) },
      recordings: selection.copy,
      message: 'Restoring recordings',
      // The names come from the backup host: a camera folder called `-C` is a name there, not an option.
      source: (output, signal) => runBulkOnHost(folder, ['tar', 'cf', '-', '-C', folder.root, '--transform', TO_POD_LAYOUT, '--verbatim-files-from', '-T', '-'], { stdin: fileList(selection.copy.map(backupPathOf)), stdout: output, signal }),
      sink: (input, staging, signal) => pod.kube.tarIntoPod({ ...pod.ref, directory: staging, signal }, input),
      ctx,
    });
    requireArrived(selection.copy, await listPod(pod, ctx.signal), pod.description, podPathOf);
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
