/**
 * Benchmark of pbs.snapshots against what a person would type instead: `curl` with the API token and
 * the server's certificate, its JSON parsed (as `| jq` would), both listing the same datastore of the
 * PBS simulator on loopback in the same run, alternating, printed as a ratio. pbs.snapshots also
 * judges the certificate's fingerprint, checks each field and sorts newest first; that should cost
 * little beside the transfer. The simulator answers in this process, so Lifeboat's side shares its
 * event loop with the server while curl runs beside it: the ratio is a floor. Not a test: numbers
 * depend on the machine.
 *
 *   npm run bench                                      # 20 000 snapshots
 *   LIFEBOAT_BENCH_PBS_SNAPSHOTS=2000 npm run bench    # quick run
 *   LIFEBOAT_BENCH_RUNS=5 npm run bench                # rounds (best of each side is kept)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pbsSnapshots, type PbsSnapshotsResult } from '../src/actions/pbs/snapshots';
import { createActionContext } from '../src/core/actions/context';
import type { Inventory } from '../src/core/actions/spec';
import { PbsSimulator, type PbsSimSnapshot } from '../test/testbed/pbsSim';
import { runEntryPoint } from './entryPoint';

const TOKEN = 'root@pam!bench';
const SECRET = 'c0ffee00-bench-4e1a-9d2b-0123456789ab';
const STORE = 'pbs-bench';
const TARGET_RATIO = 0.6;

function snapshots(count: number): PbsSimSnapshot[] {
  const start = 1_700_000_000;
  return Array.from({ length: count }, (_, index) => ({
    type: index % 3 === 0 ? 'ct' : 'vm',
    id: String(100 + (index % 50)),
    time: start + index * 3600,
    size: 1_000_000_000 + index,
    comment: `guest ${index % 50}`,
    files: [
      { filename: 'index.json.blob', 'crypt-mode': 'none', size: 512 },
      { filename: 'drive-scsi0.img.fidx', 'crypt-mode': 'none', size: 1_000_000_000 + index },
    ],
    ...(index % 2 === 0 ? { verification: { state: 'ok' as const, upid: `UPID:pbs:00000001:00000001:${index.toString(16).padStart(8, '0')}:00000001:verify:x:root@pam:` } } : {}),
  }));
}

/** `curl … | jq length`: the listing fetched with the certificate trusted, then parsed. */
async function bare(sim: PbsSimulator): Promise<{ ms: number; count: number }> {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(
    'curl',
    ['--silent', '--show-error', '--fail', '--cacert', sim.certificate.certFile, '--header', `Authorization: PBSAPIToken=${TOKEN}:${SECRET}`, `${sim.url}/api2/json/admin/datastore/${STORE}/snapshots`],
    { maxBuffer: 1024 * 1024 * 1024, encoding: 'utf8' },
  );
  const count = (JSON.parse(stdout) as { data: unknown[] }).data.length;
  return { ms: performance.now() - started, count };
}

async function ours(sim: PbsSimulator): Promise<{ ms: number; count: number }> {
  const inventory = { backupServers: { bench: { url: sim.url, datastore: STORE, tokenId: TOKEN, tokenSecret: 'secret:pbs_bench', fingerprint: sim.fingerprint } } } as unknown as Inventory;
  const ctx = createActionContext({ workspaceDir: process.cwd(), inventory, secrets: { resolve: async () => SECRET } });
  const started = performance.now();
  try {
    const result = (await pbsSnapshots.run(pbsSnapshots.params.parse({ server: 'bench' }), ctx)) as PbsSnapshotsResult;
    return { ms: performance.now() - started, count: result.counts.total };
  } finally {
    await ctx.clients.disposeAll();
  }
}

async function main(): Promise<void> {
  const count = Number(process.env.LIFEBOAT_BENCH_PBS_SNAPSHOTS ?? 20_000);
  const rounds = Number(process.env.LIFEBOAT_BENCH_RUNS ?? 3);
  const sim = await PbsSimulator.start({ tokens: { [TOKEN]: SECRET }, datastores: { [STORE]: { total: 1e13, used: 1e12, snapshots: snapshots(count) } } });
  try {
    const times = { bare: [] as number[], ours: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const sides = [['bare', bare], ['ours', ours]] as const;
      // Alternating which side goes first, so neither always meets a warmer server.
      for (const [side, list] of round % 2 === 0 ? sides : [...sides].reverse()) {
        const measured = await list(sim);
        if (measured.count !== count) throw new Error(`${side} listed ${measured.count} of ${count} snapshots`);
        times[side].push(measured.ms);
      }
    }
    const best = (values: number[]) => Math.min(...values);
    const ratio = best(times.bare) / best(times.ours);
    console.log(`\nListing ${count} PBS snapshots from the simulator on loopback (HTTPS); ${rounds} round(s), fastest of each side`);
    console.log('| measurement | time | snapshots/s |\n| --- | --- | --- |');
    for (const [label, values] of [['curl + JSON.parse (baseline)', times.bare], ['pbs.snapshots', times.ours]] as const) {
      console.log(`| ${label} | ${best(values).toFixed(0)} ms (all: ${values.map((ms) => ms.toFixed(0)).join(', ')}) | ${Math.round(count / (best(values) / 1000))} |`);
    }
    console.log(`pbs.snapshots against curl: ratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}`);
  } finally {
    await sim.stop();
  }
}

runEntryPoint(main);
