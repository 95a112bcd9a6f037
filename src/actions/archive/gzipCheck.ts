import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createGunzip } from 'node:zlib';
import { errorMessage } from '../../core/errors';

/** gzip's trailer: CRC-32 and input size mod 2^32, both little-endian. */
const GZIP_TRAILER_BYTES = 8;
const GUNZIP_CHUNK_BYTES = 128 * 1024;

/**
 * Whether a one-member gzip stream is the compression of exactly the bytes its compressor was given:
 * the compressor writes the CRC-32 and length (mod 2^32) of all its input in the trailer, and the
 * bytes given are counted and summed here (`input`), the stream's last bytes kept (`output`).
 */
export class GzipTrailerCheck {
  #crc = 0;
  #bytesIn = 0;
  #tail: Buffer = Buffer.alloc(0);

  /** Bytes given to the compressor, in order. */
  input(chunk: Buffer): void {
    this.#crc = crc32(chunk, this.#crc);
    this.#bytesIn += chunk.length;
  }

  /** Bytes of the gzip stream, in order. */
  output(chunk: Buffer): void {
    this.#tail = Buffer.concat([this.#tail, chunk.subarray(-GZIP_TRAILER_BYTES)]).subarray(-GZIP_TRAILER_BYTES);
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Why the stream's last bytes are not the trailer of exactly the input given; null when they are. */
  problem(): string | null {
    const trailer = this.#tail;
    if (trailer.length !== GZIP_TRAILER_BYTES) return `the gzip output is ${trailer.length} bytes long, shorter than a gzip trailer`;
    const crc = trailer.readUInt32LE(0);
    const size = trailer.readUInt32LE(4);
    const expectedSize = this.#bytesIn % 2 ** 32;
    if (crc === this.#crc >>> 0 && size === expectedSize) return null;
    return `the gzip trailer says CRC-32 ${hex(crc)} over ${size} bytes (mod 2^32), but the tar stream written has CRC-32 ${hex(this.#crc)} over ${expectedSize}`;
  }
}

/**
 * Checks a gzip stream as it is written, against what its compressor was given: the bytes going into
 * the compressor pass through `uncompressed`, the compressed ones through `compressed`, which gunzips
 * them. gunzip proves the stream whole and its data equal to its own trailer (CRC-32 and length),
 * and the trailer is compared with the bytes given: the stream decompresses to exactly those bytes.
 * For a stream whose contents are made here and whose structure is tested apart (a face archive's tar),
 * that is the whole check, without parsing the contents again.
 */
export class GzipRoundTrip {
  readonly #trailer = new GzipTrailerCheck();
  #decompressedBytes = 0;
  readonly #gunzipped: Promise<void>;
  /** Passes the bytes given to the compressor on, unchanged. */
  readonly uncompressed: Transform;
  /** Takes the compressed bytes; ended with them. */
  readonly compressed: Transform;

  constructor(signal: AbortSignal) {
    this.uncompressed = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.#trailer.input(chunk);
        callback(null, chunk);
      },
    });
    this.compressed = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        this.#trailer.output(chunk);
        callback(null, chunk);
      },
    });
    const counted = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.#decompressedBytes += chunk.length;
        callback();
      },
    });
    this.#gunzipped = pipeline(this.compressed, createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES }), counted, { signal });
    // Awaited by `verified`, after the writing, which may fail first.
    this.#gunzipped.catch(() => undefined);
  }

  /** Resolves once the whole stream was checked; rejects with what is wrong with it. */
  async verified(): Promise<void> {
    try {
      await this.#gunzipped;
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError') throw error;
      throw new Error(`the gzip stream does not decompress: ${errorMessage(error)}`);
    }
    if (this.#decompressedBytes !== this.#trailer.bytesIn) throw new Error(`the gzip stream decompresses to ${this.#decompressedBytes} bytes, but ${this.#trailer.bytesIn} were compressed`);
    const problem = this.#trailer.problem();
    if (problem) throw new Error(problem);
  }
}

function hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}
