import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { Header, Pax } from 'tar';
import { tarEnd, tarFileBlocks } from '../../src/actions/frigate/facesArchive';

/** A regular file's blocks as node-tar's Header (and Pax, when it asks for one) write them. */
function nodeTarFileBlocks(entryPath: string, data: Buffer, mtime: Date): Buffer {
  const fields = { path: entryPath, mode: 0o644, size: data.length, mtime, type: 'File' as const, uid: 0, gid: 0 };
  const block = Buffer.alloc(512);
  const pax = new Header(fields).encode(block) ? [new Pax(fields).encode()] : [];
  return Buffer.concat([...pax, block, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

describe('face archive tar blocks', () => {
  const printable = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));
  const other = fc.constantFrom('\n', '\t', '\x7f', 'é', '漢', '\u{1f600}', '\0');
  const entryPath = fc.oneof(
    fc.string({ unit: printable, maxLength: 120 }),
    fc.tuple(fc.string({ unit: printable, maxLength: 60 }), other, fc.string({ unit: printable, maxLength: 60 })).map((parts) => parts.join('')),
    fc.constantFrom('faces/G/G_1770500000.webp', 'summary.json', 'faces/Asha/', '', 'x'.repeat(99), 'x'.repeat(100), `faces/${'p'.repeat(93)}`),
  );
  const mtime = fc.oneof(
    fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms)),
    // node-tar writes times outside the octal range in base-256, whole seconds only.
    fc.constantFrom(new Date(0), new Date(-1000), new Date(0o77777777777 * 1000), new Date(0o77777777777 * 1000 + 1000)),
  );

  it('writes every file byte for byte as node-tar does, whatever its path, size and time', () => {
    fc.assert(
      fc.property(entryPath, fc.integer({ min: 0, max: 1100 }), mtime, (path, size, time) => {
        const data = Buffer.alloc(size, 0x61);
        assert.deepEqual(Buffer.concat(tarFileBlocks(path, data, time)), nodeTarFileBlocks(path, data, time));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes headers GNU tar reads back with their names, sizes and times', () => {
    const mtime = new Date('2026-02-08T03:00:00.750Z');
    const files: [string, number][] = [['faces/Asha/Asha_1770500001.webp', 4321], ['faces/G/G-0.png', 0], ['summary.json', 512]];
    const archive = Buffer.concat([...files.flatMap(([path, size]) => tarFileBlocks(path, Buffer.alloc(size, 1), mtime)), tarEnd()]);
    const listing = execFileSync('tar', ['--list', '--verbose', '--numeric-owner', '--full-time', '--utc'], { input: archive, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    const lines = listing.trim().split('\n');
    assert.equal(lines.length, files.length);
    for (const [index, [path, size]] of files.entries()) {
      assert.match(lines[index] ?? '', new RegExp(`^-rw-r--r-- 0/0 +${size} 2026-02-08 03:00:00 ${path.replace(/\./g, '\\.')}$`));
    }
  });
});
