/**
 * Benchmark of bulk SSH streams against the system OpenSSH client, over loopback to the test bed's real
 * sshd, measured in the same run on the same file and printed as ratios. Not a test: numbers depend on
 * the machine.
 *
 *   npm run bench                          # 1 GiB each way
 *   LIFEBOAT_BENCH_SSH_MIB=200 npm run bench
 *   LIFEBOAT_BENCH_SSH_RUNS=3 npm run bench    # repetitions per measurement (the fastest is kept)
 *
 * Baseline: `cat file | ssh host 'cat > f'` (and `ssh host 'cat f' > file`) with OpenSSH's defaults.
 * Ours runs in a child Node process (this compiled file with `--child`), so its peak RSS is its own.
 * Every copy is checked with `cmp`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runEntryPoint } from './entryPoint';
import { childSshTarget, connectChildSsh, opensshCommand, type ChildSshTarget } from './sshHost';

interface Measurement {
  label: string;
  ms: number;
  maxRssKiB?: number;
  transport?: string;
}

// ---------------------------------------------------------------------------------------------
// Child side: one transfer of ours, then a JSON report on the last line.

async function runChild(operation: string, targetJson: string, local: string, remote: string): Promise<void> {
  const started = performance.now();
  // Connecting is part of the time, as it is for the `ssh` baseline.
  const connection = await connectChildSsh(JSON.parse(targetJson) as ChildSshTarget);
  let transport: string;
  if (operation === 'upload-exec' || operation === 'upload-bulk') {
    const run = operation === 'upload-exec' ? connection.run.bind(connection) : connection.runBulk.bind(connection);
    transport = (await run(['sh', '-c', 'cat > "$1"', 'sh', remote], { stdin: { file: local } })).transport;
  } else if (operation === 'download-exec' || operation === 'download-bulk') {
    const run = operation === 'download-exec' ? connection.run.bind(connection) : connection.runBulk.bind(connection);
    transport = (await run(['cat', remote], { stdout: { file: local } })).transport;
  } else if (operation === 'upload-sftp') {
    await (await connection.sftp()).upload(local, remote);
    transport = 'ssh2 sftp';
  } else {
    throw new Error(`unknown child operation ${operation}`);
  }
  const ms = performance.now() - started;
  connection.dispose();
  process.stdout.write(`${JSON.stringify({ ms, transport, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent side.

const RUNS = Math.max(1, Number(process.env.LIFEBOAT_BENCH_SSH_RUNS ?? 1));

/** The fastest of RUNS repetitions: on a shared machine the slower ones measure the neighbours. */
function fastest(measure: () => Measurement): Measurement {
  const runs = Array.from({ length: RUNS }, measure);
  return runs.reduce((best, run) => (run.ms < best.ms ? run : best));
}

function timeShell(label: string, script: string): Measurement {
  return fastest(() => {
    const started = performance.now();
    execFileSync('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
    return { label, ms: performance.now() - started };
  });
}

function timeChild(label: string, operation: string, target: ChildSshTarget, local: string, remote: string): Measurement {
  return fastest(() => timeChildOnce(label, operation, target, local, remote));
}

function timeChildOnce(label: string, operation: string, target: ChildSshTarget, local: string, remote: string): Measurement {
  const result = spawnSync(process.execPath, [__filename, '--child', operation, JSON.stringify(target), local, remote], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: '' } });
  if (result.status !== 0) throw new Error(`child ${operation} failed: ${result.stderr}`);
  const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { ms: number; transport: string; maxRssKiB: number };
  return { label, ms: report.ms, maxRssKiB: report.maxRssKiB, transport: report.transport };
}

function same(a: string, b: string): void {
  execFileSync('cmp', [a, b]);
}

async function main(): Promise<void> {
  const mib = Number(process.env.LIFEBOAT_BENCH_SSH_MIB ?? 1024);
  const { startSshd } = await import('../test/testbed/sshd');
  const sshd = await startSshd();
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-ssh-'));
  try {
    const source = path.join(work, 'source.bin');
    execFileSync('head', ['-c', String(mib * 1024 * 1024), '/dev/urandom'], { stdio: ['ignore', openSync(source, 'w'), 'inherit'] });
    const bytes = (await stat(source)).size;
    const remote = (name: string) => path.join(sshd.remoteDir, name);
    const target = childSshTarget(sshd);
    const ssh = opensshCommand(sshd);
    const rows: { measurement: Measurement; baseline: Measurement }[] = [];

    console.log(`SSH bulk streams, ${mib} MiB over loopback to a real sshd (${spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim()}) …`);
    const uploadBaseline = timeShell('OpenSSH `cat f \\| ssh host "cat > f"` (baseline)', `cat '${source}' | ${ssh} 'cat > ${remote('baseline-up.bin')}'`);
    same(source, remote('baseline-up.bin'));
    for (const [operation, label, file] of [
      ['upload-exec', 'ssh2 exec `cat > f`, stdin streamed', 'exec-up.bin'],
      ['upload-bulk', 'execBulk `cat > f` (system ssh, pinned key, AES-GCM)', 'bulk-up.bin'],
      ['upload-sftp', 'ssh2 SFTP fastPut', 'sftp-up.bin'],
    ] as const) {
      const measurement = timeChild(label, operation, target, source, remote(file));
      same(source, remote(file));
      rows.push({ measurement, baseline: uploadBaseline });
      await rm(remote(file));
    }
    rows.unshift({ measurement: uploadBaseline, baseline: uploadBaseline });

    const downloadBaseline = timeShell('OpenSSH `ssh host "cat f" > f` (baseline)', `${ssh} 'cat ${remote('baseline-up.bin')}' > '${path.join(work, 'baseline-down.bin')}'`);
    same(source, path.join(work, 'baseline-down.bin'));
    rows.push({ measurement: downloadBaseline, baseline: downloadBaseline });
    for (const [operation, label, file] of [
      ['download-exec', 'ssh2 exec `cat f`, stdout streamed', 'exec-down.bin'],
      ['download-bulk', 'execBulk `cat f` (system ssh, pinned key, AES-GCM)', 'bulk-down.bin'],
    ] as const) {
      const measurement = timeChild(label, operation, target, path.join(work, file), remote('baseline-up.bin'));
      same(source, path.join(work, file));
      rows.push({ measurement, baseline: downloadBaseline });
      await rm(path.join(work, file));
    }

    const table = [
      '| measurement | transport | time | throughput | ratio vs OpenSSH | peak RSS |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows.map(({ measurement, baseline }) => {
        const throughput = bytes / 1024 / 1024 / (measurement.ms / 1000);
        const rss = measurement.maxRssKiB === undefined ? '—' : `${(measurement.maxRssKiB / 1024).toFixed(0)} MiB`;
        return `| ${measurement.label} | ${measurement.transport ?? 'ssh'} | ${(measurement.ms / 1000).toFixed(1)} s | ${throughput.toFixed(0)} MiB/s | ${(baseline.ms / measurement.ms).toFixed(2)} | ${rss} |`;
      }),
    ];
    console.log(`\n${table.join('\n')}\n`);
    console.log(`every copy compared equal with cmp; fastest of ${RUNS} run(s) each; load average ${(await import('node:os')).loadavg()[0]?.toFixed(1)}; cores: ${(await import('node:os')).availableParallelism()}; Node ${process.version}`);
  } finally {
    await rm(work, { recursive: true, force: true });
    await sshd.stop();
  }
}

if (process.argv[2] === '--child') {
  const [, , , operation = '', target = '', local = '', remote = ''] = process.argv;
  runEntryPoint(() => runChild(operation, target, local, remote));
} else {
  runEntryPoint(main);
}
