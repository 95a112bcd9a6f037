import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { SftpSession, SshConnection } from '../../src/clients/ssh';
import { connectSsh, SftpError, SshError, sshConnectionFor } from '../../src/clients/ssh';
import { findOpenSsh, runWithOpenSsh } from '../../src/clients/ssh/openssh';
import { RemoteProcess } from '../../src/clients/ssh/remoteProcess';
import { resolveSshTarget } from '../../src/clients/ssh/target';
import { ClientPool } from '../../src/core/actions/clients';
import type { UnknownHostKey } from '../../src/core/actions/spec';
import type { SshHostEntry } from '../../src/core/inventory/schema';
import { CancelledError } from '../../src/core/errors';
import { startTcpFaultProxy } from '../testbed/faultProxy';
import type { Sshd } from '../testbed/sshd';
import { freePort, generateKey, startSshd } from '../testbed/sshd';

const run = promisify(execFile);

describe('SSH client against a real sshd', function () {
  this.timeout(30_000);
  let sshd: Sshd;
  const open: SshConnection[] = [];

  before(async () => {
    sshd = await startSshd();
  });

  after(async () => {
    await sshd?.stop();
  });

  afterEach(() => {
    for (const connection of open.splice(0)) connection.dispose();
  });

  /** The test server as an inventory host; no agent and no ~/.ssh/config of the machine running the tests. */
  function target(entry: Partial<SshHostEntry> = {}, configPath = join(sshd.dir, 'no-ssh-config')) {
    return resolveSshTarget(
      'lab',
      { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath, ...entry },
      { env: {}, configPath },
    );
  }

  async function connect(entry: Partial<SshHostEntry> = {}, approveHostKey?: (key: UnknownHostKey) => Promise<boolean>): Promise<SshConnection> {
    const connection = await connectSsh(await target(entry), { approveHostKey });
    open.push(connection);
    return connection;
  }

  async function connectFailure(entry: Partial<SshHostEntry>): Promise<SshError> {
    const error = await connect(entry).then(
      () => assert.fail('the connection should have failed'),
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof SshError, `expected an SshError, got ${String(error)}`);
    return error;
  }

  function sha256(data: Buffer): string {
    return createHash('sha256').update(data).digest('hex');
  }

  function collect(): { stream: Writable; data(): Buffer } {
    const chunks: Buffer[] = [];
    return {
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      }),
      data: () => Buffer.concat(chunks),
    };
  }

  describe('commands', () => {
    it('passes every argument through the remote shell unchanged', async () => {
      const connection = await connect();
      const awkward = ['a b', "it's", '"quoted"', '$(id)', '`id`', '*', '; rm -rf /', 'back\\slash', 'new\nline', '', '-n'];
      const result = await connection.run(['printf', '[%s]\\n', ...awkward]);
      assert.equal(result.stdout, awkward.map((argument) => `[${argument}]\n`).join(''));
      assert.equal(result.transport, 'ssh2');
    });

    it('streams stdin into a command and stdout out of one, byte for byte', async () => {
      const connection = await connect();
      const data = randomBytes(8 * 1024 * 1024 + 123);
      const remote = join(sshd.remoteDir, 'streamed.bin');
      await connection.run(['sh', '-c', 'cat > "$1"', 'sh', remote], { stdin: Readable.from([data.subarray(0, 1000), data.subarray(1000)]) });
      assert.equal(sha256(await readFile(remote)), sha256(data));
      const back = collect();
      await connection.run(['cat', remote], { stdout: back.stream });
      assert.equal(sha256(back.data()), sha256(data));
    });

    it('reports a failing command with its exit code and stderr', async () => {
      const connection = await connect();
      const result = await connection.exec(['sh', '-c', 'echo broken >&2; exit 7']);
      assert.equal(result.exitCode, 7);
      assert.match(result.stderrTail, /broken/);
      await assert.rejects(connection.run(['sh', '-c', 'echo broken >&2; exit 7']), /exited with code 7:\nbroken/);
    });

    it('stops a command on cancel and on timeout', async () => {
      const connection = await connect();
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 200);
      await assert.rejects(connection.exec(['sleep', '30'], { signal: abort.signal }), CancelledError);
      await assert.rejects(connection.exec(['sleep', '30'], { timeoutMs: 300 }), /timed out after 0 s/);
      // The connection is still good for the next step.
      assert.equal((await connection.run(['echo', 'still here'])).stdout, 'still here\n');
    });
  });

  it('moves files over SFTP', async () => {
    const connection = await connect();
    const sftp = await connection.sftp();
    const data = randomBytes(3 * 1024 * 1024);
    const local = join(sshd.dir, 'upload.bin');
    await writeFile(local, data);
    const folder = join(sshd.remoteDir, 'sftp');
    await sftp.mkdir(folder);
    await sftp.upload(local, join(folder, 'partial.bin'));
    await sftp.rename(join(folder, 'partial.bin'), join(folder, 'final.bin'));
    assert.deepEqual(await sftp.readdir(folder), [{ name: 'final.bin', size: data.length, isDirectory: false, isFile: true }]);
    assert.equal((await sftp.stat(join(folder, 'final.bin'))).size, data.length);
    const downloaded = join(sshd.dir, 'download.bin');
    await sftp.download(join(folder, 'final.bin'), downloaded);
    assert.equal(sha256(await readFile(downloaded)), sha256(data));
    await sftp.unlink(join(folder, 'final.bin'));
    assert.deepEqual(await sftp.readdir(folder), []);
    await assert.rejects(sftp.stat(join(folder, 'final.bin')), /SFTP stat .*final\.bin/);
  });

  it('writes a new file over SFTP from a stream, byte for byte, and never over an existing one', async () => {
    const sftp = await (await connect()).sftp();
    const folder = join(sshd.remoteDir, 'sftp-stream');
    await sftp.mkdir(folder);
    // More than the writes kept in flight, in chunks of several sizes.
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const chunks = [data.subarray(0, 1), data.subarray(1, 300_000), data.subarray(300_000, 4_000_000), data.subarray(4_000_000)];
    await pipeline(Readable.from(chunks), sftp.createFile(join(folder, 'streamed.bin')));
    assert.equal(sha256(await readFile(join(folder, 'streamed.bin'))), sha256(data));
    await assert.rejects(pipeline(Readable.from([Buffer.from('other')]), sftp.createFile(join(folder, 'streamed.bin'))), /SFTP create .*streamed\.bin/);
    assert.equal(sha256(await readFile(join(folder, 'streamed.bin'))), sha256(data), 'the existing file is untouched');
    await assert.rejects(sftp.readdir(join(folder, 'missing')), (error: unknown) => error instanceof SftpError && error.noSuchFile);
    await assert.rejects(sftp.unlink(join(folder, 'missing.bin')), (error: unknown) => error instanceof SftpError && error.noSuchFile);
  });

  it('closes a destroyed SFTP file before it reports closed, keeping what was written', async () => {
    const sftp = await (await connect()).sftp();
    const file = join(sshd.remoteDir, 'sftp-destroyed.bin');
    const stream = sftp.createFile(file);
    const data = randomBytes(256 * 1024);
    await new Promise<void>((resolve, reject) => stream.write(data, (error) => (error ? reject(error) : resolve())));
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    stream.destroy();
    await closed;
    // Closed on the host: the same session can remove it at once, and nothing recreates it.
    assert.equal((await stat(file)).size, data.length);
    await sftp.unlink(file);
    await sleep(200);
    assert.equal(existsSync(file), false);
  });

  it('fails SFTP transfers at once when the connection drops, both ways', async () => {
    const proxy = await startTcpFaultProxy(sshd.port);
    try {
      const knownHosts = join(sshd.dir, 'known_hosts_sftp_proxy');
      await writeFile(knownHosts, `${sshd.knownHostsLine.replace(`:${sshd.port} `, `:${proxy.port} `)}\n`);
      const data = randomBytes(8 * 1024 * 1024);
      const local = join(sshd.dir, 'dropped.bin');
      await writeFile(local, data);
      const remote = join(sshd.remoteDir, 'dropped.bin');
      await writeFile(remote, data);
      // The proxy counts and slows what the client sends: the file itself on upload, small read requests on download.
      const transfers: { what: string; transfer: (sftp: SftpSession) => Promise<void>; bytesPerSecond: number; cutAfter: number }[] = [
        { what: 'upload', transfer: (sftp) => sftp.upload(local, join(sshd.remoteDir, 'dropped-upload.bin')), bytesPerSecond: 1024 * 1024, cutAfter: 512 * 1024 },
        { what: 'download', transfer: (sftp) => sftp.download(remote, join(sshd.dir, 'dropped-download.bin')), bytesPerSecond: 4 * 1024, cutAfter: 2 * 1024 },
        { what: 'write', transfer: (sftp) => pipeline(Readable.from([data.subarray(0, 4 * 1024 * 1024), data.subarray(4 * 1024 * 1024)]), sftp.createFile(join(sshd.remoteDir, 'dropped-stream.bin'))), bytesPerSecond: 1024 * 1024, cutAfter: 512 * 1024 },
      ];
      for (const { what, transfer, bytesPerSecond, cutAfter } of transfers) {
        const connection = await connect({ port: proxy.port, knownHosts });
        const sftp = await connection.sftp();
        proxy.throttle(bytesPerSecond);
        proxy.cutAfter(cutAfter);
        const started = Date.now();
        await assert.rejects(transfer(sftp), new RegExp(`SFTP ${what} .*dropped.*: the connection closed`));
        assert.ok(Date.now() - started < 10_000, `the ${what} failed within seconds of the cut`);
        proxy.throttle(undefined);
      }
    } finally {
      await proxy.stop();
    }
  });

  it('shares one connection per host within a run and closes it at the end', async () => {
    const pool = new ClientPool();
    const inventory = {
      hosts: { lab: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
    };
    const before = await acceptedLogins();
    const [first, second] = await Promise.all([sshConnectionFor(pool, inventory, 'lab'), sshConnectionFor(pool, inventory, 'lab')]);
    assert.equal(first, second);
    assert.equal((await first.run(['echo', 'one'])).stdout, 'one\n');
    assert.equal((await second.run(['echo', 'two'])).stdout, 'two\n');
    assert.equal((await acceptedLogins()) - before, 1, 'one login for both steps');
    await pool.disposeAll();
    await assert.rejects(first.exec(['true']), /Not connected|No response|closed/i);
  });

  describe('host keys', () => {
    it('accepts a key listed in a hashed known_hosts file', async () => {
      const hashed = join(sshd.dir, 'known_hosts_hashed');
      await writeFile(hashed, `# hashed by ssh-keygen -H\n${sshd.knownHostsLine}\n`);
      await run('ssh-keygen', ['-q', '-H', '-f', hashed]);
      const text = await readFile(hashed, 'utf8');
      assert.match(text, /^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /m, 'the file holds hashed names only');
      assert.ok(!text.includes('127.0.0.1'));
      const connection = await connect({ knownHosts: hashed });
      assert.equal((await connection.run(['echo', 'ok'])).stdout, 'ok\n');
    });

    it('refuses a changed host key, hashed or not, and never asks', async () => {
      const other = await generateKey(join(sshd.dir, 'impostor'));
      const [type, blob] = other.publicKey.split(' ');
      const plain = join(sshd.dir, 'known_hosts_changed');
      await writeFile(plain, `[127.0.0.1]:${sshd.port} ${type} ${blob}\n`);
      let asked = false;
      const error = await connectSsh(await target({ knownHosts: plain }), { approveHostKey: async () => (asked = true) }).catch((failure: unknown) => failure);
      assert.ok(error instanceof SshError);
      assert.equal(error.failure, 'host-key-changed');
      assert.match(error.message, /HOST KEY CHANGED for lab \(\[127\.0\.0\.1\]:\d+\): the server presented ssh-ed25519 SHA256:\S+, but .*known_hosts_changed:1 has SHA256:/);
      assert.equal(asked, false);

      await run('ssh-keygen', ['-q', '-H', '-f', plain]);
      assert.equal((await connectFailure({ knownHosts: plain })).failure, 'host-key-changed');
    });

    it('fails on an unknown host key with the fingerprint and the line to add', async () => {
      const empty = join(sshd.dir, 'known_hosts_empty');
      await writeFile(empty, '');
      const { stdout } = await run('ssh-keygen', ['-lf', `${sshd.hostKey.privateKeyPath}.pub`]);
      const fingerprint = stdout.split(' ')[1] ?? '';
      const error = await connectFailure({ knownHosts: empty });
      assert.equal(error.failure, 'host-key-unknown');
      assert.ok(error.message.includes(fingerprint), `${error.message} names ${fingerprint}`);
      assert.ok(error.message.endsWith(`add this line to ${empty}:\n${sshd.knownHostsLine}`), error.message);
    });

    it('asks once about an unknown key and remembers the answer in known_hosts', async () => {
      const file = join(sshd.dir, 'known_hosts_asked');
      const questions: UnknownHostKey[] = [];
      const approve = async (key: UnknownHostKey) => {
        questions.push(key);
        return true;
      };
      await connect({ knownHosts: file }, approve);
      await connect({ knownHosts: file }, approve);
      assert.equal(questions.length, 1);
      assert.equal(questions[0]?.knownHostsLine, sshd.knownHostsLine);
      assert.equal(await readFile(file, 'utf8'), `${sshd.knownHostsLine}\n`);
      assert.equal((await stat(file)).mode & 0o777, 0o600);

      const declined = join(sshd.dir, 'known_hosts_declined');
      const error = await connectSsh(await target({ knownHosts: declined }), { approveHostKey: async () => false }).catch((failure: unknown) => failure);
      assert.ok(error instanceof SshError && error.failure === 'host-key-unknown');
      await assert.rejects(readFile(declined), { code: 'ENOENT' });
    });
  });

  it('authenticates with a key held by ssh-agent', async () => {
    const socket = join(sshd.dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      for (let tries = 0; !existsSync(socket); tries++) {
        assert.ok(tries < 200, 'ssh-agent did not create its socket');
        await sleep(10);
      }
      await run('ssh-add', ['-q', sshd.clientKey.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const resolved = await resolveSshTarget(
        'lab',
        { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: join(sshd.dir, 'no-key-file'), knownHosts: sshd.knownHostsPath },
        { env: { SSH_AUTH_SOCK: socket }, configPath: join(sshd.dir, 'no-ssh-config') },
      );
      const connection = await connectSsh(resolved);
      open.push(connection);
      assert.equal((await connection.run(['echo', 'agent'])).stdout, 'agent\n');
    } finally {
      agent.kill();
    }
  });

  describe('connection failures', () => {
    it('reports a key the server does not accept as an authentication failure', async () => {
      const stranger = await generateKey(join(sshd.dir, 'stranger'));
      const error = await connectFailure({ identityFile: stranger.privateKeyPath });
      assert.equal(error.failure, 'auth');
      assert.match(error.message, new RegExp(`authentication failed for ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} \\(lab\\): the server accepted none of the keys tried \\(.*stranger\\)`));
    });

    it('reports an unknown user as an authentication failure', async () => {
      const error = await connectFailure({ user: 'no-such-lifeboat-user' });
      assert.equal(error.failure, 'auth');
      assert.match(error.message, /authentication failed for no-such-lifeboat-user@/);
    });

    it('reports a missing key file before connecting', async () => {
      const error = await connectFailure({ identityFile: join(sshd.dir, 'missing-key') });
      assert.equal(error.failure, 'auth');
      assert.match(error.message, /no SSH key for lab: no ssh-agent .*missing-key \(unreadable: ENOENT\)/);
    });

    it('reports a closed port as unreachable', async () => {
      const port = await freePort();
      const error = await connectFailure({ port });
      assert.equal(error.failure, 'unreachable');
      assert.match(error.message, new RegExp(`cannot reach .*@127\\.0\\.0\\.1:${port} \\(lab\\): connection refused`));
    });

    it('times out on a host that accepts the connection and never answers', async () => {
      const sockets: Socket[] = [];
      const silent = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const error = await connectFailure({ port: (silent.address() as { port: number }).port, connectTimeoutSeconds: 0.5 });
        assert.equal(error.failure, 'timeout');
        assert.match(error.message, /timed out after 1 s connecting to .* the host did not complete the SSH handshake/);
      } finally {
        for (const socket of sockets) socket.destroy();
        silent.close();
      }
    });
  });

  it('follows a ~/.ssh/config alias through its ProxyJump host', async () => {
    const config = join(sshd.dir, 'ssh_config');
    await writeFile(
      config,
      [
        'Host lab-target',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        `  User ${sshd.user}`,
        `  IdentityFile ${sshd.clientKey.privateKeyPath}`,
        '  ProxyJump lab-jump',
        '',
        'Host lab-jump',
        '  HostName 127.0.0.1',
        `  Port=${sshd.port}`,
        `  User ${sshd.user}`,
        `  IdentityFile "${sshd.clientKey.privateKeyPath}"`,
        '',
        'Host *',
        '  Port 1',
        '',
      ].join('\n'),
    );
    const resolved = await resolveSshTarget('lab', { host: 'lab-target', knownHosts: sshd.knownHostsPath }, { env: {}, configPath: config });
    assert.equal(resolved.port, sshd.port, 'the first value obtained wins over Host *');
    assert.equal(resolved.jump?.host, '127.0.0.1');
    assert.equal(resolved.jump?.port, sshd.port);
    const before = await acceptedLogins();
    const connection = await connectSsh(resolved);
    open.push(connection);
    assert.equal((await connection.run(['echo', 'through the jump host'])).stdout, 'through the jump host\n');
    assert.equal((await acceptedLogins()) - before, 2, 'one login on the jump host, one on the target');
  });

  describe('bulk data through the system ssh', () => {
    it('pins the verified host key and moves data byte for byte', async function () {
      const ssh = await findOpenSsh();
      assert.ok(ssh, 'the OpenSSH client is installed with openssh-server');
      const connection = await connect();
      const data = randomBytes(4 * 1024 * 1024);
      const remote = join(sshd.remoteDir, 'bulk.bin');
      const written = await connection.runBulk(['sh', '-c', 'cat > "$1"', 'sh', remote], { stdin: Readable.from([data]) });
      assert.equal(written.transport, 'openssh');
      const back = collect();
      await connection.runBulk(['cat', remote], { stdout: back.stream });
      assert.equal(sha256(back.data()), sha256(data));
    });

    it('refuses a host whose key is not the pinned one', async () => {
      const ssh = await findOpenSsh();
      assert.ok(ssh);
      const other = await generateKey(join(sshd.dir, 'pinned-impostor'));
      const wrongKey = Buffer.from(other.publicKey.split(' ')[1] ?? '', 'base64');
      const refused = new RemoteProcess(async () => assert.fail('nothing runs, so nothing is killed'));
      await assert.rejects(runWithOpenSsh(ssh, await target(), wrongKey, ['true'], {}, refused), /Host key verification failed/);
    });

    it('fails with the reader\'s error, not a lost connection, when what reads its output goes first', async () => {
      const connection = await connect();
      const readerFailure = Object.assign(new Error('the other side stopped receiving'), { code: 'EPIPE' });
      const reader = new Writable({
        write(_chunk, _encoding, done) {
          done(readerFailure);
        },
      });
      // ssh then exits 255 because its output broke: that must not read as the connection to this host being lost.
      await assert.rejects(connection.execBulk(['cat', '/dev/zero'], { stdout: reader }), (error: unknown) => error === readerFailure);
    });

    it('falls back to ssh2 when there is no ssh binary', async () => {
      const connection = await connect();
      const path = process.env.PATH;
      process.env.PATH = sshd.dir;
      try {
        const result = await connection.runBulk(['echo', 'fallback']);
        assert.equal(result.transport, 'ssh2');
        assert.equal(result.stdout, 'fallback\n');
      } finally {
        process.env.PATH = path;
      }
    });
  });

  /** Logins sshd has accepted so far, from its VERBOSE log. */
  async function acceptedLogins(): Promise<number> {
    return (await readFile(sshd.logPath, 'utf8')).split('\n').filter((line) => line.includes('Accepted publickey')).length;
  }
});
