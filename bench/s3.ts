/**
 * Benchmark of our S3 client's upload and download against the raw AWS SDK doing the same single
 * PutObject / GetObject, both against s3rver on loopback in the same run, printed as ratios; rclone's
 * copy of the same file is shown for reference. Not a test: numbers depend on the machine.
 *
 *   npm run bench                              # 200 MiB object
 *   LIFEBOAT_BENCH_S3_MIB=50 npm run bench     # quick run
 *   LIFEBOAT_BENCH_RUNS=3 npm run bench        # repetitions per measurement (best is kept)
 *
 * Every measured side runs in its own child Node process (this compiled file with `--child`), so the
 * peak RSS printed is that side's alone.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3RVER_CREDENTIALS, startS3rver } from '../test/testbed/s3rver';
import { runEntryPoint } from './entryPoint';

const BUCKET = 'bench';
const TARGET_RATIO = 0.9;
const TARGET_RSS_MIB = 128;

interface Measurement {
  label: string;
  ms: number;
  maxRssKiB?: number;
}

// ---------------------------------------------------------------------------------------------
// Child side: one transfer, then a JSON report on the last line.

async function runChild(operation: string, [endpoint, file, key]: string[]): Promise<void> {
  if (!endpoint || !file || !key) throw new Error('usage: --child <operation> <endpoint> <file> <key>');
  const store = { endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS } };
  // Timed from the moment each side's client is ready: loading the SDK is not the transfer.
  let started: number;
  if (operation.startsWith('ours-')) {
    const { openS3Store } = await import('../src/clients/s3');
    const s3 = await openS3Store(store);
    const sha256 = operation.endsWith('-sha256');
    started = performance.now();
    if (operation.startsWith('ours-upload')) await s3.putFile(key, file, { sha256 });
    else await s3.downloadFile(key, file, { overwrite: true, sha256 });
    s3.dispose();
  } else if (operation === 'sdk-upload' || operation === 'sdk-download') {
    // The plain SDK with the settings any S3-compatible endpoint needs, and nothing else.
    const sdk = await import('@aws-sdk/client-s3');
    const client = new sdk.S3Client({ ...store, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    started = performance.now();
    if (operation === 'sdk-upload') {
      const { size } = await stat(file);
      await client.send(new sdk.PutObjectCommand({ Bucket: BUCKET, Key: key, Body: createReadStream(file), ContentLength: size }));
    } else {
      const object = await client.send(new sdk.GetObjectCommand({ Bucket: BUCKET, Key: key }));
      await pipeline(object.Body as NodeJS.ReadableStream, createWriteStream(file));
    }
    client.destroy();
  } else {
    throw new Error(`unknown child operation ${operation}`);
  }
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent side.

function repositoryRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src', 'clients', 's3.ts'))) return dir;
  }
  throw new Error(`no repository root above ${__dirname}`);
}

/** Time of the transfer itself as the child measured it (not the child's start-up), and its peak RSS. */
function timeChild(label: string, operation: string, args: string[]): Measurement {
  const result = spawnSync(process.execPath, [__filename, '--child', operation, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`child ${operation} failed: ${result.stderr}`);
  const report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { ms: number; maxRssKiB: number };
  return { label, ms: report.ms, maxRssKiB: report.maxRssKiB };
}

function timeRclone(label: string, args: string[], endpoint: string): Measurement | undefined {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCH_ENV_AUTH: 'false',
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
  };
  delete env.AWS_CA_BUNDLE;
  const hasTime = existsSync('/usr/bin/time');
  const started = performance.now();
  const result = hasTime ? spawnSync('/usr/bin/time', ['-f', '%M', 'rclone', ...args], { env, encoding: 'utf8' }) : spawnSync('rclone', args, { env, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.error || result.status !== 0) return undefined;
  const rss = hasTime ? Number(result.stderr.trim().split('\n').at(-1)) : Number.NaN;
  return Number.isNaN(rss) ? { label, ms } : { label, ms, maxRssKiB: rss };
}

/** The fastest run (least disturbed by a shared machine), with the highest peak RSS of any run. */
function best(runs: Measurement[]): Measurement {
  const fastest = runs.reduce((winner, run) => (run.ms < winner.ms ? run : winner));
  const rss = runs.map((run) => run.maxRssKiB).filter((value): value is number => value !== undefined);
  return rss.length === 0 ? fastest : { ...fastest, maxRssKiB: Math.max(...rss) };
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const sizeMiB = Number(process.env.LIFEBOAT_BENCH_S3_MIB ?? 200);
  const runs = Math.max(1, Number(process.env.LIFEBOAT_BENCH_RUNS ?? 2));
  const workDir = path.join(repositoryRoot(), 'bench', '.work', 's3');
  await mkdir(workDir, { recursive: true });
  const source = path.join(workDir, `random-${sizeMiB}MiB.bin`);
  // Written in chunks: a child's peak RSS starts from its parent's at spawn (Linux keeps the
  // high-water mark across fork and exec), so the parent must stay small.
  if (!existsSync(source)) await pipeline(Readable.from((function* () { for (let mib = 0; mib < sizeMiB; mib++) yield randomBytes(1024 * 1024); })()), createWriteStream(source));
  const bytes = (await stat(source)).size;
  const server = await startS3rver({ buckets: [BUCKET] });
  const rows: Measurement[][] = [[], [], [], [], [], [], [], []];
  try {
    const downloaded = path.join(workDir, 'downloaded.bin');
    const args = (key: string, file = source) => [server.endpoint, file, key];
    for (let run = 0; run < runs; run++) {
      // Interleaved, so a slow phase of a shared machine hits both sides.
      rows[0]?.push(timeChild('raw SDK PutObject (baseline)', 'sdk-upload', args('sdk.bin')));
      rows[1]?.push(timeChild('S3Store.putFile', 'ours-upload', args('ours.bin')));
      rows[2]?.push(timeChild('raw SDK GetObject → file (baseline)', 'sdk-download', args('ours.bin', downloaded)));
      rows[3]?.push(timeChild('S3Store.downloadFile', 'ours-download', args('ours.bin', downloaded)));
      rows[4]?.push(timeChild('S3Store.putFile with sha256', 'ours-upload-sha256', args('ours.bin')));
      rows[5]?.push(timeChild('S3Store.downloadFile with sha256', 'ours-download-sha256', args('ours.bin', downloaded)));
      const rcloneUp = timeRclone('rclone copyto (reference)', ['copyto', '--ignore-times', source, `bench:${BUCKET}/rclone.bin`], server.endpoint);
      if (rcloneUp) rows[6]?.push(rcloneUp);
      const rcloneDown = timeRclone('rclone copyto back (reference)', ['copyto', '--ignore-times', `bench:${BUCKET}/rclone.bin`, `${downloaded}.rclone`], server.endpoint);
      if (rcloneDown) rows[7]?.push(rcloneDown);
    }
    // The last file written under `downloaded` is our client's.
    const intact = (await sha256Of(downloaded)) === (await sha256Of(source));
    await Promise.all([rm(downloaded, { force: true }), rm(`${downloaded}.rclone`, { force: true })]);

    const [sdkUp, oursUp, sdkDown, oursDown] = rows.slice(0, 4).map(best) as [Measurement, Measurement, Measurement, Measurement];
    const mib = bytes / (1024 * 1024);
    const line = (measurement: Measurement, baseline?: Measurement) =>
      `| ${measurement.label} | ${(measurement.ms / 1000).toFixed(2)} s | ${(mib / (measurement.ms / 1000)).toFixed(0)} MiB/s | ${baseline ? (baseline.ms / measurement.ms).toFixed(2) : '—'} | ${measurement.maxRssKiB === undefined ? '?' : (measurement.maxRssKiB / 1024).toFixed(0)} MiB |`;
    const [oursUpHashed, oursDownHashed] = rows.slice(4, 6).map(best) as [Measurement, Measurement];
    const table = [
      '| measurement | time | throughput | ratio vs baseline | peak RSS |',
      '| --- | --- | --- | --- | --- |',
      line(sdkUp),
      line(oursUp, sdkUp),
      line(oursUpHashed, sdkUp),
      line(sdkDown),
      line(oursDown, sdkDown),
      line(oursDownHashed, sdkDown),
    ];
    for (const reference of rows.slice(6)) if (reference.length > 0) table.push(line(best(reference)));
    console.log(`\nS3 against s3rver on loopback (http), ${mib.toFixed(0)} MiB of random data; ${runs} run(s) each: fastest time, highest peak RSS`);
    console.log(`${table.join('\n')}\n`);
    const verdict = (name: string, ours: Measurement, baseline: Measurement) => {
      const ratio = baseline.ms / ours.ms;
      const rssMiB = (ours.maxRssKiB ?? Infinity) / 1024;
      return `${name}: ratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}; peak RSS ${rssMiB.toFixed(0)} MiB (target ≤ ${TARGET_RSS_MIB}) ${rssMiB <= TARGET_RSS_MIB ? 'met' : 'MISSED'}`;
    };
    console.log(verdict('S3 upload', oursUp, sdkUp));
    console.log(verdict('S3 download', oursDown, sdkDown));
    console.log(`downloaded bytes equal the source: ${intact ? 'yes' : 'NO'}`);
  } finally {
    await server.stop();
  }
}

if (process.argv[2] === '--child') {
  runEntryPoint(() => runChild(process.argv[3] ?? '', process.argv.slice(4)));
} else {
  runEntryPoint(main);
}
