/**
 * Benchmark of backrest.plans (each plan's last snapshot and age, from a Backrest config.json and real
 * restic) against what a person would type instead to learn the same: `restic snapshots --json --tag
 * plan:<id> --latest 1` once per plan, with the repo's password, each answer parsed. Both sides read
 * the same local repository in the same run, alternating, printed as a ratio. backrest.plans asks restic
 * once per repo and sorts the snapshots out by their `plan:` tag, so it should gain with every plan;
 * every restic run spends about half a second deriving the repository key. Not a test: numbers depend
 * on the machine.
 *
 *   npm run bench                                  # 12 plans of 3 snapshots each in one repo
 *   LIFEBOAT_BENCH_BACKREST_PLANS=4 npm run bench  # quick run
 *   LIFEBOAT_BENCH_RUNS=5 npm run bench            # rounds (best of each side is kept)
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { backrestPlans } from '../src/actions/backrest/plans';
import type { BackrestPlansResult } from '../src/actions/backrest/report';
import { createActionContext } from '../src/core/actions/context';
import { runEntryPoint } from './entryPoint';

const run = promisify(execFile);
const PASSWORD = 'bench password';
const SNAPSHOTS_PER_PLAN = 3;
const TARGET_RATIO = 1;

function resticEnv(repository: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: PASSWORD };
}

/** What a person types per plan: its newest snapshot, read from restic's JSON. */
async function bare(repository: string, plans: readonly string[]): Promise<{ ms: number; found: number }> {
  const started = performance.now();
  let found = 0;
  for (const plan of plans) {
    const { stdout } = await run('restic', ['snapshots', '--json', '--tag', `plan:${plan}`, '--latest', '1'], { env: resticEnv(repository), maxBuffer: 64 * 1024 * 1024 });
    if ((JSON.parse(stdout) as unknown[]).length > 0) found++;
  }
  return { ms: performance.now() - started, found };
}

async function ours(workspace: string): Promise<{ ms: number; found: number }> {
  const ctx = createActionContext({ workspaceDir: workspace, inventory: {} });
  const started = performance.now();
  try {
    const result = (await backrestPlans.run(backrestPlans.params.parse({ config: 'config.json' }), ctx)) as BackrestPlansResult;
    return { ms: performance.now() - started, found: result.plans.filter((plan) => plan.lastSnapshot !== undefined).length };
  } finally {
    await ctx.clients.disposeAll();
  }
}

async function main(): Promise<void> {
  const planCount = Number(process.env.LIFEBOAT_BENCH_BACKREST_PLANS ?? 12);
  const rounds = Number(process.env.LIFEBOAT_BENCH_RUNS ?? 3);
  const workspace = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-backrest-'));
  try {
    const repository = path.join(workspace, 'repo');
    const data = path.join(workspace, 'data');
    await mkdir(data);
    await writeFile(path.join(data, 'file.txt'), 'bench\n');
    await run('restic', ['init'], { env: resticEnv(repository) });
    const plans = Array.from({ length: planCount }, (_, index) => `plan-${String(index).padStart(2, '0')}`);
    for (const plan of plans) {
      for (let index = 0; index < SNAPSHOTS_PER_PLAN; index++) await run('restic', ['backup', '--tag', `plan:${plan}`, '--tag', 'created-by:bench', '--', data], { env: resticEnv(repository) });
    }
    const config = {
      version: 4,
      instance: 'bench',
      repos: [{ id: 'local', uri: repository, password: PASSWORD }],
      plans: plans.map((id) => ({ id, repo: 'local', paths: [data], schedule: { cron: '0 3 * * *' }, retention: { policyKeepLastN: 7 } })),
    };
    await writeFile(path.join(workspace, 'config.json'), JSON.stringify(config));
    const times = { bare: [] as number[], ours: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      const sides = [['bare', () => bare(repository, plans)], ['ours', () => ours(workspace)]] as const;
      // Alternating which side goes first, so neither always meets a warmer page cache.
      for (const [side, measure] of round % 2 === 0 ? sides : [...sides].reverse()) {
        const measured = await measure();
        if (measured.found !== planCount) throw new Error(`${side} found the last snapshot of ${measured.found} of ${planCount} plans`);
        times[side].push(measured.ms);
      }
    }
    const best = (values: number[]) => Math.min(...values);
    const ratio = best(times.bare) / best(times.ours);
    console.log(`\nLast snapshot of each of ${planCount} Backrest plans (${planCount * SNAPSHOTS_PER_PLAN} snapshots in one local repo); ${rounds} round(s), fastest of each side`);
    console.log('| measurement | time |\n| --- | --- |');
    for (const [label, values] of [['restic snapshots --latest 1 per plan (baseline)', times.bare], ['backrest.plans', times.ours]] as const) {
      console.log(`| ${label} | ${best(values).toFixed(0)} ms (all: ${values.map((ms) => ms.toFixed(0)).join(', ')}) |`);
    }
    console.log(`backrest.plans against restic per plan: ratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}) ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}`);
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}

runEntryPoint(main);
