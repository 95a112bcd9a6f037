/**
 * A real OpenSSH server on 127.0.0.1 for integration tests: per-run host and client keys (ed25519),
 * authorized_keys, a known_hosts file and an ssh config, all in a temporary folder that `stop()`
 * removes. Needs Debian `openssh-server` (scripts/test.sh installs it).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** sshd re-executes itself and refuses a relative path. */
export const SSHD = '/usr/sbin/sshd';
const START_TIMEOUT_MS = 10_000;

export interface KeyPair {
  privateKeyPath: string;
  /** The `.pub` line: `ssh-ed25519 AAAA… comment`. */
  publicKey: string;
}

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  user: string;
  /** The folder holding every file of this server; tests may create more there. */
  dir: string;
  hostKey: KeyPair;
  /** A key the server accepts. */
  clientKey: KeyPair;
  /** A known_hosts file with the single line `[127.0.0.1]:PORT <host key>`. */
  knownHostsPath: string;
  knownHostsLine: string;
  /** A folder the tests may use on the server side (the server is this machine). */
  remoteDir: string;
  logPath: string;
  stop(): Promise<void>;
}

export async function generateKey(path: string, comment = 'lifeboat-test'): Promise<KeyPair> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return { privateKeyPath: path, publicKey: (await readFile(`${path}.pub`, 'utf8')).trim() };
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `config`: more sshd_config lines, e.g. `SetEnv PATH=…` for the environment of every session. */
export async function startSshd(options: { config?: readonly string[] } = {}): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install Debian openssh-server (scripts/install-system-packages.sh openssh-server)`);
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-sshd-'));
  const hostKey = await generateKey(join(dir, 'host_ed25519'), 'lifeboat-test-host');
  const clientKey = await generateKey(join(dir, 'client_ed25519'));
  const authorizedKeysPath = join(dir, 'authorized_keys');
  await writeFile(authorizedKeysPath, `${clientKey.publicKey}\n`, { mode: 0o600 });
  const remoteDir = join(dir, 'remote');
  await mkdir(remoteDir);
  // sshd's privilege separation directory; without it: "Missing privilege separation directory".
  await mkdir('/run/sshd', { recursive: true });

  const port = await freePort();
  const pidPath = join(dir, 'sshd.pid');
  const logPath = join(dir, 'sshd.log');
  const configPath = join(dir, 'sshd_config');
  await writeFile(
    configPath,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey.privateKeyPath}`,
      `PidFile ${pidPath}`,
      `AuthorizedKeysFile ${authorizedKeysPath}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'LogLevel VERBOSE',
      'AllowTcpForwarding yes',
      'Subsystem sftp internal-sftp',
      ...(options.config ?? []),
      '',
    ].join('\n'),
  );
  await run(SSHD, ['-t', '-f', configPath]);
  await run(SSHD, ['-f', configPath, '-E', logPath]);
  const pid = await waitForPid(pidPath, logPath);

  const [type, blob] = hostKey.publicKey.split(' ');
  const knownHostsLine = `[127.0.0.1]:${port} ${type} ${blob}`;
  const knownHostsPath = join(dir, 'known_hosts');
  await writeFile(knownHostsPath, `${knownHostsLine}\n`);

  return {
    host: '127.0.0.1',
    port,
    user: userInfo().username,
    dir,
    hostKey,
    clientKey,
    knownHostsPath,
    knownHostsLine,
    remoteDir,
    logPath,
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      // Per-connection sshd processes may still write their log or a session's files for a moment:
      // a file created while the folder is emptied is retried, not left behind with ENOTEMPTY.
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

/** sshd daemonizes once it listens; its pid file appears then. */
async function waitForPid(pidPath: string, logPath: string): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const text = await readFile(pidPath, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    if (pid > 0) return pid;
    await sleep(20);
  }
  const log = await readFile(logPath, 'utf8').catch(() => '(no log)');
  throw new Error(`sshd did not start within ${START_TIMEOUT_MS} ms:\n${log}`);
}
