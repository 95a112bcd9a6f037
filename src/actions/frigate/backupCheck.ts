import * as z from 'zod';
import { defineAction, type ActionContext, type ActionSpec } from '../../core/actions/spec';
import { pathExists } from '../../core/atomicFiles';
import { errorMessage, isCancellationError } from '../../core/errors';
import { DEFAULT_FACE_BACKUP_MAX_AGE_HOURS, DEFAULT_FACES_LOCATION, DEFAULT_RECORDINGS_LOCATION, declaredFaceLocations, recordingsLocationsOf, type RecordingsLocation } from './backupLocations';
import { formatAge, formatBytes, formatLocalDateTime, markdownTable } from '../../core/render';
import { resolveUserPath } from '../paths';
import { describeContents, summarizeArchives, type SummarizedArchive } from './archiveSummaries';
import { openArchiveLocation, type ArchiveVerification } from './destinations';
import { frigateHealth, type FrigateHealthResult } from './health';
import { frigateFacesList, type FacesListResult } from './list';
import { frigateRecordingsList, type RecordingsListResult } from './recordingsList';
import { frigateEntry, frigateInstanceParam, podLocationOf } from './target';

export type Verdict = 'ok' | 'stale' | 'failing';

const SEVERITY: Record<Verdict, number> = { ok: 0, stale: 1, failing: 2 };

function worst(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((found, verdict) => (SEVERITY[verdict] > SEVERITY[found] ? verdict : found), 'ok');
}

export interface FaceLocationCheck {
  location: string;
  where: string;
  newest?: SummarizedArchive & { verification: ArchiveVerification };
  archives: number;
  verdict: Verdict;
  /** Why the verdict is not ok, one reason a line. */
  reasons: string[];
}

/** One camera's newest day in the pod and in a recordings backup location. */
export interface CameraCheck {
  camera: string;
  podNewest: string | undefined;
  backupNewest: string | undefined;
  verdict: Verdict;
}

export interface RecordingsLocationCheck {
  location: string;
  where: string;
  cameras: CameraCheck[];
  verdict: Verdict;
  reasons: string[];
}

export interface RecordingsCheck {
  /** Why the pod's recordings could not be listed, when they could not. */
  podError?: string;
  locations: RecordingsLocationCheck[];
}

export interface FrigateBackupCheck {
  frigate: string;
  checkedAt: string;
  health: { ok: true; result: FrigateHealthResult } | { ok: false; error: string };
  library?: FacesListResult;
  faceLocations: FaceLocationCheck[];
  /** Absent when the instance's files are not in a cluster of the inventory: no pod to compare with. */
  recordings?: RecordingsCheck;
  verdict: Verdict;
  reasons: string[];
}

async function attempt<Result>(work: () => Promise<Result>): Promise<{ ok: true; result: Result } | { ok: false; error: string }> {
  try {
    return { ok: true, result: await work() };
  } catch (error) {
    if (isCancellationError(error)) throw error;
    return { ok: false, error: errorMessage(error) };
  }
}

function runSpec<Result>(spec: ActionSpec, params: Record<string, unknown>, ctx: ActionContext): Promise<Result> {
  return spec.run(spec.params.parse(params), ctx) as Promise<Result>;
}

/** People whose images the live library has more of than the archive: what a restore from it would lack. */
function missingFromArchive(archive: SummarizedArchive, library: FacesListResult): string[] {
  if (archive.contents.kind !== 'summary') return [];
  const archived = archive.contents.summary.people;
  return library.people.flatMap((person) => {
    const count = archived[person.name] ?? 0;
    return count < person.images ? [`${person.name}: ${person.images} live, ${count} in ${archive.name}`] : [];
  });
}

/** When to call a face backup stale, and when the check runs. */
export interface CheckLimits {
  /** A newer face backup is fresh; an older one is stale (the setting `lifeboat.frigate.faceBackupMaxAgeHours`). */
  maxAgeHours: number;
  now: Date;
}

/** A location without face archives counts only when face backups are meant to be there. */
function withoutBackup(location: string, where: string, expected: boolean): FaceLocationCheck | undefined {
  return expected ? { location, where, archives: 0, verdict: 'stale', reasons: [`no face backup in ${where}`] } : undefined;
}

async function checkFaceLocation(location: string, expected: boolean, frigate: string, library: FacesListResult | undefined, limits: CheckLimits, ctx: ActionContext): Promise<FaceLocationCheck | undefined> {
  const { now } = limits;
  let where = location;
  const entry = ctx.inventory.locations?.[location];
  // A local folder not created yet holds no backup, like an empty one; it is not a failure to read.
  if (entry && !('host' in entry) && 'path' in entry) {
    const folder = resolveUserPath(entry.path, ctx.workspaceDir);
    if (!(await pathExists(folder))) return withoutBackup(location, folder, expected);
  }
  try {
    const { destination } = await openArchiveLocation({ folder: undefined, folderField: 'folder', location }, ctx);
    where = destination.description;
    const archives = (await summarizeArchives(destination, ctx.signal)).filter((archive) => archive.contents.kind !== 'summary' || archive.contents.summary.frigate === frigate);
    const newestArchive = archives[0];
    if (!newestArchive) return withoutBackup(location, where, expected);
    const newest = { ...newestArchive, verification: await destination.verification(newestArchive, ctx.signal) };
    const reasons: string[] = [];
    let verdict: Verdict = 'ok';
    if (newest.verification.state === 'failed') {
      verdict = 'failing';
      reasons.push(`the newest backup ${newest.name} failed its verification`);
    }
    const age = newest.date ? now.getTime() - newest.date.getTime() : undefined;
    if (age === undefined || age > limits.maxAgeHours * 3_600_000) {
      verdict = worst([verdict, 'stale']);
      reasons.push(`the newest backup ${newest.name} is ${newest.date ? `from ${formatAge(newest.date, now)}` : 'undated'}`);
    }
    const missing = library ? missingFromArchive(newest, library) : [];
    if (missing.length > 0) {
      verdict = worst([verdict, 'stale']);
      reasons.push(`images added since the newest backup: ${missing.join('; ')}`);
    }
    return { location, where, newest, archives: archives.length, verdict, reasons };
  } catch (error) {
    if (isCancellationError(error)) throw error;
    return { location, where, archives: 0, verdict: 'failing', reasons: [`${location}: ${errorMessage(error)}`] };
  }
}

/** The UTC day before `date` (`YYYY-MM-DD`). */
function dayBefore(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

/**
 * A camera's backup is stale when its newest backed-up day is older than the day before the pod's
 * newest: the current day is still being recorded, and a nightly backup copies the day before.
 */
function compareCameras(pod: RecordingsListResult, backup: RecordingsListResult, location: string): RecordingsLocationCheck {
  const backedUp = new Map(backup.cameras.map((camera) => [camera.camera, camera.days[0]?.date]));
  const cameras = pod.cameras.map(({ camera, days }): CameraCheck => {
    const podNewest = days[0]?.date;
    const backupNewest = backedUp.get(camera);
    const behind = podNewest !== undefined && (backupNewest === undefined || backupNewest < dayBefore(podNewest));
    return { camera, podNewest, backupNewest, verdict: behind ? 'stale' : 'ok' };
  });
  const reasons = cameras.filter((camera) => camera.verdict !== 'ok').map((camera) => `recordings of ${camera.camera} in ${location}: ${camera.backupNewest ? `newest day ${camera.backupNewest}` : 'none'}, the pod has ${camera.podNewest ?? 'none'}`);
  return { location, where: backup.source, cameras, verdict: worst(cameras.map((camera) => camera.verdict)), reasons };
}

/**
 * The recordings backup locations the instance names (`frigate.<name>.backups.recordings`), each
 * compared camera by camera with the pod; when it names none, every SSH host location holding
 * recordings, and `frigate-recordings` even when empty.
 */
async function checkRecordings(ctx: ActionContext, frigate: string): Promise<RecordingsCheck> {
  const pod = await attempt(() => runSpec<RecordingsListResult>(frigateRecordingsList, { frigate }, ctx));
  if (!pod.ok) return { podError: pod.error, locations: [] };
  const declared = recordingsLocationsOf(ctx.inventory, frigate);
  const candidates: RecordingsLocation[] = declared.length > 0 ? declared : Object.entries(ctx.inventory.locations ?? {}).flatMap(([location, entry]) => ('host' in entry ? [{ location }] : []));
  const locations: RecordingsLocationCheck[] = [];
  for (const { location, problem } of [...candidates].sort((a, b) => a.location.localeCompare(b.location))) {
    const entry = ctx.inventory.locations?.[location];
    const where = entry && 'host' in entry ? `${entry.host}:${entry.path}` : location;
    if (problem !== undefined) {
      locations.push({ location, where, cameras: [], verdict: 'failing', reasons: [problem] });
      continue;
    }
    const expected = declared.length > 0 || location === DEFAULT_RECORDINGS_LOCATION;
    const backup = await attempt(() => runSpec<RecordingsListResult>(frigateRecordingsList, { location }, ctx));
    if (!backup.ok) locations.push({ location, where, cameras: [], verdict: 'failing', reasons: [`${location}: ${backup.error}`] });
    else if (backup.result.cameras.length > 0 || expected) locations.push(compareCameras(pod.result, backup.result, location));
  }
  return { locations };
}

/**
 * Everything a person wants to know about the backups of one Frigate instance, read only: Frigate's
 * health, and for every location holding its face archives the newest one (age, size, verification,
 * per-person counts against the live library). Reads archive heads only, never whole archives.
 */
export async function checkFrigateBackups(ctx: ActionContext, frigate: string, limits: CheckLimits): Promise<FrigateBackupCheck> {
  const { now } = limits;
  const health = await attempt(() => runSpec<FrigateHealthResult>(frigateHealth, { frigate }, ctx));
  const listed = await attempt(() => runSpec<FacesListResult>(frigateFacesList, { frigate }, ctx));
  const library = listed.ok ? listed.result : undefined;
  // The locations the instance names for its face backups, else every location (those holding none are left out, but for the default one).
  const declared = declaredFaceLocations(ctx.inventory, frigate);
  const faceLocations: FaceLocationCheck[] = [];
  for (const location of [...(declared ?? Object.keys(ctx.inventory.locations ?? {}))].sort()) {
    const checked = await checkFaceLocation(location, declared !== undefined || location === DEFAULT_FACES_LOCATION, frigate, library, limits, ctx);
    if (checked) faceLocations.push(checked);
  }
  const recordings = podLocationOf(frigateEntry(ctx, frigate)) ? await checkRecordings(ctx, frigate) : undefined;
  const reasons: string[] = [];
  if (!health.ok) reasons.push(`Frigate '${frigate}': ${health.error}`);
  if (faceLocations.length === 0) reasons.push(`no location of lifeboat.yaml holds a face backup of Frigate '${frigate}'`);
  for (const location of faceLocations) reasons.push(...location.reasons);
  if (recordings?.podError) reasons.push(`the recordings in Frigate's pod could not be listed: ${recordings.podError}`);
  for (const location of recordings?.locations ?? []) reasons.push(...location.reasons);
  const verdict = worst([
    health.ok ? 'ok' : 'failing',
    faceLocations.length === 0 ? 'stale' : 'ok',
    ...faceLocations.map((location) => location.verdict),
    recordings?.podError ? 'failing' : 'ok',
    ...(recordings?.locations ?? []).map((location) => location.verdict),
  ]);
  return { frigate, checkedAt: now.toISOString(), health, ...(library ? { library } : {}), faceLocations, ...(recordings ? { recordings } : {}), verdict, reasons };
}

export function renderBackupCheck(check: FrigateBackupCheck): string {
  const now = new Date(check.checkedAt);
  const verdict = `**Verdict: ${check.verdict}** (checked ${formatLocalDateTime(now)})${check.reasons.length > 0 ? `\n\n${check.reasons.map((reason) => `- ${reason}`).join('\n')}` : ''}`;
  const health = check.health.ok ? frigateHealth.render(check.health.result) : `Frigate '${check.frigate}' could not be checked: ${check.health.error}`;
  const library = check.library ? frigateFacesList.render(check.library) : 'The live face library could not be read.';
  const rows = check.faceLocations.map((location) => {
    const newest = location.newest;
    if (!newest) return [location.location, location.where, '—', '', '', '', '', location.verdict];
    return [
      location.location,
      location.where,
      newest.name,
      newest.date ? formatAge(newest.date, now) : 'undated',
      formatBytes(newest.bytes),
      newest.verification.detail,
      describeContents(newest.contents),
      location.verdict,
    ];
  });
  const faces = rows.length > 0 ? markdownTable(['Location', 'Where', 'Newest face backup', 'Age', 'Size', 'Verified', 'People', 'Verdict'], rows) : 'No location holds a face backup.';
  return [verdict, '## Frigate', health, '## Live face library', library, '## Face backups', faces, ...(check.recordings ? ['## Recordings', renderRecordings(check.recordings)] : [])].join('\n\n');
}

function renderRecordings(recordings: RecordingsCheck): string {
  if (recordings.podError) return `The recordings in Frigate's pod could not be listed: ${recordings.podError}`;
  if (recordings.locations.length === 0) return 'No location on an SSH host holds recordings.';
  const rows = recordings.locations.flatMap((location) =>
    location.cameras.length === 0 ? [[location.location, location.where, '—', '', '', location.verdict]] : location.cameras.map((camera) => [location.location, location.where, camera.camera, camera.podNewest ?? '—', camera.backupNewest ?? '—', camera.verdict]),
  );
  return markdownTable(['Location', 'Where', 'Camera', 'Newest day in the pod', 'Newest day backed up', 'Verdict'], rows);
}

const frigateBackupsCheckParams = z
  .object({
    frigate: frigateInstanceParam,
    maxAgeHours: z.number().positive().default(DEFAULT_FACE_BACKUP_MAX_AGE_HOURS).describe('A face backup older than this many hours is stale (in VS Code, the setting `lifeboat.frigate.faceBackupMaxAgeHours`).'),
  })
  .strict();

/**
 * The check as an action, so the palette command, a runbook and the CLI run it the same way and
 * every run of it is in the run history. It succeeds whatever the verdict: the verdict is its result.
 */
export const frigateBackupsCheck = defineAction({
  id: 'frigate.backups.check',
  title: 'Check Frigate backups',
  description: "Reads Frigate's health, the newest face backup of every face backup location (age, verification, per-person counts against the live library) and the newest backed-up recordings day per camera, and gives a verdict: ok, stale or failing.",
  params: frigateBackupsCheckParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `Check the backups of Frigate '${params.frigate}'`, operations: [{ kind: 'read', target: `Frigate '${params.frigate}' and its backup locations`, detail: 'health, face archive heads, recordings listings' }], destructive: false };
  },
  run: (params, ctx) => checkFrigateBackups(ctx, params.frigate, { maxAgeHours: params.maxAgeHours, now: new Date() }),
  render: renderBackupCheck,
});
