import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { tierApply, type TierApplyResult } from '../../src/actions/tier/apply';
import { paramSchemaAt } from '../../src/core/actions/fields';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import { paramsFromPicks } from '../../src/core/browse/palette';
import { ClientPool } from '../../src/core/actions/clients';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, ActionPlan, Inventory } from '../../src/core/actions/spec';
import { printable } from '../../src/core/render';
import { REPO_ROOT } from '../support/paths';
import { readTree, startTwoHosts, type TreeEntry, type TwoHosts } from '../support/twoHosts';

const DAY_S = 86_400;
/** A recording name that breaks any command text it is pasted into. */
const HOSTILE = `-x $(touch PWNED) 'a"b\nc\`d.mp4`;

interface Recording {
  path: string;
  ageDays: number;
  mode?: number;
}

async function record(root: string, { path, ageDays, mode }: Recording): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, randomBytes(1000 + path.length));
  if (mode !== undefined) await chmod(file, mode);
  const time = Date.now() / 1000 - ageDays * DAY_S;
  await utimes(file, time, time);
}

/** The files of a tree only (folders change as files come and go). */
function filesOf(tree: Map<string, TreeEntry>): Map<string, TreeEntry> {
  return new Map([...tree].filter(([, entry]) => entry.type === 'file'));
}

describe('tier.apply between two real sshd hosts', function () {
  this.timeout(180_000);
  let hosts: TwoHosts;
  let workspace: string;
  let pool: ClientPool;
  let tier1: string;
  let tier2: string;
  let archiveDir: string;

  before(async () => {
    // The tier 2 host has an rclone remote `archive:` (the local backend standing for Google Drive).
    hosts = await startTwoHosts({ pi5Config: ['SetEnv RCLONE_CONFIG=/dev/null RCLONE_CONFIG_ARCHIVE_TYPE=local'] });
  });

  after(async () => {
    await hosts?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-tier-'));
    pool = new ClientPool();
    tier1 = join(hosts.pi4.remoteDir, 'videos');
    tier2 = join(hosts.pi5.remoteDir, `ssd videos $(touch PWNED) '"`);
    archiveDir = join(hosts.pi5.remoteDir, 'archive');
    for (const dir of [tier1, tier2, archiveDir]) await rm(dir, { recursive: true, force: true });
    await mkdir(tier1);
    await mkdir(tier2);
    for (const recording of [
      { path: 'front/today.mp4', ageDays: 0.5 },
      { path: 'front/day3.mp4', ageDays: 3.5, mode: 0o600 },
      { path: `front/${HOSTILE}`, ageDays: 3.2 },
      { path: 'front/day6.mp4', ageDays: 6.5 },
      { path: 'back/day9.mp4', ageDays: 9.5 },
      { path: 'back/day9 flagged.mp4', ageDays: 9.5 },
      { path: 'back/day9 flagged.mp4.keep', ageDays: 0.1 },
    ]) {
      await record(tier1, recording);
    }
    for (const recording of [
      { path: 'old/day4.mp4', ageDays: 4.2 },
      { path: 'old/day8.mp4', ageDays: 8.5 },
      { path: `old/${HOSTILE}`, ageDays: 8.1 },
      { path: 'old/day10 flagged.mp4', ageDays: 10 },
      { path: 'old/day10 flagged.mp4.keep', ageDays: 10 },
    ]) {
      await record(tier2, recording);
    }
  });

  afterEach(async () => {
    await pool.disposeAll();
    await rm(workspace, { recursive: true, force: true });
  });

  function context(inventory: Inventory = hosts.inventory): ActionContext {
    return createActionContext({ workspaceDir: workspace, inventory, clients: pool });
  }

  function params(extra: Record<string, unknown>) {
    return tierApply.params.parse({ tier1: { host: 'pi4', path: tier1 }, tier2: { host: 'pi5', path: tier2 }, moveAfterDays: 2, notifyAfterDays: 5, expireAfterDays: 7, ...extra });
  }

  const counted = (plan: ActionPlan, detail: RegExp) => {
    const operation = plan.operations.find((candidate) => detail.test(candidate.detail ?? ''));
    assert.ok(operation, `no operation ${detail}`);
    return operation.items;
  };

  for (const method of ['rsync', 'tar'] as const) {
    it(`plans with counts and bytes per tier, changes nothing in the plan, then moves (times and modes kept), deletes expired files, keeps flagged ones; a re-run does nothing (${method})`, async () => {
      const before1 = await readTree(tier1);
      const before2 = await readTree(tier2);
      const plan = await tierApply.plan(params({ expired: 'delete', method }), context());
      assert.deepEqual(await readTree(tier1), before1, 'the plan moved nothing');
      assert.deepEqual(await readTree(tier2), before2, 'the plan deleted nothing');
      assert.equal(counted(plan, /^stay on tier 1/), 1);
      assert.equal(counted(plan, /^move from/), 6, 'five recordings and the marker of the flagged one');
      assert.equal(counted(plan, /^due for the notice/), 1);
      assert.equal(counted(plan, /^delete \(older than 7 days\)/), 3);
      assert.equal(counted(plan, /^flagged with \.keep/), 2);
      const moveBytes = plan.operations.find((operation) => /^move from/.test(operation.detail ?? ''))?.bytes;
      assert.equal(moveBytes, [...before1].filter(([path]) => path !== 'front/today.mp4').reduce((sum, [path, entry]) => sum + (entry.type === 'file' ? 1000 + path.length : 0), 0));
      assert.deepEqual(plan.operations.filter((operation) => operation.kind === 'delete' && operation.items === undefined).map((operation) => operation.target.slice(`pi5:${tier2}/`.length)).sort(), ['back/day9.mp4', 'old/day8.mp4', printable(`old/${HOSTILE}`)].sort());
      assert.equal(plan.destructive, true);
      assert.match(plan.summary, new RegExp(`move with ${method}`));

      const result = (await tierApply.run(params({ expired: 'delete', method }), context())) as TierApplyResult;
      assert.equal(result.moved.files, 6);
      assert.equal(result.deleted.files, 3);
      assert.equal(result.retained.files, 2);
      assert.equal(result.notice.files, 1);
      assert.match(result.notice.message, /^1 recording\(s\), .* older than 5 days and will be deleted after 7 days unless flagged with \.keep$/);

      const after1 = filesOf(await readTree(tier1));
      assert.deepEqual([...after1.keys()], ['front/today.mp4'], 'only the young recording stays on tier 1');
      const after2 = filesOf(await readTree(tier2));
      assert.deepEqual([...after2.keys()].sort(), ['back/day9 flagged.mp4', 'back/day9 flagged.mp4.keep', 'front/day3.mp4', 'front/day6.mp4', `front/${HOSTILE}`, 'old/day10 flagged.mp4', 'old/day10 flagged.mp4.keep', 'old/day4.mp4'].sort());
      for (const path of ['front/day3.mp4', `front/${HOSTILE}`, 'front/day6.mp4', 'back/day9 flagged.mp4', 'back/day9 flagged.mp4.keep']) {
        assert.deepEqual(after2.get(path), before1.get(path), `${path} arrived with its bytes, mode and time`);
      }

      const again = await tierApply.plan(params({ expired: 'delete', method }), context());
      assert.equal(counted(again, /^move from/), 0);
      assert.equal(counted(again, /^delete \(older than 7 days\)/), 0);
      assert.equal(again.destructive, false);
      const settled1 = await readTree(tier1);
      const settled2 = await readTree(tier2);
      const rerun = (await tierApply.run(params({ expired: 'delete', method }), context())) as TierApplyResult;
      assert.deepEqual([rerun.moved.files, rerun.deleted.files, rerun.archived.files], [0, 0, 0]);
      assert.deepEqual(await readTree(tier1), settled1, 'the re-run changed nothing on tier 1');
      assert.deepEqual(await readTree(tier2), settled2, 'the re-run changed nothing on tier 2');
      const sentinels = [hosts.pi4.remoteDir, hosts.pi5.remoteDir, userInfo().homedir, process.cwd()].filter((dir) => existsSync(join(dir, 'PWNED')));
      assert.deepEqual(sentinels, []);
    });
  }

  it('archives expired recordings with rclone on the tier 2 host before they leave it, and keeps flagged ones', async () => {
    const before1 = await readTree(tier1);
    const before2 = await readTree(tier2);
    const result = (await tierApply.run(params({ expired: 'archive', archiveRemote: `archive:${archiveDir}` }), context())) as TierApplyResult;
    assert.equal(result.archived.files, 3);
    const archived = filesOf(await readTree(archiveDir));
    assert.deepEqual([...archived.keys()].sort(), ['back/day9.mp4', 'old/day8.mp4', `old/${HOSTILE}`].sort());
    assert.equal(archived.get(`old/${HOSTILE}`)?.content, before2.get(`old/${HOSTILE}`)?.content);
    assert.equal(archived.get('back/day9.mp4')?.content, before1.get('back/day9.mp4')?.content);
    assert.equal(archived.get('old/day8.mp4')?.content, before2.get('old/day8.mp4')?.content);
    assert.equal(archived.get('old/day8.mp4')?.mtimeSeconds, before2.get('old/day8.mp4')?.mtimeSeconds, 'rclone keeps the time');
    const after2 = filesOf(await readTree(tier2));
    assert.ok(!after2.has('old/day8.mp4') && !after2.has('back/day9.mp4') && !after2.has(`old/${HOSTILE}`), 'archived recordings left tier 2');
    assert.deepEqual([hosts.pi5.remoteDir, userInfo().homedir].filter((dir) => existsSync(join(dir, 'PWNED'))), [], 'no name ran as a command');
    assert.ok(after2.has('old/day10 flagged.mp4') && after2.has('back/day9 flagged.mp4'), 'flagged recordings stay');
    const rerun = (await tierApply.run(params({ expired: 'archive', archiveRemote: `archive:${archiveDir}` }), context())) as TierApplyResult;
    assert.deepEqual([rerun.moved.files, rerun.archived.files], [0, 0]);
  });

  it("walks the palette's Apply the Tiered Storage Policy…: hosts from the tree, folders typed, the remote asked only for archive", async () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.applyStorageTiers');
    assert.ok(command);
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === command.command)?.title, 'Apply the Tiered Storage Policy…');
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), join(hosts.pi4.remoteDir, 'lifeboat.yaml'));
    const answers: Record<string, string> = { 'tier1.host': 'pi4', 'tier1.path': tier1, 'tier2.host': 'pi5', 'tier2.path': tier2, archiveRemote: `archive:${archiveDir}` };
    const walk = async (expired: string) => {
      const picked: Record<string, unknown> = {};
      const asked: string[] = [];
      for (const step of command.steps) {
        if (step.kind === 'text' && !(step.when?.(picked) ?? true)) continue;
        asked.push(step.param);
        if (step.kind === 'node') {
          const offered = (await model.children(step.under(picked), { limit: 100 }, context())).nodes.filter((node) => step.accept?.(node) ?? true);
          picked[step.param] = offered.find((node) => node.label === answers[step.param])?.label;
        } else if (step.kind === 'choice') {
          assert.deepEqual(step.options.map((option) => option.value), ['archive', 'delete']);
          picked[step.param] = expired;
        } else {
          assert.ok(paramSchemaAt(tierApply.params, step.param)?.safeParse(answers[step.param]).success, step.param);
          picked[step.param] = answers[step.param];
        }
      }
      return { asked, params: paramsFromPicks(picked) };
    };
    const deleting = await walk('delete');
    assert.ok(!deleting.asked.includes('archiveRemote'), 'no remote is asked for when expired recordings are deleted');
    assert.match(paramSchemaAt(tierApply.params, 'archiveRemote')?.safeParse('no-colon').error?.issues[0]?.message ?? '', /expected an rclone remote/);
    const archiving = await walk('archive');
    assert.deepEqual(archiving.params, { tier1: { host: 'pi4', path: tier1 }, tier2: { host: 'pi5', path: tier2 }, expired: 'archive', archiveRemote: `archive:${archiveDir}` });
    const result = (await tierApply.run(tierApply.params.parse(archiving.params), context())) as TierApplyResult;
    assert.equal(result.archived.files, 3);
  });

  it('refuses a policy whose ages do not grow, and archive without a remote, before touching anything', async () => {
    const before = await readTree(tier1);
    await assert.rejects(tierApply.plan(params({ expired: 'delete', notifyAfterDays: 9 }), context()), /the ages must grow/);
    await assert.rejects(tierApply.plan(params({ expired: 'archive' }), context()), /needs `archiveRemote`/);
    assert.deepEqual(await readTree(tier1), before);
  });
});
