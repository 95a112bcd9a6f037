/**
 * Benchmark of tar streams through Kubernetes exec (the Kubernetes client against the API simulator)
 * next to the same tar commands run directly, on the same data in the same run. The simulator runs
 * the real `tar` in the pod's folder, so the difference is what the exec path (websocket frames,
 * TLS, backpressure) costs. Not a test: numbers depend on the machine.
 *
 *   npm run bench                         # 256 MiB in 64 files
 *   LIFEBOAT_BENCH_MIB=1024 npm run bench
 *
 * The client side runs in a child Node process (this compiled file with `--child`), so its peak RSS
 * is the client's alone, not the simulator's.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const NAMESPACE = 'frigate';
const POD = 'frigate-0';
const FILES = 64;

async function runChild(operation: string, kubeconfig: string, file: string): Promise<void> {
  const { KubeClient } = await import('../src/clients/kube');
  const kube = await KubeClient.connect({ kubeconfig });
  const pod = { namespace: NAMESPACE, pod: POD };
  if (operation === 'out') await pipeline(kube.tarFromPod({ ...pod, directory: '/media/frigate/recordings' }), createWriteStream(file));
  else await kube.tarIntoPod({ ...pod, directory: '/media/frigate/restored' }, createReadStream(file));
  console.log(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
}

interface Measurement {
  label: string;
  ms: number;
  maxRssKiB?: number;
}

function timed(label: string, run: () => void): Measurement {
  const started = performance.now();
  run();
  return { label, ms: performance.now() - started };
}

function timeChild(label: string, args: string[]): Promise<Measurement> {
  // spawnSync would block the simulator, which lives in this process.
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [__filename, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`child ${args[0]} exited with ${code}`));
      const report = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as { maxRssKiB: number };
      resolve({ label, ms: performance.now() - started, maxRssKiB: report.maxRssKiB });
    });
  });
}

async function main(): Promise<void> {
  const { KubeApiSimulator } = await import('../test/testbed/kubeSim');
  const mib = Number(process.env.LIFEBOAT_BENCH_MIB ?? 256);
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-kube-'));
  const sim = await KubeApiSimulator.start();
  try {
    sim.addPod({ namespace: NAMESPACE, name: POD, containers: ['frigate'] });
    const recordings = sim.podPath(NAMESPACE, POD, '/media/frigate/recordings');
    await mkdir(recordings, { recursive: true });
    const fileBytes = Math.ceil((mib * 1024 * 1024) / FILES);
    for (let index = 0; index < FILES; index++) await writeFile(path.join(recordings, `${String(index).padStart(2, '0')}.00.mp4`), randomBytes(fileBytes));
    const kubeconfig = await sim.writeKubeconfig();
    const viaExec = path.join(work, 'via-exec.tar');
    const direct = path.join(work, 'direct.tar');
    const restored = path.join(work, 'restored');
    await mkdir(restored);

    const rows: [Measurement, Measurement][] = [];
    rows.push([
      timed('tar cf (direct)', () => execFileSync('tar', ['cf', direct, '-C', recordings, '--', '.'])),
      await timeChild('tarFromPod → file', ['out', kubeconfig, viaExec]),
    ]);
    rows.push([
      timed('tar xf (direct)', () => execFileSync('tar', ['xf', direct, '-C', restored])),
      await timeChild('file → tarIntoPod', ['in', kubeconfig, viaExec]),
    ]);
    const same = spawnSync('cmp', [direct, viaExec]).status === 0;
    const bytes = (await stat(direct)).size;

    console.log(`\nKubernetes exec tar streams, ${(bytes / 1048576).toFixed(0)} MiB in ${FILES} files (archive byte-identical to direct tar: ${same ? 'yes' : 'NO'})`);
    console.log('| operation | time | MiB/s | vs direct tar | client peak RSS |');
    console.log('|---|---|---|---|---|');
    for (const [baseline, ours] of rows) {
      for (const measurement of [baseline, ours]) {
        const ratio = (baseline.ms / measurement.ms).toFixed(2);
        const rss = measurement.maxRssKiB === undefined ? '—' : `${(measurement.maxRssKiB / 1024).toFixed(0)} MiB`;
        console.log(`| ${measurement.label} | ${(measurement.ms / 1000).toFixed(2)} s | ${(bytes / 1048576 / (measurement.ms / 1000)).toFixed(0)} | ${ratio} | ${rss} |`);
      }
    }
  } finally {
    await sim.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  const [operation = '', kubeconfig = '', file = ''] = process.argv.slice(childIndex + 1);
  runChild(operation, kubeconfig, file).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
