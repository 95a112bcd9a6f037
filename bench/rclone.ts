/**
 * Benchmark of rclone.copy against the bare `rclone copy` a person would type, both copying the same
 * folder of small files to s3rver on loopback in the same run, alternating, printed as a ratio (the
 * wrapper's staging check, listremotes call, JSON stats and progress should cost nothing). Not a test:
 * numbers depend on the machine.
 *
 *   npm run bench                                     # 5 000 files of 1 KiB
 *   LIFEBOAT_BENCH_RCLONE_FILES=1000 npm run bench    # quick run
 *   LIFEBOAT_BENCH_RUNS=3 npm run bench               # rounds (best of each side is kept)
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rcloneCopy, type RcloneCopyResult } from '../src/actions/rclone/copy';
import { s3Remote } from '../src/clients/rclone';
import { createActionContext } from '../src/core/actions/context';
import type { Inventory } from '../src/core/actions/spec';
import { S3RVER_CREDENTIALS, startS3rver } from '../test/testbed/s3rver';
import { runEntryPoint } from './entryPoint';

const REMOTE = 'bench';
const TARGET_RATIO = 0.95;

/** The remote as environment variables, exactly as rclone.copy defines it for its child. */
function remoteEnvironment(endpoint: string): Record<string, string> {
  const definition = s3Remote({ endpoint, region: 'us-east-1', credentials: { ...S3RVER_CREDENTIALS } });
  const variables: Record<string, string> = { RCLONE_CONFIG: '/dev/null', [`RCLONE_CONFIG_${REMOTE.toUpperCase()}_TYPE`]: definition.type };
  for (const [option, value] of Object.entries(definition.options)) variables[`RCLONE_CONFIG_${REMOTE.toUpperCase()}_${option.toUpperCase()}`] = value;
  return variables;
}

function bareCopy(source: string, destination: string, endpoint: string): number {
  const env: NodeJS.ProcessEnv = { ...process.env, ...remoteEnvironment(endpoint) };
  delete env.AWS_CA_BUNDLE;
  const started = performance.now();
  const result = spawnSync('rclone', ['copy', source, destination], { env, encoding: 'utf8' });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`rclone copy failed: ${result.stderr}`);
  return ms;
}

async function wrappedCopy(source: string, destination: string, inventory: Inventory, workspaceDir: string): Promise<{ ms: number; result: RcloneCopyResult }> {
  const ctx = createActionContext({ workspaceDir, inventory });
  const started = performance.now();
  const result = (await rcloneCopy.run(rcloneCopy.params.parse({ source, destination }), ctx)) as RcloneCopyResult;
  return { ms: performance.now() - started, result };
}

async function main(): Promise<void> {
  const files = Number(process.env.LIFEBOAT_BENCH_RCLONE_FILES ?? 5000);
  const rounds = Number(process.env.LIFEBOAT_BENCH_RUNS ?? 2);
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-rclone-'));
  // A bucket of its own for each copy: s3rver lists a prefix by walking its whole bucket, so a copy
  // into a bucket earlier copies filled would be slower for that alone.
  const buckets = Array.from({ length: rounds }, (_, round) => [`bare-${round}`, `ours-${round}`]).flat();
  const server = await startS3rver({ buckets });
  const inheritedConfig = process.env.RCLONE_CONFIG;
  process.env.RCLONE_CONFIG = '/dev/null';
  try {
    const source = path.join(work, 'source');
    for (let folder = 0; folder < Math.ceil(files / 500); folder++) await mkdir(path.join(source, `day-${folder}`), { recursive: true });
    for (let index = 0; index < files; index++) await writeFile(path.join(source, `day-${Math.floor(index / 500)}`, `event-${index}.json`), randomBytes(1024));
    const inventory = { rcloneRemotes: { [REMOTE]: { store: 'bench' } }, stores: { bench: { endpoint: server.endpoint, region: 'us-east-1', bucket: 'bare-0', credentials: { ...S3RVER_CREDENTIALS } } } } as unknown as Inventory;

    const bare: number[] = [];
    const ours: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternating which side goes first, so neither always meets a warmer server.
      const sides = [
        () => bare.push(bareCopy(source, `${REMOTE}:bare-${round}/events`, server.endpoint)),
        async () => {
          const { ms, result } = await wrappedCopy(source, `${REMOTE}:ours-${round}/events`, inventory, work);
          if (result.transfers !== files) throw new Error(`rclone.copy copied ${result.transfers} of ${files} files`);
          ours.push(ms);
        },
      ];
      if (round % 2 === 1) sides.reverse();
      for (const side of sides) await side();
    }
    const best = (values: number[]) => Math.min(...values);
    const ratio = best(bare) / best(ours);
    console.log(`\nrclone copy of ${files} files of 1 KiB to s3rver on loopback (http); ${rounds} round(s), fastest of each side`);
    console.log(`| measurement | time | files/s |\n| --- | --- | --- |`);
    for (const [label, values] of [['rclone copy (baseline)', bare], ['rclone.copy', ours]] as const) {
      console.log(`| ${label} | ${(best(values) / 1000).toFixed(2)} s (all: ${values.map((ms) => (ms / 1000).toFixed(2)).join(', ')}) | ${Math.round(files / (best(values) / 1000))} |`);
    }
    console.log(`rclone.copy against a bare rclone copy: ratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}`);
  } finally {
    if (inheritedConfig === undefined) delete process.env.RCLONE_CONFIG;
    else process.env.RCLONE_CONFIG = inheritedConfig;
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

runEntryPoint(main);
