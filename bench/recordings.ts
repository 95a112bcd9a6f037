/**
 * Benchmark of a Frigate recordings backup: the recordings folder of a pod in the Kubernetes API
 * simulator streamed with `tar` to the test bed's real sshd, next to OpenSSH doing the same from the
 * same files in the same run, printed as ratios. Not a test: numbers depend on the machine and its load.
 *
 *   npm run bench                                  # 2 GiB
 *   LIFEBOAT_BENCH_MIB=256 node out/bench/recordings.js
 *   LIFEBOAT_BENCH_RECORDINGS_RUNS=3 node out/bench/recordings.js   # repetitions (the fastest is kept)
 *
 * Baseline: `tar c | ssh host 'tar x'` with OpenSSH's defaults, reading the pod's files directly.
 * With kubectl installed, also the seed's pipeline `kubectl exec … -- tar c | ssh host 'tar x'`.
 * Lifeboat is the shipped CLI (`dist/cli.js run`, as cron starts it) in a process of its own, so its
 * peak RSS is its own, not the simulator's. Every target tree is checked against the source: every file, by size.
 * On a machine with few cores the simulated cluster (the API server and the pod's `tar`) takes CPU
 * from the same cores as the pipeline, which a real cluster does not: the sending-side CPU split
 * printed at the end shows how much.
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { processCpuSeconds, runCli, runProcess, writeCliWorkspace, type CliExitReport } from './cliRun';
import { runEntryPoint } from './entryPoint';
import { childSshTarget, opensshCommand, type ChildSshTarget } from './sshHost';

const NAMESPACE = 'frigate';
const POD = 'frigate-0';
const POD_LABEL = 'app.kubernetes.io/name=frigate';
const RECORDINGS = '/media/frigate/recordings';
const CAMERAS = ['front_door', 'driveway', 'backyard'];
const SEGMENT_SECONDS = 10;
const MIB = 1024 * 1024;
const RSS_TARGET_MIB = 128;
/** Against direct `tar | ssh`. */
const THROUGHPUT_TARGET = 0.9;
/** Against what a user types instead: `kubectl exec … tar c | ssh host 'tar x'`. */
const KUBECTL_TARGET = 1.2;
/** Sending-side CPU apart from the simulated API server, against the kubectl pipeline's. */
const CPU_TARGET = 0.6;

interface ChildJob {
  kubeconfig: string;
  ssh: ChildSshTarget;
  remoteDirectory: string;
}

/**
 * What is measured: the shipped CLI running `frigate.recordings.backup` (see cliRun.ts), from an
 * inventory naming the simulated cluster's Frigate pod and the sshd as a host location. The action
 * does not use Frigate's API, so its URL leads nowhere. `retentionDays: 0`: the bench's recordings
 * are from a fixed, past date.
 */
async function writeRecordingsWorkspace(folder: string, job: ChildJob): Promise<void> {
  const inventory = {
    clusters: { bench: { kubeconfig: job.kubeconfig } },
    frigate: { nvr: { url: 'https://127.0.0.1:9', files: { cluster: 'bench', namespace: NAMESPACE, labelSelector: POD_LABEL } } },
    hosts: { nas: job.ssh },
    locations: { recordings: { host: 'nas', path: job.remoteDirectory } },
  };
  await writeCliWorkspace(folder, inventory, { id: 'frigate.recordings.backup', params: { frigate: 'nvr', location: 'recordings', retentionDays: 0 } });
}

// ---------------------------------------------------------------------------------------------
// Parent side.

interface Measurement {
  label: string;
  ms: number;
  child?: CliExitReport;
  /** CPU seconds on the sending side of the SSH connection: the simulator (this process) and every program it ran or waited for. */
  cpuSeconds?: number;
  /** Of those, the simulator's own. */
  simulatorCpuSeconds?: number;
}

/** Adds the CPU the measurement took on the sending side: this process's (the simulator) and its children's. */
async function withCpu(measure: () => Promise<Measurement>): Promise<Measurement> {
  const before = await processCpuSeconds();
  const measurement = await measure();
  const after = await processCpuSeconds();
  return { ...measurement, simulatorCpuSeconds: after.own - before.own, cpuSeconds: after.own + after.children - before.own - before.children };
}

/** A deterministic sequence in [0, 1), so every run lays out the same tree. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

function segmentPath(camera: string, at: Date): string {
  const iso = at.toISOString();
  return path.join(iso.slice(0, 10), iso.slice(11, 13), camera, `${iso.slice(14, 16)}.${iso.slice(17, 19)}.mp4`);
}

/**
 * Frigate's recordings layout (`YYYY-MM-DD/HH/<camera>/MM.SS.mp4`, UTC) filled with events: runs of
 * 10-second segments of 1.5 to 4.5 MiB of random bytes (incompressible, like video), cameras taking
 * turns, until `totalBytes`. Returns each file's size by relative path.
 */
async function writeRecordings(root: string, totalBytes: number): Promise<Map<string, number>> {
  const random = seededRandom(20260208);
  const buffer = Buffer.allocUnsafe(Math.ceil(4.5 * MIB));
  const clocks = CAMERAS.map(() => Date.UTC(2026, 1, 6, 22, 0, 0));
  const files = new Map<string, number>();
  let written = 0;
  for (let turn = 0; written < totalBytes; turn++) {
    const camera = turn % CAMERAS.length;
    const segments = 3 + Math.floor(random() * 10);
    for (let segment = 0; segment < segments && written < totalBytes; segment++) {
      const size = Math.min(totalBytes - written, Math.floor((1.5 + random() * 3) * MIB));
      const relative = segmentPath(CAMERAS[camera] as string, new Date(clocks[camera] as number));
      await mkdir(path.join(root, path.dirname(relative)), { recursive: true });
      await writeFile(path.join(root, relative), randomFillSync(buffer, 0, size).subarray(0, size));
      files.set(relative, size);
      written += size;
      clocks[camera] = (clocks[camera] as number) + SEGMENT_SECONDS * 1000;
    }
    // Minutes of quiet before this camera's next event.
    clocks[camera] = (clocks[camera] as number) + Math.floor(5 + random() * 40) * 60_000;
  }
  return files;
}

/** The same files as the backup action lays them out: `<camera>/YYYY-MM-DD/HH/MM.SS.mp4`. */
function inBackupLayout(files: Map<string, number>): Map<string, number> {
  return new Map(
    [...files].map(([relative, size]) => {
      const [day, hour, camera, file] = relative.split(path.sep);
      return [path.join(camera as string, day as string, hour as string, file as string), size];
    }),
  );
}

async function listTree(root: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.set(path.relative(root, file), (await stat(file)).size);
  }
  return files;
}

/** Fails unless `root` holds exactly the expected files with their sizes. */
async function verifyTree(label: string, root: string, expected: Map<string, number>): Promise<void> {
  const found = await listTree(root);
  const wrong = [...expected].filter(([file, size]) => found.get(file) !== size).map(([file]) => file);
  const extra = [...found.keys()].filter((file) => !expected.has(file));
  if (wrong.length > 0 || extra.length > 0) {
    throw new Error(`${label}: the copy in ${root} is incomplete: ${wrong.length} file(s) missing or of the wrong size (first: ${wrong[0] ?? '—'}), ${extra.length} unexpected`);
  }
}

async function timeShell(label: string, script: string): Promise<Measurement> {
  const started = performance.now();
  await runProcess('bash', ['-o', 'pipefail', '-c', script]);
  return { label, ms: performance.now() - started };
}

async function timeLifeboat(label: string, workspace: string): Promise<Measurement> {
  const run = await runCli(workspace, { ...process.env, SSH_AUTH_SOCK: '' });
  return { label, ms: run.ms, child: run.report };
}

const RUNS = Math.max(1, Number(process.env.LIFEBOAT_BENCH_RECORDINGS_RUNS ?? 1));

/** The fastest of RUNS, each into a fresh folder that is verified and removed: on a shared machine the slower runs measure the neighbours. */
async function fastest(target: string, expected: Map<string, number>, measure: () => Promise<Measurement>): Promise<Measurement> {
  let best: Measurement | undefined;
  for (let run = 0; run < RUNS; run++) {
    await rm(target, { recursive: true, force: true });
    const measurement = await withCpu(measure);
    await verifyTree(measurement.label, target, expected);
    if (!best || measurement.ms < best.ms) best = measurement;
  }
  await rm(target, { recursive: true, force: true });
  return best as Measurement;
}

function kubectlVersion(): string | undefined {
  const result = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  return result.status === 0 ? /Client Version: (\S+)/.exec(result.stdout)?.[1] : undefined;
}

async function main(): Promise<void> {
  const mib = Number(process.env.LIFEBOAT_BENCH_MIB ?? 2048);
  const { KubeApiSimulator } = await import('../test/testbed/kubeSim');
  const { startSshd } = await import('../test/testbed/sshd');
  const sim = await KubeApiSimulator.start();
  const sshd = await startSshd();
  const cliWorkspace = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-recordings-'));
  try {
    sim.addPod({ namespace: NAMESPACE, name: POD, labels: { 'app.kubernetes.io/name': 'frigate' }, containers: ['frigate'] });
    const recordings = sim.podPath(NAMESPACE, POD, RECORDINGS);
    const expected = await writeRecordings(recordings, mib * MIB);
    const bytes = [...expected.values()].reduce((sum, size) => sum + size, 0);
    const kubeconfig = await sim.writeKubeconfig();
    const ssh = opensshCommand(sshd);
    const remote = (name: string) => path.join(sshd.remoteDir, name);
    await writeRecordingsWorkspace(cliWorkspace, { kubeconfig, ssh: childSshTarget(sshd), remoteDirectory: remote('lifeboat') });
    const untar = (directory: string) => `${ssh} 'mkdir -p ${directory} && tar xf - -C ${directory}'`;
    const loadBefore = loadavg();
    console.log(`Recordings backup, ${(bytes / MIB).toFixed(0)} MiB in ${expected.size} files, pod → real sshd on loopback (${spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim()}) …`);

    const baseline = await fastest(remote('baseline'), expected, () =>
      timeShell('OpenSSH `tar c \\| ssh host "tar x"` (baseline)', `tar cf - -C '${recordings}' . | ${untar(remote('baseline'))}`),
    );
    const rows: Measurement[] = [baseline];
    const kubectl = kubectlVersion();
    let viaKubectl: Measurement | undefined;
    if (kubectl) {
      rows.push(
        (viaKubectl = await fastest(remote('kubectl'), expected, () =>
          timeShell(`\`kubectl exec -- tar c \\| ssh host "tar x"\` (kubectl ${kubectl})`, `kubectl --kubeconfig '${kubeconfig}' exec -n ${NAMESPACE} ${POD} -- tar cf - -C ${RECORDINGS} . | ${untar(remote('kubectl'))}`),
        )),
      );
    }
    const lifeboat = await fastest(remote('lifeboat'), inBackupLayout(expected), () =>
      timeLifeboat('Lifeboat CLI, `frigate.recordings.backup`', cliWorkspace),
    );
    rows.push(lifeboat);

    const table = [
      '| pipeline | time | throughput | ratio vs baseline | peak RSS | CPU, sending side |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows.map((row) => {
        const rss = row.child ? `${(row.child.maxRssKiB / 1024).toFixed(0)} MiB` : '—';
        return `| ${row.label} | ${(row.ms / 1000).toFixed(1)} s | ${(bytes / MIB / (row.ms / 1000)).toFixed(0)} MiB/s | ${(baseline.ms / row.ms).toFixed(2)} | ${rss} | ${row.cpuSeconds?.toFixed(1) ?? '—'} s |`;
      }),
    ];
    console.log(`\n${table.join('\n')}\n`);
    const ratio = baseline.ms / lifeboat.ms;
    const rssMib = (lifeboat.child?.maxRssKiB ?? 0) / 1024;
    const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
    console.log(`Lifeboat vs baseline: ${ratio.toFixed(2)}× (target ≥ ${THROUGHPUT_TARGET}×: ${met(ratio >= THROUGHPUT_TARGET)}); peak RSS ${rssMib.toFixed(0)} MiB (target ≤ ${RSS_TARGET_MIB} MiB: ${met(rssMib <= RSS_TARGET_MIB)})`);
    if (viaKubectl) {
      const kubectlRatio = viaKubectl.ms / lifeboat.ms;
      // The pod's tar does the same work in both; the API server simulator's share is left out of both.
      const clientCpu = (row: Measurement) => (row.cpuSeconds ?? 0) - (row.simulatorCpuSeconds ?? 0);
      const cpuRatio = clientCpu(lifeboat) / clientCpu(viaKubectl);
      console.log(
        `Lifeboat vs kubectl exec | ssh: ${kubectlRatio.toFixed(2)}× (target ≥ ${KUBECTL_TARGET}×: ${met(kubectlRatio >= KUBECTL_TARGET)}); sending-side CPU without the API server simulator ${clientCpu(lifeboat).toFixed(1)} s against ${clientCpu(viaKubectl).toFixed(1)} s, ${cpuRatio.toFixed(2)}× (target ≤ ${CPU_TARGET}×: ${met(cpuRatio <= CPU_TARGET)})`,
      );
    }
    const { child, simulatorCpuSeconds = 0, cpuSeconds = 0 } = lifeboat;
    if (child) {
      // On this machine the simulated cluster shares the cores with everything else; on a real one it does not.
      const inPod = cpuSeconds - simulatorCpuSeconds - child.nodeCpuSeconds - child.childrenCpuSeconds;
      const parts = [`Lifeboat's Node process ${child.nodeCpuSeconds.toFixed(1)} s`, `its ssh ${child.childrenCpuSeconds.toFixed(1)} s`, `API server simulator ${simulatorCpuSeconds.toFixed(1)} s`, `tar in the pod ${inPod.toFixed(1)} s`];
      console.log(`Lifeboat's sending-side CPU: ${parts.join(', ')}`);
    }
    if (!kubectl) console.log('kubectl is not installed: the seed pipeline `kubectl exec … | ssh …` was not measured.');
    const load = (figures: number[]) => figures.map((figure) => figure.toFixed(2)).join(' ');
    console.log(`every target tree verified (${expected.size} files, ${bytes} bytes); fastest of ${RUNS} run(s) each; load average ${load(loadBefore)} before, ${load(loadavg())} after; Node ${process.version}`);
  } finally {
    await sshd.stop();
    await sim.stop();
    await rm(cliWorkspace, { recursive: true, force: true });
  }
}

runEntryPoint(main);
