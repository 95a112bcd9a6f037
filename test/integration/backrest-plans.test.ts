import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import type { BackrestPlansResult } from '../../src/actions/backrest/report';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext, Inventory, Logger } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode } from '../../src/core/browse/node';
import { inventorySchema } from '../../src/core/inventory/schema';
import { assertOperationsInTreeMenu } from '../support/browseNodes';
import { CANARIES, canaryOccurrences } from '../support/canaries';
import { REPO_ROOT } from '../support/paths';
import { hostilePayloads } from '../support/payloads';
import { planAction, registry, runAction } from '../support/resticActions';
import { startSshd, type Sshd } from '../testbed/sshd';

const run = promisify(execFile);
const INSTANCE = 'backrest-kernow';
/** Backrest's repo passwords and env values are secrets: canaries, looked for in every result, message and log line. */
const SECRETS = { 'garage-iac': CANARIES.quoted, 'garage-plex': CANARIES.unicode, 'garage-truenas': `${CANARIES.quoted}-truenas` } as const;
const ENV_SECRET = `${CANARIES.unicode}-aws`;
const HOUR = 3_600_000;

type FixtureConfig = { repos: { id: string; uri: string; password: string; env: string[]; flags?: string[] }[]; plans: { id: string; repo: string; paths: string[] }[] } & Record<string, unknown>;

/** `2026-12-06 03:00:00` in local time, as `restic backup --time` reads it. */
function resticTime(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

async function restic(repository: string, password: string, args: string[]): Promise<string> {
  const { stdout } = await run('restic', args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: password } });
  return stdout;
}

async function snapshotOf(repository: string, password: string, data: string, tags: string[], time: Date): Promise<string> {
  const out = await restic(repository, password, ['backup', '--json', '--time', resticTime(time), ...tags.flatMap((tag) => ['--tag', tag]), '--', data]);
  const summary = out.split('\n').map((line) => (line.startsWith('{') ? (JSON.parse(line) as { message_type?: string; snapshot_id?: string }) : {})).find((line) => line.message_type === 'summary');
  assert.ok(summary?.snapshot_id);
  return summary.snapshot_id;
}

function recordingLogger(lines: string[]): Logger {
  return { debug: (message) => lines.push(message), info: (message) => lines.push(message), warn: (message) => lines.push(message), error: (message) => lines.push(message) };
}

describe('backrest.plans: a Backrest config.json read here and over SSH, with each plan\'s last snapshot from real restic repositories', function () {
  this.timeout(180_000);
  let sshd: Sshd;
  let work: string;
  let fixture: FixtureConfig;
  let ctx: ActionContext;
  const logLines: string[] = [];
  const ids: Record<string, string> = {};
  const repoPath = (id: string) => path.join(work, 'repos', id);

  /** The fixture with its repos pointing at the repositories of this test and `secrets` as their passwords. */
  function configWith(secrets: Readonly<Record<string, string>>, change: (config: FixtureConfig) => void = () => undefined): string {
    const config = structuredClone(fixture);
    for (const repo of config.repos) {
      repo.uri = repoPath(repo.id);
      repo.password = secrets[repo.id] as string;
      repo.env = repo.env.map((assignment) => (assignment.startsWith('AWS_SECRET_ACCESS_KEY=') ? `AWS_SECRET_ACCESS_KEY=${ENV_SECRET}` : assignment));
    }
    change(config);
    return JSON.stringify(config, null, 2);
  }

  before(async () => {
    sshd = await startSshd();
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-backrest-'));
    fixture = JSON.parse(await readFile(path.join(REPO_ROOT, 'test/fixtures/backrest/config.json'), 'utf8')) as FixtureConfig;
    const data = path.join(work, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(path.join(data, 'notes.txt'), 'homelab notes\n');
    const passwords = SECRETS;
    for (const [id, password] of Object.entries(passwords)) await restic(repoPath(id), password, ['init']);
    const now = Date.now();
    ids.iacDaily = await snapshotOf(repoPath('garage-iac'), passwords['garage-iac'], data, ['plan:iac-daily', `created-by:${INSTANCE}`], new Date(now - 60_000));
    // Another Backrest writing to the same repo under the same plan id: not this instance's plan.
    ids.otherInstance = await snapshotOf(repoPath('garage-iac'), passwords['garage-iac'], data, ['plan:iac-daily', 'created-by:another-backrest'], new Date(now + HOUR));
    ids.iacNotes = await snapshotOf(repoPath('garage-iac'), passwords['garage-iac'], data, ['plan:iac-notes', `created-by:${INSTANCE}`], new Date(now - 30 * HOUR));
    ids.plexDaily = await snapshotOf(repoPath('garage-plex'), passwords['garage-plex'], data, ['plan:plex-daily', `created-by:${INSTANCE}`], new Date(now - 10 * 24 * HOUR));
    await writeFile(path.join(work, 'config.json'), configWith(SECRETS));
    const inventory = { hosts: { backrest: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } } } as Inventory;
    ctx = createActionContext({ workspaceDir: work, inventory, log: recordingLogger(logLines) });
  });

  after(async () => {
    await ctx?.clients.disposeAll();
    await sshd?.stop();
    assert.deepEqual(canaryOccurrences(logLines.join('\n')), [], 'no secret in the log');
    await rm(work, { recursive: true, force: true });
  });

  function assertNoSecret(result: BackrestPlansResult, rendered: string): void {
    const everything = `${JSON.stringify(result)}\n${rendered}`;
    assert.deepEqual(canaryOccurrences(everything, { ...SECRETS, env: ENV_SECRET }), []);
    for (const secret of ['fixture-discord-token', 'fixture-healthchecks-uuid', 'fixture-gotify-token', 'docker stop plex']) assert.ok(!everything.includes(secret), `${secret} is not shown`);
  }

  async function plansOf(params: Record<string, unknown>): Promise<BackrestPlansResult> {
    const result = await runAction<BackrestPlansResult>('backrest.plans', params, ctx);
    assertNoSecret(result, (registry.get('backrest.plans')?.render(result) as string) ?? '');
    return result;
  }

  function assertFixturePlans(result: BackrestPlansResult): void {
    assert.equal(result.instance, INSTANCE);
    assert.equal(result.version, 4);
    const byId = Object.fromEntries(result.plans.map((plan) => [plan.id, plan]));
    assert.deepEqual(Object.keys(byId), ['iac-daily', 'plex-daily', 'truenas-weekly', 'unifi-daily', 'iac-notes']);
    const iac = byId['iac-daily'];
    assert.ok(iac);
    assert.deepEqual(iac.repo, { id: 'garage-iac', uri: repoPath('garage-iac') });
    assert.deepEqual(iac.paths, ['/home', '/root', '/etc']);
    assert.deepEqual(iac.excludes, ['/home/*/.cache', 'node_modules']);
    assert.deepEqual(iac.iexcludes, ['*.TMP']);
    assert.equal(iac.schedule, "cron 0 3 * * * (Backrest host's local time)");
    assert.equal(iac.retention, 'keep 14 daily, 4 weekly');
    assert.deepEqual(iac.hooks, [{ kind: 'discord', conditions: ['snapshot error', 'any error'] }]);
    assert.equal(iac.state, 'ok', iac.reason);
    assert.equal(iac.stale, false);
    assert.ok(iac.lastSnapshot?.id.startsWith(ids.iacDaily as string), 'the other instance\'s newer snapshot is not this plan\'s');
    assert.equal(iac.snapshots, 1);
    assert.ok(iac.dueSince && Date.parse(iac.dueSince) <= Date.now());

    const plex = byId['plex-daily'];
    assert.equal(plex?.state, 'stale');
    assert.equal(plex?.stale, true);
    assert.ok(plex?.lastSnapshot?.id.startsWith(ids.plexDaily as string));
    assert.equal(plex?.lastSnapshot?.age, '10 d ago');
    assert.deepEqual(plex?.hooks, [{ kind: 'command', conditions: ['snapshot start'], onError: 'cancel' }, { kind: 'command', conditions: ['snapshot end'] }]);

    assert.equal(byId['truenas-weekly']?.state, 'no snapshot');
    assert.equal(byId['truenas-weekly']?.retention, 'keep 4 weekly, 2 monthly');
    assert.deepEqual(byId['truenas-weekly']?.hooks, [{ kind: 'healthchecks', conditions: ['snapshot success'] }]);
    assert.equal(byId['unifi-daily']?.state, 'unscheduled');
    assert.equal(byId['unifi-daily']?.schedule, 'disabled (runs only when started by hand)');
    assert.equal(byId['unifi-daily']?.retention, 'keep the last 7 snapshots');
    const notes = byId['iac-notes'];
    assert.equal(notes?.schedule, 'at most every 6 hours, counted from the last run');
    assert.equal(notes?.maxAge, '7 h');
    assert.equal(notes?.state, 'stale');
    assert.equal(notes?.retention, 'keep all snapshots');

    assert.deepEqual(result.repos[2]?.hooks, [{ kind: 'gotify', conditions: ['prune error', 'check error'] }]);
    assert.deepEqual(result.repos.map((repo) => [repo.id, repo.env, repo.notApplied, repo.error]), [
      ['garage-iac', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], [], undefined],
      ['garage-plex', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], ['--limit-upload'], undefined],
      ['garage-truenas', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'], [], undefined],
    ]);
  }

  it('reads a local config.json: plans with repo, paths, schedule, retention and hooks, each with its last snapshot, age and staleness', async () => {
    const result = await plansOf({ config: 'config.json' });
    assert.equal(result.config, 'config.json');
    assert.equal(result.restic, 'restic');
    assertFixturePlans(result);
  });

  it('reads config.json on an SSH host and runs restic there, as Backrest does', async () => {
    const result = await plansOf({ config: path.join(work, 'config.json'), host: 'backrest' });
    assert.equal(result.config, `backrest:${path.join(work, 'config.json')}`);
    assert.equal(result.restic, 'restic on host backrest');
    assertFixturePlans(result);
  });

  it('gives lifeboat.yaml entries for the repos that pass the inventory schema, passwords as secret references', async () => {
    const result = await plansOf({ config: 'config.json', snapshots: false });
    assert.ok(result.plans.every((plan) => plan.state === 'not checked' && plan.lastSnapshot === undefined));
    const entries = parse(result.inventory) as Inventory;
    assert.deepEqual(entries.repositories?.['garage-iac'], { repository: repoPath('garage-iac'), password: 'secret:backrest-garage-iac' });
    await writeFile(path.join(work, 'fixture.json'), await readFile(path.join(REPO_ROOT, 'test/fixtures/backrest/config.json')));
    const asWritten = await plansOf({ config: 'fixture.json', snapshots: false });
    assert.match(asWritten.inventory, /^ {2}garage-plex:\n {4}repository: s3:http:\/\/10\.20\.0\.103:30188\/backrest\/plex\n {4}password: secret:backrest-garage-plex\n {4}# its S3 credentials \(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY in Backrest\) belong to an S3 store/m);
    assert.equal(inventorySchema.safeParse({ ...entries, hosts: {} }).success, true);
    const onHost = await plansOf({ config: path.join(work, 'config.json'), host: 'backrest', snapshots: false });
    assert.equal((parse(onHost.inventory) as Inventory).repositories?.['garage-plex']?.host, 'backrest');
  });

  it('fails a repo it cannot open on its plans only, and failOnStale fails the step naming the plans behind', async () => {
    await writeFile(path.join(work, 'wrong-password.json'), configWith({ ...SECRETS, 'garage-plex': `${CANARIES.quoted}-wrong` }));
    const result = await plansOf({ config: 'wrong-password.json' });
    const plex = result.plans.find((plan) => plan.id === 'plex-daily');
    assert.equal(plex?.state, 'failed');
    assert.match(plex?.reason ?? '', /snapshots of repo garage-plex could not be read/);
    assert.equal(result.plans.find((plan) => plan.id === 'iac-daily')?.state, 'ok');
    await assert.rejects(runAction('backrest.plans', { config: 'config.json', failOnStale: true }, ctx), (error: Error) => {
      assert.match(error.message, /3 of 5 Backrest plan\(s\) of config\.json are behind their schedule: plex-daily \(stale: .*\); truenas-weekly \(no snapshot: .*\); iac-notes \(stale/);
      assert.deepEqual(canaryOccurrences(error.message), []);
      return true;
    });
  });

  it('refuses bad input with the file and the field at fault, and no secret in the message', async () => {
    const cases: [string, string, RegExp][] = [
      ['missing.json', '', /^missing\.json: no such file/],
      ['not-json.json', `{"repos": [{"id": "x", "password": "${CANARIES.unicode}", `, /^not-json\.json:1: not JSON/],
      ['inventory.json', JSON.stringify({ hosts: { nas: {} }, password: CANARIES.unicode }), /^inventory\.json, `version`: is missing: this is not a Backrest config\.json/],
      ['array.json', '[1, 2]', /^array\.json: not a Backrest config/],
      ['unknown-repo.json', configWith(SECRETS, (config) => (config.plans[1] = { ...(config.plans[1] as FixtureConfig['plans'][number]), repo: 'garage-gone' })), /^unknown-repo\.json, `plans\[1\]\.repo`: names no repo of `repos` \(it has "garage-iac", "garage-plex", "garage-truenas"\)/],
      ['newer.json', configWith(SECRETS, (config) => (config.version = 9)), /^newer\.json, `version`: format version 9 is newer than the ones Lifeboat reads/],
      ['bad-env.json', configWith(SECRETS, (config) => config.repos[0]?.env.push(`${CANARIES.quoted}`)), /^bad-env\.json, `repos\[0\]\.env\[2\]`: expected NAME=value/],
      ['bad-type.json', configWith(SECRETS, (config) => ((config.plans[0] as Record<string, unknown>).paths = CANARIES.quoted)), /^bad-type\.json, `plans\[0\]\.paths`: /],
    ];
    for (const [file, content, expected] of cases) {
      if (content !== '') await writeFile(path.join(work, file), content);
      await assert.rejects(runAction('backrest.plans', { config: file }, ctx), (error: Error) => {
        assert.match(error.message, expected, file);
        assert.deepEqual(canaryOccurrences(error.message), [], file);
        return true;
      });
    }
    await assert.rejects(runAction('backrest.plans', { config: path.join(work, 'missing.json'), host: 'backrest' }, ctx), /backrest:\/.*missing\.json: no such file on the host/);
    await writeFile(path.join(work, 'huge.json'), `{"version": 4, "instance": "${'x'.repeat(4 * 1024 * 1024)}"}`);
    await assert.rejects(runAction('backrest.plans', { config: 'huge.json' }, ctx), /huge\.json: too large: a Backrest config may hold at most 4/);
    await assert.rejects(runAction('backrest.plans', { config: path.join(work, 'huge.json'), host: 'backrest' }, ctx), /backrest:\/\S+huge\.json: too large: 4194334 bytes, and a Backrest config is read only up to 4194304 bytes/);
    await assert.rejects(runAction('backrest.plans', { backrest: 'nowhere' }, ctx), /no Backrest installation 'nowhere' under `backrest:`/);
    const params = registry.get('backrest.plans')?.params;
    for (const given of [{}, { backrest: 'home', config: 'config.json' }]) assert.match(JSON.stringify(params?.safeParse(given).error?.issues), /give either backrest/);
  });

  it("walks the palette's Check Backrest Plans… through the browse model: the installation, its plans in the tree, then the verdict", async () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.checkBackrestPlans');
    assert.ok(command);
    const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === command.command)?.title, 'Check Backrest Plans…');
    const inventory = { ...ctx.inventory, backrest: { kernow: { config: path.join(work, 'config.json'), host: 'backrest' } } } as Inventory;
    const browsing = createActionContext({ workspaceDir: work, inventory, log: recordingLogger(logLines) });
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), '/w/lifeboat.yaml');
    try {
      const picked: Record<string, unknown> = {};
      for (const step of command.steps) {
        assert.ok(step.kind === 'node');
        const offered = (await model.children(step.under(picked), { limit: 100 }, browsing)).nodes.filter((node) => step.accept?.(node) ?? true);
        assert.deepEqual(offered.map((node) => node.label), ['kernow']);
        picked[step.param] = step.value?.(offered[0] as BrowseNode);
      }
      assert.deepEqual(picked, { backrest: 'kernow' });
      const plans = await model.children('backrest/kernow', { limit: 100 }, browsing);
      assert.deepEqual(
        plans.nodes.map((node) => [node.path, node.status?.level, node.operations.map((operation) => operation.id)]),
        ['iac-daily', 'plex-daily', 'truenas-weekly', 'unifi-daily', 'iac-notes'].map((plan, index) => [`backrest/kernow/${plan}`, ['ok', 'warning', 'warning', 'unknown', 'warning'][index], ['plans']]),
      );
      assert.match(plans.nodes[1]?.description ?? '', /^10 d ago · cron 0 4 \* \* \*/);
      for (const node of plans.nodes) assertOperationsInTreeMenu(node);
      assert.deepEqual(canaryOccurrences(JSON.stringify(plans.nodes), { ...SECRETS, env: ENV_SECRET }), []);
      const verdict = command.conclude?.(await runAction<BackrestPlansResult>('backrest.plans', picked, browsing));
      assert.deepEqual(verdict, { message: 'Backrest: 3 of 5 plan(s) behind: plex-daily (stale), truenas-weekly (no snapshot), iac-notes (stale).', warning: true });
    } finally {
      await browsing.clients.disposeAll();
    }
  });

  it('hostile plan ids, paths and repo ids are data: shown as given, never run', async () => {
    const sentinel = path.join(work, 'PWNED');
    const payloads = hostilePayloads(sentinel).filter((payload) => !payload.includes('\0'));
    const tagged = payloads.find((payload) => payload.startsWith('$(touch')) as string;
    const hostileRepo = `\ntouch ${sentinel}\n: [x]`;
    await snapshotOf(repoPath('garage-iac'), SECRETS['garage-iac'], path.join(work, 'data'), [`plan:${tagged}`], new Date());
    const hostile = configWith(SECRETS, (config) => {
      config.plans = payloads.map((payload) => ({ id: payload, repo: 'garage-iac', paths: [payload, `/srv/$(touch ${sentinel})`], schedule: { cron: '0 3 * * *' } }));
      const [first, second, third] = config.repos;
      if (second && third) [second.id, third.id] = [hostileRepo, '#not: a comment'];
      if (first) {
        first.flags = [`--option=sftp.command=sh -c 'touch ${sentinel}'`, `--password-command=touch ${sentinel}`];
        first.env.push(`RESTIC_PASSWORD_COMMAND=touch ${sentinel}`);
      }
    });
    await writeFile(path.join(work, 'hostile.json'), hostile);
    for (const params of [{ config: 'hostile.json' }, { config: path.join(work, 'hostile.json'), host: 'backrest' }]) {
      const result = await plansOf(params);
      assert.deepEqual(result.plans.map((plan) => plan.id), payloads);
      assert.deepEqual(result.plans[0]?.paths, [payloads[0], `/srv/$(touch ${sentinel})`]);
      assert.equal(result.plans.find((plan) => plan.id === tagged)?.snapshots, 1);
      assert.deepEqual(Object.keys((parse(result.inventory) as Inventory).repositories ?? {}), ['garage-iac', hostileRepo, '#not: a comment']);
      assert.deepEqual(result.repos[0]?.notApplied, ['--option sftp.command', '--password-command', 'env RESTIC_PASSWORD_COMMAND']);
    }
    assert.equal(existsSync(sentinel), false);
    const plan = await planAction('backrest.plans', { config: 'hostile.json' }, ctx);
    assert.equal(plan.destructive, false);
  });
});
