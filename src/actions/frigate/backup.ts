import { createWriteStream, existsSync, mkdtempSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import * as z from 'zod';
import { findBulkCurl, curlBulkGet, type BulkCurl } from '../../clients/curl';
import { FrigateError, type FaceLibrary, type FrigateClient } from '../../clients/frigate';
import { DEFAULT_RETRY_POLICY, withRetries } from '../../clients/retry';
import type { Disposable } from '../../core/actions/clients';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { readFileIfReadable, unlinkIfPresentSync } from '../../core/atomicFiles';
import { compareCodeUnits } from '../../core/compare';
import { cancellationOr, errorMessage, throwIfAborted } from '../../core/errors';
import type { HeldLock } from '../../core/locks';
import { ThrottledProgress } from '../../core/progress';
import { formatBytes, formatDuration, markdownTable } from '../../core/render';
import { HashingPassThrough } from '../archive/checksum';
import { DEFAULT_NAME_PATTERN, formatArchiveName } from '../archive/naming';
import { GzipRoundTrip } from '../archive/gzipCheck';
import { readArchive } from '../archive/readArchive';
import { lockLocation } from '../locationLocks';
import { openArchiveLocation, type ArchiveDestination, type ExpiredArchive, type Staging } from './destinations';
import { countByPerson, createManifest, createSummary, FACES_FOLDER, FACES_PREFIX, MANIFEST_NAME, sha256Hex, SUMMARY_NAME, tarEnd, tarFileBlocks, type ManifestImage } from './facesArchive';
import { frigateClientFor, frigateInstanceParam } from './target';

const DEFAULT_KEEP = 7;
const TRAIN_FOLDER = 'train';

const frigateFacesBackupParams = z
  .object({
    frigate: frigateInstanceParam,
    destination: z.string().min(1).optional().describe('Local folder the archive is written to (created if missing). Give this or `location`.'),
    location: z.string().min(1).optional().describe('A location of `locations:` in lifeboat.yaml (a folder or an S3 store prefix). Give this or `destination`.'),
    keep: z.int().min(1).optional().describe(`After the new archive is verified, keep only this many face archives there (the location's \`keep\`, else ${DEFAULT_KEEP}).`),
    includeTrain: z.boolean().default(false).describe('Also back up the `train` folder (recent recognition attempts, not people).'),
    concurrency: z.int().min(1).max(32).default(8).describe('Images downloaded at once.'),
  })
  .strict();

type FacesBackupParams = z.output<typeof frigateFacesBackupParams>;

export interface FacesBackupResult {
  frigate: string;
  name: string;
  /** Where the archive is: a path or an `s3://` URL. */
  location: string;
  bytes: number;
  sha256: string;
  images: number;
  imageBytes: number;
  people: { name: string; images: number }[];
  deleted: ExpiredArchive[];
  durationMs: number;
}

interface ImageRef {
  person: string;
  file: string;
}

function imagesToBackUp(library: { people: Record<string, string[]>; train: string[] }, includeTrain: boolean): ImageRef[] {
  const people = Object.entries(library.people).sort(([a], [b]) => compareCodeUnits(a, b));
  const images = people.flatMap(([person, files]) => [...files].sort().map((file) => ({ person, file })));
  if (includeTrain) images.push(...[...library.train].sort().map((file) => ({ person: TRAIN_FOLDER, file })));
  return images;
}

/**
 * One image, whole: a body cut short (a dropped connection) is fetched again, as a 5xx is. A request
 * that got no answer was already retried by the client; trying it again here would multiply the
 * attempts (and the waits for a timeout) by four.
 */
async function downloadImage(client: FrigateClient, image: ImageRef, signal: AbortSignal): Promise<Buffer> {
  let answered = false;
  return withRetries(
    async () => {
      answered = false;
      const { stream, size } = await client.downloadFace(image.person, image.file, signal);
      answered = true;
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of stream) chunks.push(chunk as Buffer);
      } catch (error) {
        throw cancellationOr(error instanceof FrigateError ? error : new FrigateError('dropped', `the download of ${image.person}/${image.file} broke off: ${errorMessage(error)}`), signal);
      }
      const data = Buffer.concat(chunks);
      if (size !== undefined && data.length !== size) throw new FrigateError('dropped', `the download of ${image.person}/${image.file} ended after ${data.length} of ${size} bytes`);
      return data;
    },
    { policy: DEFAULT_RETRY_POLICY, signal, isRetryable: (error) => answered && error instanceof FrigateError && (error.failure === 'dropped' || error.failure === 'timeout') },
  );
}

/**
 * Bytes of images downloaded but not yet in the archive, at most: the downloads go on while the
 * location is still being reached (an SSH connection takes longer than Frigate's listing) or writing
 * is slower for a moment, without holding a whole large library in memory.
 */
const LOOKAHEAD_BYTES = 32 * 1024 * 1024;
/**
 * The archive's bytes are handed on in chunks of about this size rather than one per image: every
 * chunk is a round trip to zlib's thread pool, and hundreds of small ones cost more than the downloads.
 */
const CHUNK_BYTES = 256 * 1024;

/**
 * Starts downloading at once and keeps `concurrency` images downloading (a finished download starts
 * the next one at once, not when the archive asks for more); the function returned hands the images
 * out in the order given, whatever order they finish in, so the archive is the same on every run.
 */
function downloadInOrder(images: readonly ImageRef[], download: (image: ImageRef) => Promise<Buffer>, concurrency: number): () => Promise<Buffer> {
  const ahead: Promise<Buffer>[] = [];
  let next = 0;
  let inFlight = 0;
  let aheadBytes = 0;
  const fill = () => {
    while (inFlight < concurrency && next < images.length && aheadBytes < LOOKAHEAD_BYTES) {
      inFlight++;
      const pending = download(images[next++] as ImageRef)
        .then((data) => {
          aheadBytes += data.length;
          return data;
        })
        .finally(() => {
          inFlight--;
          fill();
        });
      // Awaited in order; a failure of one further ahead must not go unhandled meanwhile.
      pending.catch(() => undefined);
      ahead.push(pending);
    }
  };
  fill();
  return async () => {
    const data = await (ahead.shift() as Promise<Buffer>);
    aheadBytes -= data.length;
    fill();
    return data;
  };
}

/** The tar stream of the archive: the summary, the images in order, then what `finish` adds (the manifest and the end). */
async function* archiveBlocks(
  summary: Buffer[],
  images: readonly ImageRef[],
  nextImage: () => Promise<Buffer>,
  finish: (entries: ManifestImage[]) => Buffer[],
  onImage: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const mtime = new Date();
  const entries: ManifestImage[] = [];
  let chunk: Buffer[] = [...summary];
  let chunkBytes = 0;
  for (const image of images) {
    const data = await nextImage();
    entries.push({ person: image.person, file: image.file, size: data.length, sha256: sha256Hex(data) });
    for (const block of tarFileBlocks(`${FACES_FOLDER}/${image.person}/${image.file}`, data, mtime)) {
      chunk.push(block);
      chunkBytes += block.length;
    }
    onImage(data.length);
    if (chunkBytes >= CHUNK_BYTES) {
      yield Buffer.concat(chunk);
      chunk = [];
      chunkBytes = 0;
    }
  }
  yield Buffer.concat([...chunk, ...finish(entries)]);
}

/** Passes every chunk on and also writes it to `mirror` (at its pace), which it ends with the stream; an error of the mirror fails the stream. */
function teeTo(mirror: Writable): Transform {
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (mirror.write(chunk)) callback(null, chunk);
      else mirror.once('drain', () => callback(null, chunk));
    },
    flush(callback) {
      mirror.end(() => callback());
    },
  });
  mirror.once('error', (error) => tee.destroy(error));
  return tee;
}

interface Located {
  destination: ArchiveDestination;
  keep: number;
  /** The archives the new one replaces: those the plan shows are the ones the run deletes. */
  expired: ExpiredArchive[];
}

/** Frigate listed, and the location opened and being listed: both at once (an SSH connection takes longer than Frigate's listing). */
interface Reached<Staged extends Staging | undefined> {
  name: string;
  now: Date;
  client: FrigateClient;
  library: FaceLibrary;
  images: ImageRef[];
  /** Made ready as soon as the location is opened (before it is connected and listed), when the archive is to be written. */
  staged: Promise<Staged>;
  located: Promise<Located>;
}

async function reach<Staged extends Staging | undefined>(
  params: FacesBackupParams,
  ctx: ActionContext,
  stage: (destination: ArchiveDestination, name: string) => Promise<Staged>,
): Promise<Reached<Staged>> {
  const { signal } = ctx;
  const now = new Date();
  const name = formatArchiveName(DEFAULT_NAME_PATTERN, FACES_PREFIX, now);
  const opened = openArchiveLocation({ folder: params.destination, folderField: 'destination', location: params.location }, ctx);
  const staged = opened.then(({ destination }) => stage(destination, name));
  const located = opened.then(async ({ destination, keep }) => {
    const keepHere = params.keep ?? keep ?? DEFAULT_KEEP;
    // One listing of the location answers both (calls at the same time share it); the new archive always counts as kept.
    const [expired, taken] = await Promise.all([destination.expired(FACES_PREFIX, keepHere, name, signal), destination.exists(name, signal)]);
    if (taken) throw new Error(`${destination.finalLocation(name)} already exists; refusing to overwrite it`);
    return { destination, keep: keepHere, expired };
  });
  const listed = frigateClientFor(ctx, params.frigate).then(async (client) => ({ client, library: await client.faces(signal) }));
  for (const pending of [staged, located, listed]) pending.catch(() => undefined);
  try {
    // Whichever fails first fails the backup.
    const { client, library } = await Promise.race([listed, located.then(() => listed)]);
    return { name, now, client, library, images: imagesToBackUp(library, params.includeTrain), staged, located };
  } catch (error) {
    await (await staged.catch(() => undefined))?.discard();
    throw error;
  }
}

/** The images downloading in the archive's order, and how to stop those still ahead of it. */
interface Downloads {
  nextImage: () => Promise<Buffer>;
  /** Aborted when the step is cancelled or the downloads are stopped. */
  signal: AbortSignal;
  /** Stops what is still downloading and removes what it left. */
  stop: () => Promise<void>;
  /** Removes what the downloads left once every image was handed out; `stop` then has nothing left to do. */
  release: () => Promise<void>;
}

/** A body larger than this is no face image: curl refuses it, and it is fetched again the other way, where it fails as itself. */
const MAX_CURL_IMAGE_BYTES = 64 * 1024 * 1024;

/**
 * The downloads through the system curl (see clients/curl.ts): it fetches every image into a private
 * folder, reporting each as it ends, and the images are handed out in the archive's order as their
 * files are read; one curl could not fetch is fetched again through the Frigate client, with its
 * retries and messages. What waits to be archived is on disk, not in memory.
 */
async function downloadWithCurl(curl: BulkCurl, client: FrigateClient, images: readonly ImageRef[], concurrency: number, signal: AbortSignal): Promise<Pick<Downloads, 'nextImage'> & { finished: Promise<void>; folder: string }> {
  const requests = await client.faceImageRequests(signal);
  // At once, not through the thread pool, where the SSH connection's work is queued by now: the transfers wait for it.
  const folder = mkdtempSync(path.join(tmpdir(), 'lifeboat-faces-images-'));
  try {
    let caFile: string | undefined;
    if (requests.tls && !requests.tls.insecure) {
      // Exactly what the Frigate client trusts: the target's certificates, else Node's own list, not the system's.
      caFile = path.join(folder, 'ca.pem');
      await writeFile(caFile, requests.tls.ca ?? rootCertificates.join('\n'), { mode: 0o600 });
    }
    const report: ((outcome: { ok: boolean; bytes: number }) => void)[] = [];
    const outcomes = images.map((_image, index) => new Promise<{ ok: boolean; bytes: number }>((resolve) => (report[index] = resolve)));
    const output = (index: number) => path.join(folder, String(index));
    const finished = curlBulkGet(
      curl,
      images.map((image, index) => ({ url: requests.url(image.person, image.file), output: output(index) })),
      {
        headers: requests.headers,
        caFile,
        insecure: requests.tls?.insecure,
        timeoutMs: requests.timeoutMs,
        parallel: concurrency,
        maxBytes: MAX_CURL_IMAGE_BYTES,
        signal,
        onTransfer: (index, outcome) => report[index]?.(outcome),
      },
    );
    // Whatever became of curl, each transfer was reported, and the Frigate client fetches what it did not.
    finished.catch(() => undefined);
    let next = 0;
    const nextImage = async () => {
      const index = next++;
      const image = images[index] as ImageRef;
      const outcome = await (outcomes[index] as Promise<{ ok: boolean; bytes: number }>);
      // Read and removed at once rather than through the thread pool: hundreds of small files would
      // wait there behind each other and behind the compression, and their removal at the end would
      // hold up the archive's check. curl writes no file for an empty body.
      const data = !outcome.ok ? undefined : outcome.bytes === 0 && !existsSync(output(index)) ? Buffer.alloc(0) : readFileIfReadable(output(index));
      unlinkIfPresentSync(output(index));
      return data?.length === outcome.bytes ? data : downloadImage(client, image, signal);
    };
    return { nextImage, finished, folder };
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}

/** `bulkCurl`: the system curl to download with, if any (looked for while Frigate is listed). */
async function startDownloads(reached: Reached<Staging>, params: FacesBackupParams, bulkCurl: Promise<BulkCurl | undefined>, signal: AbortSignal): Promise<Downloads> {
  const stopped = new AbortController();
  const downloadSignal = AbortSignal.any([signal, stopped.signal]);
  const curl = reached.images.length > 0 ? await bulkCurl : undefined;
  if (curl) {
    const { nextImage, finished, folder } = await downloadWithCurl(curl, reached.client, reached.images, params.concurrency, downloadSignal);
    let removing: Promise<void> | undefined;
    const release = () => (removing ??= finished.catch(() => undefined).then(() => rm(folder, { recursive: true, force: true })));
    const stop = async () => {
      stopped.abort();
      await release();
    };
    return { nextImage, signal: downloadSignal, stop, release };
  }
  return {
    nextImage: downloadInOrder(reached.images, (image) => downloadImage(reached.client, image, downloadSignal), params.concurrency),
    signal: downloadSignal,
    stop: async () => stopped.abort(),
    release: async () => undefined,
  };
}

/** The archive written where it is staged, and checked there. */
interface Archived {
  sha256: string;
  bytes: number;
  manifest: ManifestImage[];
  imageBytes: number;
}

/** Writes the archive where it is staged as its images arrive, and checks it before anything relies on it (retention above all). */
async function writeArchive(params: FacesBackupParams, reached: Reached<Staging>, staging: Staging, downloads: Downloads, ctx: ActionContext): Promise<Archived> {
  const { name, now, library, images } = reached;
  const { signal } = downloads;
  const progress = new ThrottledProgress(ctx.progress);
  let imageBytes = 0;
  let done = 0;
  let manifest: ManifestImage[] = [];
  const peopleCounts = new Map(Object.entries(library.people).map(([person, files]) => [person, files.length]));
  const summary = createSummary(params.frigate, peopleCounts, params.includeTrain ? library.train.length : 0, now);
  const blocks = archiveBlocks(
    tarFileBlocks(SUMMARY_NAME, Buffer.from(`${JSON.stringify(summary, null, 2)}\n`), now),
    images,
    downloads.nextImage,
    (entries) => {
      manifest = entries;
      const text = Buffer.from(`${JSON.stringify(createManifest(params.frigate, params.includeTrain, entries, now), null, 2)}\n`);
      return [...tarFileBlocks(MANIFEST_NAME, text, now), tarEnd()];
    },
    (bytes) => {
      imageBytes += bytes;
      progress.update({ message: `Downloading faces into ${name}`, items: ++done, totalItems: images.length, bytes: imageBytes });
    },
  );
  const hashing = new HashingPassThrough();
  // WebP images are compressed already: only the runs of zeros in tar's headers and padding are worth
  // finding, and run-length matching finds those for under half the CPU of level 1 (within 0.5% of its size).
  const gzip = createGzip({ level: 1, strategy: zlibConstants.Z_RLE, chunkSize: CHUNK_BYTES });
  let verify: (written: { sha256: string }) => Promise<void>;
  if ('path' in staging) {
    const { path: file } = staging;
    // The images, the summary and the manifest.
    const entryCount = images.length + 2;
    await pipeline(Readable.from(blocks), gzip, hashing, createWriteStream(file, { flags: 'wx', mode: 0o644, flush: true }), { signal });
    // What reached the disk is read back before anything relies on it.
    verify = async (written) => {
      const found = await readArchive(file, { signal });
      if (found.sha256 !== written.sha256 || found.entries !== entryCount) throw new Error(`wrote ${entryCount} entries with sha256 ${written.sha256}, found ${found.entries} with sha256 ${found.sha256}`);
    };
  } else {
    // Checked as it streams: it decompresses to exactly the tar stream made here, and the destination
    // checks its copy against the sha256 of what was written.
    const roundTrip = new GzipRoundTrip(signal);
    try {
      await pipeline(Readable.from(blocks), roundTrip.uncompressed, gzip, hashing, teeTo(roundTrip.compressed), staging.stream, { signal });
    } catch (error) {
      roundTrip.compressed.destroy();
      throw error;
    }
    verify = () => roundTrip.verified();
  }
  const written = { sha256: hashing.digest(), bytes: hashing.bytes };
  progress.flush({ items: done });
  // Every image is in the archive: what is left of the downloads goes while the archive is checked.
  const downloadsRemoved = downloads.release();
  // Awaited after the check, which may fail first.
  downloadsRemoved.catch(() => undefined);

  try {
    await verify(written);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new Error(`verification of ${name} failed: ${errorMessage(error)}`, { cause: error });
  }
  await downloadsRemoved;
  return { ...written, manifest, imageBytes };
}

/**
 * A backup under way: what the plan showed, with the images downloading and, where the staged archive
 * may be written before the run begins, the archive being written. The plan a run follows hands it to the run,
 * so this goes on while the plan waits for the location (and for a confirmation), and the run
 * archives what the plan listed.
 */
class StartedBackup implements Disposable {
  constructor(
    readonly reached: Reached<Staging>,
    readonly located: Located,
    readonly staging: Staging,
    readonly downloads: Downloads,
    readonly archived: Promise<Archived> | undefined,
  ) {}

  async dispose(): Promise<void> {
    await this.downloads.stop();
    await this.archived?.catch(() => undefined);
    await this.staging.discard();
  }
}

async function startBackup(params: FacesBackupParams, ctx: ActionContext): Promise<StartedBackup> {
  const bulkCurl = findBulkCurl();
  const reached = await reach(params, ctx, (destination, name) => destination.staging(name, ctx.signal));
  let downloads: Downloads;
  try {
    downloads = await startDownloads(reached, params, bulkCurl, ctx.signal);
  } catch (error) {
    await (await reached.staged.catch(() => undefined))?.discard();
    throw error;
  }
  let archived: Promise<Archived> | undefined;
  try {
    const staging = await reached.staged;
    if (staging.writableBeforeBegin) {
      archived = writeArchive(params, reached, staging, downloads, ctx);
      // Awaited by the run; a failure before then (or a refused plan) must not end the process meanwhile.
      archived.catch(() => undefined);
    }
    return new StartedBackup(reached, await reached.located, staging, downloads, archived);
  } catch (error) {
    await downloads.stop();
    await archived?.catch(() => undefined);
    await (await reached.staged.catch(() => undefined))?.discard();
    throw error;
  }
}

async function runBackup(params: FacesBackupParams, ctx: ActionContext): Promise<FacesBackupResult> {
  const started = performance.now();
  const { signal, log } = ctx;
  const backup = ctx.handOver?.take(StartedBackup) ?? (await startBackup(params, ctx));
  const { name, library, images } = backup.reached;
  const { destination, keep, expired } = backup.located;
  const { staging } = backup;
  for (const [person, files] of Object.entries(library.people)) if (files.length === 0) log.warn(`${person} has no images in Frigate '${params.frigate}'; nothing of theirs is in the archive`);
  log.info(`backing up ${images.length} images of ${Object.keys(library.people).length} people from Frigate '${params.frigate}' to ${destination.finalLocation(name)}`);

  let published = false;
  let archived: Archived;
  let lock: HeldLock | undefined;
  try {
    lock = await lockLocation(destination.lockStore(signal), 'frigate.faces.backup', ctx);
    await staging.begin();
    archived = await (backup.archived ?? writeArchive(params, backup.reached, staging, backup.downloads, ctx));
    throwIfAborted(signal);
    lock.assertHeld();
    await destination.publish(staging, name, archived, signal);
    published = true;
    // Last point at which a cancel undoes the run; after this the archive is kept.
    throwIfAborted(signal);
  } catch (error) {
    if (published) await destination.unpublish(name).catch((cleanup: unknown) => log.warn(`could not remove ${destination.finalLocation(name)} after the failure: ${errorMessage(cleanup)}`));
    await lock?.release().catch(() => undefined);
    throw cancellationOr(error, signal);
  } finally {
    await backup.dispose();
  }
  log.info(`wrote and verified ${destination.finalLocation(name)} (${formatBytes(archived.bytes)}, sha256 ${archived.sha256})`);

  try {
    lock.assertHeld();
    await destination.remove(expired, signal);
    for (const archive of expired) log.info(`retention (keep ${keep}): deleted ${archive.location}`);
  } catch (error) {
    throw new Error(`${destination.finalLocation(name)} was created and verified, but retention failed: ${errorMessage(error)}`, { cause: error });
  } finally {
    await lock.release();
  }

  const counts = countByPerson(archived.manifest);
  const people = Object.keys(library.people).sort().map((person) => ({ name: person, images: counts.get(person) ?? 0 }));
  return {
    frigate: params.frigate,
    name,
    location: destination.finalLocation(name),
    bytes: archived.bytes,
    sha256: archived.sha256,
    images: archived.manifest.length,
    imageBytes: archived.imageBytes,
    people,
    deleted: expired,
    durationMs: Math.round(performance.now() - started),
  };
}

async function planBackup(params: FacesBackupParams, ctx: ActionContext) {
  // Only for a run that follows: a plan that is only shown downloads and stages nothing.
  let shown: { reached: Reached<Staging | undefined>; located: Located };
  if (ctx.handOver) {
    const backup = await startBackup(params, ctx);
    ctx.handOver.give(backup);
    shown = backup;
  } else {
    const reached = await reach(params, ctx, async () => undefined);
    shown = { reached, located: await reached.located };
  }
  const { library, images, name } = shown.reached;
  const { destination, keep, expired } = shown.located;
  const train = params.includeTrain ? `, ${library.train.length} of them from train` : ` (train left out: ${library.train.length})`;
  return {
    summary: `Back up ${images.length} face images of ${Object.keys(library.people).length} people${train} from Frigate '${params.frigate}' into ${destination.finalLocation(name)}${expired.length > 0 ? `, then delete ${expired.length} older archive(s) (keep ${keep})` : ''}`,
    operations: [
      { kind: 'read' as const, target: `Frigate '${params.frigate}' /clips/faces`, items: images.length },
      { kind: 'create' as const, target: destination.finalLocation(name), items: images.length, detail: 'tar.gz with manifest.json and a .sha256, verified before it is published' },
      ...expired.map((archive) => ({ kind: 'delete' as const, target: archive.location, bytes: archive.bytes, detail: `retention keep ${keep}, with its .sha256` })),
    ],
    destructive: expired.length > 0,
  };
}

function renderBackup(result: FacesBackupResult): string {
  const summary = markdownTable(
    ['Archive', 'Size', 'Images', 'Contents', 'SHA-256', 'Took'],
    [[result.name, formatBytes(result.bytes), result.images, formatBytes(result.imageBytes), `\`${result.sha256}\``, formatDuration(result.durationMs)]],
  );
  const people = markdownTable(['Person', 'Images'], result.people.map((person) => [person.name, person.images]));
  const deleted = result.deleted.length > 0 ? `\n\n${markdownTable(['Deleted by retention', 'Size'], result.deleted.map((archive) => [archive.name, formatBytes(archive.bytes)]))}` : '';
  return `${summary}\n\nWritten and verified: \`${result.location}\`.\n\n${people}${deleted}`;
}

export const frigateFacesBackup = defineAction({
  id: 'frigate.faces.backup',
  title: 'Back up Frigate faces',
  description: 'Downloads every face image of a Frigate instance through its HTTP API into a verified tar.gz with a manifest (person, file, size, sha256) and a .sha256 file, then keeps the newest N archives.',
  params: frigateFacesBackupParams,
  destructive: true,
  plan: planBackup,
  run: runBackup,
  render: renderBackup,
});

