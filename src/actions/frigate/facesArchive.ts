import { createHash } from 'node:crypto';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { Header, Pax } from 'tar';
import * as z from 'zod';
import { compareCodeUnits } from '../../core/compare';

/**
 * The layout of a face-library archive. `summary.json` comes first (who is in it and how many
 * images each: known from Frigate's listing before any image is downloaded), so a reader learns the
 * contents from the archive's first few KiB. Images follow as `faces/<person>/<file>`, and
 * `manifest.json` comes last (it holds every image's checksum, known only once all are in). The old
 * backup script's archives (`frigate-faces-YYYYMMDD.tar.gz`) have one top folder of any name, no
 * manifest, and sometimes macOS `._*` files; an archive made with `tar -C faces .` has no top folder at
 * all. Readers accept every one of these (see `peopleFolder`).
 */

export const FACES_FOLDER = 'faces';
export const MANIFEST_NAME = 'manifest.json';
export const SUMMARY_NAME = 'summary.json';
export { FACES_PREFIX } from './backupLocations';
const MANIFEST_FORMAT = 'lifeboat.frigate-faces/1';
const BLOCK = 512;
/**
 * How much of an archive is read for its summary: the gzip header, the summary's tar header and
 * its JSON compress to well under 1 KiB for any plausible number of people.
 */
export const SUMMARY_HEAD_BYTES = 16 * 1024;

export const facesSummarySchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  frigate: z.string(),
  createdAt: z.string(),
  /** Images per person; `train` is not a person and is counted apart. */
  people: z.record(z.string(), z.number().int().nonnegative()),
  /** Images of the `train` folder in the archive: 0 when it was left out. */
  train: z.number().int().nonnegative(),
});

export type FacesSummary = z.output<typeof facesSummarySchema>;

export function createSummary(frigate: string, people: ReadonlyMap<string, number>, train: number, createdAt: Date): FacesSummary {
  return { format: MANIFEST_FORMAT, frigate, createdAt: createdAt.toISOString(), people: Object.fromEntries([...people].sort(([a], [b]) => compareCodeUnits(a, b))), train };
}

/**
 * The summary in the first bytes of a face archive, or undefined when its first entry is something
 * else (the old script's archives, and ours from before summaries). Throws when the bytes are not
 * the start of a gzipped tar or the summary is cut off or malformed.
 */
export function summaryFromHead(head: Buffer, name: string): FacesSummary | undefined {
  let tar: Buffer;
  try {
    // A sync flush at the end of the input yields what the head holds instead of failing on the missing rest.
    tar = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (error) {
    throw new Error(`${name} does not start like a tar.gz (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (tar.length < BLOCK) throw new Error(`the first ${head.length} bytes of ${name} hold no whole tar header`);
  const header = new Header(tar.subarray(0, BLOCK));
  if (!header.cksumValid) throw new Error(`${name} does not start with a tar header`);
  if (header.path !== SUMMARY_NAME) return undefined;
  const size = header.size ?? 0;
  if (tar.length < BLOCK + size) throw new Error(`${SUMMARY_NAME} of ${name} is longer than the ${head.length} bytes read`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(tar.subarray(BLOCK, BLOCK + size).toString('utf8'));
  } catch {
    throw new Error(`${SUMMARY_NAME} in ${name} is not JSON`);
  }
  const summary = facesSummarySchema.safeParse(parsed);
  if (!summary.success) throw new Error(`${SUMMARY_NAME} in ${name} is not a face summary (${summary.error.issues[0]?.message ?? 'invalid'})`);
  return summary.data;
}

/** "Asha 153 · G 380 · train 2": what a person reads in a pick list or a report. */
export function describeSummary(summary: FacesSummary): string {
  const people = Object.entries(summary.people).map(([person, images]) => `${person} ${images}`);
  if (summary.train > 0) people.push(`train ${summary.train}`);
  return people.length > 0 ? people.join(' · ') : 'no people';
}

export const facesManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  frigate: z.string(),
  createdAt: z.string(),
  includesTrain: z.boolean(),
  images: z.array(z.object({ person: z.string(), file: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

export type FacesManifest = z.output<typeof facesManifestSchema>;
export type ManifestImage = FacesManifest['images'][number];

export function createManifest(frigate: string, includesTrain: boolean, images: readonly ManifestImage[], createdAt: Date): FacesManifest {
  return { format: MANIFEST_FORMAT, frigate, createdAt: createdAt.toISOString(), includesTrain, images: [...images] };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Per-person image counts, `train` included when present: what a restore is checked against. */
export function countByPerson(images: readonly Pick<ManifestImage, 'person'>[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const image of images) counts.set(image.person, (counts.get(image.person) ?? 0) + 1);
  return counts;
}

const FILE_MODE = 0o644;
/** The largest value of a 12-byte octal field (size, mtime) in ustar; beyond it node-tar writes base-256 and a PAX record. */
const MAX_OCTAL_12 = 0o77777777777;
/** ustar's name field holds 100 bytes; node-tar moves a path of 100 bytes or more into the prefix field, or a PAX record. */
const NAME_FIELD_BYTES = 100;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * An octal field as node-tar writes it: zero-padded, then a space and a NUL, or the NUL alone when
 * the digits fill all but the last byte.
 */
function writeOctal(block: Buffer, offset: number, size: number, value: number): void {
  const digits = value.toString(8);
  block.write(digits.length === size - 1 ? `${digits}\0` : `${digits.padStart(size - 2, '0')} \0`, offset, size, 'latin1');
}

/**
 * The header of a face archive's regular file when its path is printable ASCII shorter than the name
 * field and its size and time fit in octal: the common case, written here byte for byte as node-tar's
 * Header writes it (the unit tests compare the two) at a fraction of its cost, which a backup of
 * thousands of images pays once per image. Undefined otherwise, for node-tar to write.
 */
function simpleFileHeader(entryPath: string, size: number, mtime: Date): Buffer | undefined {
  const seconds = mtime.getTime() / 1000;
  if (entryPath.length >= NAME_FIELD_BYTES || !PRINTABLE_ASCII.test(entryPath) || size > MAX_OCTAL_12 || !(seconds >= 0 && seconds <= MAX_OCTAL_12)) return undefined;
  const block = Buffer.alloc(BLOCK);
  block.write(entryPath, 0, 'latin1');
  writeOctal(block, 100, 8, FILE_MODE);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, Math.floor(seconds));
  block.write('0', 156, 'latin1');
  block.write('ustar\u000000', 257, 'latin1');
  // Device major and minor.
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  // The checksum counts its own field as eight spaces.
  let sum = 8 * 0x20;
  for (let index = 0; index < BLOCK; index++) if (index < 148 || index >= 156) sum += block[index] as number;
  writeOctal(block, 148, 8, sum);
  return block;
}

/** The tar blocks of one regular file: header (with a PAX record when the path is too long for ustar), data, padding. */
export function tarFileBlocks(entryPath: string, data: Buffer, mtime: Date): Buffer[] {
  const blocks: Buffer[] = [];
  const simple = simpleFileHeader(entryPath, data.length, mtime);
  if (simple) {
    blocks.push(simple);
  } else {
    const fields = { path: entryPath, mode: FILE_MODE, size: data.length, mtime, type: 'File' as const, uid: 0, gid: 0 };
    const header = new Header(fields);
    const block = Buffer.alloc(BLOCK);
    if (header.encode(block)) blocks.push(new Pax(fields).encode());
    blocks.push(block);
  }
  blocks.push(data);
  const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
  if (padding > 0) blocks.push(Buffer.alloc(padding));
  return blocks;
}

/** The two zero blocks that end a tar stream. */
export function tarEnd(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/** Whether Frigate lists a file as a face image (`GET /api/faces` keeps .webp, .png, .jpg, .jpeg); dot files such as macOS `._*` are not. */
function isFaceImageName(file: string): boolean {
  return !file.startsWith('.') && /\.(webp|png|jpe?g)$/i.test(file);
}

/** Whether an archive entry (path segments) can be a face image: `…/<person>/<file>`, neither hidden. */
export function mayBeFaceImage(parts: readonly string[]): boolean {
  const [person, file] = parts.slice(-2);
  return person !== undefined && file !== undefined && !person.startsWith('.') && isFaceImageName(file);
}

/**
 * The folder holding the people, as path segments: the one every face image of an archive has above
 * `<person>/<file>`. Ours is `faces/`, the old script's one top folder of any name; `tar -C faces .`
 * has none, and a tar of the absolute path has `media/frigate/clips/faces/`. Undefined when the
 * images disagree, which no face library does.
 */
export function peopleFolder(images: readonly (readonly string[])[]): string[] | undefined {
  const first = images[0];
  if (!first) return [];
  const folder = first.slice(0, -2);
  const agree = (parts: readonly string[]) => parts.length === first.length && folder.every((part, index) => parts[index] === part);
  return images.every(agree) ? folder : undefined;
}
