import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ResticError, ResticRepository, type ResticRepositoryConfig } from '../../src/clients/restic';
import type { ProgressUpdate } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';
import { whileResticHoldsLock } from '../support/resticLock';

const PASSWORD = 'correct horse battery staple';

function kindOf(kind: ResticError['kind']) {
  return (error: unknown) => {
    assert.ok(error instanceof ResticError, `expected a ResticError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    return true;
  };
}

async function writeTree(root: string): Promise<void> {
  await mkdir(path.join(root, 'photos', '2026'), { recursive: true });
  await writeFile(path.join(root, 'photos', '2026', 'face.webp'), randomBytes(300_000));
  await writeFile(path.join(root, 'config.yaml'), 'retention_days: 7\n');
}

async function readTree(root: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files[path.relative(root, path.join(entry.parentPath, entry.name))] = (await readFile(path.join(entry.parentPath, entry.name))).toString('base64');
  }
  return files;
}

describe('restic client with the real restic', function () {
  this.timeout(120_000);
  let work: string;
  let source: string;
  const config = (overrides: Partial<ResticRepositoryConfig> = {}): ResticRepositoryConfig => ({
    repository: path.join(work, 'repo'),
    password: PASSWORD,
    cacheDir: path.join(work, 'cache'),
    ...overrides,
  });

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-restic-'));
    source = path.join(work, 'source');
    await writeTree(source);
  });
  after(() => rm(work, { recursive: true, force: true }));

  describe('a local repository', () => {
    const repo = () => new ResticRepository(config());

    it('is created once; a second init says it exists', async () => {
      const created = await repo().init();
      assert.match(created.id ?? '', /^[0-9a-f]+$/);
      await assert.rejects(repo().init(), kindOf('repository-exists'));
      assert.deepEqual(await repo().snapshots(), []);
    });

    it('backs up with progress, then lists and restores the snapshot byte for byte', async () => {
      const updates: ProgressUpdate[] = [];
      const backup = await repo().backup(['.'], { cwd: source, tags: ['nightly'], host: 'nas', progress: { report: (update) => updates.push(update) } });
      assert.equal(backup.partial, false);
      assert.equal(backup.summary.filesNew, 2);
      assert.ok(backup.summary.snapshotId);
      assert.equal(updates.at(-1)?.bytes, backup.summary.totalBytesProcessed);

      const [snapshot] = await repo().snapshots({ tags: ['nightly'] });
      assert.ok(snapshot);
      assert.ok(snapshot.id.startsWith(backup.summary.snapshotId ?? '-'));
      assert.equal(snapshot.hostname, 'nas');
      assert.deepEqual(snapshot.tags, ['nightly']);

      const listing = await repo().ls(snapshot.id);
      assert.equal(listing.snapshot?.id, snapshot.id);
      // Backing up `.` puts the folder's contents at the snapshot's root.
      const files = listing.nodes.filter((node) => node.type === 'file').map((node) => node.path);
      assert.deepEqual(files.sort(), ['/config.yaml', '/photos/2026/face.webp']);

      const target = path.join(work, 'restored');
      const restored = await repo().restore(snapshot.id, target);
      assert.equal(restored.target, target);
      assert.deepEqual(await readTree(target), await readTree(source));
    });

    it('forgets by policy, first as a dry run, then with prune', async () => {
      await writeFile(path.join(source, 'config.yaml'), 'retention_days: 14\n');
      await repo().backup(['.'], { cwd: source, tags: ['nightly'], host: 'nas' });
      const planned = await repo().forget({ policy: { keepLast: 1 } }, { dryRun: true });
      assert.equal(planned.removed.length, 1);
      assert.equal((await repo().snapshots()).length, 2, 'a dry run removes nothing');

      const forgotten = await repo().forget({ policy: { keepLast: 1 } }, { prune: true });
      assert.equal(forgotten.removed.length, 1);
      assert.equal(forgotten.kept.length, 1);
      assert.match(forgotten.pruneReport, /remaining|repack|delete/i);
      const left = await repo().snapshots();
      assert.deepEqual(left.map((snapshot) => snapshot.id), forgotten.kept.map((snapshot) => snapshot.id));
      await assert.rejects(repo().forget({ policy: {} }), /keeps everything/);
    });

    it('forgets snapshots by id, refusing an id it does not know', async () => {
      await repo().backup(['.'], { cwd: source, tags: ['manual'] });
      const [manual] = await repo().snapshots({ tags: ['manual'] });
      assert.ok(manual);
      await assert.rejects(repo().forget({ ids: [manual.shortId, 'deadbeef'] }), kindOf('snapshot-missing'));
      assert.equal((await repo().snapshots({ tags: ['manual'] })).length, 1, 'nothing was removed');
      const forgotten = await repo().forget({ ids: [manual.shortId] });
      assert.deepEqual(forgotten.removed.map((snapshot) => snapshot.id), [manual.id]);
      assert.deepEqual(await repo().snapshots({ tags: ['manual'] }), []);
    });

    it('checks the repository', async () => {
      const result = await repo().check({ readData: true });
      assert.equal(result.ok, true, result.report);
      assert.match(result.report, /no errors were found/);
    });

    it('keeps the password and the repository location out of the command line', async () => {
      // A wrapper that records restic's arguments, then runs the real restic with them.
      const wrapper = path.join(work, 'restic-recording-arguments');
      const recorded = path.join(work, 'arguments.log');
      await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${recorded}'\nexec restic "$@"\n`, { mode: 0o755 });
      const recordingRepo = new ResticRepository(config({ binary: wrapper }));
      await recordingRepo.snapshots();
      await recordingRepo.check();
      const argumentsSeen = await readFile(recorded, 'utf8');
      assert.match(argumentsSeen, /snapshots --json/);
      assert.ok(!argumentsSeen.includes(PASSWORD) && !argumentsSeen.includes(path.join(work, 'repo')), argumentsSeen);
    });

    it('names a wrong password, a missing repository and a missing snapshot', async () => {
      await assert.rejects(new ResticRepository(config({ password: 'wrong' })).snapshots(), kindOf('wrong-password'));
      await assert.rejects(new ResticRepository(config({ repository: path.join(work, 'nowhere') })).snapshots(), (error: unknown) => kindOf('repository-missing')(error) && (error as Error).message.includes('nowhere'));
      await assert.rejects(repo().ls('deadbeef'), kindOf('snapshot-missing'));
    });

    it('reports a repository locked by another restic', async () => {
      await whileResticHoldsLock(path.join(work, 'repo'), PASSWORD, async () => {
        await assert.rejects(repo().check(), (error: unknown) => kindOf('locked')(error) && /restic unlock/.test((error as Error).message));
      }, ['--cache-dir', path.join(work, 'cache')]);
    });

    it('stops a backup when cancelled and leaves the repository unlocked', async () => {
      const big = path.join(work, 'big');
      await mkdir(big);
      for (let index = 0; index < 8; index++) await writeFile(path.join(big, `part-${index}.bin`), randomBytes(16 * 1024 * 1024));
      const controller = new AbortController();
      const backup = repo().backup([big], { signal: controller.signal, progress: { report: () => controller.abort() } });
      await assert.rejects(backup, CancelledError);
      assert.deepEqual(await readdir(path.join(work, 'repo', 'locks')), []);
      assert.equal((await repo().check()).ok, true);
    });
  });

  describe('a repository on https S3 (s3rver)', () => {
    let server: RunningS3rver;
    before(async () => {
      server = await startS3rver({ buckets: ['restic'], tls: true });
    });
    after(() => server?.stop());

    it('is created, backed up to and restored from, verifying the server against its CA', async () => {
      const repo = new ResticRepository(
        config({
          repository: `s3:${server.endpoint}/restic/homelab`,
          caFile: server.caFile,
          env: { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey },
          cacheDir: path.join(work, 's3-cache'),
        }),
      );
      await repo.init();
      const backup = await repo.backup(['.'], { cwd: source });
      const [snapshot] = await repo.snapshots();
      assert.ok(snapshot && backup.summary.snapshotId && snapshot.id.startsWith(backup.summary.snapshotId));
      const target = path.join(work, 'restored-from-s3');
      await repo.restore('latest', target);
      assert.deepEqual(await readTree(target), await readTree(source));
      assert.equal((await repo.check()).ok, true);
    });

    it('fails with a certificate error when the CA is not given', async () => {
      const repo = new ResticRepository(
        config({
          repository: `s3:${server.endpoint}/restic/homelab`,
          env: { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey },
        }),
      );
      await assert.rejects(repo.snapshots(), /certificate/);
    });
  });

  describe('a repository on SFTP (a real sshd)', () => {
    let sshd: Sshd;
    before(async () => {
      sshd = await startSshd();
    });
    after(() => sshd?.stop());

    /** The host key is pinned: the only key restic's ssh accepts is the one in the test bed's known_hosts. */
    const sftpConfig = (knownHostsPath: string) =>
      config({
        repository: `sftp:${sshd.user}@127.0.0.1:${sshd.remoteDir}/restic`,
        options: {
          'sftp.command': `ssh -p ${sshd.port} -i ${sshd.clientKey.privateKeyPath} -o UserKnownHostsFile=${knownHostsPath} -o StrictHostKeyChecking=yes -o BatchMode=yes ${sshd.user}@127.0.0.1 -s sftp`,
        },
        cacheDir: path.join(work, 'sftp-cache'),
      });

    it('is created, backed up to and restored from over SFTP', async () => {
      const repo = new ResticRepository(sftpConfig(sshd.knownHostsPath));
      await repo.init();
      const backup = await repo.backup(['.'], { cwd: source });
      const [snapshot] = await repo.snapshots();
      assert.ok(snapshot && backup.summary.snapshotId && snapshot.id.startsWith(backup.summary.snapshotId));
      const target = path.join(work, 'restored-from-sftp');
      await repo.restore('latest', target);
      assert.deepEqual(await readTree(target), await readTree(source));
      assert.equal((await repo.check()).ok, true);
    });

    it('fails when the server host key is not the known one', async () => {
      const strangers = path.join(work, 'no-known-hosts');
      await writeFile(strangers, '');
      await assert.rejects(new ResticRepository(sftpConfig(strangers)).snapshots(), ResticError);
    });
  });
});
