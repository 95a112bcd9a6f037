import type { ReadEntry } from 'tar';
import { cancellationOr, errorMessage } from '../../core/errors';
import { printable } from '../../core/render';
import { readSidecar } from '../archive/checksum';
import { judgeEntry, LinkEscapeCheck } from '../archive/entrySafety';
import { readArchive } from '../archive/readArchive';
import { RestoreRefusedError } from '../archive/restoreScan';
import { facesManifestSchema, MANIFEST_NAME, mayBeFaceImage, peopleFolder, sha256Hex, SUMMARY_NAME, type FacesManifest } from './facesArchive';

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
  /** Entries that are not face images: macOS `._*` files, links and anything else outside `<person>/<file>` (the summary and manifest aside). */
  ignored: string[];
}

/** Refused entries kept for the message; a hostile archive can hold millions. */
const MAX_PROBLEMS_KEPT = 1000;
const EXAMPLES_SHOWN = 3;

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

/** What one pass over the archive found, before its layout is known. */
interface ArchiveScan {
  /** Files that can be face images, by path segments. */
  candidates: { parts: string[]; data: Buffer }[];
  ignored: string[];
  manifestText: string | undefined;
  /** Entries a restore must not write: the archive is refused whole. */
  problems: string[];
  problemCount: number;
  sha256: string;
}

/**
 * Reads a face archive whole (face libraries are megabytes) and checks it before anything is
 * restored from it: every entry is judged as `archive.restore` judges it (an absolute path, `..`, a
 * link leading out or a device refuses the whole archive), then its `.sha256` when there is one, its
 * gzip and tar structure, the layout of its images, and every image against the manifest. Any
 * problem is an error naming the archive; nothing has been changed then.
 */
export async function readFacesArchive(archivePath: string, name: string, signal: AbortSignal): Promise<FacesArchiveContents> {
  const scan = await scanArchive(archivePath, name, signal);
  if (scan.problemCount > 0) throw new RestoreRefusedError(name, scan.problems, scan.problemCount);
  const expected = await readSidecar(archivePath);
  if (expected !== undefined && expected !== scan.sha256) throw new Error(`archive ${name} does not match its .sha256 (expected ${expected}, read ${scan.sha256}); nothing was restored`);
  const manifest = scan.manifestText === undefined ? undefined : parseManifest(scan.manifestText, name);
  const images = imagesOf(scan, name, manifest !== undefined);
  if (manifest) checkAgainstManifest(images, manifest, name);
  return { images, manifest, ignored: scan.ignored };
}

async function scanArchive(archivePath: string, name: string, signal: AbortSignal): Promise<ArchiveScan> {
  const scan: ArchiveScan = { candidates: [], ignored: [], manifestText: undefined, problems: [], problemCount: 0, sha256: '' };
  const refuse = (problem: string) => {
    scan.problemCount++;
    if (scan.problems.length < MAX_PROBLEMS_KEPT) scan.problems.push(problem);
  };
  const links = new LinkEscapeCheck();
  try {
    const result = await readArchive(archivePath, {
      signal,
      onUnsupportedEntry: (entry) => refuse(`'${printable(entry.path)}': unsupported entry type ${entry.header.type ?? '?'}`),
      onEntry: async (entry, abort) => {
        const verdict = judgeEntry(entry, 0);
        if (!('restore' in verdict)) {
          if ('problem' in verdict) refuse(verdict.problem);
          entry.resume();
          return;
        }
        const { path, parts, kind } = verdict.restore;
        links.add(verdict.restore);
        if (kind === 'file' && path === MANIFEST_NAME) scan.manifestText = (await readBody(entry, abort)).toString('utf8');
        else if (kind === 'file' && mayBeFaceImage(parts)) scan.candidates.push({ parts, data: await readBody(entry, abort) });
        else {
          // The summary only lets a listing show the contents without reading further; the manifest and images are checked instead.
          if (kind !== 'directory' && path !== SUMMARY_NAME) scan.ignored.push(path);
          entry.resume();
        }
      },
    });
    scan.sha256 = result.sha256;
  } catch (error) {
    const cancelled = cancellationOr(error, signal);
    if (cancelled !== error || signal.aborted) throw cancelled;
    throw new Error(`archive ${name} is damaged or cut short (${errorMessage(error)}); nothing was restored`, { cause: error });
  }
  for (const problem of links.problems()) refuse(problem);
  return scan;
}

/** The images as `<person>/<file>` below the folder they all share; refuses an archive whose images disagree, or that holds none it can place. */
function imagesOf(scan: ArchiveScan, name: string, hasManifest: boolean): ArchivedImage[] {
  const folder = peopleFolder(scan.candidates.map((candidate) => candidate.parts));
  if (folder === undefined) {
    const layouts = new Map(scan.candidates.map(({ parts }) => [parts.slice(0, -2).join('/') || '(top)', parts.join('/')]));
    const examples = [...layouts.values()].slice(0, EXAMPLES_SHOWN).map(printable).join(', ');
    throw new Error(`archive ${name} has face images under different folders (${examples}): a face archive holds <person>/<file> below one folder; nothing was restored`);
  }
  if (scan.candidates.length === 0 && !hasManifest) {
    const found = scan.ignored.length > 0 ? `its ${scan.ignored.length} files (${scan.ignored.slice(0, EXAMPLES_SHOWN).map(printable).join(', ')}${scan.ignored.length > EXAMPLES_SHOWN ? ', …' : ''}) are not` : 'it holds no files at all, only';
    throw new Error(`archive ${name} holds no face images: ${found} <person>/<file> images (.webp, .png, .jpg, .jpeg); nothing was restored`);
  }
  return scan.candidates.map(({ parts, data }) => ({ person: parts[folder.length] as string, file: parts[folder.length + 1] as string, data, sha256: sha256Hex(data) }));
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
