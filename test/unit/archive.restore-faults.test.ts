import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { readdir, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileWriteError } from '../../src/core/errors';
import { readRecords } from '../support/cli';
import { CLI } from '../support/paths';
import { archiveAction, makeTempDir, readTree, recordingContext, removeTempDir, runAction, useSmallTmpfs, writeTree, type TreeNode } from './archiveSupport';

/**
 * Restores that fail for reasons outside the archive — a full disk, a file size limit, SIGKILL,
 * Ctrl-C in each phase — on real file systems, through the shipped CLI where a user would meet
 * them. Each fault is counted, and so is every byte the target lost: files that are neither the
 * archive's nor what was there before, and files that were there before and changed.
 */

const faults = { injected: 0, bytesLost: 0 };

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `lifeboat run <runbook> --json --yes`, behind `prefix` (e.g. bash setting a ulimit) when
 * given. `onStderr` sees the error output so far as it grows, and may signal the process.
 */
function runCli(cwd: string, options: { prefix?: string[]; onStderr?: (stderr: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<CliRun> {
  const command = [...(options.prefix ?? []), process.execPath, CLI, 'run', 'restore.runbook.md', '--json', '--yes'];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0] as string, command.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function writeRestoreRunbook(workspace: string, params: Record<string, unknown>): Promise<void> {
  const lines = Object.entries(params).map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
  await writeFile(path.join(workspace, 'restore.runbook.md'), ['# Restore', '', '```lifeboat', 'action: archive.restore', ...lines, '```', ''].join('\n'));
}

/** Staging folders anywhere below `folder` (a restore's `.restore-` or `.lifeboat-restore-` dot-folders). */
async function stagingLeftIn(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((entry) => /(^|\/)\.[^/]*restore-[^/]*$/.test(entry));
}

/** The step's JSON line on stdout. */
function stepLine(run: CliRun): { status: string; error: string | null } {
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), `a --json line on stdout; got ${JSON.stringify(run.stdout)}; stderr ${run.stderr}`);
  return JSON.parse(line) as { status: string; error: string | null };
}

function assertNoStackTrace(run: CliRun): void {
  assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+\)?\n|triggerUncaughtException|node:internal/, run.stderr);
}

type Tree = Record<string, TreeNode>;

/**
 * Bytes the target lost, given what it held before and what the archive holds: a file must be
 * whole, either the archive's or the one that was there; a file the archive does not have must be
 * unchanged. `sizes` gives each file's size by path (archive and previous content alike).
 */
function bytesLost(actual: Tree, before: Tree, archive: Tree, sizes: ReadonlyMap<string, number>): number {
  let lost = 0;
  for (const [name, node] of Object.entries(actual)) {
    if (node.type !== 'file') continue;
    const whole = node.content === archive[name]?.content || node.content === before[name]?.content;
    if (!whole) lost += sizes.get(name) ?? 1;
  }
  for (const [name, node] of Object.entries(before)) {
    if (node.type === 'file' && archive[name] === undefined && actual[name]?.content !== node.content) lost += sizes.get(name) ?? 1;
  }
  return lost;
}

/** The tree below `folder`, or an empty one when there is no such folder. */
async function treeOrNothing(folder: string): Promise<Tree> {
  return existsSync(folder) ? readTree(folder) : {};
}

function countFault(lost: number): void {
  faults.injected++;
  faults.bytesLost += lost;
  assert.equal(lost, 0, `${lost} bytes lost`);
}

describe('archive.restore under faults: full disks, size limits, SIGKILL and Ctrl-C', function () {
  this.timeout(180_000);
  let fixtures: string;
  /** Many small files in folders that already exist in the target (a long merge), and a few large ones (a long extraction). */
  let archiveFile: string;
  let archiveTree: Tree;
  const sizes = new Map<string, number>();

  before(async () => {
    assert.ok(existsSync(CLI), `build the CLI first (npm run build): ${CLI}`);
    fixtures = await makeTempDir('restore-fault-fixtures');
    const source = path.join(fixtures, 'source');
    const previous = path.join(fixtures, 'previous');
    for (let folder = 0; folder < 10; folder++) {
      for (let file = 0; file < 250; file++) {
        const name = `data/d${folder}/f${file}.bin`;
        await writeTree(source, { [name]: randomBytes(512 + file) });
        sizes.set(name, 512 + file);
        if (file % 3 === 0) await writeTree(previous, { [name]: `old ${name}` });
      }
      await writeTree(previous, { [`data/d${folder}/kept-${folder}.txt`]: `not in the archive ${folder}` });
      sizes.set(`data/d${folder}/kept-${folder}.txt`, 30);
    }
    for (let big = 0; big < 4; big++) {
      await writeTree(source, { [`large/${big}.bin`]: randomBytes(3 * 1024 * 1024) });
      sizes.set(`large/${big}.bin`, 3 * 1024 * 1024);
    }
    archiveFile = path.join(fixtures, 'backup.tar.gz');
    execFileSync('tar', ['-czf', archiveFile, '-C', source, '.']);
    archiveTree = await readTree(source);
  });

  after(async () => {
    await removeTempDir(fixtures);
    process.stdout.write(`      restore faults injected: ${faults.injected}, bytes lost: ${faults.bytesLost}\n`);
  });

  let workspace: string;
  let target: string;
  beforeEach(async () => {
    workspace = await makeTempDir('restore-faults');
    target = path.join(workspace, 'target');
  });
  afterEach(async () => {
    await removeTempDir(workspace);
  });

  /** The target as a person left it before the restore: some of the archive's files in older versions, some files of its own. */
  async function previousTarget(): Promise<void> {
    execFileSync('cp', ['-a', path.join(fixtures, 'previous'), target]);
  }

  describe('a write error (file too large under `ulimit -f`)', () => {
    const limitBlocks = 1024; // bash counts 1 KiB blocks: 1 MiB, less than each large file
    const underLimit = ['bash', '-c', 'ulimit -f "$1" && shift && exec "$@"', 'bash', String(limitBlocks)];

    for (const existing of [false, true]) {
      it(`fails cleanly into ${existing ? 'an existing' : 'a new'} target: named file and cause, --json line, run record, no staging`, async () => {
        if (existing) await previousTarget();
        const before = await treeOrNothing(target);
        await writeRestoreRunbook(workspace, { archive: archiveFile, target: 'target', overwrite: true });
        const run = await runCli(workspace, { prefix: underLimit });
        assert.equal(run.code, 1, run.stderr);
        assertNoStackTrace(run);
        const step = stepLine(run);
        assert.equal(step.status, 'failed');
        assert.match(step.error ?? '', new RegExp(`cannot write ${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/large/\\d\\.bin: file too large \\(EFBIG\\)`));
        const records = await readRecords(workspace);
        assert.deepEqual(records.map((record) => record.status), ['failed']);
        assert.match(String(records[0]?.error), /file too large \(EFBIG\)/);
        assert.deepEqual(await stagingLeftIn(workspace), []);
        const after = await treeOrNothing(target);
        countFault(bytesLost(after, before, archiveTree, sizes));
        assert.deepEqual(after, before, existing ? 'the target as it was' : 'no target');
      });
    }
  });

  describe('a small tmpfs', () => {
    const tmpfsMount = useSmallTmpfs('restore-tmpfs', '2m');

    it('refuses a tar bomb that does not fit before writing anything', async () => {
      const tmpfs = tmpfsMount.path();
      const bomb = path.join(workspace, 'bomb.tar.gz');
      const zeros = path.join(workspace, 'zeros');
      await writeTree(zeros, { 'zeros.bin': Buffer.alloc(64 * 1024 * 1024) });
      execFileSync('tar', ['-czf', bomb, '-C', zeros, '.']);
      await rm(zeros, { recursive: true });
      await writeTree(tmpfs, { 'target/mine.txt': 'mine' });
      const freeBefore = (await statfs(tmpfs)).bavail;
      const before = await readTree(tmpfs);
      await writeRestoreRunbook(workspace, { archive: bomb, target: path.join(tmpfs, 'target') });
      const run = await runCli(workspace);
      assert.equal(run.code, 1, run.stderr);
      assertNoStackTrace(run);
      assert.match(stepLine(run).error ?? '', /not enough free space at .*\/target: the archive needs 64 MiB on disk for 67108864 bytes of files, and [\d.]+ [KM]i?B is free, of which a restore leaves [\d.]+ KiB unused/);
      assert.deepEqual(await readTree(tmpfs), before, 'nothing written');
      assert.equal((await statfs(tmpfs)).bavail, freeBefore);
      countFault(0);
    });

    it('counts the space a killed restore left in staging as free, removes that staging and restores', async () => {
      const tmpfs = tmpfsMount.path();
      const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      const abandoned = path.join(tmpfs, `.target.restore-${exited.stdout}-0123456789ab`);
      await writeTree(abandoned, { 'tree/half.bin': randomBytes(1400 * 1024) });
      const source = path.join(workspace, 'source');
      await writeTree(source, { 'a.bin': randomBytes(700 * 1024) });
      const archive = path.join(workspace, 'fits-once-cleaned.tar.gz');
      execFileSync('tar', ['-czf', archive, '-C', source, '.']);
      assert.ok((await statfs(tmpfs)).bavail * 4096 < 700 * 1024, 'it would not fit beside the abandoned staging');
      await writeRestoreRunbook(workspace, { archive, target: path.join(tmpfs, 'target') });
      const run = await runCli(workspace);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /left by an interrupted restore \(process \d+ no longer runs\)/);
      assert.deepEqual(await readTree(path.join(tmpfs, 'target')), await readTree(source));
      assert.deepEqual(await stagingLeftIn(tmpfs), []);
      countFault(0);
    });

    it('fails cleanly when the disk fills up while extracting: ENOSPC named, staging removed, target and free space as before', async () => {
      const tmpfs = tmpfsMount.path();
      const source = path.join(workspace, 'source');
      await writeTree(source, Object.fromEntries(Array.from({ length: 4 }, (_, index) => [`f${index}.bin`, randomBytes(200 * 1024)])));
      const archive = path.join(workspace, 'fits.tar.gz');
      execFileSync('tar', ['-czf', archive, '-C', source, '.']);
      const restoreTarget = path.join(tmpfs, 'target');
      await writeTree(restoreTarget, { 'mine.txt': 'mine', 'f0.bin': 'older f0' });
      const before = await readTree(restoreTarget);
      const freeBefore = (await statfs(tmpfs)).bavail;
      const filler = path.join(tmpfs, 'filler');
      let filled = false;
      const ctx = recordingContext(workspace, {
        onProgress: (update) => {
          if (filled || !update.message?.startsWith('Extracting')) return;
          filled = true;
          // Another program fills the disk after the check: the next write meets ENOSPC.
          try {
            writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024));
          } catch (error) {
            assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
          }
        },
      });
      await assert.rejects(runAction(archiveAction('archive.restore'), { archive, target: restoreTarget, overwrite: true }, ctx), (error: unknown) => {
        assert.ok(error instanceof FileWriteError, String(error));
        assert.match(error.message, new RegExp(`^cannot write ${restoreTarget.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/f\\d\\.bin: no space left on device \\(ENOSPC\\)$`));
        return true;
      });
      assert.ok(filled, 'the disk was filled during the extraction');
      assert.deepEqual(await stagingLeftIn(tmpfs), []);
      const after = await readTree(restoreTarget);
      assert.deepEqual(after, before);
      await rm(filler);
      assert.equal((await statfs(tmpfs)).bavail, freeBefore, 'no space left taken');
      countFault(bytesLost(after, before, await readTree(source), new Map([['mine.txt', 4], ['f0.bin', 8]])));
    });
  });

  /**
   * The phases of a restore into an existing target: the line the CLI prints as one starts, and
   * what shows on disk once it is under way (the staging tree filling up, files being set aside).
   */
  const phases = [
    { name: 'checking the archive', line: /▶ \[cell \d+\]/, underWay: async () => true, leavesStaging: false },
    { name: 'extracting into staging', line: /entries checked, checksum/, underWay: () => stagingHolds('tree'), leavesStaging: true },
    { name: 'moving files into the target', line: /extracted; moving the files into/, underWay: () => stagingHolds('replaced'), leavesStaging: true },
  ];

  /** Whether the restore's staging folder has a `folder` with something in it yet. */
  async function stagingHolds(folder: string): Promise<boolean> {
    for (const staging of await stagingLeftIn(workspace)) {
      if ((await readdir(path.join(workspace, staging, folder)).catch(() => [])).length > 0) return true;
    }
    return false;
  }

  /** Runs the restore and sends `signal` once `phase` is under way. */
  async function interruptedRun(phase: (typeof phases)[number], signal: NodeJS.Signals): Promise<{ run: CliRun; sent: boolean }> {
    let watching = false;
    let sent = false;
    const run = await runCli(workspace, {
      onStderr: (stderr, child) => {
        if (watching || !phase.line.test(stderr)) return;
        watching = true;
        void (async () => {
          while (child.exitCode === null && child.signalCode === null && !(await phase.underWay())) await sleep(2);
          sent = child.kill(signal);
        })();
      },
    });
    return { run, sent };
  }

  describe('SIGKILL mid-restore, then the same restore again', () => {
    for (const phase of phases) {
      it(`killed while ${phase.name}: only whole files in the target; the re-run completes and removes the abandoned staging`, async () => {
        await previousTarget();
        const before = await readTree(target);
        await writeRestoreRunbook(workspace, { archive: archiveFile, target: 'target', overwrite: true });
        const { run: killed } = await interruptedRun(phase, 'SIGKILL');
        assert.equal(killed.signal, 'SIGKILL', `killed before it ended: ${killed.stderr}`);
        countFault(bytesLost(await readTree(target), before, archiveTree, sizes));
        assert.equal((await stagingLeftIn(workspace)).length, phase.leavesStaging ? 1 : 0, 'killed in the middle of the phase');

        const again = await runCli(workspace);
        assert.equal(again.code, 0, again.stderr);
        assert.equal(stepLine(again).status, 'succeeded');
        const restored = await readTree(target);
        for (const [name, node] of Object.entries(archiveTree)) assert.deepEqual(restored[name], node, name);
        for (const [name, node] of Object.entries(before)) if (!archiveTree[name]) assert.deepEqual(restored[name], node, name);
        assert.deepEqual(await stagingLeftIn(workspace), [], 'the killed run left its staging folder; the re-run removed it');
      });
    }
  });

  describe('Ctrl-C (SIGINT to the CLI)', () => {
    for (const phase of phases) {
      it(`while ${phase.name}: exit 130, cancelled in the record, staging removed, target as it was`, async () => {
        await previousTarget();
        const before = await readTree(target);
        await writeRestoreRunbook(workspace, { archive: archiveFile, target: 'target', overwrite: true });
        const { run, sent } = await interruptedRun(phase, 'SIGINT');
        assert.ok(sent, `interrupted while ${phase.name}: ${run.stderr}`);
        assert.equal(run.code, 130, run.stderr);
        assertNoStackTrace(run);
        assert.equal(stepLine(run).status, 'cancelled');
        assert.deepEqual((await readRecords(workspace)).map((record) => record.status), ['cancelled']);
        assert.deepEqual(await stagingLeftIn(workspace), []);
        const after = await readTree(target);
        countFault(bytesLost(after, before, archiveTree, sizes));
        assert.deepEqual(after, before);
      });
    }
  });
});
