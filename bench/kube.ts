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
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { runEntryPoint } from './entryPoint';

const NAMESPACE = 'frigate';
const POD = 'frigate-0';
const FILES = 64;

async function runChild(operation: string, kubeconfig: string, file: string): Promise<void> {
  if (operation === 'raw') {
    // kubeconfig is the wss:// URL here, file the CA.
    const { WebSocket } = await import('ws');
    const { readFileSync } = await import('node:fs');
    const output = createWriteStream('/dev/null');
    await new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(kubeconfig, { ca: readFileSync(file) });
      socket.on('message', (data: Buffer) => {
        if (!output.write(data)) {
          socket.pause();
          output.once('drain', () => socket.resume());
        }
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    console.log(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
    return;
  }
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

/**
 * A websocket server on the simulator's certificate that sends a file in 64 KiB binary frames and
 * closes: the transport the exec path rides on, without the exec. Returns its URL.
 */
async function rawWebsocketServer(certificate: { cert: string; key: string }, file: string): Promise<string> {
  const { createServer } = await import('node:https');
  const { WebSocketServer } = await import('ws');
  const server = createServer({ cert: certificate.cert, key: certificate.key });
  const sockets = new WebSocketServer({ server });
  sockets.on('connection', (socket) => {
    const source = createReadStream(file, { highWaterMark: 64 * 1024 });
    let unsent = 0;
    source.on('data', (chunk) => {
      unsent += chunk.length;
      socket.send(chunk, () => {
        unsent -= chunk.length;
        if (unsent < 2 * 1024 * 1024 && source.isPaused()) source.resume();
      });
      if (unsent > 4 * 1024 * 1024) source.pause();
    });
    source.on('end', () => socket.close(1000));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `wss://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
    rows.push([
      rows[0]?.[0] as Measurement,
      await timeChild('websocket over TLS alone (same bytes, no exec)', ['raw', await rawWebsocketServer(sim.certificate, direct), sim.certificate.certFile]),
    ]);
    const same = spawnSync('cmp', [direct, viaExec]).status === 0;
    const bytes = (await stat(direct)).size;

    console.log(`\nKubernetes exec tar streams, ${(bytes / 1048576).toFixed(0)} MiB in ${FILES} files (archive byte-identical to direct tar: ${same ? 'yes' : 'NO'})`);
    console.log('| operation | time | MiB/s | vs direct tar | client peak RSS |');
    console.log('|---|---|---|---|---|');
    const printed = new Set<Measurement>();
    for (const [baseline, ours] of rows) {
      for (const measurement of [baseline, ours].filter((candidate) => !printed.has(candidate))) {
        printed.add(measurement);
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
  runEntryPoint(() => runChild(operation, kubeconfig, file));
} else {
  runEntryPoint(main);
}
