import path from 'node:path';
import { Readable } from 'node:stream';
import * as z from 'zod';
import { FrigateError, type FaceLibrary, type FrigateClient } from '../../clients/frigate';
import { DEFAULT_RETRY_POLICY, withRetries } from '../../clients/retry';
import { mapConcurrent } from '../../core/concurrency';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import { ThrottledProgress } from '../../core/progress';
import { formatDuration, markdownTable, printable } from '../../core/render';
import { formatArchiveName, newestFirst } from '../archive/naming';
import { openArchiveLocation, type ArchiveDestination, type StoredArchive } from './destinations';
import { countByPerson, FACES_PREFIX, tarEnd, tarFileBlocks } from './facesArchive';
import { describeFacesFolder, emptyPeople, listFacesFolder, openFacesFolder, placeImages, saveFacesFolder, TRAIN_FOLDER, type FacesFolder } from './facesFolder';
import { readFacesArchive, type ArchivedImage, type FacesArchiveContents } from './readFacesArchive';
import { frigateClientFor, frigateInstanceParam } from './target';
import { makeFolders } from '../../core/atomicFiles';

const LATEST = 'latest';
const SAFETY_FOLDER = '.lifeboat/frigate-safety';

const frigateFacesRestoreParams = z
  .object({
    frigate: frigateInstanceParam,
    folder: z.string().min(1).optional().describe('Local folder holding the face archives. Give this or `location`.'),
    location: z.string().min(1).optional().describe('A location of `locations:` in lifeboat.yaml holding the face archives. Give this or `folder`.'),
    archive: z
      .string()
      .min(1)
      .default(LATEST)
      .describe('`latest`, a date (`2026-02-06` or `20260206`: the newest archive of that day), or an archive file name.'),
    method: z
      .enum(['files', 'api'])
      .default('files')
      .describe("`files`: the images byte for byte into Frigate's face folder: in its pod through Kubernetes exec, or on its host through SSH (`frigate.<name>.files`). `api`: registered one by one through the HTTP API, which re-crops and renames them and may reject some."),
    clean: z.boolean().default(false).describe('`files` only: delete the people now in the library first (a safety backup of it is taken before). `train` is kept.'),
    concurrency: z
      .int()
      .min(1)
      .max(16)
      .default(2)
      .describe('Images registered at once (`api`). Frigate handles registrations one at a time; two keep it busy (the next one arrives while one is processed) without queueing more.'),
  })
  .strict()
  .refine((params) => !(params.clean && params.method === 'api'), { message: '`clean: true` needs `method: files`; the API cannot delete a whole library safely', path: ['clean'] });

type FacesRestoreParams = z.output<typeof frigateFacesRestoreParams>;

export interface PersonCheck {
  name: string;
  /** Images of this person in the archive. */
  archived: number;
  /** Images of this person in Frigate after the restore. */
  present: number;
}

export interface FacesRestoreResult {
  frigate: string;
  archive: string;
  method: 'files' | 'api';
  restored: number;
  /** Already present (same name, and for `files` the same bytes). */
  skipped: number;
  /** `files`: present under the same name with other bytes, kept as they are. */
  conflicts: string[];
  /** `api`: images Frigate refused, with its reason. */
  rejected: { image: string; reason: string }[];
  /** `files`: whether Frigate was asked to reload the library from disk (else it does on its next restart). */
  classifierRefreshed: boolean;
  /** `files` with `clean`: the library as it was, before anything was deleted. */
  safetyBackup?: string;
  deleted: number;
  people: PersonCheck[];
  /** `api`: images of the `train` folder, which the API cannot restore. */
  leftOut: number;
  /** Entries of the archive that are not face images (`._*` files and the like). */
  ignored: number;
  durationMs: number;
}

/** The archive to restore among those in the location. */
function selectArchive(archives: readonly StoredArchive[], wanted: string, where: string): StoredArchive {
  // Newest first, so the first of any day is its newest.
  const dated = newestFirst(archives).flatMap(({ date, ...archive }) => (date ? [{ archive, date }] : []));
  if (wanted === LATEST) {
    const found = dated[0]?.archive;
    if (!found) throw new Error(`no face archive (${FACES_PREFIX}-*.tar.gz) in ${where}`);
    return found;
  }
  const day = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(wanted);
  if (day) {
    const [year, month, date] = day.slice(1).map(Number) as [number, number, number];
    const found = dated.find(({ date: when }) => when.getFullYear() === year && when.getMonth() === month - 1 && when.getDate() === date)?.archive;
    if (!found) throw new Error(`no face archive of ${wanted} in ${where}; there are ${archives.map((archive) => archive.name).join(', ') || 'none'}`);
    return found;
  }
  const named = archives.find((archive) => archive.name === wanted);
  if (!named) throw new Error(`no archive '${wanted}' in ${where}`);
  return named;
}

async function locate(params: FacesRestoreParams, ctx: ActionContext): Promise<{ source: ArchiveDestination; archive: StoredArchive }> {
  const { destination: source } = await openArchiveLocation({ folder: params.folder, folderField: 'folder', location: params.location }, ctx);
  const archive = selectArchive(await source.listArchives(FACES_PREFIX, ctx.signal), params.archive, source.description);
  return { source, archive };
}

async function loadArchive(source: ArchiveDestination, archive: StoredArchive, signal: AbortSignal): Promise<FacesArchiveContents> {
  const local = await source.fetch(archive.name, signal);
  try {
    return await readFacesArchive(local.path, archive.name, signal);
  } finally {
    await local.discard();
  }
}

const key = (image: { person: string; file: string }) => `${image.person}/${image.file}`;

function checkCounts(archived: readonly { person: string }[], present: ReadonlyMap<string, number>): PersonCheck[] {
  return [...countByPerson(archived)].sort(([a], [b]) => a.localeCompare(b)).map(([name, count]) => ({ name, archived: count, present: present.get(name) ?? 0 }));
}

function countsOfKeys(keys: Iterable<string>): Map<string, number> {
  return countByPerson([...keys].map((entry) => ({ person: entry.slice(0, entry.indexOf('/')) })));
}

async function planRestore(params: FacesRestoreParams, ctx: ActionContext): Promise<ActionPlan> {
  const { source, archive } = await locate(params, ctx);
  const contents = await loadArchive(source, archive, ctx.signal);
  const people = countByPerson(contents.images);
  const operations: PlannedOperation[] = [{ kind: 'read', target: source.finalLocation(archive.name), bytes: archive.bytes, items: contents.images.length, detail: `${people.size} people${contents.manifest ? '' : ', no manifest (old backup script)'}` }];
  if (params.method === 'api') {
    const client = await frigateClientFor(ctx, params.frigate);
    const library = await client.faces(ctx.signal);
    const missing = contents.images.filter((image) => image.person !== TRAIN_FOLDER && !(library.people[image.person] ?? []).includes(image.file));
    operations.push({ kind: 'create', target: `Frigate '${params.frigate}' face library`, items: missing.length, detail: 'POST /api/faces/<name>/register per image' });
    return {
      summary:
        `Register ${missing.length} of ${contents.images.length} images from ${archive.name} through Frigate's API. ` +
        'Frigate crops every image to the face it detects and stores it under a new name, so the library will not be byte-identical to the backup, and it rejects images in which it detects no face; rejected images are listed.',
      operations,
      destructive: false,
    };
  }
  const folder = await openFacesFolder(ctx, params.frigate);
  const current = await listFacesFolder(folder, ctx.signal);
  const doomed = params.clean ? [...current.keys()].filter((entry) => !entry.startsWith(`${TRAIN_FOLDER}/`)) : [];
  const kept = params.clean ? new Map([...current].filter(([entry]) => entry.startsWith(`${TRAIN_FOLDER}/`))) : current;
  const missing = contents.images.filter((image) => !kept.has(key(image)));
  if (params.clean) {
    operations.push({ kind: 'create', target: path.join(ctx.workspaceDir, SAFETY_FOLDER), items: current.size, detail: 'safety backup of the library as it is now' });
    for (const [person, count] of countsOfKeys(doomed)) operations.push({ kind: 'delete', target: `${describeFacesFolder(folder)}/${person}`, items: count });
  }
  operations.push({ kind: 'create', target: describeFacesFolder(folder), items: missing.length, detail: `byte for byte, staged beside the face folder and moved into place, through ${folder.where.startsWith('pod') ? 'Kubernetes exec' : 'SSH'}` });
  return {
    summary: `Restore ${missing.length} of ${contents.images.length} images from ${archive.name} into ${folder.where}${params.clean ? `, after deleting ${doomed.length} images now there (a safety backup is taken first)` : ''}`,
    operations,
    destructive: doomed.length > 0,
  };
}

async function runRestore(params: FacesRestoreParams, ctx: ActionContext): Promise<FacesRestoreResult> {
  const started = performance.now();
  // Through the API, Frigate is reached (login, listing) while the archive is fetched and checked.
  const frigate = params.method === 'api' ? frigateClientFor(ctx, params.frigate).then(async (client) => ({ client, before: await client.faces(ctx.signal) })) : undefined;
  frigate?.catch(() => undefined);
  const { source, archive } = await locate(params, ctx);
  const contents = await loadArchive(source, archive, ctx.signal);
  ctx.log.info(`restoring ${contents.images.length} images from ${source.finalLocation(archive.name)} by ${params.method}`);
  if (contents.ignored.length > 0) ctx.log.info(`leaving out ${contents.ignored.length} entries that are not face images (${contents.ignored.slice(0, 3).map(printable).join(', ')}${contents.ignored.length > 3 ? ', …' : ''})`);
  const outcome = frigate ? await restoreThroughApi(params, await frigate, ctx, contents.images) : await restoreFiles(params, ctx, contents.images);
  const none = nothingRestored(outcome, contents.images.length);
  if (none) throw new Error(`restore of ${archive.name} restored none of its ${contents.images.length} images: ${none}`);
  const failed = outcome.people.filter((person) => person.present < person.archived - outcome.rejected.filter((entry) => entry.image.startsWith(`${person.name}/`)).length);
  const result: FacesRestoreResult = { frigate: params.frigate, archive: archive.name, method: params.method, ignored: contents.ignored.length, durationMs: Math.round(performance.now() - started), ...outcome };
  if (failed.length > 0) {
    throw new Error(
      `restore of ${archive.name} incomplete: ${failed.map((person) => `${person.name} has ${person.present} of ${person.archived} images`).join(', ')}${outcome.rejected.length > 0 ? ` (${outcome.rejected.length} rejected by Frigate)` : ''}`,
    );
  }
  return result;
}

type Outcome = Omit<FacesRestoreResult, 'frigate' | 'archive' | 'method' | 'ignored' | 'durationMs'>;

/**
 * Why an archive that holds images got none of them into Frigate, or undefined when some were
 * restored or were there already (a second run of a restore restores nothing and succeeds).
 */
function nothingRestored(outcome: Outcome, archived: number): string | undefined {
  if (archived === 0 || outcome.restored > 0 || outcome.skipped > 0) return undefined;
  const reasons: string[] = [];
  const [firstRejected] = outcome.rejected;
  if (firstRejected) reasons.push(`Frigate rejected ${outcome.rejected.length} (${printable(firstRejected.image)}: ${firstRejected.reason})`);
  if (outcome.conflicts.length > 0) reasons.push(`${outcome.conflicts.length} are in the library under the same name with other contents (clean: true replaces the library)`);
  if (outcome.leftOut > 0) reasons.push(`${outcome.leftOut} are in the train folder, which the API cannot restore`);
  return reasons.join('; ');
}

async function restoreThroughApi(params: FacesRestoreParams, frigate: { client: FrigateClient; before: FaceLibrary }, ctx: ActionContext, images: readonly ArchivedImage[]): Promise<Outcome> {
  const { client, before } = frigate;
  const people = images.filter((image) => image.person !== TRAIN_FOLDER);
  if (people.length < images.length) ctx.log.info(`the API cannot restore the train folder; leaving out its ${images.length - people.length} images`);
  const archivedCounts = countByPerson(people);
  // Registered images are renamed, so a second run finds none by name: a person who already has at
  // least as many images as the archive holds is taken as restored.
  const complete = new Set([...archivedCounts].filter(([person, count]) => (before.people[person]?.length ?? 0) >= count).map(([person]) => person));
  const todo = people.filter((image) => !complete.has(image.person) && !(before.people[image.person] ?? []).includes(image.file));
  for (const person of new Set(todo.map((image) => image.person))) if (!before.people[person]) await client.createFace(person, ctx.signal);

  const progress = new ThrottledProgress(ctx.progress);
  const rejected: Outcome['rejected'] = [];
  let done = 0;
  await mapConcurrent(
    todo,
    params.concurrency,
    async (image) => {
      try {
        await register(client, image, ctx.signal);
      } catch (error) {
        if (!(error instanceof FrigateError && error.failure === 'rejected')) throw error;
        rejected.push({ image: key(image), reason: error.message });
        ctx.log.warn(`Frigate rejected ${key(image)}: ${error.message}`);
      }
      progress.update({ message: 'Registering faces', items: ++done, totalItems: todo.length });
    },
    ctx.signal,
  );
  const after = await client.faces(ctx.signal);
  const present = new Map(Object.entries(after.people).map(([person, files]) => [person, files.length]));
  // Every register already rebuilt the classifier.
  return { restored: todo.length - rejected.length, skipped: people.length - todo.length, conflicts: [], rejected, leftOut: images.length - people.length, deleted: 0, classifierRefreshed: todo.length > 0, people: checkCounts(people, present) };
}

/**
 * Registers one image. The client already retries 5xx answers; a connection dropped before Frigate
 * answered is tried again here too: the image may then be stored twice, which is better for a
 * restore than missing it, and the count check afterwards shows either way.
 */
function register(client: FrigateClient, image: ArchivedImage, signal: AbortSignal): Promise<void> {
  return withRetries(() => client.registerFace(image.person, { file: image.file, data: image.data }, signal), {
    policy: DEFAULT_RETRY_POLICY,
    signal,
    isRetryable: (error) => error instanceof FrigateError && (error.failure === 'dropped' || error.failure === 'timeout'),
  });
}

async function restoreFiles(params: FacesRestoreParams, ctx: ActionContext, images: readonly ArchivedImage[]): Promise<Outcome> {
  const folder = await openFacesFolder(ctx, params.frigate);
  let current = await listFacesFolder(folder, ctx.signal);
  let safetyBackup: string | undefined;
  let deleted = 0;
  if (params.clean) {
    safetyBackup = await takeSafetyBackup(ctx, folder, params.frigate);
    ctx.log.info(`safety backup of the library as it was: ${safetyBackup}`);
    const doomed = [...current.keys()].filter((entry) => !entry.startsWith(`${TRAIN_FOLDER}/`));
    await emptyPeople(folder, ctx.signal);
    deleted = doomed.length;
    current = await listFacesFolder(folder, ctx.signal);
  }
  const conflicts: string[] = [];
  const missing = images.filter((image) => {
    const present = current.get(key(image));
    if (present !== undefined && present !== image.sha256) conflicts.push(key(image));
    return present === undefined;
  });
  for (const conflict of conflicts) ctx.log.warn(`${printable(conflict)} is in the library with other contents; kept as it is (use clean: true to replace the library)`);
  if (missing.length > 0) {
    const mtime = new Date();
    async function* blocks(): AsyncGenerator<Buffer> {
      // One chunk per image: each chunk becomes one stdin frame of the exec or SSH channel.
      for (const image of missing) yield Buffer.concat(tarFileBlocks(key(image), image.data, mtime));
      yield tarEnd();
    }
    ctx.log.info(`writing ${missing.length} images into ${describeFacesFolder(folder)}`);
    await placeImages(folder, Readable.from(blocks()), ctx.signal);
  }
  const after = await listFacesFolder(folder, ctx.signal);
  const present = countsOfKeys(images.filter((image) => after.get(key(image)) === image.sha256).map(key));
  const classifierRefreshed = missing.length > 0 || deleted > 0 ? await refreshClassifier(params.frigate, ctx, [...after.keys()]) : false;
  return {
    classifierRefreshed,
    restored: missing.length,
    skipped: images.length - missing.length - conflicts.length,
    conflicts,
    rejected: [],
    leftOut: 0,
    ...(safetyBackup ? { safetyBackup } : {}),
    deleted,
    people: checkCounts(images, present),
  };
}

/**
 * Frigate reads the face library from disk only when its classifier is rebuilt, which every
 * mutating face call triggers; there is no call for that alone. Deleting no image of a person who
 * has images changes nothing on disk and triggers it. Without the API the next restart does it.
 */
async function refreshClassifier(frigate: string, ctx: ActionContext, library: readonly string[]): Promise<boolean> {
  const person = library.map((entry) => entry.slice(0, entry.indexOf('/'))).find((name) => name !== TRAIN_FOLDER);
  if (person === undefined) return false;
  try {
    await (await frigateClientFor(ctx, frigate)).deleteFaces(person, [], ctx.signal);
    return true;
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    ctx.log.warn(`could not ask Frigate '${frigate}' to reload its face library (${errorMessage(error)}); restart Frigate so it recognises the restored faces`);
    return false;
  }
}

/** The whole face library as it is now, into `.lifeboat/frigate-safety/` of the workspace. */
async function takeSafetyBackup(ctx: ActionContext, folder: FacesFolder, frigate: string): Promise<string> {
  const safety = path.join(ctx.workspaceDir, SAFETY_FOLDER);
  await makeFolders(safety);
  const file = path.join(safety, formatArchiveName('{prefix}-{YYYY}{MM}{DD}-{hh}{mm}{ss}.tar.gz', `${frigate}-faces-before-restore`, new Date()));
  await saveFacesFolder(folder, file, ctx.signal);
  return file;
}

function renderRestore(result: FacesRestoreResult): string {
  const summary = markdownTable(
    ['Archive', 'Method', 'Restored', 'Already there', 'Rejected', 'Took'],
    [[result.archive, result.method, result.restored, result.skipped, result.rejected.length, formatDuration(result.durationMs)]],
  );
  const people = markdownTable(['Person', 'In the archive', 'In Frigate'], result.people.map((person) => [person.name, person.archived, person.present]));
  const notes: string[] = [];
  if (result.safetyBackup) notes.push(`Deleted ${result.deleted} images first; the library as it was is in \`${result.safetyBackup}\`.`);
  if (result.restored === 0 && result.skipped > 0) notes.push(`Nothing to restore: all ${result.skipped} images of the archive are already in Frigate.`);
  if (result.method === 'files' && result.restored > 0) notes.push(result.classifierRefreshed ? 'Frigate was asked to reload its face library.' : 'Frigate could not be asked to reload its face library: restart it so it recognises the restored faces.');
  if (result.method === 'api') notes.push('Frigate cropped and renamed every registered image: the library holds the faces, not the original files.');
  if (result.rejected.length > 0) notes.push(markdownTable(['Rejected by Frigate', 'Reason'], result.rejected.map((entry) => [entry.image, entry.reason])));
  if (result.conflicts.length > 0) notes.push(`Kept with other contents than the archive's: ${result.conflicts.join(', ')}.`);
  if (result.ignored > 0) notes.push(`Left out ${result.ignored} entries that are not face images (such as macOS \`._*\` files).`);
  return [summary, people, ...notes].join('\n\n');
}

export const frigateFacesRestore = defineAction({
  id: 'frigate.faces.restore',
  title: 'Restore Frigate faces',
  description: 'Restores a face archive (`latest`, a date or a name; old-script archives too) into Frigate: byte for byte into its face folder in its pod or on its host (`files`), or through its API (`api`); skips images already there and checks per-person counts.',
  params: frigateFacesRestoreParams,
  destructive: true,
  plan: planRestore,
  run: runRestore,
  render: renderRestore,
});

