import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { judgeEntry, staysInside } from '../../src/actions/archive/entrySafety';
import { compileExcludes } from '../../src/actions/archive/excludeGlobs';
import { FLUSH_EVERY_BYTES, FlushBehind } from '../../src/actions/archive/flushBehind';
import { compileNameMatcher, DEFAULT_NAME_PATTERN, formatArchiveName, hasPrefix, namePatternProblem, timestampFromName } from '../../src/actions/archive/naming';
import { isIncompressible, ParallelGzip } from '../../src/actions/archive/parallelGzip';
import { readArchive } from '../../src/actions/archive/readArchive';
import { selectForDeletion, type RetentionCandidate } from '../../src/actions/archive/retention';
import { makeTempDir, removeTempDir, writeTree } from './archiveSupport';

describe('archive building blocks', () => {
  describe('exclude globs', () => {
    const cases: [pattern: string, path: string, isDirectory: boolean, excluded: boolean][] = [
      ['*.log', 'a.log', false, true],
      ['*.log', 'deep/down/b.log', false, true],
      ['*.log', 'a.log.txt', false, false],
      ['cache/', 'x/cache', true, true],
      ['cache/', 'x/cache', false, false],
      ['node_modules', 'a/node_modules', true, true],
      ['data/*.tmp', 'data/x.tmp', false, true],
      ['data/*.tmp', 'data/sub/x.tmp', false, false],
      ['data/**/*.tmp', 'data/sub/deeper/x.tmp', false, true],
      ['data/**/*.tmp', 'data/x.tmp', false, true],
      ['**/thumbs', 'a/b/thumbs', true, true],
      ['clips/**', 'clips/a/b.jpg', false, true],
      ['clips/**', 'clipsX/a', false, false],
      ['file?.txt', 'file1.txt', false, true],
      ['file?.txt', 'file10.txt', false, false],
      ['[!a]*.jpg', 'b.jpg', false, true],
      ['[!a]*.jpg', 'a.jpg', false, false],
      ['*.{jpg,png}', 'x/y.png', false, true],
      ['._*', 'faces/bob/._2.jpg', false, true],
      ['a+b(1).txt', 'a+b(1).txt', false, true],
    ];
    for (const [pattern, candidate, isDirectory, excluded] of cases) {
      it(`${pattern} ${excluded ? 'excludes' : 'keeps'} ${candidate}${isDirectory ? '/' : ''}`, () => {
        assert.equal(compileExcludes([pattern])(candidate, isDirectory), excluded);
      });
    }

    describe('as gitignore(5) reads them', () => {
      const documented: [patterns: string[], path: string, isDirectory: boolean, excluded: boolean][] = [
        // A leading slash anchors the pattern at the base; "doc/frotz" and "/doc/frotz" have the same effect.
        [['/bar'], 'bar', false, true],
        [['/bar'], 'a/bar', false, false],
        [['doc/frotz'], 'a/doc/frotz', false, false],
        [['/doc/frotz'], 'doc/frotz', true, true],
        // A trailing slash matches folders only: "frotz/" matches frotz and a/frotz that are folders.
        [['frotz/'], 'a/frotz', true, true],
        [['frotz/'], 'a/frotz', false, false],
        [['doc/frotz/'], 'doc/frotz', true, true],
        [['doc/frotz/'], 'a/doc/frotz', true, false],
        // "**/foo" matches foo anywhere; "**/foo/bar" a bar directly under any foo.
        [['**/foo'], 'foo', false, true],
        [['**/foo/bar'], 'x/y/foo/bar', false, true],
        [['**/foo/bar'], 'foo/x/bar', false, false],
        // "abc/**" matches everything inside abc, not abc itself.
        [['abc/**'], 'abc/x/y', false, true],
        [['abc/**'], 'abc', true, false],
        // "a/**/b" matches a/b, a/x/b, a/x/y/b.
        [['a/**/b'], 'a/b', false, true],
        [['a/**/b'], 'a/x/y/b', false, true],
        [['a/**/b'], 'x/a/b', false, false],
        // "foo/*" matches foo/test.json and the folder foo/bar, and what is in it.
        [['foo/*'], 'foo/bar', true, true],
        [['foo/*'], 'foo/bar/hello.c', false, true],
        // "!" takes a path back in, except below an excluded folder.
        [['*.log', '!keep.log'], 'x/keep.log', false, false],
        [['*.log', '!keep.log'], 'x/drop.log', false, true],
        [['logs/', '!logs/keep.log'], 'logs/keep.log', false, true],
        [['/*', '!/foo', '/foo/*', '!/foo/bar'], 'foo/bar', true, false],
        [['/*', '!/foo', '/foo/*', '!/foo/bar'], 'foo/baz', true, true],
        [['/*', '!/foo', '/foo/*', '!/foo/bar'], 'other', false, true],
        // A line starting with # is a comment; "\#" and "\!" are literal.
        [['#file'], '#file', false, false],
        [['\\#file'], '#file', false, true],
        [['\\!important!.txt'], '!important!.txt', false, true],
        // Trailing spaces are dropped unless escaped with a backslash.
        [['foo  '], 'foo', false, true],
        [['foo\\ '], 'foo ', false, true],
        [['foo\\ '], 'foo', false, false],
        // Matching is case-sensitive.
        [['*.JPG'], 'a.jpg', false, false],
        // A path with ./ in front (which `ignore` alone refuses), and the ./ convenience in a pattern.
        [['/data/*.tmp'], './data/x.tmp', false, true],
        [['./cache'], 'cache', true, true],
        [['./cache'], 'x/cache', true, false],
      ];
      for (const [patterns, candidate, isDirectory, excluded] of documented) {
        it(`${patterns.join(' + ')} ${excluded ? 'excludes' : 'keeps'} ${candidate}${isDirectory ? '/' : ''}`, () => {
          assert.equal(compileExcludes(patterns)(candidate, isDirectory), excluded);
        });
      }
    });
  });

  describe('names', () => {
    it('formats the default pattern in local time', () => {
      assert.equal(formatArchiveName(DEFAULT_NAME_PATTERN, 'frigate-faces', new Date(2026, 0, 4, 6, 5, 9)), 'frigate-faces-20260104-060509.tar.gz');
    });

    it('matches only its own pattern and prefix, with a sortable time key', () => {
      const matches = compileNameMatcher(DEFAULT_NAME_PATTERN, 'frigate-faces');
      assert.equal(matches('frigate-faces-20260104-060509.tar.gz'), '20260104060509');
      for (const other of ['frigate-faces-20260104.tar.gz', 'frigate-faces-old-20260104-060509.tar.gz', 'frigate-20260104-060509.tar.gz', 'frigate-faces-20260104-060509.tar.gz.sha256', 'xfrigate-faces-20260104-060509.tar.gz']) {
        assert.equal(matches(other), undefined, other);
      }
      // Placeholders in any order still sort by year, month, day, time.
      assert.equal(compileNameMatcher('{DD}.{MM}.{YYYY}-{prefix}.tgz', 'p')('04.01.2026-p.tgz'), '20260104000000');
      // A prefix with regular-expression characters is literal.
      assert.equal(compileNameMatcher(DEFAULT_NAME_PATTERN, 'a.b')('aXb-20260104-060509.tar.gz'), undefined);
    });

    it('explains unusable patterns', () => {
      assert.match(namePatternProblem('{prefix}-{YYYY}{MM}{DD}.zip') ?? '', /\.tar\.gz or \.tgz/);
      assert.match(namePatternProblem('{prefix}/{YYYY}.tar.gz') ?? '', /only contain/);
      assert.equal(namePatternProblem(DEFAULT_NAME_PATTERN), undefined);
    });

    it('reads timestamps from names, rejecting impossible dates', () => {
      assert.deepEqual(timestampFromName('frigate-faces-20260124.tar.gz'), new Date(2026, 0, 24));
      assert.deepEqual(timestampFromName('p-20260124-235959.tar.gz'), new Date(2026, 0, 24, 23, 59, 59));
      assert.deepEqual(timestampFromName('badr_backup_20260124_065100.tar.gz'), new Date(2026, 0, 24, 6, 51));
      assert.equal(timestampFromName('p-20261340.tar.gz'), undefined);
      assert.equal(timestampFromName('p-123456789.tar.gz'), undefined, 'nine digits are not a date');
      assert.equal(timestampFromName('backup.tar.gz'), undefined);
    });

    it('selects by prefix at a separator only', () => {
      assert.equal(hasPrefix('frigate-faces-20260124.tar.gz', 'frigate-faces'), true);
      assert.equal(hasPrefix('frigate-facesX-20260124.tar.gz', 'frigate-faces'), false);
      assert.equal(hasPrefix('anything.tar.gz', undefined), true);
    });
  });

  describe('retention selection', () => {
    const candidate = (name: string, timestampKey: string, mtimeMs = 0): RetentionCandidate => ({ name, path: `/x/${name}`, bytes: 1, timestampKey, mtimeMs });

    it('keeps the newest by name time, mtime breaking ties, and always the new archive', () => {
      const candidates = [candidate('a', '20240101000000'), candidate('b', '20250101000000', 1), candidate('c', '20250101000000', 2), candidate('new', '20260101000000')];
      assert.deepEqual(selectForDeletion(candidates, 2, 'new').map((victim) => victim.name), ['b', 'a']);
      assert.deepEqual(selectForDeletion(candidates, 1, 'new').map((victim) => victim.name), ['c', 'b', 'a']);
      assert.deepEqual(selectForDeletion(candidates, 10, 'new'), []);
      assert.deepEqual(selectForDeletion(candidates, 1, 'a').map((victim) => victim.name), ['new', 'c', 'b'], 'the new archive is kept even when it is not the newest');
    });
  });

  describe('entry safety', () => {
    const entry = (path: string, type = 'File', linkpath?: string) => ({ path, type, size: 0, mode: 0o644, mtime: undefined, linkpath }) as Parameters<typeof judgeEntry>[0];

    it('strips leading segments and skips entries stripped away', () => {
      assert.deepEqual(judgeEntry(entry('faces/alice/1.jpg'), 1), { restore: { path: 'alice/1.jpg', parts: ['alice', '1.jpg'], kind: 'file', size: 0, mode: 0o644, mtime: undefined } });
      assert.deepEqual(judgeEntry(entry('faces/', 'Directory'), 1), { skip: true });
      assert.deepEqual(judgeEntry(entry('./', 'Directory'), 0), { skip: true });
    });

    it('strips hard link targets like paths', () => {
      const verdict = judgeEntry(entry('top/copy', 'Link', 'top/data/file'), 1);
      assert.ok('restore' in verdict);
      assert.equal(verdict.restore.linkpath, 'data/file');
    });

    it('resolves paths through the archive links like the kernel would', () => {
      const links = new Map([
        ['sub/up', '..'],
        ['loop', 'loop'],
        ['abs', '/etc'],
      ]);
      assert.equal(staysInside(['sub', 'up', 'x'], links), true);
      assert.equal(staysInside(['sub', 'up', '..'], links), false);
      assert.equal(staysInside(['loop'], links), false, 'a loop never resolves');
      assert.equal(staysInside(['abs'], links), false);
    });
  });

  describe('ParallelGzip', () => {
    /** Compresses what `produce` writes, returning the members in the order they were handed over. */
    async function compress(blockBytes: number, produce: (gzip: ParallelGzip) => Promise<void>): Promise<Buffer[]> {
      const members: Buffer[] = [];
      const gzip = new ParallelGzip({ level: 6, blockBytes, concurrency: 2, onMember: async (member) => void members.push(Buffer.concat(member)) });
      await produce(gzip);
      await gzip.end();
      return members;
    }

    it('writes gzip members that gunzip, GNU gzip and tar read back as one stream', async () => {
      const input = Buffer.concat([randomBytes(300_000), Buffer.alloc(500_000, 'text text '), randomBytes(10), Buffer.alloc(3000)]);
      const members = await compress(64 * 1024, async (gzip) => {
        // Copied in small pieces, filled in place (as file reads do) and as zeros (as tar padding is).
        for (let offset = 0; offset < 400_000; offset += 7000) await gzip.write(input.subarray(offset, Math.min(offset + 7000, 400_000)));
        for (let offset = 400_000; offset < 800_010; ) {
          const room = gzip.room();
          const length = Math.min(room.length, 800_010 - offset, 50_000);
          input.copy(room, 0, offset, offset + length);
          offset += length;
          await gzip.commit(length);
        }
        await gzip.writeZeros(3000);
        assert.equal(gzip.bytesIn, input.length);
      });
      assert.equal(members.length, Math.ceil(input.length / (64 * 1024)), 'one member per block, in order');
      const output = Buffer.concat(members);
      assert.deepEqual(gunzipSync(output), input);
      assert.deepEqual(execFileSync('gzip', ['-dc'], { input: output, maxBuffer: 10 * 1024 * 1024 }), input);
      assert.ok(output.length < input.length * 0.5, 'compresses');
    });

    it('stores blocks that hold nothing compressible, and compresses any that holds something', async () => {
      const random = randomBytes(1024 * 1024);
      const text = Buffer.alloc(1024 * 1024, 'log line 42: all quiet\n');
      assert.equal(isIncompressible(random), true, 'random bytes, as a photo or a video holds');
      assert.equal(isIncompressible(text), false, 'text');
      assert.equal(isIncompressible(Buffer.concat([random.subarray(0, 700_000), text.subarray(0, 348_576)])), false, 'a photo, then a text file');
      assert.equal(isIncompressible(Buffer.concat([text.subarray(0, 300_000), random.subarray(0, 748_576)])), false, 'a text file, then a photo');
      assert.equal(isIncompressible(Buffer.concat(Array.from({ length: 1024 }, () => random.subarray(0, 1024)))), false, 'random bytes repeating within a sample');
      assert.equal(isIncompressible(random.subarray(0, 8192)), false, 'too small to sample: compressed');

      const input = Buffer.concat([random, text, random.subarray(0, 1000)]);
      const members = await compress(1024 * 1024, (gzip) => gzip.write(input));
      assert.equal(members.length, 3);
      // gzip's XFL byte, as zlib writes it: 4 for the fastest levels (0 and 1), 0 for the levels between them and 9.
      const xfl = (member: Buffer | undefined) => member?.[8];
      assert.equal(xfl(members[0]), 4, 'the random block is stored (level 0)');
      assert.ok((members[0]?.length ?? 0) - random.length < 200, 'a stored member is its block and a few bytes of framing');
      assert.equal(xfl(members[1]), 0, 'the text block is compressed at the level asked for');
      assert.equal(xfl(members[2]), 0, 'a block too small to sample is compressed');
      assert.deepEqual(gunzipSync(Buffer.concat(members)), input);
      assert.deepEqual(execFileSync('gzip', ['-dc'], { input: Buffer.concat(members), maxBuffer: 10 * 1024 * 1024 }), input);
    });

    it('produces a valid gzip file from empty input', async () => {
      const members = await compress(1024, async () => {});
      assert.equal(members.length, 1);
      assert.equal(gunzipSync(Buffer.concat(members)).length, 0);
    });

    it('refuses a commit larger than the room left', async () => {
      const gzip = new ParallelGzip({ level: 6, blockBytes: 1024, concurrency: 2, onMember: async () => {} });
      await gzip.commit(1000);
      await assert.rejects(gzip.commit(25), RangeError);
    });
  });

  describe('FlushBehind', () => {
    /** A new file whose fdatasync calls are counted, and made to fail with `failure` when it is given. */
    async function countedFile(dir: string, failure?: NodeJS.ErrnoException): Promise<{ file: FileHandle; flushes: () => number }> {
      const file = await open(path.join(dir, 'archive.tar.gz'), 'wx+');
      const datasync = file.datasync.bind(file);
      let flushes = 0;
      file.datasync = async () => {
        flushes++;
        if (failure) throw failure;
        await datasync();
      };
      return { file, flushes: () => flushes };
    }

    it('flushes once per FLUSH_EVERY_BYTES written, one flush at a time', async () => {
      const dir = await makeTempDir('flush-behind');
      const { file, flushes } = await countedFile(dir);
      try {
        const flush = new FlushBehind(file);
        flush.written(FLUSH_EVERY_BYTES - 1);
        assert.equal(flushes(), 0, 'not before FLUSH_EVERY_BYTES');
        flush.written(FLUSH_EVERY_BYTES);
        flush.written(3 * FLUSH_EVERY_BYTES);
        assert.equal(flushes(), 1, 'not while one is under way');
        await flush.settled();
        flush.written(FLUSH_EVERY_BYTES + FLUSH_EVERY_BYTES / 2);
        assert.equal(flushes(), 1, 'counted from where the last one started');
        flush.written(2 * FLUSH_EVERY_BYTES);
        assert.equal(flushes(), 2);
        await flush.settled();
      } finally {
        await file.close();
        await removeTempDir(dir);
      }
    });

    it('reports a failed flush when settled, and flushes no more', async () => {
      const dir = await makeTempDir('flush-behind');
      const failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      const { file, flushes } = await countedFile(dir, failure);
      try {
        const flush = new FlushBehind(file);
        flush.written(FLUSH_EVERY_BYTES);
        await assert.rejects(flush.settled(), failure);
        flush.written(5 * FLUSH_EVERY_BYTES);
        assert.equal(flushes(), 1);
        await assert.rejects(flush.settled(), failure, 'still reported: the final fsync may not see it again');
      } finally {
        await file.close();
        await removeTempDir(dir);
      }
    });
  });

  describe('readArchive', () => {
    let workspace: string;
    beforeEach(async () => {
      workspace = await makeTempDir('read');
    });
    afterEach(async () => {
      await removeTempDir(workspace);
    });

    it('hands over every entry byte-exact when gunzip output is cut inside tar blocks', async () => {
      // One long gzip member of incompressible data: the reads end mid-member, so gunzip's chunks
      // start at arbitrary offsets, not at tar block boundaries.
      const files: Record<string, Buffer> = { 'a.bin': randomBytes(700_001), 'b.txt': Buffer.from('odd'.repeat(333)), 'c.bin': randomBytes(1_300_123) };
      await writeTree(path.join(workspace, 'src'), files);
      const archive = path.join(workspace, 'gnu.tar.gz');
      execFileSync('tar', ['-czf', archive, '-C', path.join(workspace, 'src'), ...Object.keys(files)]);

      const read: Record<string, Buffer> = {};
      const result = await readArchive(archive, {
        signal: new AbortController().signal,
        onEntry: async (entry) => {
          read[entry.path] = await buffer(entry);
        },
      });
      assert.deepEqual(read, files);
      assert.equal(result.entries, 3);
      assert.equal(result.sha256, createHash('sha256').update(await readFile(archive)).digest('hex'));
    });
  });
});
