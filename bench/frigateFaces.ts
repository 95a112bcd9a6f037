/**
 * Benchmark of the Frigate face backup and API restore against what a user would write in shell,
 * side by side in one run, on the incident library (580 images: Adil 36, Asha 153, G 380, Waffles 11,
 * plus a `train` folder) in the Frigate simulator, with a real sshd as the backup host. Not a test:
 * numbers depend on the machine, and the ratios are printed, never asserted.
 *
 *   npm run bench
 *
 * - Backup: `frigate.faces.backup` to an SSH host location, against two shell baselines that end with
 *   the same archive on the host: the seed's loop (one `curl` per image), and the best shell a user
 *   could write (one `curl --parallel --parallel-max 8` over a config file of every image); each then
 *   `tar czf` and `scp` to the host.
 * - Restore: `frigate.faces.restore` with `method: api` from that location, against `scp`, `tar xzf`
 *   and the seed's sequential `curl -F` loop (create each person, register each image). The library is
 *   wiped before each restore, so both do the same work. The simulator spends REGISTER_PROCESSING_MS
 *   on each registration, one at a time, as Frigate does (see `registerProcessingMs` in
 *   test/testbed/frigateSim.ts): a restore through the API is bound by Frigate, and the figure that
 *   says how well a client does is its wall time against the time Frigate was busy.
 * Both sides talk to the authenticated HTTPS port with the same bearer token (`auth: { token }` in
 * the inventory, from the environment). Lifeboat's side is the shipped CLI (the release build, as
 * `npm pack` and the VSIX carry it) running a one-step runbook, in a process of its own as the shell side's `curl`s are, apart
 * from the simulator, which lives in this process; its time includes the CLI's start.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type { FacesBackupResult } from '../src/actions/frigate/backup';
import type { FacesRestoreResult } from '../src/actions/frigate/restore';
import type { Inventory } from '../src/core/actions/spec';
import type { FrigateSimulator } from '../test/testbed/frigateSim';
import type { Sshd } from '../test/testbed/sshd';
import { processCpuSeconds, runCli, writeCliWorkspace } from './cliRun';
import { runEntryPoint } from './entryPoint';
import { median } from './statistics';

const INCIDENT_LIBRARY = { Adil: 36, Asha: 153, G: 380, Waffles: 11 } as const;
const TRAIN_IMAGES = 20;
const BACKUP_ROUNDS = 5;
const BACKUP_TARGET = 5;
/** Lifeboat's backup against the best shell: at least as fast. */
const PARALLEL_BACKUP_TARGET = 1;
/** Lifeboat's API restore against the time Frigate was busy registering: at most this much longer. */
const RESTORE_BUSY_TARGET = 1.1;
/**
 * What one registration costs Frigate's embeddings process: decoding the upload, the YuNet face
 * detector, the crop and a WebP encode at quality 100, and the write. YuNet alone takes about 6 ms
 * on one thread of a laptop CPU and about 55 ms on a Raspberry Pi 4 at 320×320
 * (github.com/TonyCongqianWang/cv_facedetection_eval, time_comparison_laptop.md and
 * time_comparison_pi.md); 20 ms in all stands for a small x86 homelab machine.
 */
const REGISTER_PROCESSING_MS = 20;
const FRIGATE_PASSWORD = 'frigate-admin-pass';

type Counts = Record<string, number>;

interface Measurement {
  ms: number;
  counts: Counts;
  /** CPU of the processes that did the work: the shell's programs, or the CLI and the programs it ran. */
  cpuSeconds: number;
}

/** Runs a bash script without blocking this process, which serves the simulator. */
function bash(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`shell baseline exited with ${code}:\n${stderr}`))));
  });
}

/** Wall time, and the CPU of the processes `work` started and waited for. */
async function timed<Result>(work: () => Promise<Result>): Promise<{ ms: number; cpuSeconds: number; result: Result }> {
  const cpuBefore = await processCpuSeconds();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  return { ms, cpuSeconds: (await processCpuSeconds()).children - cpuBefore.children, result };
}

/** Images per person (train left out), from `<person>/<file>` paths. */
function countPaths(paths: readonly string[]): Counts {
  const counts: Counts = {};
  for (const entry of paths) {
    const [person, file] = entry.split('/');
    if (person && file && person !== 'train') counts[person] = (counts[person] ?? 0) + 1;
  }
  return counts;
}

async function libraryCounts(sim: FrigateSimulator): Promise<Counts> {
  const counts: Counts = {};
  for (const [person, files] of Object.entries(await sim.listFaces())) if (person !== 'train') counts[person] = files.length;
  return counts;
}

async function wipePeople(sim: FrigateSimulator): Promise<void> {
  for (const person of await readdir(sim.facesDir)) if (person !== 'train') await rm(path.join(sim.facesDir, person), { recursive: true });
}

function sshArgs(sshd: Sshd): string {
  return ['-P', String(sshd.port), '-i', sshd.clientKey.privateKeyPath, '-o', `UserKnownHostsFile=${sshd.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-F', '/dev/null']
    .map((argument) => `'${argument}'`)
    .join(' ');
}

/** The seed's backup: list the library, one `curl` per image, then `tar czf` and `scp` to the host. */
async function seedBackup(sshd: Sshd, work: string, env: Record<string, string>): Promise<Measurement> {
  const staging = path.join(work, 'seed-backup');
  const archive = path.join(work, 'frigate-faces-seed.tar.gz');
  const remote = path.join(sshd.remoteDir, 'seed');
  await mkdir(remote);
  const { ms, cpuSeconds } = await timed(async () => {
    const listing = JSON.parse(await bash('curl -sfk -H "Authorization: Bearer $FRIGATE_TOKEN" "$FRIGATE_URL/api/faces"', env)) as Record<string, string[]>;
    const images = Object.entries(listing).filter(([person]) => person !== 'train').flatMap(([person, files]) => files.map((file) => `${person} ${file}`));
    await writeFile(path.join(work, 'seed-images.txt'), `${images.join('\n')}\n`);
    await bash(
      [
        `while read -r person file; do`,
        `  mkdir -p '${staging}'/"$person"`,
        `  curl -sfk -H "Authorization: Bearer $FRIGATE_TOKEN" -o '${staging}'/"$person/$file" "$FRIGATE_URL/clips/faces/$person/$file"`,
        `done < '${path.join(work, 'seed-images.txt')}'`,
        `tar czf '${archive}' -C '${staging}' .`,
        `scp -q ${sshArgs(sshd)} '${archive}' '${sshd.user}@${sshd.host}:${remote}/'`,
      ].join('\n'),
      env,
    );
  });
  return { ms, cpuSeconds, counts: await archivedCounts(path.join(remote, path.basename(archive)), env) };
}

async function archivedCounts(archive: string, env: Record<string, string>): Promise<Counts> {
  return countPaths((await bash(`tar tzf '${archive}'`, env)).split('\n').map((entry) => entry.replace(/^\.\//, '')));
}

/**
 * The best shell a user could write: the listing turned into a curl config file (`url`/`output` per
 * image), one `curl --parallel --parallel-max 8` over it with the seed's auth, then `tar czf` and
 * `scp` to the host, as the seed does.
 */
async function parallelCurlBackup(sshd: Sshd, work: string, env: Record<string, string>, round: number): Promise<Measurement> {
  const staging = path.join(work, `parallel-backup-${round}`);
  const archive = path.join(work, 'frigate-faces-parallel.tar.gz');
  const config = path.join(work, `parallel-images-${round}.cfg`);
  const remote = path.join(sshd.remoteDir, `parallel-${round}`);
  await mkdir(remote);
  const { ms, cpuSeconds } = await timed(async () => {
    const listing = JSON.parse(await bash('curl -sfk -H "Authorization: Bearer $FRIGATE_TOKEN" "$FRIGATE_URL/api/faces"', env)) as Record<string, string[]>;
    const lines = Object.entries(listing)
      .filter(([person]) => person !== 'train')
      .flatMap(([person, files]) => files.flatMap((file) => [`url = "${env.FRIGATE_URL}/clips/faces/${person}/${file}"`, `output = "${staging}/${person}/${file}"`]));
    await writeFile(config, `${lines.join('\n')}\n`);
    await bash(
      [
        `curl -sfk --parallel --parallel-max 8 --create-dirs -H "Authorization: Bearer $FRIGATE_TOKEN" -K '${config}'`,
        `tar czf '${archive}' -C '${staging}' .`,
        `scp -q ${sshArgs(sshd)} '${archive}' '${sshd.user}@${sshd.host}:${remote}/'`,
      ].join('\n'),
      env,
    );
  });
  return { ms, cpuSeconds, counts: await archivedCounts(path.join(remote, path.basename(archive)), env) };
}

/** The seed's API restore: fetch and unpack the archive, then create each person and register each image, one `curl` at a time. */
async function seedRestore(sim: FrigateSimulator, sshd: Sshd, work: string, env: Record<string, string>): Promise<Measurement> {
  const unpacked = path.join(work, 'seed-restore');
  const archive = path.join(sshd.remoteDir, 'seed', 'frigate-faces-seed.tar.gz');
  const { ms, cpuSeconds } = await timed(() =>
    bash(
      [
        `scp -q ${sshArgs(sshd)} '${sshd.user}@${sshd.host}:${archive}' '${work}/restore.tar.gz'`,
        `mkdir -p '${unpacked}' && tar xzf '${work}/restore.tar.gz' -C '${unpacked}'`,
        `for folder in '${unpacked}'/*/; do`,
        `  name=$(basename "$folder")`,
        `  curl -sfk -o /dev/null -X POST -H "Authorization: Bearer $FRIGATE_TOKEN" "$FRIGATE_URL/api/faces/$name/create"`,
        `  for image in "$folder"*.webp; do`,
        `    curl -sfk -o /dev/null -X POST -H "Authorization: Bearer $FRIGATE_TOKEN" -F "file=@$image" "$FRIGATE_URL/api/faces/$name/register"`,
        `  done`,
        `done`,
      ].join('\n'),
      env,
    ),
  );
  return { ms, cpuSeconds, counts: await libraryCounts(sim) };
}

/** Lifeboat's side: the shipped CLI running one action of ours, in a workspace of its own (see cliRun.ts). */
async function timeCli(id: string, params: Record<string, unknown>, inventory: Inventory, workspace: string, token: string): Promise<Measurement & { stepMs: number; runMs: number; maxRssKiB: number }> {
  await writeCliWorkspace(workspace, inventory, { id, params });
  const run = await runCli<FacesBackupResult | FacesRestoreResult>(workspace, { ...process.env, LIFEBOAT_SECRET_FRIGATE_TOKEN: token });
  const counts = 'images' in run.result ? Object.fromEntries(run.result.people.map((person) => [person.name, person.images])) : {};
  // The step is the plan (a destructive action is planned, and the plan printed, before it runs) and the run.
  return { ms: run.ms, cpuSeconds: run.report.nodeCpuSeconds + run.report.childrenCpuSeconds, counts, stepMs: run.stepMs, runMs: run.result.durationMs, maxRssKiB: run.report.maxRssKiB };
}

/** The run of median time. */
function medianRun<Run extends Measurement>(runs: readonly Run[]): Run {
  return [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)] as Run;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const spread = (runs: readonly Measurement[]) => runs.map((run) => (run.ms / 1000).toFixed(2)).join(', ');
const cpu = (run: Measurement) => `${run.cpuSeconds.toFixed(2)} s`;
/** The median of the runs' CPU, apart from the median run's: CPU varies less from one run to the next than wall time does. */
const medianCpu = (runs: readonly Measurement[]) => `${median(runs.map((run) => run.cpuSeconds)).toFixed(2)} s`;

function row(label: string, measurement: Measurement, ...baselines: Measurement[]): string {
  return `| ${label} | ${seconds(measurement.ms)} | ${baselines.map((baseline) => `${(baseline.ms / measurement.ms).toFixed(2)}×`).join(' | ')} |`;
}

function sameCounts(a: Counts, b: Counts): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

async function main(): Promise<void> {
  const [{ FrigateSimulator }, { startSshd }, { solidWebp }] = await Promise.all([import('../test/testbed/frigateSim'), import('../test/testbed/sshd'), import('../test/testbed/webp')]);
  const [sim, sshd] = await Promise.all([FrigateSimulator.start({ users: { admin: { password: FRIGATE_PASSWORD, role: 'admin' } }, registerProcessingMs: REGISTER_PROCESSING_MS }), startSshd()]);
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-faces-'));
  try {
    let imageBytes = 0;
    for (const [person, count] of Object.entries(INCIDENT_LIBRARY)) {
      for (let index = 1; index <= count; index++) {
        // 2 to 7 KiB each, as the incident's 580 images in a 2.6 MB archive.
        const image = solidWebp({ width: 112, height: 112, padding: randomBytes(2048 + ((index * 7919) % 5120)) });
        imageBytes += image.length;
        await sim.addFace(person, `${person}_${1770500000 + index}.webp`, image);
      }
    }
    for (let index = 1; index <= TRAIN_IMAGES; index++) await sim.addFace('train', `1770500000.${index}-abc123-1770500001.2-person-0.81.webp`, solidWebp({ width: 90, height: 90 }));
    const expected: Counts = { ...INCIDENT_LIBRARY };
    const images = Object.values(INCIDENT_LIBRARY).reduce((sum, count) => sum + count, 0);

    const inventory: Inventory = {
      frigate: { home: { url: sim.url, auth: { token: 'secret:frigate_token' }, tls: { insecure: true } } },
      hosts: { piglet: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
      locations: { piglet: { host: 'piglet', path: path.join(sshd.remoteDir, 'frigate-backups') } },
    };
    const env = { FRIGATE_URL: sim.url, FRIGATE_TOKEN: sim.token('admin') };
    const curlVersion = (await bash('curl --version', env)).split('\n')[0] ?? 'curl';

    console.log(`Frigate faces, ${images} images (${(imageBytes / 1024 / 1024).toFixed(1)} MiB) of ${Object.keys(INCIDENT_LIBRARY).length} people plus ${TRAIN_IMAGES} in train, simulator over HTTPS, real sshd on loopback; ${curlVersion}`);
    console.log(`simulator: each register processed for ${REGISTER_PROCESSING_MS} ms, one at a time (Frigate's embeddings process); every other request answered at once`);

    const seedBackupRun = await seedBackup(sshd, work, env);
    // The two fastest take turns, and each is given by its median: one run of either moves by a quarter from one try to the next here.
    const parallelRuns: Measurement[] = [];
    const ourRuns: Awaited<ReturnType<typeof timeCli>>[] = [];
    for (let round = 0; round < BACKUP_ROUNDS; round++) {
      parallelRuns.push(await parallelCurlBackup(sshd, work, env, round));
      ourRuns.push(await timeCli('frigate.faces.backup', { frigate: 'home', location: 'piglet' }, inventory, path.join(work, `lifeboat-backup-${round}`), env.FRIGATE_TOKEN));
    }
    const parallelBackupRun = medianRun(parallelRuns);
    const oursBackup = medianRun(ourRuns);

    await wipePeople(sim);
    const busyBefore = sim.registerBusyMs;
    const oursRestoreRun = await timeCli('frigate.faces.restore', { frigate: 'home', location: 'piglet', method: 'api' }, inventory, path.join(work, 'lifeboat-restore'), env.FRIGATE_TOKEN);
    const restoreBusyMs = sim.registerBusyMs - busyBefore;
    const oursRestore = { ...oursRestoreRun, counts: await libraryCounts(sim) };
    await wipePeople(sim);
    const seedRestoreRun = await seedRestore(sim, sshd, work, env);

    const checks = [
      ['backup, seed', seedBackupRun.counts],
      ...parallelRuns.map((run, round) => [`backup, best shell, round ${round + 1}`, run.counts] as const),
      ...ourRuns.map((run, round) => [`backup, Lifeboat, round ${round + 1}`, run.counts] as const),
      ['restore, Lifeboat', oursRestore.counts],
      ['restore, seed', seedRestoreRun.counts],
    ] as const;
    for (const [label, counts] of checks) if (!sameCounts(counts, expected)) throw new Error(`${label} ended with ${JSON.stringify(counts)}, not ${JSON.stringify(expected)}`);

    const backupRatio = seedBackupRun.ms / oursBackup.ms;
    const parallelRatio = parallelBackupRun.ms / oursBackup.ms;
    const restoreRatio = seedRestoreRun.ms / oursRestore.ms;
    const busyRatio = oursRestore.runMs / restoreBusyMs;
    const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
    console.log(
      [
        '',
        '| measurement | time | ratio vs seed | ratio vs parallel curl |',
        '| --- | --- | --- | --- |',
        row(`backup, seed: curl per image, tar czf, scp (CPU ${cpu(seedBackupRun)})`, seedBackupRun, seedBackupRun, parallelBackupRun),
        row(`backup, best shell: curl --parallel --parallel-max 8, tar czf, scp (median of ${BACKUP_ROUNDS}: ${spread(parallelRuns)}; CPU median ${medianCpu(parallelRuns)})`, parallelBackupRun, seedBackupRun, parallelBackupRun),
        row(`backup, Lifeboat CLI, frigate.faces.backup → SSH location (median of ${BACKUP_ROUNDS}: ${spread(ourRuns)}; CPU median ${medianCpu(ourRuns)}; peak RSS ${(Math.max(...ourRuns.map((run) => run.maxRssKiB)) / 1024).toFixed(0)} MiB)`, oursBackup, seedBackupRun, parallelBackupRun),
        `| backup, Lifeboat: the step, plan and run / the run alone (the downloads start in the plan) | ${seconds(oursBackup.stepMs)} / ${seconds(oursBackup.runMs)} | | |`,
        '',
        '| measurement | time | ratio vs seed |',
        '| --- | --- | --- |',
        row(`restore (api), seed: scp, tar xzf, sequential curl -F (CPU ${cpu(seedRestoreRun)})`, seedRestoreRun, seedRestoreRun),
        row(`restore (api), Lifeboat CLI, frigate.faces.restore (CPU ${cpu(oursRestore)}; peak RSS ${(oursRestore.maxRssKiB / 1024).toFixed(0)} MiB)`, oursRestore, seedRestoreRun),
        `| restore (api), Lifeboat: the step, plan and run | ${seconds(oursRestore.stepMs)} | |`,
        `| restore (api), Lifeboat: the run alone | ${seconds(oursRestore.runMs)} | |`,
        `| restore (api): Frigate busy registering (${images} × ${REGISTER_PROCESSING_MS} ms, one at a time) | ${seconds(restoreBusyMs)} | |`,
        '',
      ].join('\n'),
    );
    console.log(`backup ${backupRatio.toFixed(2)}× the seed (target ≥ ${BACKUP_TARGET}×: ${met(backupRatio >= BACKUP_TARGET)}), ${parallelRatio.toFixed(2)}× the best shell (target ≥ ${PARALLEL_BACKUP_TARGET}×: ${met(parallelRatio >= PARALLEL_BACKUP_TARGET)})`);
    console.log(
      `restore ${restoreRatio.toFixed(2)}× the seed; the run's wall time ${busyRatio.toFixed(3)}× Frigate's busy time (target ≤ ${RESTORE_BUSY_TARGET}×, Frigate being the bound: ${met(busyRatio <= RESTORE_BUSY_TARGET)})`,
    );
    console.log(`every run ended with the same per-person counts (${Object.entries(expected).map(([person, count]) => `${person} ${count}`).join(', ')})`);
    console.log(`measured at load average ${loadavg().map((load) => load.toFixed(2)).join(' ')} on ${availableParallelism()} cores; Node ${process.version}`);
  } finally {
    await Promise.all([sim.stop(), sshd.stop()]);
    await rm(work, { recursive: true, force: true });
  }
}

runEntryPoint(main);
