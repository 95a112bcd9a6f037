import { createHash, type Hash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';

/** The `<archive>.sha256` sidecar, in the format `sha256sum -c` reads. */

export function sidecarPath(archivePath: string): string {
  return `${archivePath}.sha256`;
}

export function formatSidecar(sha256: string, archiveName: string): string {
  return `${sha256}  ${archiveName}\n`;
}

/** The expected digest from a sidecar, undefined when there is none; a malformed one is an error. */
export async function readSidecar(archivePath: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(sidecarPath(archivePath), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // `sha256sum` writes `<hex>  <name>` (or `<hex> *<name>` in binary mode); a bare digest is accepted too.
  const match = /^([0-9a-fA-F]{64})(?:\s|$)/.exec(text.trimStart());
  if (!match?.[1]) throw new Error(`${sidecarPath(archivePath)} is not a sha256sum file`);
  return match[1].toLowerCase();
}

/**
 * Passes bytes through unchanged while hashing and counting them, so a checksum costs no second
 * read of the data.
 */
export class HashingPassThrough extends Transform {
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;

  constructor(
    private readonly onBytes: (totalBytes: number) => void = () => {},
    highWaterMark?: number,
  ) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
  }

  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    this.onBytes(this.#bytes);
    callback(null, chunk);
  }

  /** The hex digest; only meaningful once the stream has finished. */
  digest(): string {
    return this.#hash.copy().digest('hex');
  }
}
