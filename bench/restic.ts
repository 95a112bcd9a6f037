/**
 * Benchmark of browsing and restoring restic snapshots with the real restic, next to what a person (or
 * Backrest, per click) would run instead, in the same run, printed side by side as ratios. Not a
 * test: numbers depend on the machine and its load.
 *
 *   npm run bench                     # all benchmarks
 *   node out/bench/restic.js          # this one (after `node esbuild.config.mjs --tests`)
 *
 * Browsing: a snapshot of 100 000 files in 5 000 folders (d00…d49 / e00…e99 / 20 files each), opened
 * as the Backups tree opens it (the browse model, in process) and as `lifeboat ls` prints it (the CLI,
 * a process of its own): the first level (target ≤ 1 s), then each further level (target ≤ 0.5 s),
 * against `restic ls <snapshot> <folder>` run per click. The two process-per-level sides alternate, five
 * times each, and their medians are compared: restic's own time for a level varies widely between runs.
 *
 * Restoring: one 1 MiB file out of a 1 GiB snapshot with `restic.restore` (in process, as the
 * extension runs it, and through the CLI) against `restic restore --include` of the same file (target
 * ≤ 1.1×). The 1 GiB are 960 MiB of sparse files (zeros: restic stores them once, so making the
 * snapshot takes seconds) and 64 MiB of random data in 64 files, the restored one among them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { builtinActions, builtinBrowsers } from '../src/actions';
import { ResticRepository } from '../src/clients/restic';
import { createActionContext, environmentSecrets } from '../src/core/actions/context';
import { ActionRegistry } from '../src/core/actions/registry';
import type { ActionContext, Inventory } from '../src/core/actions/spec';
import { BrowseModel } from '../src/core/browse/model';
import { joinPath } from '../src/core/browse/node';
import { openRepository } from '../src/actions/restic/repository';
import { snapshotTreeIndex } from '../src/actions/restic/treeIndex';
import { runCli, runProcess, writeCliWorkspace } from './cliRun';
import { runEntryPoint } from './entryPoint';
import { median } from './statistics';

const PASSWORD = 'bench password';
const MIB = 1024 * 1024;
const RUNS = 3;
/** Runs per level of `lifeboat ls` and of `restic ls`, whose medians are compared. */
const BROWSE_RUNS = 5;
const FIRST_LEVEL_TARGET_MS = 1000;
const FURTHER_LEVEL_TARGET_MS = 500;
const RESTORE_TARGET = 1.1;
const RESTORED_FILE = '/random/r17.bin';

function makeTree(root: string): void {
  for (let d = 0; d < 50; d++) {
    for (let e = 0; e < 100; e++) {
      const folder = path.join(root, `d${String(d).padStart(2, '0')}`, `e${String(e).padStart(2, '0')}`);
      mkdirSync(folder, { recursive: true });
      for (let f = 0; f < 20; f++) writeFileSync(path.join(folder, `f${String(f).padStart(2, '0')}.txt`), `${d} ${e} ${f}\n`);
    }
  }
}

async function makeGibibyte(root: string): Promise<void> {
  mkdirSync(path.join(root, 'sparse'), { recursive: true });
  mkdirSync(path.join(root, 'random'), { recursive: true });
  for (let index = 0; index < 15; index++) {
    const file = await open(path.join(root, 'sparse', `z${String(index).padStart(2, '0')}.bin`), 'w');
    await file.truncate(64 * MIB);
    await file.close();
  }
  for (let index = 0; index < 64; index++) writeFileSync(path.join(root, 'random', `r${String(index).padStart(2, '0')}.bin`), randomBytes(MIB));
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

const seconds = (ms: number) => (ms < 10 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-restic-'));
  const registry = new ActionRegistry(builtinActions);
  const repositoryPath = path.join(work, 'repo');
  const env = { ...process.env, RESTIC_REPOSITORY: repositoryPath, RESTIC_PASSWORD: PASSWORD };
  const inventory = { repositories: { bench: { repository: repositoryPath, password: 'secret:bench' } } };
  const context = (): ActionContext => createActionContext({ workspaceDir: work, inventory: inventory as Inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_BENCH: PASSWORD }) });
  try {
    const loadBefore = loadavg();
    const generated = await timed(async () => {
      makeTree(path.join(work, 'tree'));
      await makeGibibyte(path.join(work, 'gib'));
    });
    const repository = new ResticRepository({ repository: repositoryPath, password: PASSWORD });
    await repository.init();
    const backups = await timed(async () => ({
      tree: (await repository.backup(['.'], { cwd: path.join(work, 'tree') })).summary.snapshotId ?? '',
      gib: (await repository.backup(['.'], { cwd: path.join(work, 'gib') })).summary.snapshotId ?? '',
    }));
    // restic 0.14's backup summary names the snapshot by its short id; the tree names it by the full one.
    const fullId = async (shortId: string) => (await repository.snapshots()).find((snapshot) => snapshot.id.startsWith(shortId))?.id ?? shortId;
    const [tree, gib] = [await fullId(backups.value.tree), await fullId(backups.value.gib)];
    const version = (await runProcess('restic', ['version'])).trim();
    console.log(`restic benchmark: ${version}; data made in ${seconds(generated.ms)}, both snapshots in ${seconds(backups.ms)} (100 000 files in 5 000 folders; 1 GiB of which 960 MiB sparse)`);

    // Browsing, in process: the tree's first expand of the snapshot, then one level further each click.
    const levels = [[], ['d07'], ['d07', 'e42']] as const;
    // How long reading the whole tree takes (the browser does it in the background from the first folder opened).
    const indexCtx = context();
    // The read keeps no process alive by itself (a `lifeboat ls` exits without waiting for it): this one waits for it.
    const keepAlive = setInterval(() => undefined, 1000);
    const indexRead = await timed(async () => {
      const session = { ctx: indexCtx, inventoryFile: 'lifeboat.yaml', readAhead: true, cached: <Value>(_key: string, load: () => Promise<Value>) => load() };
      const repository = await openRepository(indexCtx, 'bench');
      await (await snapshotTreeIndex(session, joinPath('restic', 'bench', tree), repository))?.read(repository, tree);
    });
    clearInterval(keepAlive);
    const pauseMs = Math.ceil(indexRead.ms * 1.5);
    const browse = async (pause: boolean) => {
      const ctx = context();
      const model = new BrowseModel(builtinBrowsers, registry, 'lifeboat.yaml');
      const times: number[] = [];
      for (const [index, segments] of levels.entries()) {
        // A person reads the first level before clicking on: by then the tree read in the background is there.
        if (index === 1 && pause) await new Promise((resolve) => setTimeout(resolve, pauseMs));
        const { ms, value } = await timed(() => model.children(joinPath('restic', 'bench', tree, ...segments), { limit: 50 }, ctx));
        if (value.nodes.some((node) => node.kind === 'error')) throw new Error(value.nodes.map((node) => node.description).join('\n'));
        times.push(ms);
      }
      await ctx.clients.disposeAll();
      return times;
    };
    const clicked = await browse(false);
    // The tree read the first surface started in the background ends before the next surface's first expand is timed.
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const paced = await browse(true);
    // JSON is YAML.
    writeFileSync(path.join(work, 'lifeboat.yaml'), JSON.stringify(inventory));
    const cliEnv = { ...process.env, LIFEBOAT_SECRET_BENCH: PASSWORD };
    const cliPath = path.join(__dirname, '..', '..', 'dist', 'cli.js');
    // restic's own time for one level varies by half a second from run to run here: each side runs
    // BROWSE_RUNS times, alternating, and the medians are compared.
    const perClickRuns = levels.map(() => [] as number[]);
    const cliRuns = levels.map(() => [] as number[]);
    for (let run = 0; run < BROWSE_RUNS; run++) {
      for (const [index, segments] of levels.entries()) {
        perClickRuns[index]!.push((await timed(() => runProcess('restic', ['ls', '--json', tree, `/${segments.join('/')}`], env))).ms);
        cliRuns[index]!.push((await timed(() => runProcess(process.execPath, [cliPath, 'ls', joinPath('restic', 'bench', tree, ...segments)], cliEnv, work))).ms);
      }
    }
    const [perClick, cli] = [perClickRuns.map(median), cliRuns.map(median)];
    const samples = (runs: number[][]) => runs.map((times) => times.map(seconds).join(', ')).join('; ');

    const rows = levels.map((segments, index) => {
      const label = index === 0 ? 'first level (/)' : `/${segments.join('/')}`;
      return `| ${label} | ${seconds(clicked[index] ?? 0)} | ${seconds(paced[index] ?? 0)} | ${seconds(cli[index] ?? 0)} | ${seconds(perClick[index] ?? 0)} | ${((perClick[index] ?? 0) / Math.max(paced[index] ?? 0, 0.1)).toFixed(perClick[index]! > 100 * paced[index]! ? 0 : 2)}× |`;
    });
    console.log(['', `| level | tree, clicked at once | tree, clicked ${seconds(pauseMs)} after the first expand (the whole tree reads in ${seconds(indexRead.ms)}) | \`lifeboat ls\` (a process each, median of ${BROWSE_RUNS}) | \`restic ls\` per click (median of ${BROWSE_RUNS}) | per click vs tree |`, '| --- | --- | --- | --- | --- | --- |', ...rows, ''].join('\n'));
    const further = Math.max(...paced.slice(1));
    console.log(`first level ${seconds(paced[0] ?? 0)} in the tree, ${seconds(cli[0] ?? 0)} by \`lifeboat ls\` (target ≤ 1 s: ${verdict(Math.max(paced[0] ?? 0, cli[0] ?? 0) <= FIRST_LEVEL_TARGET_MS)}); further levels at most ${seconds(further)} once the tree is read (target ≤ 0.5 s: ${verdict(further <= FURTHER_LEVEL_TARGET_MS)}), ${seconds(Math.max(...clicked.slice(1)))} when clicked before it is, ${seconds(Math.max(...cli.slice(1)))} by \`lifeboat ls\` (a restic run per process)`);
    console.log(`every run, per level: \`lifeboat ls\` ${samples(cliRuns)}; \`restic ls\` ${samples(perClickRuns)}`);

    // Restoring one file: restic's own --include, Lifeboat's action in process and through the CLI, alternating.
    const cliWorkspace = path.join(work, 'cli');
    const restores = { restic: [] as number[], action: [] as number[], cli: [] as number[] };
    const expected = createHash('sha256').update(await readFile(path.join(work, 'gib', RESTORED_FILE))).digest('hex');
    const check = async (target: string) => {
      const digest = createHash('sha256').update(await readFile(path.join(target, RESTORED_FILE))).digest('hex');
      if (digest !== expected) throw new Error(`${target}${RESTORED_FILE} is not the file backed up`);
    };
    for (let run = 0; run < RUNS; run++) {
      const baselineTarget = path.join(work, `restic-${run}`);
      restores.restic.push((await timed(() => runProcess('restic', ['restore', gib, '--target', baselineTarget, '--include', RESTORED_FILE], env))).ms);
      await check(baselineTarget);
      const actionTarget = path.join(work, `action-${run}`);
      const ctx = context();
      const restore = registry.get('restic.restore');
      if (!restore) throw new Error('restic.restore is not registered');
      restores.action.push((await timed(() => restore.run(restore.params.parse({ repository: 'bench', snapshot: gib, paths: [RESTORED_FILE], target: actionTarget }), ctx))).ms);
      await ctx.clients.disposeAll();
      await check(actionTarget);
      const cliTarget = path.join(work, `cli-${run}`);
      await writeCliWorkspace(cliWorkspace, inventory, { id: 'restic.restore', params: { repository: 'bench', snapshot: gib, paths: [RESTORED_FILE], target: cliTarget } });
      restores.cli.push((await runCli(cliWorkspace, cliEnv)).ms);
      await check(cliTarget);
    }
    const best = (values: number[]) => Math.min(...values);
    const baseline = best(restores.restic);
    console.log(
      [
        '',
        `| restore ${RESTORED_FILE} (1 MiB) of the 1 GiB snapshot | time (fastest of ${RUNS}) | vs restic restore --include |`,
        '| --- | --- | --- |',
        `| restic restore --include | ${seconds(baseline)} | 1.00× |`,
        `| restic.restore in process (the extension) | ${seconds(best(restores.action))} | ${(best(restores.action) / baseline).toFixed(2)}× |`,
        `| lifeboat run (CLI process, Node start-up included) | ${seconds(best(restores.cli))} | ${(best(restores.cli) / baseline).toFixed(2)}× |`,
        '',
      ].join('\n'),
    );
    console.log(`restic.restore vs restic restore --include: ${(best(restores.action) / baseline).toFixed(2)}× (target ≤ ${RESTORE_TARGET}×: ${verdict(best(restores.action) / baseline <= RESTORE_TARGET)}); every restored file checked by SHA-256`);
    const load = (figures: number[]) => figures.map((figure) => figure.toFixed(2)).join(' ');
    console.log(`load average ${load(loadBefore)} before, ${load(loadavg())} after; Node ${process.version}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runEntryPoint(main);
