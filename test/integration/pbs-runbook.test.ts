import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CANARIES, canaryOccurrences, recordForScan } from '../support/canaries';
import { lifeboat, readRecords, type CliResult } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { PbsSimulator, type PbsSimSnapshot } from '../testbed/pbsSim';

const RUNBOOK = 'pbs-status.runbook.md';
/** The API token secret: a canary, so every output and run record below is checked for it. */
const TOKEN_SECRET = CANARIES.quoted;
const TOKEN = 'root@pam!lifeboat';
const STORE = 'pbs-ruapehu';
const DAY = 86_400;

/** The seed's weekly snapshots: the IaC container and the Plex and UniFi VMs, the last two Sundays. */
function weeklySnapshots(newest: number): PbsSimSnapshot[] {
  return [100, 450, 451].flatMap((guest) =>
    [0, 7].map((weeksAgo): PbsSimSnapshot => ({
      type: guest === 100 ? 'ct' : 'vm',
      id: String(guest),
      time: newest - weeksAgo * DAY - guest,
      size: guest * 100_000_000,
      comment: { 100: 'iac', 450: 'plex', 451: 'unifi' }[guest],
      files: [{ filename: 'index.json.blob', 'crypt-mode': 'none', size: 512 }, { filename: guest === 100 ? 'root.pxar.didx' : 'drive-scsi0.img.fidx', 'crypt-mode': 'none', size: guest * 100_000_000 }],
      ...(weeksAgo === 7 ? { verification: { state: 'ok' as const, upid: 'UPID:pbs:00000001:00000001:00000001:00000001:verify:pbs\\x2druapehu:root@pam:' } } : {}),
    })),
  );
}

type LsNode = { path: string; kind: string; label: string; status: { level: string } | null; operations: { id: string }[]; facts: Record<string, unknown> };
const jsonLines = (stdout: string) => stdout.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as LsNode);

describe('The PBS status runbook and the PBS tree through the lifeboat CLI', function () {
  this.timeout(120_000);
  let sim: PbsSimulator;
  let workspace: string;
  const outputs: CliResult[] = [];

  before(async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs`']]);
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-pbs-runbook-'));
    await copyFile(join(REPO_ROOT, 'runbooks', RUNBOOK), join(workspace, RUNBOOK));
  });

  beforeEach(async () => {
    // The run records hold the snapshots' times: none may show the numeric canary the suite's sweep looks for.
    let newest = Math.floor(Date.now() / 1000) - 2 * DAY;
    while (weeklySnapshots(newest).some((snapshot) => String(snapshot.time).includes(CANARIES.numeric))) newest -= 1;
    sim = await PbsSimulator.start({
      tokens: { [TOKEN]: TOKEN_SECRET },
      verifyMsPerSnapshot: 10,
      datastores: { [STORE]: { comment: 'TrueNAS HDD', total: 14_600_000_000_000, used: 1_300_000_000_000, snapshots: weeklySnapshots(newest) } },
    });
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      ['backupServers:', '  pbs:', `    url: ${sim.url}`, `    datastore: ${STORE}`, `    tokenId: "${TOKEN}"`, '    tokenSecret: secret:pbs_token', `    fingerprint: "${sim.fingerprint}"`, ''].join('\n'),
    );
  });

  afterEach(async () => {
    await sim?.stop();
  });

  after(async () => {
    const runs = join(workspace, '.lifeboat', 'runs');
    const records = (await Promise.all((await readdir(runs)).map((file) => readFile(join(runs, file), 'utf8')))).join('\n');
    await rm(workspace, { recursive: true, force: true });
    assert.ok(outputs.length >= 6 && records.includes('pbs.verify'));
    for (const output of outputs) assert.deepEqual(canaryOccurrences(`${output.stdout}\n${output.stderr}`, { tokenSecret: TOKEN_SECRET }), [], 'the token secret is in no output');
    assert.deepEqual(canaryOccurrences(records.split('\n').map(recordForScan).join('\n'), { tokenSecret: TOKEN_SECRET }), [], 'the token secret is in no run record');
  });

  const cli = async (args: string[]) => {
    const result = await lifeboat(args, { cwd: workspace, env: { LIFEBOAT_SECRET_PBS_TOKEN: TOKEN_SECRET, LIFEBOAT_SECRETS_FILE: '', HOME: workspace } });
    outputs.push(result);
    return result;
  };

  it('passes lifeboat check', async () => {
    const checked = await cli(['check', RUNBOOK]);
    assert.equal(checked.code, 0, checked.stderr);
  });

  it('runs end to end: datastores, a verify of the snapshots never verified, the snapshots fresh and sound', async () => {
    const run = await cli(['run', RUNBOOK, '--yes']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /PBS 'pbs' \(https:\/\/127\.0\.0\.1:\d+\): 1 datastore\./);
    assert.match(run.stdout, /Verified datastore 'pbs-ruapehu' on PBS 'pbs': OK, 6 snapshots of 6 verified/);
    assert.match(run.stdout, /Datastore 'pbs-ruapehu' on PBS 'pbs': 6 snapshots, 6 verified, 0 failed verification, 0 not verified\./);
    const verify = sim.requests.filter((request) => request.method === 'POST');
    assert.equal(verify.length, 1);
    const task = [...sim.tasks.values()][0];
    assert.deepEqual(task?.lines.filter((line) => line.startsWith('SKIPPED')).length, 3, 'the snapshots verified before were skipped');
    const records = (await readRecords(workspace)).filter((record) => record.runbook === RUNBOOK && record.status === 'succeeded');
    assert.deepEqual(records.slice(-3).map((record) => record.action), ['pbs.datastores', 'pbs.verify', 'pbs.snapshots']);
  });

  it('a dry run reads the datastores and snapshots and starts no verify', async () => {
    const plan = await cli(['run', RUNBOOK, '--dry-run']);
    assert.equal(plan.code, 0, `${plan.stdout}\n${plan.stderr}`);
    assert.match(plan.stdout, /Verify datastore 'pbs-ruapehu' on PBS 'pbs'/);
    assert.deepEqual(sim.requests.filter((request) => request.method !== 'GET'), []);
    assert.equal(sim.tasks.size, 0);
  });

  it('stops at the verify step when a snapshot is damaged, naming it and the task log', async () => {
    const damaged = sim.datastores[STORE]?.snapshots.find((snapshot) => snapshot.id === '451' && snapshot.verification === undefined);
    assert.ok(damaged);
    damaged.corrupt = true;
    const run = await cli(['run', RUNBOOK, '--yes']);
    assert.notEqual(run.code, 0);
    const output = `${run.stdout}\n${run.stderr}`;
    assert.match(output, /verify of datastore 'pbs-ruapehu' on PBS 'pbs' \(127\.0\.0\.1:\d+\) failed: Error: verification failed - please check the log for details/);
    assert.match(output, /Failed to verify the following snapshots\/groups:/);
    assert.match(output, /vm\/451\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    assert.doesNotMatch(output, /Datastore 'pbs-ruapehu' on PBS 'pbs': 6 snapshots/, 'the run stopped at the failed step');
  });

  it('fails the last step when the newest snapshot is older than maxAgeDays', async () => {
    const run = await cli(['run', RUNBOOK, '--yes', '--param', 'maxAgeDays=1']);
    assert.notEqual(run.code, 0);
    assert.match(`${run.stdout}\n${run.stderr}`, /the newest snapshot in datastore 'pbs-ruapehu' on PBS 'pbs' \(127\.0\.0\.1:\d+\), ct\/100\/\S+, is 2 d ago: older than 1 days/);
  });

  it('refuses a server whose certificate is not the pinned one before the token is sent', async () => {
    await writeFile(join(workspace, 'lifeboat.yaml'), (await readFile(join(workspace, 'lifeboat.yaml'), 'utf8')).replace(/fingerprint: ".*"/, `fingerprint: "${'0F:'.repeat(31)}0F"`));
    const run = await cli(['run', RUNBOOK, '--yes']);
    assert.notEqual(run.code, 0);
    assert.match(`${run.stdout}\n${run.stderr}`, new RegExp(`presented a certificate with SHA-256 fingerprint ${sim.fingerprint}, but lifeboat.yaml pins ${'0F:'.repeat(31)}0F: refusing to send the API token`));
    assert.equal(sim.requests.length, 0);
  });

  it('lists servers, datastores and snapshots with their verification state, and verifies one snapshot from the tree', async () => {
    const roots = jsonLines((await cli(['ls', 'pbs', '--json'])).stdout);
    assert.deepEqual(roots.map((node) => [node.path, node.kind, node.status, node.operations.map((operation) => operation.id)]), [['pbs/pbs', 'pbs', null, ['status', 'datastores']]]);
    const stores = jsonLines((await cli(['ls', 'pbs/pbs', '--json'])).stdout);
    assert.deepEqual(stores.map((node) => [node.label, node.facts.snapshots, node.facts.groups, node.facts.configured]), [[STORE, 6, 3, true]]);
    const snapshots = jsonLines((await cli(['ls', `pbs/pbs/${STORE}`, '--json'])).stdout);
    assert.equal(snapshots.length, 6);
    assert.deepEqual(snapshots.map((node) => node.facts.verification), ['none', 'none', 'none', 'ok', 'ok', 'ok']);
    assert.deepEqual(snapshots.map((node) => node.status?.level ?? null), ['unknown', 'unknown', 'unknown', null, null, null]);
    const newest = snapshots[0] as LsNode;
    assert.deepEqual([newest.label, newest.operations.map((operation) => operation.id)], ['ct/100', ['verify']]);

    const verified = await cli(['do', newest.path, 'verify']);
    assert.equal(verified.code, 0, `${verified.stdout}\n${verified.stderr}`);
    assert.match(verified.stdout, /Verified snapshot ct\/100\/\S+ of datastore 'pbs-ruapehu' on PBS 'pbs': OK, 1 snapshot of 1 verified/);
    const after = jsonLines((await cli(['ls', `pbs/pbs/${STORE}`, '--json'])).stdout);
    assert.equal(after[0]?.facts.verification, 'ok');
  });

  it('shows a server without a pin, whose self-signed certificate fails naming the fingerprint to pin, and refuses tls.insecure', async () => {
    const yaml = await readFile(join(workspace, 'lifeboat.yaml'), 'utf8');
    const unpinned = yaml.replace(/ {4}fingerprint: .*\n/, '');
    await writeFile(join(workspace, 'lifeboat.yaml'), `${unpinned}  insecure:\n${unpinned.split('\n').slice(2).join('\n').replace(/^ {4}url: .*$/m, '$&\n    tls: { insecure: true }')}`);
    const roots = jsonLines((await cli(['ls', 'pbs', '--json'])).stdout);
    assert.deepEqual(roots.map((node) => [node.label, node.status?.level ?? null, node.facts.pinned]), [['pbs', null, false], ['insecure', 'error', false]]);
    const listed = jsonLines((await cli(['ls', 'pbs/pbs', '--json'])).stdout);
    assert.equal(listed[0]?.kind, 'error');
    assert.match(String(listed[0]?.facts.message), new RegExp(`is not trusted \\(DEPTH_ZERO_SELF_SIGNED_CERT\\); it has SHA-256 fingerprint ${sim.fingerprint}\\. If that is the one the server shows, pin it as \`fingerprint: ${sim.fingerprint}\``));
    const insecure = await cli(['run', RUNBOOK, '--yes', '--param', 'server=insecure']);
    assert.notEqual(insecure.code, 0);
    assert.match(`${insecure.stdout}\n${insecure.stderr}`, /`backupServers\.insecure\.tls\.insecure` is not supported for Proxmox Backup Server/);
    assert.equal(sim.requests.length, 0, 'nothing was sent');
  });

  it('shows a wrong token and an unknown configured datastore as error and warning nodes', async () => {
    const yaml = await readFile(join(workspace, 'lifeboat.yaml'), 'utf8');
    await writeFile(join(workspace, 'lifeboat.yaml'), yaml.replace(`datastore: ${STORE}`, 'datastore: gone'));
    const stores = jsonLines((await cli(['ls', 'pbs/pbs', '--json'])).stdout);
    assert.deepEqual(stores.map((node) => [node.label, node.kind, node.status?.level ?? null]), [['gone', 'pbs.datastore.missing', 'warning'], [STORE, 'pbs.datastore', null]]);
    sim.tokens[TOKEN] = 'rotated';
    const refused = await cli(['ls', 'pbs/pbs']);
    assert.match(`${refused.stdout}\n${refused.stderr}`, /refused API token 'root@pam!lifeboat' \(401\)/);
  });
});
