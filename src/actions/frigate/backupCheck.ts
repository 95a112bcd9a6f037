import type { ActionContext, ActionSpec } from '../../core/actions/spec';
import { errorMessage, isCancellationError } from '../../core/errors';
import { formatAge, formatBytes, formatLocalDateTime, markdownTable } from '../../core/render';
import { describeContents, summarizeArchives, type SummarizedArchive } from './archiveSummaries';
import { openArchiveLocation, type ArchiveVerification } from './destinations';
import { frigateHealth, type FrigateHealthResult } from './health';
import { frigateFacesList, type FacesListResult } from './list';

/** The location "Backup Frigate Faces Now" prefers: checked even when it holds no archive yet. */
export const DEFAULT_FACES_LOCATION = 'frigate-faces';

/**
 * A face backup older than this is stale: a nightly backup that ran a few hours late is not, one
 * that missed a night is.
 */
export const FACE_BACKUP_MAX_AGE_MS = 36 * 3600 * 1000;

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

export interface FrigateBackupCheck {
  frigate: string;
  checkedAt: string;
  health: { ok: true; result: FrigateHealthResult } | { ok: false; error: string };
  library?: FacesListResult;
  faceLocations: FaceLocationCheck[];
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

async function checkFaceLocation(location: string, frigate: string, library: FacesListResult | undefined, now: Date, ctx: ActionContext): Promise<FaceLocationCheck | undefined> {
  let where = location;
  try {
    const { destination } = await openArchiveLocation({ folder: undefined, folderField: 'folder', location }, ctx);
    where = destination.description;
    const archives = (await summarizeArchives(destination, ctx.signal)).filter((archive) => archive.contents.kind !== 'summary' || archive.contents.summary.frigate === frigate);
    const newestArchive = archives[0];
    if (!newestArchive) return location === DEFAULT_FACES_LOCATION ? { location, where, archives: 0, verdict: 'stale', reasons: [`no face backup in ${where}`] } : undefined;
    const newest = { ...newestArchive, verification: await destination.verification(newestArchive, ctx.signal) };
    const reasons: string[] = [];
    let verdict: Verdict = 'ok';
    if (newest.verification.state === 'failed') {
      verdict = 'failing';
      reasons.push(`the newest backup ${newest.name} failed its verification`);
    }
    const age = newest.date ? now.getTime() - newest.date.getTime() : undefined;
    if (age === undefined || age > FACE_BACKUP_MAX_AGE_MS) {
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

/**
 * Everything a person wants to know about the backups of one Frigate instance, read only: Frigate's
 * health, and for every location holding its face archives the newest one (age, size, verification,
 * per-person counts against the live library). Reads archive heads only, never whole archives.
 */
export async function checkFrigateBackups(ctx: ActionContext, frigate: string, now = new Date()): Promise<FrigateBackupCheck> {
  const health = await attempt(() => runSpec<FrigateHealthResult>(frigateHealth, { frigate }, ctx));
  const listed = await attempt(() => runSpec<FacesListResult>(frigateFacesList, { frigate }, ctx));
  const library = listed.ok ? listed.result : undefined;
  const faceLocations: FaceLocationCheck[] = [];
  for (const location of Object.keys(ctx.inventory.locations ?? {}).sort()) {
    const checked = await checkFaceLocation(location, frigate, library, now, ctx);
    if (checked) faceLocations.push(checked);
  }
  const reasons: string[] = [];
  if (!health.ok) reasons.push(`Frigate '${frigate}': ${health.error}`);
  if (faceLocations.length === 0) reasons.push(`no location of lifeboat.yaml holds a face backup of Frigate '${frigate}'`);
  for (const location of faceLocations) reasons.push(...location.reasons);
  const verdict = worst([health.ok ? 'ok' : 'failing', faceLocations.length === 0 ? 'stale' : 'ok', ...faceLocations.map((location) => location.verdict)]);
  return { frigate, checkedAt: now.toISOString(), health, ...(library ? { library } : {}), faceLocations, verdict, reasons };
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
  return [verdict, '## Frigate', health, '## Live face library', library, '## Face backups', faces].join('\n\n');
}
