import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { archiveChecker } from '../../src/actions/archive/readArchive';
import { CancelledError } from '../../src/core/errors';
import { rawTar, rawTarGz, type RawTarEntry } from './archiveSupport';

const ENTRIES: RawTarEntry[] = [
  { path: 'faces', type: 'Directory' },
  { path: 'faces/Asha/a.webp', content: randomBytes(70_000) },
  { path: 'faces/G/b.webp', content: randomBytes(3_000) },
  { path: 'manifest.json', content: '{}\n' },
];

/** Feeds `data` to a checker in chunks of `chunkBytes` (as a stream being written arrives) and resolves with what it found. */
async function check(data: Buffer, chunkBytes = 4096, signal = new AbortController().signal): Promise<number> {
  const checker = archiveChecker({ signal });
  const chunks = Array.from({ length: Math.ceil(data.length / chunkBytes) }, (_, index) => data.subarray(index * chunkBytes, (index + 1) * chunkBytes));
  const fed = pipeline(Readable.from(chunks), checker.input).catch(() => undefined);
  try {
    return await checker.entries;
  } finally {
    await fed;
  }
}

describe('archiveChecker: a tar.gz checked as it is written', () => {
  it('counts the entries of a whole archive, in chunks of any size', async () => {
    const archive = rawTarGz(ENTRIES);
    for (const chunkBytes of [7, 511, 4096, archive.length]) assert.equal(await check(archive, chunkBytes), ENTRIES.length, `chunks of ${chunkBytes}`);
  });

  it('fails on a byte changed inside the compressed data', async () => {
    const archive = rawTarGz(ENTRIES);
    const middle = Math.floor(archive.length / 2);
    archive.writeUInt8(archive.readUInt8(middle) ^ 0xff, middle);
    await assert.rejects(check(archive));
  });

  it('fails on a gzip stream cut short', async () => {
    const archive = rawTarGz(ENTRIES);
    await assert.rejects(check(archive.subarray(0, archive.length - 10)), /unexpected end of file/);
  });

  it('fails on a tar stream without its end-of-archive marker, and on one cut inside an entry', async () => {
    await assert.rejects(check(rawTarGz(ENTRIES, { endMarker: false })), /end-of-archive marker/);
    await assert.rejects(check(gzipSync(rawTar(ENTRIES).subarray(0, 512 * 3))));
  });

  it('stops with a cancellation when its signal is aborted', async () => {
    const stop = new AbortController();
    const checker = archiveChecker({ signal: stop.signal });
    checker.input.write(rawTarGz(ENTRIES).subarray(0, 100));
    stop.abort(new CancelledError());
    await assert.rejects(checker.entries, (error: Error) => error.name === 'AbortError' || error instanceof CancelledError);
  });
});
