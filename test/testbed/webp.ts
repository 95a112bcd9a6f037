/**
 * Real WebP files without an encoder: a lossless (VP8L) image of one colour, whose five prefix codes
 * each have a single symbol so every pixel takes zero bits, at any size. `padding` adds an unknown
 * chunk in the extended (VP8X) format, which decoders skip: files of any length, all different.
 */

class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private used = 0;

  write(value: number, bits: number): void {
    for (let bit = 0; bit < bits; bit++) {
      this.current |= ((value >>> bit) & 1) << this.used;
      if (++this.used === 8) {
        this.bytes.push(this.current);
        this.current = 0;
        this.used = 0;
      }
    }
  }

  finish(): Buffer {
    return Buffer.from(this.used > 0 ? [...this.bytes, this.current] : this.bytes);
  }
}

export interface WebpOptions {
  width: number;
  height: number;
  /** ARGB components of the single colour. */
  color?: { red: number; green: number; blue: number; alpha?: number };
  /** Bytes of an extra chunk that makes the file unique and as large as wanted. */
  padding?: Buffer;
}

function chunk(fourcc: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(fourcc, 0, 'ascii');
  header.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, data, data.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

export function solidWebp({ width, height, color = { red: 200, green: 150, blue: 120 }, padding }: WebpOptions): Buffer {
  if (width < 1 || height < 1 || width > 16384 || height > 16384) throw new Error(`WebP size out of range: ${width}x${height}`);
  const alpha = color.alpha ?? 255;
  const bits = new BitWriter();
  bits.write(0x2f, 8);
  bits.write(width - 1, 14);
  bits.write(height - 1, 14);
  bits.write(alpha === 255 ? 0 : 1, 1);
  bits.write(0, 3);
  bits.write(0, 1); // no transform
  bits.write(0, 1); // no colour cache
  bits.write(0, 1); // no meta prefix codes
  // Green, red, blue, alpha, distance: each a "simple" code with one 8-bit symbol.
  for (const symbol of [color.green, color.red, color.blue, alpha, 0]) {
    bits.write(1, 1);
    bits.write(0, 1);
    bits.write(1, 1);
    bits.write(symbol, 8);
  }
  const image = chunk('VP8L', bits.finish());
  let body: Buffer;
  if (padding) {
    const extended = Buffer.alloc(10);
    extended.writeUInt8(alpha === 255 ? 0 : 0x10, 0);
    extended.writeUIntLE(width - 1, 4, 3);
    extended.writeUIntLE(height - 1, 7, 3);
    body = Buffer.concat([Buffer.from('WEBP'), chunk('VP8X', extended), image, chunk('LBPD', padding)]);
  } else {
    body = Buffer.concat([Buffer.from('WEBP'), image]);
  }
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** Width and height of a WebP file (lossless, lossy or extended), or undefined for anything else. */
export function webpSize(file: Buffer): { width: number; height: number } | undefined {
  if (file.length < 30 || file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 8, 12) !== 'WEBP') return undefined;
  const kind = file.toString('ascii', 12, 16);
  if (kind === 'VP8X') return { width: file.readUIntLE(24, 3) + 1, height: file.readUIntLE(27, 3) + 1 };
  if (kind === 'VP8L' && file[20] === 0x2f) {
    const bits = file.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (kind === 'VP8 ') return { width: file.readUInt16LE(26) & 0x3fff, height: file.readUInt16LE(28) & 0x3fff };
  return undefined;
}
