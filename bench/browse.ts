/**
 * Benchmark of the browse model on long listings: a location of 10 000 archives (a local folder, and
 * the same on an SSH host, the test bed's real sshd) and a Frigate person with 5 000 images (the
 * simulator). Not a test: numbers depend on the machine, and targets are printed as met or not, never
 * asserted.
 *
 *   npm run bench
 *   LIFEBOAT_BENCH_ARCHIVES=50000 LIFEBOAT_BENCH_IMAGES=20000 node out/bench/browse.js
 *
 * - The model, in this process: the first page of 50 nodes as the tree asks for it, once with the
 *   listing (the folder read, the SSH `ls`, the `/api/faces` answer) and once the listing has arrived
 *   (it is kept for the next pages); then every page through to the end, the slowest one kept; and the
 *   heap and RSS (after a full GC) before, after the first page and after the last.
 * - The shipped CLI, `lifeboat ls PATH`, in a process of its own, against what a person types:
 *   `ls -1 | head -50`, `ssh host ls -1 | head -50`, `curl /api/faces`. Its wall time includes Node's
 *   start and the listing; the time it spends after the listing arrived is that wall time less
 *   `lifeboat ls` of the roots (start-up, no listing) and the listing as measured in the model
 *   (derived, so rough on a loaded machine).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ActionContext } from '../src/core/actions/spec';
import type { BrowseModel } from '../src/core/browse/model';
import type { FrigateSimulator } from '../test/testbed/frigateSim';
import type { Sshd } from '../test/testbed/sshd';
import { runProcess, writeCliWorkspace, type CliExitReport } from './cliRun';
import { runEntryPoint } from './entryPoint';
import { childSshTarget, opensshCommand } from './sshHost';
import { median } from './statistics';

const ARCHIVES = Number(process.env.LIFEBOAT_BENCH_ARCHIVES ?? 10_000);
const IMAGES = Number(process.env.LIFEBOAT_BENCH_IMAGES ?? 5_000);
const PAGE = 50;
const RUNS = 5;
const FIRST_PAGE_TARGET_MS = 300;
/** Heap after the last page against after the first: flat allows GC noise, not a node kept per page. */
const FLAT_TARGET = 1.1;
const FRIGATE_PASSWORD = 'frigate-admin-pass';
const CLI = path.join(__dirname, '..', '..', 'dist', 'cli.js');

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface Memory {
  heapMiB: number;
  rssMiB: number;
}

function memory(): Memory {
  collectGarbage();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapMiB: heapUsed / 1048576, rssMiB: rss / 1048576 };
}

interface ModelRun {
  /** The first page, the listing read with it. */
  firstCallMs: number;
  /** The first page again, from the listing kept: the time from the listing having arrived to the nodes. */
  cachedMs: number;
  slowestPageMs: number;
  pages: number;
  nodes: number;
  before: Memory;
  afterFirst: Memory;
  afterAll: Memory;
}

interface Source {
  label: string;
  path: string;
  expected: number;
  /** What a person types for the first 50 names, as a bash script. */
  baseline: string;
  baselineLabel: string;
}

async function timed<Result>(work: () => Promise<Result>): Promise<{ ms: number; result: Result }> {
  const started = performance.now();
  const result = await work();
  return { ms: performance.now() - started, result };
}

async function measureModel(model: BrowseModel, source: Source, ctx: ActionContext): Promise<ModelRun> {
  const before = memory();
  const first = await timed(() => model.children(source.path, { limit: PAGE }, ctx));
  if (first.result.nodes[0]?.kind === 'error') throw new Error(`${source.label}: ${first.result.nodes[0].description ?? ''}`);
  const afterFirst = memory();
  const cached: number[] = [];
  for (let run = 0; run < RUNS; run++) cached.push((await timed(() => model.children(source.path, { limit: PAGE }, ctx))).ms);
  let cursor: string | undefined;
  let pages = 0;
  let nodes = 0;
  let slowestPageMs = 0;
  do {
    const page = await timed(() => model.children(source.path, { limit: PAGE, ...(cursor === undefined ? {} : { cursor }) }, ctx));
    slowestPageMs = Math.max(slowestPageMs, page.ms);
    nodes += page.result.nodes.length;
    pages++;
    cursor = page.result.next;
  } while (cursor !== undefined);
  if (nodes !== source.expected) throw new Error(`${source.label}: paged through ${nodes} nodes, not ${source.expected}`);
  return { firstCallMs: first.ms, cachedMs: median(cached), slowestPageMs, pages, nodes, before, afterFirst, afterAll: memory() };
}

interface CliRun {
  ms: number;
  rows: number;
  report: CliExitReport;
}

/** `lifeboat ls` as a person runs it, with the exit report (peak RSS) of cliRun.ts preloaded. */
async function lifeboatLs(workspace: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const { ms, result } = await timed(() => runProcess(process.execPath, ['--require', path.join(workspace, 'report.js'), CLI, ...args], env, workspace));
  const lines = result.trim().split('\n');
  return { ms, rows: lines.slice(0, -1).filter((line) => line !== '').length, report: JSON.parse(lines.at(-1) ?? '{}') as CliExitReport };
}

async function medianMs(work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) times.push((await timed(work)).ms);
  return median(times);
}

function archiveNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => {
    const date = new Date(Date.UTC(2020, 0, 1) + index * 60_000).toISOString();
    return `backup-${date.slice(0, 10).replace(/-/g, '')}-${date.slice(11, 19).replace(/:/g, '')}.tar.gz`;
  });
}

async function writeArchives(folder: string, names: readonly string[]): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (let start = 0; start < names.length; start += 500) await Promise.all(names.slice(start, start + 500).map((name) => writeFile(path.join(folder, name), 'archive')));
}

async function fillLibrary(sim: FrigateSimulator, image: Buffer): Promise<void> {
  for (let start = 0; start < IMAGES; start += 500) {
    await Promise.all(Array.from({ length: Math.min(500, IMAGES - start) }, (_, offset) => sim.addFace('Asha', `Asha_${1770000000 + start + offset}.webp`, image)));
  }
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
const mib = (value: number) => `${value.toFixed(1)} MiB`;
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function main(): Promise<void> {
  const [{ FrigateSimulator: Simulator }, { startSshd }, { solidWebp }, { builtinActions, builtinBrowsers }, { ActionRegistry }, { BrowseModel: Model }, { createActionContext, environmentSecrets }] = await Promise.all([
    import('../test/testbed/frigateSim'),
    import('../test/testbed/sshd'),
    import('../test/testbed/webp'),
    import('../src/actions'),
    import('../src/core/actions/registry'),
    import('../src/core/browse/model'),
    import('../src/core/actions/context'),
  ]);
  const [sim, sshd]: [FrigateSimulator, Sshd] = await Promise.all([Simulator.start({ users: { admin: { password: FRIGATE_PASSWORD, role: 'admin' } } }), startSshd()]);
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-browse-'));
  try {
    const names = archiveNames(ARCHIVES);
    const localFolder = path.join(work, 'big');
    const remoteFolder = path.join(sshd.remoteDir, 'big');
    await Promise.all([writeArchives(localFolder, names), writeArchives(remoteFolder, names), fillLibrary(sim, solidWebp({ width: 112, height: 112 }))]);

    const inventory = {
      frigate: { home: { url: sim.url, auth: { username: 'admin', password: 'secret:frigate_password' }, tls: { insecure: true } } },
      hosts: { nas: childSshTarget(sshd) },
      locations: { big: { path: localFolder }, remote: { host: 'nas', path: remoteFolder } },
    };
    const workspace = path.join(work, 'workspace');
    await writeCliWorkspace(workspace, inventory, { id: 'archive.list', params: { location: localFolder } });
    const env = { ...process.env, LIFEBOAT_SECRET_FRIGATE_PASSWORD: FRIGATE_PASSWORD, LIFEBOAT_SECRETS_FILE: '', HOME: workspace };
    const token = sim.token('admin');
    const sources: Source[] = [
      { label: `local folder, ${ARCHIVES} archives`, path: 'locations/big', expected: ARCHIVES, baseline: `ls -1 '${localFolder}' | head -50 > /dev/null`, baselineLabel: 'ls -1 \\| head -50' },
      { label: `SSH host folder, ${ARCHIVES} archives`, path: 'locations/remote', expected: ARCHIVES, baseline: `${opensshCommand(sshd)} ls -1 '${remoteFolder}' | head -50 > /dev/null`, baselineLabel: 'ssh host ls -1 \\| head -50' },
      { label: `Frigate person, ${IMAGES} images`, path: 'frigate/home/people/Asha', expected: IMAGES, baseline: `curl -sfk -H 'Authorization: Bearer ${token}' '${sim.url}/api/faces' > /dev/null`, baselineLabel: 'curl /api/faces' },
    ];

    const registry = new ActionRegistry(builtinActions);
    // `lifeboat ls` of the roots: Node's start, the CLI's modules and the inventory, no listing.
    const startupMs = await medianMs(() => runProcess(process.execPath, [CLI, 'ls'], env, workspace));
    console.log(`Browse model and lifeboat ls on long listings; pages of ${PAGE}; medians of ${RUNS} runs; lifeboat ls of the roots (start-up, no listing) takes ${ms(startupMs)}`);
    const rows: string[] = [];
    const verdicts: string[] = [];
    for (const source of sources) {
      const model = new Model(builtinBrowsers, registry, path.join(workspace, 'lifeboat.yaml'));
      const ctx = createActionContext({ workspaceDir: workspace, inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_FRIGATE_PASSWORD: FRIGATE_PASSWORD }) });
      let run: ModelRun;
      try {
        run = await measureModel(model, source, ctx);
      } finally {
        await ctx.clients.disposeAll();
      }
      const cliRuns: CliRun[] = [];
      for (let index = 0; index < RUNS; index++) cliRuns.push(await lifeboatLs(workspace, ['ls', source.path], env));
      if (cliRuns.some((cli) => cli.rows !== PAGE)) throw new Error(`${source.label}: lifeboat ls printed ${cliRuns.map((cli) => cli.rows).join(', ')} rows, not ${PAGE}`);
      const everything = await lifeboatLs(workspace, ['ls', source.path, '--all'], env);
      if (everything.rows !== source.expected) throw new Error(`${source.label}: lifeboat ls --all printed ${everything.rows} rows, not ${source.expected}`);
      const cliMs = median(cliRuns.map((cli) => cli.ms));
      const baselineMs = await medianMs(() => runProcess('bash', ['-c', source.baseline], env));
      const listingMs = Math.max(0, run.firstCallMs - run.cachedMs);
      const cliAfterListingMs = Math.max(0, cliMs - startupMs - listingMs);
      const growth = run.afterAll.heapMiB / run.afterFirst.heapMiB;
      rows.push(
        `| ${source.label} | ${ms(run.firstCallMs)} | ${ms(run.cachedMs)} | ${ms(run.slowestPageMs)} of ${run.pages} | ${ms(cliMs)} (peak RSS ${mib(median(cliRuns.map((cli) => cli.report.maxRssKiB)) / 1024)}; --all ${mib(everything.report.maxRssKiB / 1024)}) | ${source.baselineLabel}: ${ms(baselineMs)} | ${(cliMs / baselineMs).toFixed(1)}× |`,
        `| ↳ memory while paging (heap / RSS) | before ${mib(run.before.heapMiB)} / ${mib(run.before.rssMiB)} | after the first page ${mib(run.afterFirst.heapMiB)} / ${mib(run.afterFirst.rssMiB)} | after all ${run.pages} pages ${mib(run.afterAll.heapMiB)} / ${mib(run.afterAll.rssMiB)} | | | |`,
      );
      verdicts.push(
        `${source.label}: model's first page ${ms(run.cachedMs)} after the listing arrived (target ≤ ${FIRST_PAGE_TARGET_MS} ms: ${met(run.cachedMs <= FIRST_PAGE_TARGET_MS)}), slowest page ${ms(run.slowestPageMs)} (${met(run.slowestPageMs <= FIRST_PAGE_TARGET_MS)}); ` +
          `lifeboat ls after start-up and listing ≈ ${ms(cliAfterListingMs)} (derived; target ≤ ${FIRST_PAGE_TARGET_MS} ms: ${met(cliAfterListingMs <= FIRST_PAGE_TARGET_MS)}); ` +
          `heap after all pages ${growth.toFixed(2)}× after the first (target ≤ ${FLAT_TARGET}×, flat: ${met(growth <= FLAT_TARGET)})`,
      );
    }
    console.log(
      [
        '',
        '| listing | model: first page, listing included | model: first page, listing arrived | model: slowest page | lifeboat ls (wall, first page) | baseline (wall) | ls ÷ baseline |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
        ...verdicts,
      ].join('\n'),
    );
    console.log(`measured at load average ${loadavg().map((load) => load.toFixed(2)).join(' ')} on ${availableParallelism()} cores; Node ${process.version}`);
  } finally {
    await Promise.all([sim.stop(), sshd.stop()]);
    await rm(work, { recursive: true, force: true });
  }
}

runEntryPoint(main);
