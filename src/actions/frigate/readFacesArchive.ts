import type { ReadEntry } from 'tar';
import { cancellationOr, errorMessage } from '../../core/errors';
import { readSidecar } from '../archive/checksum';
import { readArchive } from '../archive/readArchive';
import { facesManifestSchema, imageOfEntry, MANIFEST_NAME, sha256Hex, SUMMARY_NAME, type FacesManifest } from './facesArchive';

export interface ArchivedImage {
  person: string;
  file: string;
  data: Buffer;
  sha256: string;
}

export interface FacesArchiveContents {
  images: ArchivedImage[];
  /** Absent in the old script's archives. */
  manifest: FacesManifest | undefined;
  /** Entries that are not face images: macOS `._*` files and anything else outside `<top>/<person>/<file>` (the summary and manifest aside). */
  ignored: string[];
}

/** An entry's body; `abort` (the archive ended early or the read was cancelled) stops the wait for the rest. */
function readBody(entry: ReadEntry, abort: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onAbort = () => reject(new Error(`${entry.path} is cut short`));
    if (abort.aborted) return onAbort();
    abort.addEventListener('abort', onAbort, { once: true });
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    entry.on('end', () => {
      abort.removeEventListener('abort', onAbort);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * Reads a face archive whole (face libraries are megabytes) and checks it before anything is
 * restored from it: its `.sha256` when there is one, its gzip and tar structure, and every image
 * against the manifest. Any damage is an error naming the archive; nothing has been changed then.
 */
export async function readFacesArchive(archivePath: string, name: string, signal: AbortSignal): Promise<FacesArchiveContents> {
  const images: ArchivedImage[] = [];
  const ignored: string[] = [];
  let manifestText: string | undefined;
  let sha256: string;
  try {
    const result = await readArchive(archivePath, {
      signal,
      onEntry: async (entry, abort) => {
        const entryPath = entry.path.replace(/^\.\//, '');
        if (entryPath === MANIFEST_NAME) {
          manifestText = (await readBody(entry, abort)).toString('utf8');
          return;
        }
        // The summary only lets a listing show the contents without reading further; the manifest and images are checked instead.
        if (entryPath === SUMMARY_NAME) {
          entry.resume();
          return;
        }
        const image = entry.type === 'File' ? imageOfEntry(entryPath) : undefined;
        if (!image) {
          if (entry.type === 'File') ignored.push(entryPath);
          entry.resume();
          return;
        }
        const data = await readBody(entry, abort);
        images.push({ ...image, data, sha256: sha256Hex(data) });
      },
    });
    sha256 = result.sha256;
  } catch (error) {
    const cancelled = cancellationOr(error, signal);
    if (cancelled !== error || signal.aborted) throw cancelled;
    throw new Error(`archive ${name} is damaged or cut short (${errorMessage(error)}); nothing was restored`, { cause: error });
  }
  const expected = await readSidecar(archivePath);
  if (expected !== undefined && expected !== sha256) throw new Error(`archive ${name} does not match its .sha256 (expected ${expected}, read ${sha256}); nothing was restored`);
  const manifest = manifestText === undefined ? undefined : parseManifest(manifestText, name);
  if (manifest) checkAgainstManifest(images, manifest, name);
  return { images, manifest, ignored };
}

function parseManifest(text: string, name: string): FacesManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${MANIFEST_NAME} in ${name} is not JSON; nothing was restored`);
  }
  const manifest = facesManifestSchema.safeParse(parsed);
  if (!manifest.success) throw new Error(`${MANIFEST_NAME} in ${name} is not a face manifest (${manifest.error.issues[0]?.message ?? 'invalid'}); nothing was restored`);
  return manifest.data;
}

function checkAgainstManifest(images: readonly ArchivedImage[], manifest: FacesManifest, name: string): void {
  const found = new Map(images.map((image) => [`${image.person}/${image.file}`, image.sha256]));
  const problems: string[] = [];
  for (const listed of manifest.images) {
    const sha256 = found.get(`${listed.person}/${listed.file}`);
    if (sha256 === undefined) problems.push(`${listed.person}/${listed.file} is missing`);
    else if (sha256 !== listed.sha256) problems.push(`${listed.person}/${listed.file} differs from its checksum`);
  }
  if (images.length !== manifest.images.length) problems.push(`${images.length} images stored, ${manifest.images.length} listed`);
  if (problems.length > 0) throw new Error(`archive ${name} does not match its manifest: ${problems.slice(0, 5).join('; ')}; nothing was restored`);
}
