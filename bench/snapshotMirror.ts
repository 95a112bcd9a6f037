/**
 * Benchmark of frigate.snapshots.mirror through the shipped CLI, against the Frigate simulator and
 * s3rver on loopback (both behind the HTTP fault proxy, which counts every PUT the store is sent):
 * 1. 5 000 snapshots: objects/s against `rclone copy --transfers 8` of the same 5 000 files (what a
 *    person would script instead), printed as a ratio, with each side's peak RSS;
 * 2. the mirror killed (SIGKILL) halfway, then run again: objects sent twice and objects missing;
 * 3. 100 000 events: peak RSS (and again with V8's old generation capped at 64 MiB), the state file's
 *    size and the time to load it; and the worst case of a state rebuilt from the bucket (every key
 *    listed) for its size and load time.
 * Not a test: numbers depend on the machine.
 *
 *   npm run bench
 *   LIFEBOAT_BENCH_MIRROR_EVENTS=1000 LIFEBOAT_BENCH_MIRROR_LARGE=10000 node out/bench/snapshotMirror.js   # quick run
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MirrorResult } from '../src/actions/frigate/mirror';
import { snapshotKey } from '../src/actions/frigate/mirrorKeys';
import { s3Remote } from '../src/clients/rclone';
import { openS3Store } from '../src/clients/s3';
import { loadMirrorState, MirrorState } from '../src/actions/frigate/mirrorState';
import { startFaultProxy, type FaultProxy } from '../test/testbed/faultProxy';
import { FrigateSimulator } from '../test/testbed/frigateSim';
import { S3RVER_CREDENTIALS, startS3rver } from '../test/testbed/s3rver';
import { runCli, writeCliWorkspace, type CliExitReport } from './cliRun';
import { runEntryPoint } from './entryPoint';

const TARGET_RATIO = 1;
const TARGET_RSS_MIB = 160;
/** An old generation this small still holds what the mirror keeps alive; the rest of its peak RSS is garbage V8 had not collected yet. */
const CAPPED_HEAP_MIB = 64;
const CAMERAS = ['front_door', 'garage', 'yard', 'street'];
const T0 = 1_764_000_000.123456;
const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const SECRET_ENV = { ...process.env, LIFEBOAT_SECRET_S3: S3RVER_CREDENTIALS.secretAccessKey, LIFEBOAT_SECRETS_FILE: '' };

function addEvents(sim: FrigateSimulator, count: number, from = 0): void {
  for (let index = from; index < from + count; index++) {
    const start = T0 + index * 3.25;
    sim.events.push({ id: `${start.toFixed(6)}-${index.toString(36).padStart(6, '0')}`, camera: CAMERAS[index % CAMERAS.length] as string, label: 'person', start_time: start, end_time: start + 4, has_snapshot: true, has_clip: true });
  }
}

function putKeys(proxy: FaultProxy, from: number, prefix: string): string[] {
  return proxy.requests
    .slice(from)
    .map((line) => line.split('?')[0] as string)
    .filter((line) => line.startsWith('PUT /') && line.includes(`/${prefix}/`) && line.endsWith('.jpg'))
    .map((line) => decodeURIComponent(line.slice(line.indexOf('/', 5) + 1)));
}

function mirrorWorkspace(folder: string, sim: FrigateSimulator, endpoint: string, bucket: string, params: Record<string, unknown>): Promise<void> {
  const inventory = {
    frigate: { nvr: { url: sim.internalUrl } },
    stores: { bench: { endpoint, region: 'us-east-1', bucket, credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3' } } },
  };
  return writeCliWorkspace(folder, inventory, { id: 'frigate.snapshots.mirror', params: { frigate: 'nvr', store: 'bench', ...params } });
}

/**
 * `rclone copy` of a folder with 8 transfers, timed with its peak RSS from /usr/bin/time. Not waited
 * for synchronously: the proxy it talks through lives in this process.
 */
async function rcloneCopy(source: string, destination: string, endpoint: string): Promise<{ ms: number; maxRssKiB: number }> {
  // The remote as rclone.copy defines it for its child, from the store's settings.
  const remote = s3Remote({ endpoint, region: 'us-east-1', credentials: { ...S3RVER_CREDENTIALS } });
  const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: '/dev/null', RCLONE_CONFIG_BENCH_TYPE: remote.type };
  for (const [option, value] of Object.entries(remote.options)) env[`RCLONE_CONFIG_BENCH_${option.toUpperCase()}`] = value;
  delete env.AWS_CA_BUNDLE;
  const started = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%M', 'rclone', 'copy', '--transfers', '8', source, destination], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`rclone copy failed: ${stderr}`);
  return { ms, maxRssKiB: Number(stderr.trim().split('\n').at(-1)) };
}

/** Starts the mirror's CLI run and kills it (SIGKILL) once the store has been sent `killAfter` snapshots. */
async function runAndKill(workspace: string, proxy: FaultProxy, prefix: string, killAfter: number): Promise<number> {
  const from = proxy.requests.length;
  const child = spawn(process.execPath, [CLI, 'run', path.join(workspace, 'bench.runbook.md'), '--yes'], { cwd: workspace, env: SECRET_ENV, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (;;) {
    const sent = putKeys(proxy, from, prefix).length;
    if (sent >= killAfter || child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  child.kill('SIGKILL');
  await exited;
  return putKeys(proxy, from, prefix).length;
}

const mib = (kib: number) => (kib / 1024).toFixed(0);

async function main(): Promise<void> {
  const events = Number(process.env.LIFEBOAT_BENCH_MIRROR_EVENTS ?? 5000);
  const large = Number(process.env.LIFEBOAT_BENCH_MIRROR_LARGE ?? 100_000);
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-mirror-'));
  const buckets = ['ours', 'rclone', 'killed', 'large', 'capped'];
  const [sim, s3] = await Promise.all([FrigateSimulator.start(), startS3rver({ buckets })]);
  const proxy = await startFaultProxy(s3.endpoint);
  try {
    addEvents(sim, events);

    // 1. Throughput against rclone copy of the same files, 8 transfers each.
    const snapshot = Buffer.from(await (await fetch(`${sim.internalUrl}/api/events/${sim.events[0]?.id}/snapshot.jpg`)).arrayBuffer());
    const files = path.join(work, 'rclone-source');
    for (const event of sim.events) {
      const key = snapshotKey('', { id: event.id, camera: event.camera, startTime: event.start_time, inProgress: false });
      await mkdir(path.dirname(path.join(files, key)), { recursive: true });
      await writeFile(path.join(files, key), snapshot);
    }
    const ours = path.join(work, 'ours');
    await mirrorWorkspace(ours, sim, proxy.endpoint, 'ours', { prefix: 'snapshots', workers: 8 });
    let from = proxy.requests.length;
    const mirrored = await runCli<MirrorResult>(ours, SECRET_ENV);
    const oursPuts = putKeys(proxy, from, 'snapshots').length;
    if (mirrored.result.uploaded !== events) throw new Error(`the mirror uploaded ${mirrored.result.uploaded} of ${events}`);
    const rclone = await rcloneCopy(files, 'bench:rclone/snapshots', proxy.endpoint);
    const oursRate = events / (mirrored.ms / 1000);
    const rcloneRate = events / (rclone.ms / 1000);
    console.log(`\nfrigate.snapshots.mirror: ${events} snapshots from the Frigate simulator to s3rver (loopback, http, through the counting proxy), 8 uploads at once`);
    console.log('| side | time | objects/s | peak RSS |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| rclone copy --transfers 8 of the same files (baseline) | ${(rclone.ms / 1000).toFixed(2)} s | ${rcloneRate.toFixed(0)} | ${mib(rclone.maxRssKiB)} MiB |`);
    console.log(`| lifeboat run (frigate.snapshots.mirror) | ${(mirrored.ms / 1000).toFixed(2)} s | ${oursRate.toFixed(0)} | ${mib(mirrored.report.maxRssKiB)} MiB |`);
    console.log(`throughput ratio mirror / rclone copy: ${(oursRate / rcloneRate).toFixed(2)} (target ≥ ${TARGET_RATIO}) ${oursRate / rcloneRate >= TARGET_RATIO ? 'met' : 'MISSED'}; PUTs sent: ${oursPuts}`);

    // 2. Killed halfway with SIGKILL, then run again: nothing twice, nothing missing.
    const killed = path.join(work, 'killed');
    await mirrorWorkspace(killed, sim, proxy.endpoint, 'killed', { prefix: 'killed' });
    from = proxy.requests.length;
    const beforeKill = await runAndKill(killed, proxy, 'killed', Math.floor(events / 2));
    await runCli<MirrorResult>(killed, SECRET_ENV);
    const sent = putKeys(proxy, from, 'killed');
    const twice = sent.length - new Set(sent).size;
    const expected = sim.events.map((event) => snapshotKey('killed', { id: event.id, camera: event.camera, startTime: event.start_time, inProgress: false }));
    const stored = new Set<string>();
    const reader = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'killed', credentials: { ...S3RVER_CREDENTIALS } });
    for await (const object of reader.listObjects()) stored.add(object.key);
    reader.dispose();
    const missing = expected.filter((key) => !stored.has(key)).length;
    console.log(`\nkilled with SIGKILL after ${beforeKill} PUTs, then run again: ${twice} objects uploaded twice (target 0) ${twice === 0 ? 'met' : 'MISSED'}, ${missing} missing (target 0) ${missing === 0 ? 'met' : 'MISSED'}`);

    // 3. 100 000 events: memory and state. Pages of 500: the simulator sorts every event for each page.
    sim.events.length = 0;
    addEvents(sim, large);
    const largeDir = path.join(work, 'large');
    await mirrorWorkspace(largeDir, sim, s3.endpoint, 'large', { prefix: 'large', batchSize: 500 });
    const big = await runCli<MirrorResult>(largeDir, SECRET_ENV);
    const report: CliExitReport = big.report;
    const statePath = big.result.statePath;
    const size = (await stat(statePath)).size;
    const identity = { frigate: 'nvr', store: 'bench', bucket: 'large', prefix: 'large' };
    let started = performance.now();
    const loaded = await loadMirrorState(statePath, identity);
    const loadMs = performance.now() - started;
    console.log(`\n${large} events (pages of 500): ${big.result.uploaded} uploaded in ${(big.ms / 1000).toFixed(1)} s; peak RSS ${mib(report.maxRssKiB)} MiB (target ≤ ${TARGET_RSS_MIB}) ${report.maxRssKiB / 1024 <= TARGET_RSS_MIB ? 'met' : 'MISSED'}; state file ${size} bytes, loaded in ${loadMs.toFixed(1)} ms (${loaded.state?.tracked ?? 0} tracked)`);

    // The same run with V8's old generation capped: how much of that peak is garbage not yet collected.
    const cappedDir = path.join(work, 'capped');
    await mirrorWorkspace(cappedDir, sim, s3.endpoint, 'capped', { prefix: 'large', batchSize: 500 });
    const capped = await runCli<MirrorResult>(cappedDir, { ...SECRET_ENV, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${CAPPED_HEAP_MIB}` });
    console.log(`the same with node --max-old-space-size=${CAPPED_HEAP_MIB}: ${capped.result.uploaded} uploaded in ${(capped.ms / 1000).toFixed(1)} s (ratio ${(big.ms / capped.ms).toFixed(2)}); peak RSS ${mib(capped.report.maxRssKiB)} MiB`);

    // The largest state there can be: lost, and rebuilt from a listing of every key.
    const store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'large', credentials: { ...S3RVER_CREDENTIALS } });
    started = performance.now();
    const rebuilt = await MirrorState.rebuild(store, identity, new AbortController().signal);
    const rebuildMs = performance.now() - started;
    store.dispose();
    const rebuiltFile = path.join(work, 'rebuilt-state.json');
    await rebuilt.state.save(rebuiltFile);
    started = performance.now();
    await loadMirrorState(rebuiltFile, identity);
    const rebuiltLoadMs = performance.now() - started;
    const rebuiltSize = (await readFile(rebuiltFile)).length;
    console.log(`state rebuilt from the bucket's ${rebuilt.objects} keys in ${(rebuildMs / 1000).toFixed(1)} s: ${rebuiltSize} bytes, loaded in ${rebuiltLoadMs.toFixed(0)} ms (shrinks to the events after the cursor at the next run)`);
  } finally {
    await proxy.stop();
    await Promise.all([sim.stop(), s3.stop()]);
    await rm(work, { recursive: true, force: true });
  }
}

runEntryPoint(main);
