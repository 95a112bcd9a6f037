/**
 * Benchmark of sync.push against the rsync a person would type on the source host (`ssh pi4 rsync -a
 * -e ssh src/ pi5:dst/`, data going host to host), between two real sshd servers on loopback standing
 * for two hosts, in the same run on the same folder, printed as ratios. sync.push relays rsync's
 * protocol through this machine instead (no key of one host on the other), and its tar method
 * streams through it too. Also the no-change run (what an hourly sync mostly is). Not a test:
 * numbers depend on the machine.
 *
 *   npm run bench                                   # one file of 256 MiB and 2 000 files of 4 KiB
 *   LIFEBOAT_BENCH_SYNC_MIB=64 npm run bench        # quick run
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { syncPush, type SyncPushResult } from '../src/actions/sync/push';
import { ClientPool } from '../src/core/actions/clients';
import { createActionContext } from '../src/core/actions/context';
import { startTwoHosts, type TwoHosts } from '../test/support/twoHosts';
import { runEntryPoint } from './entryPoint';

const BIG_MIB = Number(process.env.LIFEBOAT_BENCH_SYNC_MIB ?? 256);
const SMALL_FILES = 2000;

interface Measurement {
  label: string;
  ms: number;
}

function sshOptions(port: number, key: string, knownHosts: string): string[] {
  return ['-p', String(port), '-i', key, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'];
}

/** What a person types: log in to the source and run rsync there, straight to the destination. */
function directRsync(hosts: TwoHosts, src: string, dst: string): Measurement {
  const { pi4, pi5 } = hosts;
  const inner = ['ssh', ...sshOptions(pi5.port, pi5.clientKey.privateKeyPath, pi5.knownHostsPath)].join(' ');
  const started = performance.now();
  const result = spawnSync('ssh', [...sshOptions(pi4.port, pi4.clientKey.privateKeyPath, pi4.knownHostsPath), '127.0.0.1', 'rsync', '-a', '-e', `'${inner}'`, `${src}/`, `127.0.0.1:${dst}/`], { encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`direct rsync failed: ${result.stderr}`);
  return { label: 'rsync on the source, host to host', ms };
}

async function ours(hosts: TwoHosts, src: string, dst: string, method: 'rsync' | 'tar', label: string): Promise<Measurement> {
  const pool = new ClientPool();
  try {
    const started = performance.now();
    const params = syncPush.params.parse({ from: { host: 'pi4', path: src }, to: { host: 'pi5', path: dst }, method });
    (await syncPush.run(params, createActionContext({ workspaceDir: hosts.pi4.dir, inventory: hosts.inventory, clients: pool }))) as SyncPushResult;
    return { label, ms: performance.now() - started };
  } finally {
    await pool.disposeAll();
  }
}

async function main(): Promise<void> {
  const hosts = await startTwoHosts();
  try {
    const src = join(hosts.pi4.remoteDir, 'src');
    const dst = join(hosts.pi5.remoteDir, 'dst');
    await mkdir(join(src, 'small'), { recursive: true });
    await writeFile(join(src, 'big.mp4'), randomBytes(BIG_MIB * 1024 * 1024));
    for (let index = 0; index < SMALL_FILES; index++) await writeFile(join(src, 'small', `${index}.json`), randomBytes(4096));
    const fresh = async () => rm(dst, { recursive: true, force: true });
    const rows: [Measurement, Measurement | undefined][] = [];

    await fresh();
    const baseline = directRsync(hosts, src, dst);
    const baselineAgain = directRsync(hosts, src, dst);
    baselineAgain.label = 'rsync on the source, nothing changed';
    await fresh();
    rows.push([baseline, undefined]);
    rows.push([await ours(hosts, src, dst, 'rsync', 'sync.push rsync (relayed)'), baseline]);
    rows.push([baselineAgain, undefined]);
    rows.push([await ours(hosts, src, dst, 'rsync', 'sync.push rsync, nothing changed'), baselineAgain]);
    await fresh();
    rows.push([await ours(hosts, src, dst, 'tar', 'sync.push tar (relayed)'), baseline]);
    rows.push([await ours(hosts, src, dst, 'tar', 'sync.push tar, nothing changed'), baselineAgain]);

    const mib = BIG_MIB + (SMALL_FILES * 4096) / 1024 / 1024;
    console.log(`\nsync.push: ${BIG_MIB} MiB file + ${SMALL_FILES} files of 4 KiB between two sshd on loopback\n`);
    console.log('| run | time | MiB/s | against |');
    console.log('| --- | --- | --- | --- |');
    for (const [measurement, against] of rows) {
      const ratio = against ? `${(against.ms / measurement.ms).toFixed(2)}× the speed of "${against.label}"` : 'baseline';
      console.log(`| ${measurement.label} | ${(measurement.ms / 1000).toFixed(2)} s | ${measurement.label.includes('nothing') ? '–' : (mib / (measurement.ms / 1000)).toFixed(0)} | ${ratio} |`);
    }
  } finally {
    await hosts.stop();
  }
}

runEntryPoint(main);
