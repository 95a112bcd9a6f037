/**
 * Benchmark of archive.create and archive.verify, measured in the same run on the same data as
 * what a person would type instead and printed as ratios: `tar -I "pigz -6"` (the target, since
 * archive.create hands gzip to pigz when the machine has it), GNU `tar czf`, and `gzip -t` for
 * verify. archive.create without pigz (its in-process gzip) is measured too. Not a test: numbers
 * depend on the machine, and on what else it runs (the load average is printed).
 *
 *   npm run bench                                   # ~1 GiB of mixed files (generated once)
 *   LIFEBOAT_BENCH_MIB=200 npm run bench            # quick run
 *   LIFEBOAT_BENCH_RUNS=3 npm run bench             # repetitions per measurement (best is kept)
 *
 * Lifeboat's side is the shipped CLI (`dist/cli.js run`, as cron starts it) on a one-step runbook, in
 * a process of its own, so its peak RSS is its own; its time includes the CLI's start and the plan a
 * destructive step gets before it runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { runCli, writeCliWorkspace } from './cliRun';
import { runEntryPoint } from './entryPoint';

/** archive.create (its archive read back and hashed as pigz writes it) against `tar -I "pigz -6"`. */
const TARGET_RATIO_PIGZ = 1.0;
/** archive.verify against `gzip -t`, and archive.create without pigz against GNU `tar czf`. */
const TARGET_RATIO_GNU = 0.9;
const TARGET_RSS_MIB = 128;

interface Measurement {
  label: string;
  ms: number;
  maxRssKiB?: number;
}

function repositoryRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'lifeboat') return dir;
  }
  throw new Error(`no lifeboat repository above ${__dirname}`);
}

/** Deterministic pseudo-random numbers (mulberry32), so the text files are the same every time. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-like text: a vocabulary of words in lines with timestamps and numbers (compresses ~3-5×). */
function textCorpus(bytes: number, random: () => number): Buffer {
  const vocabulary = Array.from({ length: 4000 }, () => Array.from({ length: 2 + Math.floor(random() * 9) }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join(''));
  const lines: string[] = [];
  let size = 0;
  for (let line = 0; size < bytes; line++) {
    const words = Array.from({ length: 6 + Math.floor(random() * 10) }, () => vocabulary[Math.floor(random() * vocabulary.length)]);
    const text = `2026-01-${String(1 + (line % 28)).padStart(2, '0')}T${String(line % 24).padStart(2, '0')}:${String(line % 60).padStart(2, '0')}:00Z id=${Math.floor(random() * 1e6)} ${words.join(' ')}\n`;
    lines.push(text);
    size += text.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

interface DataSet {
  dir: string;
  files: number;
  bytes: number;
}

/**
 * ~`mib` MiB once, reused while present: 25% small files (1-64 KiB, text and random, 40 folders),
 * 75% large files (8-64 MiB, text and random), about half the bytes compressible.
 */
async function ensureData(workDir: string, mib: number): Promise<DataSet> {
  const dir = path.join(workDir, `data-${mib}MiB`);
  const marker = path.join(dir, '.complete');
  if (!existsSync(marker)) {
    console.log(`generating ${mib} MiB of test data in ${dir} (once) …`);
    await rm(dir, { recursive: true, force: true });
    const random = seededRandom(20260124);
    const corpus = textCorpus(16 * 1024 * 1024, random);
    const textSlice = (bytes: number) => {
      const parts: Buffer[] = [];
      for (let filled = 0; filled < bytes; ) {
        const length = Math.min(bytes - filled, 64 * 1024);
        const start = Math.floor(random() * (corpus.length - length));
        parts.push(corpus.subarray(start, start + length));
        filled += length;
      }
      return Buffer.concat(parts);
    };
    const total = mib * 1024 * 1024;
    let smallBytes = 0;
    for (let index = 0; smallBytes < total * 0.25; index++) {
      const folder = path.join(dir, 'small', `folder-${index % 40}`);
      await mkdir(folder, { recursive: true });
      const size = 1024 + Math.floor(random() * 63 * 1024);
      const isText = index % 3 !== 0;
      await writeFile(path.join(folder, `file-${index}.${isText ? 'txt' : 'jpg'}`), isText ? textSlice(size) : randomBytes(size));
      smallBytes += size;
    }
    await mkdir(path.join(dir, 'large'), { recursive: true });
    for (let index = 0, largeBytes = 0; largeBytes < total * 0.75; index++) {
      const size = Math.min(Math.ceil(total * 0.75 - largeBytes), (8 + Math.floor(random() * 57)) * 1024 * 1024);
      const isText = index % 2 === 0;
      await writeFile(path.join(dir, 'large', `blob-${index}.${isText ? 'log' : 'bin'}`), isText ? textSlice(size) : randomBytes(size));
      largeBytes += size;
    }
    await writeFile(marker, '');
  }
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name === '.complete') continue;
    files++;
    bytes += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return { dir, files, bytes };
}

function timeCommand(label: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Measurement {
  execFileSync('sync');
  const hasTime = existsSync('/usr/bin/time');
  const started = performance.now();
  const result = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], { ...options, encoding: 'utf8' })
    : spawnSync(command, args, { ...options, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  const rss = hasTime ? Number(result.stderr.trim().split('\n').at(-1)) : undefined;
  return rss === undefined || Number.isNaN(rss) ? { label, ms } : { label, ms, maxRssKiB: rss };
}

interface CliMeasurement extends Measurement {
  /** The CLI's own CPU time, without its children's (pigz's). */
  cpuSeconds: number;
  result: Record<string, unknown>;
}

/** Lifeboat's side: the shipped CLI running one action on a one-step runbook in `workspace` (see cliRun.ts). */
async function timeCli(label: string, workspace: string, action: { id: string; params: Record<string, unknown> }, env: NodeJS.ProcessEnv = process.env): Promise<CliMeasurement> {
  await writeCliWorkspace(workspace, {}, action);
  execFileSync('sync');
  const run = await runCli<Record<string, unknown>>(workspace, env);
  return { label, ms: run.ms, maxRssKiB: run.report.maxRssKiB, cpuSeconds: run.report.nodeCpuSeconds, result: run.result };
}

/** The fastest run's time (least disturbed by a shared machine), with the highest peak RSS of any run. */
function best<T extends Measurement>(runs: T[]): T {
  const fastest = runs.reduce((best, run) => (run.ms < best.ms ? run : best));
  const rss = runs.map((run) => run.maxRssKiB).filter((value): value is number => value !== undefined);
  return rss.length === 0 ? fastest : { ...fastest, maxRssKiB: Math.max(...rss) };
}

const mib = (bytes: number) => bytes / (1024 * 1024);

async function main(): Promise<void> {
  const root = repositoryRoot();
  const workDir = path.join(root, 'bench', '.work');
  await mkdir(workDir, { recursive: true });
  const sizeMiB = Number(process.env.LIFEBOAT_BENCH_MIB ?? 1024);
  const runs = Math.max(1, Number(process.env.LIFEBOAT_BENCH_RUNS ?? 2));
  const data = await ensureData(workDir, sizeMiB);

  const workspace = path.join(workDir, 'cli');
  const gnuArchive = path.join(workDir, 'gnu.tar.gz');
  const pigzArchive = path.join(workDir, 'pigz.tar.gz');
  const oursDir = path.join(workDir, 'ours');
  const inProcessDir = path.join(workDir, 'ours-in-process');
  // Without pigz on its PATH, archive.create compresses in its own process.
  const withoutPigz = { ...process.env, PATH: '' };
  const createRuns = { gnu: [] as Measurement[], pigz: [] as Measurement[], ours: [] as CliMeasurement[], inProcess: [] as CliMeasurement[] };
  const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');
  console.log(`data: ${mib(data.bytes).toFixed(0)} MiB in ${data.files} files; ${runs} run(s) each: fastest time, highest peak RSS; load average ${load()}`);
  for (let run = 0; run < runs; run++) {
    // Interleaved, so a slow phase of a shared machine hits every side.
    await rm(pigzArchive, { force: true });
    createRuns.pigz.push(timeCommand('tar -I "pigz -6" -cf', 'tar', ['-I', 'pigz -6', '-cf', pigzArchive, '-C', data.dir, '.']));
    await rm(oursDir, { recursive: true, force: true });
    const create = (destination: string) => ({ id: 'archive.create', params: { paths: ['.'], base: data.dir, destination, prefix: 'bench' } });
    createRuns.ours.push(await timeCli('archive.create (pigz; read back as written)', workspace, create(oursDir)));
    await rm(gnuArchive, { force: true });
    createRuns.gnu.push(timeCommand('GNU tar czf (gzip -6)', 'tar', ['-I', 'gzip -6', '-cf', gnuArchive, '-C', data.dir, '.']));
    await rm(inProcessDir, { recursive: true, force: true });
    createRuns.inProcess.push(await timeCli('archive.create without pigz (read-back verify)', workspace, create(inProcessDir), withoutPigz));
  }
  // Each run replaces the previous output, so only the last run's archive is still there.
  const ourArchive = String(createRuns.ours.at(-1)?.result.path);
  const inProcessArchive = String(createRuns.inProcess.at(-1)?.result.path);
  const compressors = [createRuns.ours, createRuns.inProcess].map((measurements) => measurements.at(-1)?.result.compressor);
  if (compressors[0] !== 'pigz' || compressors[1] !== 'in-process') throw new Error(`expected pigz and in-process compression, got ${compressors.join(' and ')}`);

  const verifyRuns = { gzip: [] as Measurement[], ours: [] as Measurement[] };
  for (let run = 0; run < runs; run++) {
    verifyRuns.gzip.push(timeCommand('gzip -t', 'gzip', ['-t', ourArchive]));
    verifyRuns.ours.push(await timeCli('archive.verify', workspace, { id: 'archive.verify', params: { path: ourArchive } }));
  }

  const gnuBytes = (await stat(gnuArchive)).size;
  const pigzBytes = (await stat(pigzArchive)).size;
  const ourBytes = (await stat(ourArchive)).size;
  const rows: string[] = [];
  const line = (measurement: Measurement, baseline: Measurement | undefined, bytes: number) => {
    const throughput = mib(bytes) / (measurement.ms / 1000);
    const ratio = baseline ? `${(baseline.ms / measurement.ms).toFixed(2)} vs ${baseline.label}` : 'baseline';
    const rss = measurement.maxRssKiB === undefined ? '?' : (measurement.maxRssKiB / 1024).toFixed(0);
    rows.push(`| ${measurement.label} | ${(measurement.ms / 1000).toFixed(1)} s | ${throughput.toFixed(0)} MiB/s | ${ratio} | ${rss} MiB |`);
  };
  const gnuCreate = best(createRuns.gnu);
  const pigzCreate = best(createRuns.pigz);
  const ourCreate = best(createRuns.ours);
  const inProcessCreate = best(createRuns.inProcess);
  const gzipTest = best(verifyRuns.gzip);
  const ourVerify = best(verifyRuns.ours);
  rows.push('| measurement | time | throughput | ratio | peak RSS |', '| --- | --- | --- | --- | --- |');
  line(pigzCreate, undefined, data.bytes);
  line(ourCreate, pigzCreate, data.bytes);
  line(gnuCreate, undefined, data.bytes);
  line(ourCreate, gnuCreate, data.bytes);
  line(inProcessCreate, gnuCreate, data.bytes);
  line(gzipTest, undefined, ourBytes);
  line(ourVerify, gzipTest, ourBytes);
  console.log(`\n${rows.join('\n')}\n`);
  const cpu = (measurement: CliMeasurement) => measurement.cpuSeconds.toFixed(1);
  console.log(`archive.create's own CPU time (pigz's aside) in its fastest run: ${cpu(ourCreate)} s; peak RSS is Lifeboat's process alone (pigz's is a few MiB)`);
  const percent = (bytes: number, than: number) => `${((bytes / than - 1) * 100).toFixed(2)}%`;
  console.log(`compressed: pigz ${mib(pigzBytes).toFixed(1)} MiB, GNU ${mib(gnuBytes).toFixed(1)} MiB, ours ${mib(ourBytes).toFixed(1)} MiB (${percent(ourBytes, pigzBytes)} against pigz)`);
  console.log(`cores: ${availableParallelism()}; Node ${process.version}; load average now ${load()}`);

  const verdict = (name: string, ratio: number, target: number, rssKiB: number | undefined) =>
    `${name}: ratio ${ratio.toFixed(2)} (target ≥ ${target.toFixed(1)}) ${ratio >= target ? 'met' : 'MISSED'}; peak RSS ${((rssKiB ?? 0) / 1024).toFixed(0)} MiB (target ≤ ${TARGET_RSS_MIB}) ${(rssKiB ?? Infinity) / 1024 <= TARGET_RSS_MIB ? 'met' : 'MISSED'}`;
  console.log(verdict('archive.create vs tar -I pigz', pigzCreate.ms / ourCreate.ms, TARGET_RATIO_PIGZ, ourCreate.maxRssKiB));
  console.log(verdict('archive.create without pigz vs GNU tar czf', gnuCreate.ms / inProcessCreate.ms, TARGET_RATIO_GNU, inProcessCreate.maxRssKiB));
  console.log(verdict('archive.verify vs gzip -t', gzipTest.ms / ourVerify.ms, TARGET_RATIO_GNU, ourVerify.maxRssKiB));
  // The same bytes must come out of both archives.
  const listing = `tar -tvzf "$1" | awk '{print $3, $6}' | sed -e 's# \\./# #' -e 's#/$##' | grep -v ' \\.\\?$' | sort`;
  const digest = (archive: string) => createHash('sha256').update(execFileSync('sh', ['-c', listing, 'listing', archive], { maxBuffer: 256 * 1024 * 1024 })).digest('hex');
  const gnuListing = digest(gnuArchive);
  console.log(`listings equal to GNU tar's (paths and sizes): pigz path ${digest(ourArchive) === gnuListing ? 'yes' : 'NO'}, in-process path ${digest(inProcessArchive) === gnuListing ? 'yes' : 'NO'}`);
  // The generated data stays for the next run; the archives (as large again) do not.
  await Promise.all([gnuArchive, pigzArchive, oursDir, inProcessDir].map((output) => rm(output, { recursive: true, force: true })));
}

runEntryPoint(main);
