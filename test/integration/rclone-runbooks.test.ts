import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, statSync, watch, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeBadrProject } from '../support/badrProject';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { selfSignedCertificate } from '../testbed/certificate';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

const BACKUP = 'badr-gdrive-backup.runbook.md';
const ENDPOINTS = 'endpoints-check.runbook.md';
/** The remotes come from lifeboat.yaml only: nobody's rclone.conf is read. */
const ENV = { RCLONE_CONFIG: '/dev/null', LIFEBOAT_SECRET_GARAGE_SECRET: S3RVER_CREDENTIALS.secretAccessKey };

async function lastRun(workspace: string): Promise<[unknown, unknown][]> {
  const records = await readRecords(workspace);
  return records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]);
}

/** Archive names tell seconds apart: a run right after another may find its archive's name taken. */
function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1100));
}

async function workspaceWith(name: string, runbook: string, inventory: string): Promise<string> {
  const workspace = await mkdtemp(path.join(tmpdir(), `lifeboat-${name}-`));
  await writeFile(path.join(workspace, 'lifeboat.yaml'), inventory);
  // The workspace's copy of the shipped runbook: runs are recorded beside it, not in the repository.
  await writeFile(path.join(workspace, runbook), await readFile(path.join(REPO_ROOT, 'runbooks', runbook)));
  return workspace;
}

describe('runbook badr-gdrive-backup, end to end with the CLI, an S3 bucket and a local rclone remote standing in for Google Drive', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  let workspace: string;
  const driveFolder = () => path.join(workspace, 'drive', 'BadrBackups');

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    server = await startS3rver({ buckets: ['drive'], tls: true });
    workspace = await workspaceWith(
      'badr-runbook',
      BACKUP,
      [
        'stores:',
        `  garage: { endpoint: "${server.endpoint}", bucket: drive, credentials: { accessKeyId: S3RVER, secretAccessKey: "secret:garage-secret" } }`,
        'rcloneRemotes:',
        `  badr_gdrive: { store: garage, caFile: "${server.caFile}" }`,
        '  pi_drive: { type: local }',
        '',
      ].join('\n'),
    );
    await writeBadrProject(workspace, 200_000);
  });
  after(async () => {
    await server?.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('plans the backup in a dry run, writing nothing anywhere', async () => {
    const result = await lifeboat(['run', BACKUP, '--param', 'source=Badr', '--param', 'remote=badr_gdrive:drive/BadrBackups', '--dry-run'], { cwd: workspace, env: ENV });
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 0, output);
    assert.match(output, /uses the result of step `archive`, which a dry run does not produce/);
    assert.equal(existsSync(path.join(workspace, 'backups')), false);
  });

  it('archives the project, copies the archive and its checksum to the S3 stand-in, and checks the copy', async () => {
    const result = await lifeboat(['run', BACKUP, '--param', 'source=Badr', '--param', 'remote=badr_gdrive:drive/BadrBackups', '--yes'], { cwd: workspace, env: ENV });
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 0, output);
    assert.deepEqual(await lastRun(workspace), [
      ['archive.create', 'succeeded'],
      ['rclone.copy', 'succeeded'],
      ['rclone.copy', 'succeeded'],
      ['rclone.check', 'succeeded'],
      ['rclone.list', 'succeeded'],
    ]);
    const [archive, ...others] = (await readdir(path.join(workspace, 'backups', 'badr'))).filter((name) => name.endsWith('.tar.gz'));
    assert.match(archive ?? '', /^badr_backup_\d{8}_\d{6}\.tar\.gz$/);
    assert.deepEqual(others, []);
    assert.match(output, new RegExp(`badr_gdrive:drive/BadrBackups matches .*${archive}: 1 file checked`));
    assert.match(output, new RegExp(`badr_gdrive:drive/BadrBackups: 2 files[^]*${archive}\\.sha256`));
  });

  it('backs up to a local rclone remote the same way; the copy is the archive byte for byte', async () => {
    await nextSecond();
    const result = await lifeboat(['run', BACKUP, '--param', 'source=Badr', '--param', `remote=pi_drive:${driveFolder()}`, '--yes'], { cwd: workspace, env: ENV });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const copied = (await readdir(driveFolder())).sort();
    assert.equal(copied.length, 2);
    const [archive, checksum] = copied as [string, string];
    assert.equal(checksum, `${archive}.sha256`);
    assert.deepEqual(await readFile(path.join(driveFolder(), archive)), await readFile(path.join(workspace, 'backups', 'badr', archive)));
  });

  it('fails at the check when the copy on the remote does not match, naming the file', async () => {
    await nextSecond();
    const damaged = path.join(workspace, 'damaged');
    await mkdir(damaged);
    // A remote that damages what it stores: as soon as the archive lands there, it becomes other bytes of the same size.
    const watcher = watch(damaged, (_event, name) => {
      const file = path.join(damaged, String(name));
      if (!String(name).endsWith('.tar.gz') || !existsSync(file)) return;
      watcher.close();
      writeFileSync(file, Buffer.alloc(statSync(file).size, 1));
    });
    const result = await lifeboat(['run', BACKUP, '--param', 'source=Badr', '--param', `remote=pi_drive:${damaged}`, '--param', 'keep=10', '--yes'], { cwd: workspace, env: ENV }).finally(() => watcher.close());
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 1, output);
    assert.match(output, /does not match .*: 1 difference, 0 files match\n- badr_backup_\d{8}_\d{6}\.tar\.gz: differs/);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
    assert.deepEqual((await lastRun(workspace)).at(-1), ['rclone.check', 'failed']);
  });
});

describe('runbook endpoints-check, end to end with the CLI against local HTTP and HTTPS servers', function () {
  this.timeout(60_000);
  let workspace: string;
  const servers: (http.Server | https.Server)[] = [];
  let s3Status = 403;

  async function listen(server: http.Server | https.Server): Promise<number> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  before(async () => {
    requireFiles([[CLI, 'node esbuild.config.mjs']]);
    const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-endpoints-cert-'));
    const certificate = await selfSignedCertificate(dir);
    await rm(dir, { recursive: true, force: true });
    const s3 = await listen(http.createServer((_request, response) => response.writeHead(s3Status).end()));
    const web = await listen(http.createServer((_request, response) => response.writeHead(200).end('Garage')));
    const pbs = await listen(https.createServer({ key: certificate.key, cert: certificate.cert }, (_request, response) => response.writeHead(200).end()));
    workspace = await workspaceWith(
      'endpoints-runbook',
      ENDPOINTS,
      [
        'endpoints:',
        `  Garage S3 API: { url: "http://127.0.0.1:${s3}", expect: 403 }`,
        `  Garage Web UI: { url: "http://127.0.0.1:${web}" }`,
        `  PBS: { url: "https://127.0.0.1:${pbs}", fingerprint: "${new X509Certificate(certificate.cert).fingerprint256}", timeoutSeconds: 5 }`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    for (const server of servers) server.close();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('passes when every endpoint answers its expected status, the S3 API its 403', async () => {
    const result = await lifeboat(['run', ENDPOINTS], { cwd: workspace });
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 0, output);
    assert.match(output, /3 endpoints healthy/);
    assert.match(output, /Garage S3 API \| http:\/\/127\.0\.0\.1:\d+ \| 403 \| 403 \| none/);
    assert.match(output, /PBS \| https:\/\/127\.0\.0\.1:\d+ \| 200 \| 200 \| pinned/);
    assert.deepEqual(await lastRun(workspace), [['http.check', 'succeeded']]);
  });

  it('fails naming the endpoint whose answer is not the expected one, with exit code 1 and no stack trace', async () => {
    s3Status = 200;
    const result = await lifeboat(['run', ENDPOINTS], { cwd: workspace });
    const output = result.stderr + result.stdout;
    assert.equal(result.code, 1, output);
    assert.match(output, /1 endpoint of 3 unhealthy:\n- Garage S3 API: answered 200, expected 403/);
    assert.doesNotMatch(output, /\n\s+at /);
    assert.deepEqual(await lastRun(workspace), [['http.check', 'failed']]);
  });
});
