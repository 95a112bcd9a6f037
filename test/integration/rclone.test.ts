import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rclone, RcloneError, s3Remote, type RcloneConfig } from '../../src/clients/rclone';
import type { S3Credentials } from '../../src/clients/s3';
import type { ProgressUpdate } from '../../src/core/actions/spec';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

function kindOf(kind: RcloneError['kind']) {
  return (error: unknown) => {
    assert.ok(error instanceof RcloneError, `expected an RcloneError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    return true;
  };
}

describe('rclone client with the real rclone against s3rver', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  let work: string;
  let source: string;
  const inheritedCaBundle = process.env.AWS_CA_BUNDLE;
  const rclone = (overrides: Partial<RcloneConfig> = {}, credentials: S3Credentials = { ...S3RVER_CREDENTIALS }) =>
    new Rclone({
      configFile: false,
      remotes: { store: s3Remote({ endpoint: server.endpoint, region: 'us-east-1', credentials }) },
      caFile: server.caFile,
      // Fail fast: the failure tests would otherwise retry for a while.
      flags: ['--retries', '1', '--low-level-retries', '1'],
      ...overrides,
    });

  before(async () => {
    // Some machines set AWS_CA_BUNDLE, which breaks rclone's S3 backend; the client must cope with it.
    process.env.AWS_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
    server = await startS3rver({ buckets: ['drive'], tls: true });
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-rclone-'));
    source = path.join(work, 'source');
    await mkdir(path.join(source, 'faces', 'Asha'), { recursive: true });
    await writeFile(path.join(source, 'faces', 'Asha', 'face-1.webp'), randomBytes(2 * 1024 * 1024));
    await writeFile(path.join(source, 'faces', 'Asha', 'face-2.webp'), randomBytes(70_000));
    await writeFile(path.join(source, 'notes.txt'), 'weekly\n');
    // s3rver (3.7.1) leaves out a common prefix whose "folder" holds only sub-folders, so every
    // folder here holds a file of its own.
    await writeFile(path.join(source, 'faces', 'index.txt'), 'Asha\n');
  });
  after(async () => {
    if (inheritedCaBundle === undefined) delete process.env.AWS_CA_BUNDLE;
    else process.env.AWS_CA_BUNDLE = inheritedCaBundle;
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('copies a folder with progress and lists it back with hashes', async () => {
    const updates: ProgressUpdate[] = [];
    const result = await rclone().copy(source, 'store:drive/backup', { progress: { report: (update) => updates.push(update) } });
    assert.equal(result.transfers, 4);
    assert.equal(result.bytes, 2 * 1024 * 1024 + 70_000 + 7 + 5);
    assert.equal(updates.at(-1)?.bytes, result.bytes);

    const entries = await rclone().lsjson('store:drive/backup', { recursive: true, hashes: true, filesOnly: true });
    assert.deepEqual(entries.map((entry) => entry.path).sort(), ['faces/Asha/face-1.webp', 'faces/Asha/face-2.webp', 'faces/index.txt', 'notes.txt']);
    assert.ok(entries.every((entry) => !entry.isDir && /^[0-9a-f]{32}$/.test(entry.hashes.md5 ?? '')));
    const top = await rclone().lsjson('store:drive/backup');
    assert.deepEqual(top.filter((entry) => entry.isDir).map((entry) => entry.name), ['faces']);
    const buckets = await rclone().lsjson('store:');
    assert.ok(buckets.some((entry) => entry.name === 'drive' && entry.isBucket));
  });

  it('checks both sides and names the differences', async () => {
    assert.deepEqual(await rclone().check(source, 'store:drive/backup'), { ok: true, matching: 4, differences: [], unhashed: 0 });
    await writeFile(path.join(source, 'notes.txt'), 'daily\n');
    await writeFile(path.join(source, 'new.txt'), 'new\n');
    const check = await rclone().check(source, 'store:drive/backup');
    assert.equal(check.ok, false);
    assert.deepEqual(
      check.differences.sort((a, b) => a.path.localeCompare(b.path)),
      [
        { path: 'new.txt', kind: 'missing-on-destination' },
        { path: 'notes.txt', kind: 'differ' },
      ],
    );
  });

  it('syncs, deleting what the source no longer has; a dry run changes nothing', async () => {
    await rm(path.join(source, 'faces', 'Asha', 'face-2.webp'));
    const dry = await rclone().sync(source, 'store:drive/backup', { dryRun: true });
    assert.equal(dry.deletes, 1);
    assert.equal((await rclone().lsjson('store:drive/backup/faces/Asha')).length, 2);
    await rclone().sync(source, 'store:drive/backup');
    assert.deepEqual((await rclone().check(source, 'store:drive/backup')).ok, true);
    assert.deepEqual((await rclone().lsjson('store:drive/backup/faces/Asha')).map((entry) => entry.name), ['face-1.webp']);
  });

  it('keeps the secret key out of the command line', async () => {
    // A wrapper that records rclone's arguments, then runs the real rclone with them.
    const wrapper = path.join(work, 'rclone-recording-arguments');
    const recorded = path.join(work, 'arguments.log');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${recorded}'\nexec rclone "$@"\n`, { mode: 0o755 });
    const secret = { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret-that-must-not-show' };
    // s3rver does not check secret keys, so this one works.
    await rclone({ binary: wrapper }, secret).lsjson('store:drive');
    const argumentsSeen = await readFile(recorded, 'utf8');
    assert.match(argumentsSeen, /^lsjson .* -- store:drive$/m);
    assert.ok(!argumentsSeen.includes(secret.secretAccessKey), argumentsSeen);
  });

  it('reports a missing bucket, an unknown access key and an untrusted certificate', async () => {
    await assert.rejects(rclone().lsjson('store:no-such-bucket'), kindOf('not-found'));
    await assert.rejects(rclone({}, { accessKeyId: 'WRONG', secretAccessKey: 'S3RVER' }).lsjson('store:drive'), kindOf('access-denied'));
    await assert.rejects(rclone({ caFile: undefined }).lsjson('store:drive'), kindOf('tls'));
  });

  it('stops a transfer when cancelled', async () => {
    const big = path.join(work, 'big');
    await mkdir(big);
    for (let index = 0; index < 6; index++) await writeFile(path.join(big, `part-${index}.bin`), randomBytes(16 * 1024 * 1024));
    const controller = new AbortController();
    const copy = rclone({ flags: ['--bwlimit', '8M'] }).copy(big, 'store:drive/big', { signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    await assert.rejects(copy, { name: 'CancelledError' });
  });
});
