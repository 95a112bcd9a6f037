import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openS3Store } from '../../src/clients/s3';
import { CANARIES, canaryOccurrences } from '../support/canaries';
import { lifeboat, readRecords, type CliResult } from '../support/cli';
import { hostilePayloads } from '../support/payloads';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { FrigateSimulator } from '../testbed/frigateSim';
import { runFrigateInPod } from '../testbed/frigatePod';
import { frigateInventoryLines, sshHostInventoryLines } from '../testbed/inventoryLines';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';
import { solidWebp } from '../testbed/webp';

const run = promisify(execFile);
/** The Frigate password: a canary, so the sweep of run records and the checks of every output below catch it. */
const FRIGATE_PASSWORD = CANARIES.quoted;
const SENTINEL = 'pwned-by-a-name';
const LOCAL_ARCHIVES = 120;
const PEOPLE = { Asha: 60, bob: 2 } as const;

/** `backup-YYYYMMDD-HHMMSS.tar.gz`, one minute apart: index 0 the oldest. */
function archiveName(index: number): string {
  const date = new Date(Date.UTC(2026, 0, 1) + index * 60_000).toISOString();
  return `backup-${date.slice(0, 10).replace(/-/g, '')}-${date.slice(11, 19).replace(/:/g, '')}.tar.gz`;
}

/** A node path segment as `lifeboat ls` prints it: `%` and `/` escaped. */
const segment = (name: string) => name.replace(/%/g, '%25').replace(/\//g, '%2F');

const jsonLines = (stdout: string) => stdout.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { path: string; kind: string; label: string; status: { level: string } | null; operations: { id: string; destructive?: boolean }[]; facts: Record<string, unknown> });
const level = (node: { status: { level: string } | null }) => node.status?.level ?? null;

describe('lifeboat ls and lifeboat do against local, SSH and S3 locations and a Frigate simulator', function () {
  this.timeout(120_000);
  let frigate: FrigateSimulator;
  let kube: KubeApiSimulator;
  let sshd: Sshd;
  let s3: RunningS3rver;
  let workspace: string;
  let faceArchive: string;
  const outputs: CliResult[] = [];
  /** The local restore runbook selects archives by prefix: this one has one, and references and a command after it. */
  const restorable = `backup-20260101-030000-\${params.target}$(touch ${SENTINEL}).tar.gz`;
  const hostileNames = [
    ...hostilePayloads(SENTINEL)
      .filter((payload) => !payload.includes('/') && Buffer.byteLength(payload) < 200)
      .map((payload) => `${payload}.tar.gz`),
    restorable,
  ];

  before(async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs`']]);
    [frigate, kube, sshd, s3] = await Promise.all([FrigateSimulator.start({ users: { admin: { password: FRIGATE_PASSWORD, role: 'admin' } } }), KubeApiSimulator.start(), startSshd(), startS3rver({ buckets: ['backups'] })]);
    await runFrigateInPod(kube, frigate, 'frigate-5c6b');
    for (const [person, count] of Object.entries(PEOPLE)) {
      for (let index = 1; index <= count; index++) await frigate.addFace(person, `${person}_${1738800000 + index}.webp`, solidWebp({ width: 112, height: 112 }));
    }
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-cli-browse-'));
    await copyFile(join(REPO_ROOT, 'runbooks', 'frigate-faces-backup.runbook.md'), join(workspace, 'frigate-faces-backup.runbook.md'));
    await mkdir(join(workspace, 'content'));
    await writeFile(join(workspace, 'content', 'notes.txt'), 'what the archives hold\n');
    const sample = join(workspace, 'sample.tar.gz');
    await run('tar', ['czf', sample, '-C', workspace, 'content']);
    for (const [folder, names] of [['backups/local', Array.from({ length: LOCAL_ARCHIVES }, (_, index) => archiveName(index))], ['backups/hostile', hostileNames], [join(sshd.remoteDir, 'archives'), [archiveName(1)]]] as const) {
      const target = folder.startsWith('/') ? folder : join(workspace, folder);
      await mkdir(target, { recursive: true });
      for (const name of names) await copyFile(sample, join(target, name));
    }
    const store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: S3RVER_CREDENTIALS });
    for (const index of [2, 3]) await store.putBytes(`lifeboat/${archiveName(index)}`, 'archive bytes');
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      [
        ...(await frigateInventoryLines('k3s', kube, frigate)),
        ...sshHostInventoryLines('piglet', sshd),
        'stores:',
        '  garage:',
        `    endpoint: ${s3.endpoint}`,
        '    region: us-east-1',
        '    bucket: backups',
        `    credentials: { accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}, secretAccessKey: secret:s3_secret }`,
        'locations:',
        '  frigate-faces: { path: backups/frigate }',
        '  local: { path: backups/local }',
        '  hostile: { path: backups/hostile }',
        `  nas: { host: piglet, path: ${join(sshd.remoteDir, 'archives')} }`,
        '  offsite: { store: garage, prefix: lifeboat }',
        '  gone: { path: backups/not-there }',
        '',
      ].join('\n'),
    );
    const backup = await cli(['run', 'frigate-faces-backup.runbook.md', '--yes']);
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    [faceArchive] = (await readdir(join(workspace, 'backups', 'frigate'))).filter((name) => name.endsWith('.tar.gz')) as [string];
  });

  after(async () => {
    await Promise.all([frigate?.stop(), kube?.stop(), sshd?.stop(), s3?.stop()]);
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  const env = { LIFEBOAT_SECRET_FRIGATE_PASSWORD: FRIGATE_PASSWORD, LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey, LIFEBOAT_SECRETS_FILE: '' };
  async function cli(args: string[], options: { onStart?: (child: ChildProcess) => void } = {}): Promise<CliResult> {
    const result = await lifeboat(args, { cwd: workspace, env: { ...env, HOME: workspace }, ...options });
    outputs.push(result);
    return result;
  }

  it('lists the roots as a table, and as JSON lines with --json', async () => {
    const table = await cli(['ls']);
    assert.equal(table.code, 0, table.stderr);
    const rows = table.stdout.trimEnd().split('\n');
    assert.deepEqual(rows.map((row) => row.split(/\s+/)[0]), ['frigate/frigate/', 'locations/frigate-faces/', 'locations/local/', 'locations/hostile/', 'locations/nas/', 'locations/offsite/', 'locations/gone/', 'hosts/piglet/', 'clusters/k3s/', 's3/garage/']);
    assert.match(rows[0] ?? '', /^frigate\/frigate\/\s+warning\s+https:\/\/127\.0\.0\.1:\d+ · TLS not verified\s+check$/);
    const json = jsonLines((await cli(['ls', '--json'])).stdout);
    assert.deepEqual(json.map((node) => [node.path, node.kind]).slice(-3), [['hosts/piglet', 'host'], ['clusters/k3s', 'cluster'], ['s3/garage', 's3.store']]);
  });

  it('lists a local location a page at a time, says how many more, and all of it with --all', async () => {
    const page = await cli(['ls', 'locations/local']);
    assert.equal(page.code, 0, page.stderr);
    const rows = page.stdout.trimEnd().split('\n');
    assert.equal(rows.length, 50);
    assert.match(rows[0] ?? '', new RegExp(`^locations/local/${archiveName(LOCAL_ARCHIVES - 1).replace(/\./g, '\\.')}\\s+unknown\\s+\\d+ B · .*\\s+verify restore delete!$`));
    assert.match(page.stderr, /… and 70 more: lifeboat ls locations\/local --all/);
    const all = jsonLines((await cli(['ls', 'locations/local', '--all', '--json'])).stdout);
    assert.deepEqual(all.map((node) => node.label), Array.from({ length: LOCAL_ARCHIVES }, (_, index) => archiveName(LOCAL_ARCHIVES - 1 - index)));
  });

  it('lists SSH and S3 locations, a host, and a Frigate person\'s images', async () => {
    const nas = jsonLines((await cli(['ls', 'locations/nas', '--json'])).stdout);
    assert.deepEqual(nas.map((node) => [node.path, level(node)]), [[`locations/nas/${archiveName(1)}`, 'unknown']]);
    const offsite = jsonLines((await cli(['ls', 'locations/offsite', '--json'])).stdout);
    assert.deepEqual(offsite.map((node) => node.label), [archiveName(3), archiveName(2)]);
    const host = jsonLines((await cli(['ls', 'hosts/piglet', '--json'])).stdout);
    assert.deepEqual(host.slice(0, 3).map((node) => [node.path, level(node)]), [['hosts/piglet/connection', 'ok'], ['hosts/piglet/cli', 'warning'], ['hosts/piglet/locations/nas', null]]);
    const people = jsonLines((await cli(['ls', 'frigate/frigate', '--json'])).stdout);
    assert.deepEqual(people.slice(0, 3).map((node) => [node.label, node.facts.images]), [['Asha', 60], ['bob', 2], ['train', 0]]);
    const asha = await cli(['ls', 'frigate/frigate/people/Asha']);
    assert.equal(asha.stdout.trimEnd().split('\n').length, 50);
    assert.match(asha.stderr, /… and 10 more: lifeboat ls frigate\/frigate\/people\/Asha --all/);
  });

  it('exits 1 with the message on stderr when a listing fails, and 2 for a path or an operation that is not there', async () => {
    const failed = await cli(['ls', 'locations/gone']);
    assert.equal(failed.code, 1);
    const message = `listing locations/gone failed: archive folder ${join(workspace, 'backups', 'not-there')} does not exist`;
    assert.equal(failed.stderr.split(message).length - 1, 1, `the message once on stderr:\n${failed.stderr}`);
    assert.match(failed.stdout, /^locations\/gone\/!error\s+error\s+listing locations\/gone failed/);
    const typo = await cli(['ls', 'locations/lcoal']);
    assert.deepEqual([typo.code, typo.stdout, typo.stderr.trim()], [2, '', "lifeboat ls: nothing at 'locations/lcoal'; `lifeboat ls` shows what there is"]);
    const operation = await cli(['do', `locations/local/${archiveName(0)}`, 'frob']);
    assert.equal(operation.code, 2);
    assert.equal(operation.stderr.trim(), `lifeboat do: locations/local/${archiveName(0)} has no operation 'frob'; it has: verify, restore, delete`);
    const nothing = await cli(['do', 'locations/local/backup-19990101-000000.tar.gz', 'verify']);
    assert.deepEqual([nothing.code, nothing.stderr.trim()], [2, "lifeboat do: nothing at 'locations/local/backup-19990101-000000.tar.gz'; `lifeboat ls` shows what there is"]);
  });

  it('exits 130 when interrupted during a slow listing', async () => {
    frigate.injectFault({ kind: 'slow', delayMs: 30_000, path: /^\/api\/faces$/ });
    const seen = frigate.requests.length;
    const started = Date.now();
    const interrupted = await cli(['ls', 'frigate/frigate'], {
      onStart: (child) => {
        const poll = setInterval(() => {
          if (!frigate.requests.slice(seen).some((request) => request.path === '/api/faces')) return;
          clearInterval(poll);
          child.kill('SIGINT');
        }, 20);
      },
    });
    assert.equal(interrupted.code, 130, interrupted.stderr);
    assert.ok(Date.now() - started < 15_000, `interrupted after ${Date.now() - started} ms`);
  });

  it('do … verify runs the action through the runner and records the run; the archive then shows as verified', async () => {
    const name = archiveName(5);
    const verified = await cli(['do', `locations/local/${name}`, 'verify']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /All 1 archive\(s\) verified/);
    const record = (await readRecords(workspace)).find((entry) => entry.runbook === `lifeboat do locations/local/${name} verify`);
    assert.deepEqual([record?.action, record?.params, record?.status], ['archive.verify', { path: join(workspace, 'backups', 'local', name) }, 'succeeded']);
    const [node] = jsonLines((await cli(['ls', 'locations/local', '--json', '--all'])).stdout).filter((entry) => entry.label === name);
    assert.equal(node && level(node), 'ok');
  });

  it('do reaches the operations of a root node: a host\'s Check Schedules', async () => {
    const checked = await cli(['do', 'hosts/piglet', 'check']);
    assert.equal(checked.code, 0, checked.stderr);
    const record = (await readRecords(workspace)).find((entry) => entry.runbook === 'lifeboat do hosts/piglet check');
    assert.deepEqual([record?.action, record?.params, record?.status], ['schedule.cron.status', { host: 'piglet' }, 'succeeded']);
  });

  it('do … delete is refused without --yes when nothing can answer, and deletes with --yes', async () => {
    const name = archiveName(6);
    const file = join(workspace, 'backups', 'local', name);
    const refused = await cli(['do', `locations/local/${name}`, 'delete']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Refusing cell 1 \(archive\.delete\): it overwrites or deletes data; pass --yes/);
    assert.ok(existsSync(file), 'refused: the archive is still there');
    const deleted = await cli(['do', `locations/local/${name}`, 'delete', '--yes']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.ok(!existsSync(file));
  });

  it('do … restore --dry-run on a face archive runs the bundled faces restore runbook with the archive bound, and changes nothing', async () => {
    const writes = () => frigate.requests.filter((request) => request.method !== 'GET' && request.path !== '/api/login').length;
    // An older copy: the runbook's default (the newest archive) would not pick it.
    const older = 'frigate-faces-20250101-030000.tar.gz';
    await copyFile(join(workspace, 'backups', 'frigate', faceArchive), join(workspace, 'backups', 'frigate', older));
    const before = writes();
    const plan = await cli(['do', `locations/frigate-faces/${older}`, 'restore', '--dry-run']);
    assert.equal(plan.code, 0, `${plan.stdout}\n${plan.stderr}`);
    // The library is all there, so nothing would be written: the plan names the archive bound, and its 62 images.
    assert.match(plan.stdout, new RegExp(`Restore 0 of 62 images from ${older.replace(/\./g, '\\.')} into pod frigate/frigate-5c6b`));
    assert.equal(writes(), before, 'a dry run writes nothing');
    const records = (await readRecords(workspace)).filter((entry) => entry.runbook === 'frigate-faces-restore.runbook.md');
    assert.ok(records.length > 0 && records.every((entry) => entry.status === 'planned' || entry.status === 'succeeded'), JSON.stringify(records));
  });

  it('lists hostile archive names verbatim, and do on each executes nothing and interpolates nothing', async () => {
    const listed = jsonLines((await cli(['ls', 'locations/hostile', '--json', '--all'])).stdout);
    assert.deepEqual(listed.map((node) => node.label).sort(), [...hostileNames].sort());
    for (const name of hostileNames) {
      const verified = await cli(['do', `locations/hostile/${segment(name)}`, 'verify']);
      assert.equal(verified.code, 0, `${JSON.stringify(name)}: ${verified.stderr}`);
    }
    const records = (await readRecords(workspace)).filter((entry) => entry.action === 'archive.verify' && String(entry.runbook).startsWith('lifeboat do locations/hostile/'));
    assert.deepEqual(records.map((entry) => (entry.params as { path: string }).path).sort(), hostileNames.map((name) => join(workspace, 'backups', 'hostile', name)).sort());
    const dryRestore = await cli(['do', `locations/hostile/${segment(restorable)}`, 'restore', '--dry-run', '--param', 'target=restored']);
    assert.equal(dryRestore.code, 0, dryRestore.stderr);
    assert.ok(dryRestore.stdout.includes(`Restore ${restorable}`) || dryRestore.stdout.includes(restorable), dryRestore.stdout);
    assert.ok(!existsSync(join(workspace, 'restored')), 'a dry run writes nothing');
    assert.ok(!existsSync(join(workspace, SENTINEL)) && !existsSync(join(workspace, 'backups', 'hostile', SENTINEL)), 'no name ran as a command');
    assert.equal(hostileNames.length, listed.length);
  });

  it('prints no secret: not the Frigate password in any output', () => {
    assert.ok(outputs.length > 20);
    for (const output of outputs) assert.deepEqual(canaryOccurrences(`${output.stdout}\n${output.stderr}`), []);
  });
});
