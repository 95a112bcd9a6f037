import { createHash } from 'node:crypto';
import { Header, Pax } from 'tar';
import { z } from 'zod';

/**
 * The layout of a face-library archive. Images are stored as `faces/<person>/<file>` and
 * `manifest.json` comes last (it holds every image's checksum, known only once all are in). The old
 * backup script's archives (`frigate-faces-YYYYMMDD.tar.gz`) have one top folder of any name, no
 * manifest, and sometimes macOS `._*` files; readers accept both.
 */

export const FACES_FOLDER = 'faces';
export const MANIFEST_NAME = 'manifest.json';
export const FACES_PREFIX = 'frigate-faces';
const MANIFEST_FORMAT = 'lifeboat.frigate-faces/1';
const BLOCK = 512;

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

/** The tar blocks of one regular file: header (with a PAX record when the path is too long for ustar), data, padding. */
export function tarFileBlocks(entryPath: string, data: Buffer, mtime: Date): Buffer[] {
  const fields = { path: entryPath, mode: 0o644, size: data.length, mtime, type: 'File' as const, uid: 0, gid: 0 };
  const header = new Header(fields);
  const blocks: Buffer[] = [];
  const block = Buffer.alloc(BLOCK);
  if (header.encode(block)) blocks.push(new Pax(fields).encode());
  blocks.push(block, data);
  const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
  if (padding > 0) blocks.push(Buffer.alloc(padding));
  return blocks;
}

/** The two zero blocks that end a tar stream. */
export function tarEnd(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/** An archived image as its entry path says: person and file, or undefined for anything else (folders, `._*`, the manifest). */
export function imageOfEntry(entryPath: string): { person: string; file: string } | undefined {
  const parts = entryPath.replace(/^\.\//, '').split('/').filter((part) => part !== '');
  // Both layouts: `faces/<person>/<file>` and the old `<any top folder>/<person>/<file>`.
  if (parts.length !== 3) return undefined;
  const [, person, file] = parts as [string, string, string];
  if (file.startsWith('._') || person.startsWith('._') || person.startsWith('.') || file.startsWith('.')) return undefined;
  if (!/\.(webp|png|jpe?g)$/i.test(file)) return undefined;
  return { person, file };
}
