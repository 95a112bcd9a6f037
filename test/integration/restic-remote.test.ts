import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import type { ResticBackupActionResult } from '../../src/actions/restic/backup';
import type { LsResult, SnapshotsResult } from '../../src/actions/restic/inspect';
import { openRepository, sftpCommand } from '../../src/actions/restic/repository';
import { literalPattern } from '../../src/actions/restic/restorePlan';
import { environmentLines, remoteResticArgv } from '../../src/clients/resticRemote';
import { ResticRepository } from '../../src/clients/restic';
import { remoteCommand, resolveSshTarget } from '../../src/clients/ssh';
import { ClientPool } from '../../src/core/actions/clients';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { hostilePayloads } from '../support/payloads';
import { planAction, registry, runAction } from '../support/resticActions';
import { startTcpFaultProxy, type TcpFaultProxy } from '../testbed/faultProxy';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';

const run = promisify(execFile);
const PASSWORD = `pa$$word 'with' "quotes" $(touch nothing)`;

/** A payload as a file name: no `/` or NUL, at most 200 bytes. */
function asFileName(payload: string): string {
  const name = payload.replaceAll('/', '_').replaceAll('\0', '_');
  return Buffer.from(name).length > 200 ? name.slice(0, 150) : name;
}

describe('restic on a remote host (as Backrest runs it), over SFTP to an inventory host and on S3', function () {
  this.timeout(180_000);
  let sshd: Sshd;
  let s3: RunningS3rver;
  let proxy: TcpFaultProxy;
  let work: string;
  let sentinel: string;
  let ctx: ActionContext;

  before(async () => {
    [sshd, s3] = await Promise.all([startSshd(), startS3rver({ buckets: ['restic'], tls: true })]);
    proxy = await startTcpFaultProxy(sshd.port);
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-restic-remote-'));
    sentinel = path.join(work, 'PWNED');
    await writeFile(path.join(work, 'proxy_known_hosts'), `${sshd.knownHostsLine.replace(`]:${sshd.port} `, `]:${proxy.port} `)}\n`);
    const host = (overrides: object) => ({ host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath, ...overrides });
    const inventory = {
      hosts: { piglet: host({}), flaky: host({ port: proxy.port, knownHosts: path.join(work, 'proxy_known_hosts') }) },
      stores: { garage: { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'restic', caFile: s3.caFile, credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3' } } },
      repositories: {
        onHost: { repository: path.join(sshd.remoteDir, 'repo'), password: 'secret:restic', host: 'piglet' },
        onFlakyHost: { repository: path.join(sshd.remoteDir, 'repo'), password: 'secret:restic', host: 'flaky' },
        overSftp: { repository: `sftp:piglet:${path.join(sshd.remoteDir, 'sftp-repo')}`, password: 'secret:restic' },
        onS3: { repository: `s3:${s3.endpoint}/restic/homelab`, password: 'secret:restic', store: 'garage' },
      },
    } as Inventory;
    ctx = createActionContext({ workspaceDir: work, inventory, secrets: environmentSecrets({ LIFEBOAT_SECRET_RESTIC: PASSWORD, LIFEBOAT_SECRET_S3: S3RVER_CREDENTIALS.secretAccessKey }) });
  });
  after(async () => {
    await ctx?.clients.disposeAll();
    await proxy?.stop();
    await Promise.all([sshd?.stop(), s3?.stop()]);
    await rm(work, { recursive: true, force: true });
  });

  it('hands restic its arguments and environment on the host untouched, whatever they hold', async () => {
    const payloads = hostilePayloads(sentinel).filter((payload) => !payload.includes('\0'));
    const argv = remoteResticArgv('printf', ['%s\\0', ...payloads]);
    const env = { HOSTILE_ONE: payloads.filter((payload) => !/[\n\r]/.test(payload)).join(' '), RESTIC_PASSWORD: PASSWORD };
    // The argument list as the remote sshd hands it to the login shell: a quoted command line, run by sh here.
    const child = spawn('sh', ['-c', remoteCommand(argv)], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(environmentLines(env));
    const chunks: Buffer[] = [];
    for await (const chunk of child.stdout) chunks.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(chunks).toString('utf8').split('\0').slice(0, -1), payloads);
    const printed = await new Promise<string>((resolve, reject) => {
      const printer = spawn('sh', ['-c', remoteCommand(remoteResticArgv('sh', ['-c', 'printf %s "$HOSTILE_ONE"']))], { stdio: ['pipe', 'pipe', 'inherit'] });
      printer.stdin.end(environmentLines(env));
      let out = '';
      printer.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      printer.on('error', reject).on('close', () => resolve(out));
    });
    assert.equal(printed, env.HOSTILE_ONE);
    assert.throws(() => environmentLines({ RESTIC_PASSWORD: 'two\nlines' }), /line break/);
    for (const payload of payloads.filter((candidate) => !/[\n\r]/.test(candidate))) assert.doesNotThrow(() => literalPattern(payload));
    assert.equal(existsSync(sentinel), false);
  });

  it('hands any arguments and any environment values to the program there exactly (generated strings)', () => {
    const shellText = fc.string({ unit: fc.oneof(fc.constantFrom('"', "'", '$', '`', ' ', '\\', ';', '(', ')', '|', '&', '*', '=', '{', '}', '%'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });
    const argument = shellText.filter((text) => !text.includes('\0'));
    const value = argument.filter((text) => !/[\n]/.test(text));
    fc.assert(
      fc.property(fc.array(argument, { maxLength: 5 }), value, value, (args, password, secret) => {
        const argv = remoteResticArgv('sh', ['-c', 'printf "%s\\0%s\\0" "$RESTIC_PASSWORD" "$AWS_SECRET_ACCESS_KEY"; for argument do printf "%s\\0" "$argument"; done', 'sh', ...args]);
        const printed = execFileSync('/bin/sh', ['-c', remoteCommand(argv)], { cwd: tmpdir(), input: environmentLines({ RESTIC_PASSWORD: password, AWS_SECRET_ACCESS_KEY: secret }) });
        assert.deepEqual(printed, Buffer.from([password, secret, ...args].map((text) => `${text}\0`).join('')));
      }),
      { numRuns: 100 },
    );
  });

  it('backs up, lists, plans and restores on the host with hostile paths, tags and hostnames, by argument lists only', async () => {
    const names = [...new Set(hostilePayloads(sentinel).map(asFileName))];
    const hostile = path.join(sshd.remoteDir, 'hostile');
    for (const [index, name] of names.entries()) {
      await mkdir(path.join(hostile, name), { recursive: true });
      await writeFile(path.join(hostile, name, `file ${index}.txt`), `content ${index}`);
    }
    const repository = await openRepository(ctx, 'onHost');
    await repository.init({ signal: ctx.signal });
    const tags = hostilePayloads(sentinel).filter((payload) => !payload.includes(',') && payload.length < 1000 && !/^\s|\s$/.test(payload)).slice(0, 12);
    const hostname = `nas $(touch ${sentinel}) \`id\``;
    const backup = await runAction<ResticBackupActionResult>('restic.backup', { repository: 'onHost', paths: [hostile], tags, hostname, excludes: [`$(touch ${sentinel})`, '*.never'] }, ctx);
    assert.match(backup.restic, /^restic \d+\.\d+\.\d+ on host piglet$/);
    assert.equal(backup.filesNew, names.length);

    const listed = await runAction<SnapshotsResult>('restic.snapshots', { repository: 'onHost', host: hostname, tags }, ctx);
    assert.equal(listed.snapshots.length, 1);
    assert.deepEqual(listed.snapshots[0]!.tags.sort(), [...tags].sort());
    assert.equal(listed.snapshots[0]!.hostname, hostname);
    const snapshot = listed.snapshots[0]!.id;

    const folder = await runAction<LsResult>('restic.ls', { repository: 'onHost', snapshot, path: hostile, limit: 10_000 }, ctx);
    assert.deepEqual(folder.entries.map((entry) => entry.name).sort(), [...names].sort());
    const target = path.join(sshd.remoteDir, `restored $(touch ${sentinel}) 'x'`);
    for (const [index, name] of names.entries()) {
      const inside = path.join(hostile, name);
      const one = await runAction<LsResult>('restic.ls', { repository: 'onHost', snapshot, path: inside }, ctx);
      assert.deepEqual(one.entries.map((entry) => entry.name), [`file ${index}.txt`], `listing ${JSON.stringify(name)}`);
    }
    const some = names.filter((_, index) => index % 3 === 0).map((name) => path.join(hostile, name));
    const plan = await planAction('restic.restore', { repository: 'onHost', snapshot, paths: some, target }, ctx);
    assert.equal(plan.destructive, false);
    assert.equal(plan.operations.filter((operation) => operation.detail === 'file').length, some.length);
    await runAction('restic.restore', { repository: 'onHost', snapshot, paths: some, target }, ctx);
    for (const [index, name] of names.entries()) {
      const restored = path.join(target, hostile, name, `file ${index}.txt`);
      if (index % 3 === 0) assert.equal(await readFile(restored, 'utf8'), `content ${index}`, `restored ${JSON.stringify(name)}`);
      else assert.equal(existsSync(restored), false, `not asked for: ${JSON.stringify(name)}`);
    }
    const again = await planAction('restic.restore', { repository: 'onHost', snapshot, paths: [some[0]!], target }, ctx);
    assert.deepEqual(again.operations.filter((operation) => operation.detail === 'file').map((operation) => operation.kind), ['overwrite']);
    assert.equal(again.destructive, true);

    const forget = await planAction('restic.forget', { repository: 'onHost', keepLast: 1, host: hostname, tags }, ctx);
    assert.deepEqual(forget.operations, [], 'the only snapshot of that host and tags is the newest: it stays');
    const diff = registry.get('restic.diff')!;
    await assert.rejects(diff.run(diff.params.parse({ repository: 'onHost', snapshot }), ctx), /nothing to compare/);
    const wrongPassword = createActionContext({ ...ctx, clients: new ClientPool(), secrets: environmentSecrets({ LIFEBOAT_SECRET_RESTIC: `${PASSWORD} but wrong` }) });
    await assert.rejects(runAction('restic.snapshots', { repository: 'onHost' }, wrongPassword), /on host piglet failed: the password does not open this repository/);
    await wrongPassword.clients.disposeAll();
    for (const id of ['--help', `latest; touch ${sentinel}`, '$(id)', '-o', '']) assert.equal(registry.get('restic.ls')!.params.safeParse({ repository: 'onHost', snapshot: id }).success, false, id);
    await assert.rejects(planAction('restic.restore', { repository: 'onHost', snapshot, target: 'relative/target' }, ctx), /absolute path/);
    assert.equal(existsSync(sentinel), false, 'no value ran as a command');
  });

  it('keeps the password out of every command line on the host', async () => {
    const wrapper = path.join(sshd.remoteDir, 'restic-recording');
    const recorded = path.join(sshd.remoteDir, 'argv.log');
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$0 $*" >> '${recorded}'\ncat /proc/$$/cmdline >> '${recorded}'\nexec restic "$@"\n`, { mode: 0o755 });
    const repository = await openRepository(ctx, 'onHost');
    const recording = new ResticRepository({ ...repository.config, binary: wrapper });
    assert.ok((await recording.snapshots()).length > 0);
    const seen = await readFile(recorded, 'utf8');
    assert.match(seen, /snapshots --json/);
    assert.ok(!seen.includes(PASSWORD) && !seen.includes("'with'"), seen);
  });

  it('stops restic on the host when cancelled, leaving the repository unlocked', async () => {
    const big = path.join(sshd.remoteDir, `cancelled-${Date.now()}`);
    await mkdir(big);
    for (let index = 0; index < 6; index++) await writeFile(path.join(big, `part-${index}.bin`), randomBytes(32 * 1024 * 1024));
    const locks = path.join(sshd.remoteDir, 'repo', 'locks');
    const locksBefore = await readdir(locks);
    const controller = new AbortController();
    const cancelCtx = { ...ctx, signal: controller.signal, progress: { report: () => controller.abort() } };
    await assert.rejects(runAction('restic.backup', { repository: 'onHost', paths: [big] }, cancelCtx), CancelledError);
    for (let waited = 0; ; waited += 200) {
      const running = await run('pgrep', ['-f', big]).then(({ stdout }) => stdout.trim(), () => '');
      if (running === '') break;
      assert.ok(waited < 20_000, `restic still runs on the host: ${running}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await rm(big, { recursive: true, force: true });
    assert.deepEqual(await readdir(locks), locksBefore, 'restic removed its lock');
  });

  it('names a lost connection when the host drops in the middle of a backup', async () => {
    const big = path.join(sshd.remoteDir, `big-${Date.now()}`);
    await mkdir(big);
    for (let index = 0; index < 6; index++) await writeFile(path.join(big, `part-${index}.bin`), randomBytes(32 * 1024 * 1024));
    let cut = false;
    const flakyCtx = {
      ...ctx,
      progress: {
        report: () => {
          if (cut) return;
          cut = true;
          proxy.cutNow();
        },
      },
    };
    await assert.rejects(runAction('restic.backup', { repository: 'onFlakyHost', paths: [big] }, flakyCtx), (error: unknown) => {
      assert.ok(!(error instanceof CancelledError));
      assert.match((error as Error).message, /lost its connection.*restic unlock/s);
      return true;
    });
    assert.ok(cut, 'the backup reported progress before the cut');
    // restic on the host goes away with its session instead of running on unseen.
    for (let waited = 0; ; waited += 200) {
      const running = await run('pgrep', ['-f', big]).then(({ stdout }) => stdout.trim(), () => '');
      if (running === '') break;
      assert.ok(waited < 20_000, `restic still runs on the host: ${running}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await rm(big, { recursive: true, force: true });
  });

  it('uses an sftp: repository on an inventory host with that host\'s port, key and known_hosts', async () => {
    const target = await resolveSshTarget('piglet', { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath });
    const command = sftpCommand(target);
    assert.match(command, new RegExp(`-p ${sshd.port} `));
    assert.match(command, /StrictHostKeyChecking=yes/);
    // restic splits sftp.command itself: a key in a folder whose name holds spaces, quotes and shell syntax still reaches ssh as one argument (else ssh has no key to log in with).
    const keyFolder = path.join(work, "key folder $(id) 'q' `id`");
    await mkdir(keyFolder);
    await writeFile(path.join(keyFolder, 'client key'), await readFile(sshd.clientKey.privateKeyPath), { mode: 0o600 });
    const hostileCtx = createActionContext({
      ...ctx,
      inventory: { ...ctx.inventory, hosts: { ...ctx.inventory.hosts, keyed: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: path.join(keyFolder, 'client key'), knownHosts: sshd.knownHostsPath } }, repositories: { keyed: { repository: `sftp:keyed:${path.join(sshd.remoteDir, 'sftp-repo')}`, password: 'secret:restic' } } } as Inventory,
    });
    const repository = await openRepository(ctx, 'overSftp');
    await repository.init({ signal: ctx.signal });
    assert.deepEqual((await runAction<SnapshotsResult>('restic.snapshots', { repository: 'keyed' }, hostileCtx)).snapshots, []);
    assert.equal(existsSync(sentinel), false);
    const source = path.join(work, 'sftp-source');
    await mkdir(path.join(source, 'docs'), { recursive: true });
    await writeFile(path.join(source, 'docs', 'letter.txt'), 'dear restic');
    await runAction('restic.backup', { repository: 'overSftp', paths: [source] }, ctx);
    const listing = await runAction<LsResult>('restic.ls', { repository: 'overSftp', snapshot: 'latest', path: path.join(source, 'docs') }, ctx);
    assert.deepEqual(listing.entries.map((entry) => entry.name), ['letter.txt']);
    const into = path.join(work, 'from-sftp');
    await runAction('restic.restore', { repository: 'overSftp', snapshot: 'latest', paths: [path.join(source, 'docs', 'letter.txt')], target: into }, ctx);
    assert.equal(await readFile(path.join(into, source, 'docs', 'letter.txt'), 'utf8'), 'dear restic');
  });

  it('uses an S3 store\'s credentials and CA for an s3: repository', async () => {
    const repository = await openRepository(ctx, 'onS3');
    await repository.init({ signal: ctx.signal });
    const source = path.join(work, 's3-source');
    await mkdir(source);
    await writeFile(path.join(source, 'ledger.csv'), 'a,b\n1,2\n');
    await runAction('restic.backup', { repository: 'onS3', paths: [source], tags: ['offsite'] }, ctx);
    const listed = await runAction<SnapshotsResult>('restic.snapshots', { repository: 'onS3', tags: ['offsite'] }, ctx);
    assert.equal(listed.snapshots.length, 1);
    const into = path.join(work, 'from-s3');
    const plan = await planAction('restic.restore', { repository: 'onS3', snapshot: listed.latest, target: into }, ctx);
    assert.ok(plan.operations.some((operation) => operation.target === path.join(into, source, 'ledger.csv') && operation.kind === 'create'));
    await runAction('restic.restore', { repository: 'onS3', snapshot: listed.latest, target: into }, ctx);
    assert.equal(await readFile(path.join(into, source, 'ledger.csv'), 'utf8'), 'a,b\n1,2\n');
    assert.equal((await runAction<{ ok: boolean }>('restic.check', { repository: 'onS3' }, ctx)).ok, true);
  });
});
