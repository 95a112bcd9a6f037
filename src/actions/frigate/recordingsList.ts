import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, markdownTable } from '../../core/render';
import { backupFolderParams, checkFolderAndRange, listBackupFolder, listPod, openBackupFolder, openFrigatePod, RECORDINGS_DIR, summarizeRecordings, type CameraRecordings } from './recordings';

const recordingsListParams = z
  .object({
    frigate: z.string().min(1).optional().describe("Name of a Frigate instance in `frigate:` of lifeboat.yaml: lists what its pod holds. Give this, or the backup's `location` (or `host` and `path`)."),
    ...backupFolderParams,
  })
  .strict()
  .superRefine((params, issues) => {
    const backupNamed = params.location !== undefined || params.host !== undefined || params.path !== undefined;
    if (params.frigate !== undefined && backupNamed) issues.addIssue({ code: 'custom', message: 'give either `frigate` (the pod) or the backup (`location`, or `host` and `path`), not both', path: ['frigate'] });
    else if (params.frigate === undefined) checkFolderAndRange(params, issues);
  });

export interface RecordingsListResult {
  /** `frigate '<name>' (pod ns/name)` or `<host>:<path>`. */
  source: string;
  root: string;
  cameras: CameraRecordings[];
}

export const frigateRecordingsList = defineAction({
  id: 'frigate.recordings.list',
  title: 'List Frigate recordings',
  description: "Lists recordings per camera and UTC day (hours, files, size), newest first: those in Frigate's pod, or those in a backup folder on an SSH host.",
  params: recordingsListParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    const where = params.frigate !== undefined ? `Frigate '${params.frigate}' (${RECORDINGS_DIR} in its pod)` : (params.location ?? `${params.host ?? ''}:${params.path ?? ''}`);
    return { summary: `List the recordings of ${where}`, operations: [{ kind: 'read', target: where }], destructive: false };
  },
  async run(params, ctx): Promise<RecordingsListResult> {
    if (params.frigate !== undefined) {
      const pod = await openFrigatePod(params.frigate, ctx);
      return { source: `frigate '${params.frigate}' (${pod.description})`, root: RECORDINGS_DIR, cameras: summarizeRecordings(await listPod(pod, ctx.signal)) };
    }
    const folder = await openBackupFolder(params, ctx);
    return { source: folder.description, root: folder.root, cameras: summarizeRecordings(await listBackupFolder(folder, ctx.signal)) };
  },
  render(result: RecordingsListResult) {
    const rows = result.cameras.flatMap((camera) => camera.days.map((day) => [camera.camera, day.date, day.hours, day.files, formatBytes(day.bytes)]));
    if (rows.length === 0) return `No recordings in ${result.source}.`;
    return `Recordings in ${result.source}:\n\n${markdownTable(['Camera', 'Day (UTC)', 'Hours', 'Files', 'Size'], rows)}`;
  },
});
