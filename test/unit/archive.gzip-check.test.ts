import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { GzipRoundTrip, GzipTrailerCheck } from '../../src/actions/archive/gzipCheck';
import { CancelledError } from '../../src/core/errors';

const INPUT = Buffer.concat([randomBytes(70_000), Buffer.alloc(5_000), Buffer.from('manifest\n')]);

function chunksOf(data: Buffer, chunkBytes: number): Buffer[] {
  return Array.from({ length: Math.ceil(data.length / chunkBytes) }, (_, index) => data.subarray(index * chunkBytes, (index + 1) * chunkBytes));
}

/** `input` through the check's uncompressed side, and `compressed` (the gzip of it, or not) through its compressed side, in chunks. */
async function roundTrip(input: Buffer, compressed: Buffer, chunkBytes: number, signal = new AbortController().signal): Promise<void> {
  const check = new GzipRoundTrip(signal);
  const passed: Buffer[] = [];
  await pipeline(Readable.from(chunksOf(input, chunkBytes)), check.uncompressed, new Writable({ write: (chunk: Buffer, _encoding, callback) => (passed.push(chunk), callback()) }));
  assert.deepEqual(Buffer.concat(passed), input, 'the uncompressed side passes its bytes on unchanged');
  await pipeline(Readable.from(chunksOf(compressed, chunkBytes)), check.compressed).catch(() => undefined);
  await check.verified();
}

describe('gzip checks: a gzip stream is the compression of exactly the bytes given', () => {
  it('passes the gzip of the input, made by the compressor as Lifeboat runs it, in chunks of any size', async () => {
    const compressed = await buffer(Readable.from([INPUT]).pipe(createGzip({ level: 1, strategy: constants.Z_RLE })));
    for (const chunkBytes of [1, 7, 4096, INPUT.length]) await roundTrip(INPUT, compressed, chunkBytes);
  });

  it('refuses a valid gzip of other bytes: one byte changed, one byte missing, one byte more', async () => {
    const changed = Buffer.from(INPUT);
    changed.writeUInt8(changed.readUInt8(100) ^ 1, 100);
    await assert.rejects(roundTrip(INPUT, gzipSync(changed), 4096), /the gzip trailer says CRC-32 [0-9a-f]{8} over 75009 bytes \(mod 2\^32\), but the tar stream written has CRC-32 [0-9a-f]{8} over 75009$/);
    await assert.rejects(roundTrip(INPUT, gzipSync(INPUT.subarray(1)), 4096), /decompresses to 75008 bytes, but 75009 were compressed/);
    await assert.rejects(roundTrip(INPUT, gzipSync(Buffer.concat([INPUT, Buffer.from('x')])), 4096), /decompresses to 75010 bytes, but 75009 were compressed/);
  });

  it('refuses a damaged, a cut and an empty gzip stream', async () => {
    const damaged = gzipSync(INPUT);
    damaged.writeUInt8(damaged.readUInt8(damaged.length >> 1) ^ 0xff, damaged.length >> 1);
    await assert.rejects(roundTrip(INPUT, damaged, 4096), /^Error: the gzip stream does not decompress: /);
    await assert.rejects(roundTrip(INPUT, gzipSync(INPUT).subarray(0, -10), 4096), /the gzip stream does not decompress: unexpected end of file/);
    await assert.rejects(roundTrip(INPUT, Buffer.alloc(0), 4096), /shorter than a gzip trailer|does not decompress/);
  });

  it('stops with the cancellation when its signal is aborted', async () => {
    const stop = new AbortController();
    const check = new GzipRoundTrip(stop.signal);
    check.compressed.write(gzipSync(INPUT).subarray(0, 100));
    stop.abort(new CancelledError());
    await assert.rejects(check.verified(), (error: Error) => error.name === 'AbortError');
  });

  it('reads the trailer from the last bytes, however the output was cut into chunks', () => {
    const compressed = gzipSync(INPUT);
    for (const chunkBytes of [1, 3, 8, 9, 1000]) {
      const trailer = new GzipTrailerCheck();
      for (const chunk of chunksOf(INPUT, 333)) trailer.input(chunk);
      for (const chunk of chunksOf(compressed, chunkBytes)) trailer.output(chunk);
      assert.equal(trailer.problem(), null, `output in chunks of ${chunkBytes}`);
    }
  });
});
