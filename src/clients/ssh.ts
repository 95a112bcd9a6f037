/**
 * SSH to the hosts of the inventory, with ssh2 (loaded on first connection, never at start-up). Host
 * keys are checked against known_hosts: an unknown key is put to the caller once (the extension asks;
 * the CLI fails with the line to add), a changed key always fails. Commands are argument arrays,
 * quoted for the remote shell here and nowhere else.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createReadStream, createWriteStream } from 'node:fs';
import { Stream } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as Ssh2Module from 'ssh2';
import type { AnyAuthMethod, Client, ClientChannel, ConnectConfig, FileEntryWithStats, ServerHostKeyAlgorithm, SFTPWrapper, Stats } from 'ssh2';
import type { ClientPool } from '../core/actions/clients';
import type { HostKeyApproval, Inventory, Logger } from '../core/actions/spec';
import { CancelledError, errorMessage } from '../core/errors';
import { checkHostKey, fingerprintOf, keyTypeOf, knownHostsLine, knownHostsName, knownKeyTypes, readKnownHosts } from './ssh/knownHosts';
import { findOpenSsh, runWithOpenSsh } from './ssh/openssh';
import { remoteCommand } from './ssh/quote';
import { RemoteProcess } from './ssh/remoteProcess';
import type { SshTarget } from './ssh/target';
import { resolveSshTarget } from './ssh/target';

export type { SshTarget } from './ssh/target';
export { resolveSshTarget } from './ssh/target';
export { remoteCommand } from './ssh/quote';

const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 4;

export type SshFailure = 'auth' | 'unreachable' | 'timeout' | 'host-key-unknown' | 'host-key-changed' | 'host-key-revoked' | 'protocol';

/** A failure to connect, with what kind it is so callers and tests can tell them apart. */
export class SshError extends Error {
  constructor(
    readonly failure: SshFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

export interface ConnectOptions {
  signal?: AbortSignal;
  approveHostKey?: HostKeyApproval;
  log?: Logger;
}

export interface ExecOptions {
  /**
   * Streamed to the command's stdin; when left out the command gets an immediate end of input. A
   * `{ file }` is read by the transport itself: the system `ssh` then reads it with no copy through Node.
   */
  stdin?: Readable | LocalFile;
  /** Receives the command's stdout (a `{ file }` is written directly, as for stdin); when left out, stdout is collected into the result. */
  stdout?: Writable | LocalFile;
  /** Receives the command's stderr as it comes; its tail is in the result either way. */
  onStderr?: (chunk: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** A local file as a command's stdin or stdout. */
export interface LocalFile {
  file: string;
}

export function isLocalFile(stream: Readable | Writable | LocalFile): stream is LocalFile {
  return !(stream instanceof Stream);
}

export interface ExecResult {
  exitCode: number | null;
  /** The signal that ended the remote command, when one did. */
  exitSignal?: string;
  /** Collected stdout, when no `stdout` stream was given. */
  stdout?: string;
  stderrTail: string;
  transport: 'ssh2' | 'openssh';
}

/** Promise forms of the SFTP calls actions use; the session closes with its connection. */
export interface SftpSession {
  stat(path: string): Promise<{ size: number; mtime: number; isDirectory: boolean }>;
  readdir(path: string): Promise<{ name: string; size: number; isDirectory: boolean }[]>;
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Parallel-request upload and download: far faster than SFTP read/write streams. */
  upload(localPath: string, remotePath: string): Promise<void>;
  download(remotePath: string, localPath: string): Promise<void>;
}

/** One authenticated connection; shared by the steps of a run through the ClientPool. */
export class SshConnection {
  private sftpSession: Promise<SftpSession> | undefined;

  constructor(
    readonly target: SshTarget,
    private readonly client: Client,
    /** The host key this connection verified, which the OpenSSH bulk path pins. */
    readonly hostKey: Buffer,
    private readonly hops: readonly SshConnection[],
  ) {}

  get label(): string {
    return `${this.target.user}@${knownHostsName(this.target.host, this.target.port)}`;
  }

  /** Runs a command and fails unless it exits 0; stdout is collected unless streamed to `options.stdout`. */
  async run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return expectSuccess(this.label, argv, await this.exec(argv, options));
  }

  /** Runs a command with streamed stdin/stdout and reports how it ended. */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const shown = remoteCommand(argv);
    const remote = this.remoteProcess(options);
    return new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(remoteCommand(RemoteProcess.wrap(argv)), (error, channel) => {
        if (error) return reject(new Error(`${this.label}: cannot start \`${shown}\`: ${error.message}`));
        resolve(driveChannel(channel, shown, this.label, options, remote));
      });
    });
  }

  /**
   * Like `exec`, for bulk data: through the system `ssh` when there is one (several times faster than
   * ssh2 on a stream), pinned to the host key this connection verified; else through this connection.
   */
  async execBulk(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const ssh = this.target.jump ? undefined : await findOpenSsh();
    if (!ssh) return this.exec(argv, options);
    return runWithOpenSsh(ssh, this.target, this.hostKey, argv, options, this.remoteProcess(options));
  }

  /** A stop kills the command through this connection, which stays usable for the next step. */
  private remoteProcess(options: ExecOptions): RemoteProcess {
    return new RemoteProcess((pid, signal) => this.exec(['kill', `-${signal}`, pid]), options.onStderr);
  }

  async runBulk(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return expectSuccess(this.label, argv, await this.execBulk(argv, options));
  }

  /** A TCP stream from this host to the next hop, for ProxyJump. */
  forward(next: SshTarget): Promise<Readable> {
    return new Promise((resolve, reject) =>
      this.client.forwardOut('127.0.0.1', 0, next.host, next.port, (error, channel) =>
        error ? reject(new SshError('unreachable', `${this.label} cannot reach ${next.host}:${next.port} (ProxyJump): ${error.message}`)) : resolve(channel),
      ),
    );
  }

  sftp(): Promise<SftpSession> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) =>
      this.client.sftp((error, sftp) => (error ? reject(new Error(`${this.label}: cannot start SFTP: ${error.message}`)) : resolve(sftp))),
    ).then((sftp) => wrapSftp(sftp, this.label));
    this.sftpSession.catch(() => (this.sftpSession = undefined));
    return this.sftpSession;
  }

  dispose(): void {
    this.client.end();
    for (const hop of this.hops) hop.dispose();
  }
}

function expectSuccess(label: string, argv: readonly string[], result: ExecResult): ExecResult {
  if (result.exitCode === 0) return result;
  const how = result.exitSignal ? `was killed by ${result.exitSignal}` : `exited with code ${result.exitCode ?? 'unknown'}`;
  const tail = result.stderrTail.trim();
  throw new Error(`${label}: \`${remoteCommand(argv)}\` ${how}${tail ? `:\n${tail}` : ''}`);
}

/** Feeds stdin, drains stdout and stderr, and settles when the channel closes. */
async function driveChannel(channel: ClientChannel, command: string, label: string, options: ExecOptions, remote: RemoteProcess): Promise<ExecResult> {
  let exitCode: number | null = null;
  let exitSignal: string | undefined;
  channel.on('exit', (code: number | null, signal?: string) => {
    exitCode = code;
    exitSignal = signal;
  });
  channel.stderr.setEncoding('utf8');
  channel.stderr.on('data', (chunk: string) => remote.stderr(chunk));
  const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  void closed.then(() => remote.exited());
  const chunks: Buffer[] = [];
  // stdout must always be read: an unread channel never emits `close` and the call would hang.
  const { stdin, stdout } = options;
  const drained = stdout ? pipeline(channel, isLocalFile(stdout) ? createWriteStream(stdout.file) : stdout) : (channel.on('data', (chunk: Buffer) => chunks.push(chunk)), Promise.resolve());
  const fed = stdin ? pipeline(isLocalFile(stdin) ? createReadStream(stdin.file) : stdin, channel.stdin) : (channel.end(), Promise.resolve());
  const stopped = await untilStopped(options, remote, () => Promise.all([closed, drained, fed]), () => channel.close());
  if (stopped === 'cancelled') throw new CancelledError();
  if (stopped === 'timeout') throw new Error(`${label}: \`${command}\` timed out after ${Math.round((options.timeoutMs ?? 0) / 1000)} s`);
  return { exitCode, exitSignal, stdout: options.stdout ? undefined : Buffer.concat(chunks).toString('utf8'), stderrTail: remote.stderrTail, transport: 'ssh2' };
}

/**
 * Waits for a running command, stopping it on cancel or timeout. Returns why it was stopped, if it was;
 * a stream error after a stop is the stop's doing and not reported.
 */
export async function untilStopped(options: ExecOptions, remote: RemoteProcess, finished: () => Promise<unknown>, abandon: () => void): Promise<'cancelled' | 'timeout' | undefined> {
  let stopped: 'cancelled' | 'timeout' | undefined;
  const stop = (reason: 'cancelled' | 'timeout') => {
    stopped ??= reason;
    remote.stop();
  };
  const onAbort = () => stop('cancelled');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const timer = options.timeoutMs ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined;
  try {
    await finished();
  } catch (error) {
    abandon();
    if (!stopped) throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  }
  return stopped;
}

function wrapSftp(sftp: SFTPWrapper, label: string): SftpSession {
  const call = <T>(what: string, start: (done: (error: Error | null | undefined, value?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(new Error(`${label}: SFTP ${what}: ${error.message}`)) : resolve(value as T))));
  return {
    stat: (path) => call<Stats>('stat ' + path, (done) => sftp.stat(path, done)).then((stats) => ({ size: stats.size, mtime: stats.mtime, isDirectory: stats.isDirectory() })),
    readdir: (path) =>
      call<FileEntryWithStats[]>('list ' + path, (done) => sftp.readdir(path, done)).then((entries) => entries.map((entry) => ({ name: entry.filename, size: entry.attrs.size, isDirectory: entry.attrs.isDirectory() }))),
    mkdir: (path) => call('mkdir ' + path, (done) => sftp.mkdir(path, done)),
    rename: (from, to) => call(`rename ${from}`, (done) => sftp.rename(from, to, done)),
    unlink: (path) => call('delete ' + path, (done) => sftp.unlink(path, done)),
    upload: (localPath, remotePath) => call('upload ' + remotePath, (done) => sftp.fastPut(localPath, remotePath, done)),
    download: (remotePath, localPath) => call('download ' + remotePath, (done) => sftp.fastGet(remotePath, localPath, done)),
  };
}

type Ssh2 = typeof Ssh2Module;

/** ssh2 is CommonJS: Node's `import()` names only some of its exports; `default` has them all. */
async function loadSsh2(): Promise<Ssh2> {
  const loaded = (await import('ssh2')) as Ssh2 & { default?: Ssh2 };
  return loaded.default ?? loaded;
}

/** Host key algorithms ssh2 can ask for, by the key type known_hosts records. */
const HOST_KEY_ALGORITHMS: Readonly<Record<string, readonly ServerHostKeyAlgorithm[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** Connects (through its jump hosts first, if any) and authenticates. */
export async function connectSsh(target: SshTarget, options: ConnectOptions = {}): Promise<SshConnection> {
  const hops: SshConnection[] = [];
  let sock: Readable | undefined;
  try {
    if (target.jump) {
      const jump = await connectSsh(target.jump, options);
      hops.push(jump);
      sock = await jump.forward(target);
    }
    const { Client: SshClient, utils } = await loadSsh2();
    const knownHosts = await readKnownHosts(target.knownHostsFiles);
    const preferred = knownKeyTypes(knownHosts, target.host, target.port).flatMap((type) => HOST_KEY_ALGORITHMS[type] ?? []);
    let hostKeyProblem: SshError | undefined;
    let verifiedKey: Buffer | undefined;
    const hostVerifier = (key: Buffer, verify: (valid: boolean) => void) => {
      verifyHostKey(target, knownHosts, key, options.approveHostKey).then(
        () => {
          verifiedKey = key;
          verify(true);
        },
        (error: unknown) => {
          hostKeyProblem = error instanceof SshError ? error : new SshError('host-key-unknown', errorMessage(error));
          verify(false);
        },
      );
    };
    const { methods, tried } = await authenticationMethods(target, utils.parseKey);
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      sock,
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      hostVerifier,
      authHandler: methods,
      // ssh2 only prepends algorithms not yet listed: remove them first so the known types lead.
      algorithms: preferred.length > 0 ? { serverHostKey: { remove: preferred, prepend: preferred, append: [] } } : undefined,
    };
    const client = new SshClient();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        client.end();
        reject(new CancelledError());
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      client.once('ready', () => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      // `on`, not `once`: ssh2 may report a second error (the socket closing) after the first.
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        options.signal?.removeEventListener('abort', onAbort);
        reject(hostKeyProblem ?? describeConnectError(target, error, tried));
      });
      client.connect(config);
    });
    // An error after the handshake (a dropped connection) surfaces in the call that is running.
    client.on('error', (error) => options.log?.warn(`${target.name}: ${error.message}`));
    if (!verifiedKey) {
      client.end();
      throw new SshError('protocol', `${target.name}: the server completed the handshake without presenting a host key`);
    }
    return new SshConnection(target, client, verifiedKey, hops);
  } catch (error) {
    for (const hop of hops) hop.dispose();
    throw error;
  }
}

async function verifyHostKey(target: SshTarget, knownHosts: Awaited<ReturnType<typeof readKnownHosts>>, key: Buffer, approve: HostKeyApproval | undefined): Promise<void> {
  const check = checkHostKey(knownHosts, target.host, target.port, key);
  const name = knownHostsName(target.host, target.port);
  const fingerprint = fingerprintOf(key);
  if (check.status === 'known') return;
  if (check.status === 'revoked') throw new SshError('host-key-revoked', `${target.name} (${name}) presented a revoked host key ${fingerprint} (${check.file}:${check.line}); refusing to connect.`);
  if (check.status === 'changed') {
    throw new SshError(
      'host-key-changed',
      `HOST KEY CHANGED for ${target.name} (${name}): the server presented ${keyTypeOf(key)} ${fingerprint}, but ${check.file}:${check.line} has ${check.knownFingerprint}. ` +
        'Someone may be intercepting the connection, or the host was reinstalled. Refusing to connect; if the change is expected, remove the old line and connect again.',
    );
  }
  const line = knownHostsLine(target.host, target.port, key);
  const file = target.knownHostsFiles[0] ?? '~/.ssh/known_hosts';
  if (approve && (await approve({ host: name, keyType: keyTypeOf(key), fingerprint, knownHostsLine: line, knownHostsFile: file }))) {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await appendFile(file, `${line}\n`, { mode: 0o600 });
    return;
  }
  throw new SshError(
    'host-key-unknown',
    `The host key of ${target.name} (${name}) is not known: ${keyTypeOf(key)} ${fingerprint}. ` +
      `If that is the key of this host (check on the host: ssh-keygen -lf /etc/ssh/ssh_host_${keyTypeOf(key).replace(/^ssh-|-.*$/g, '')}_key.pub), add this line to ${file}:\n${line}`,
  );
}

type ParseKey = Ssh2['utils']['parseKey'];

/** ssh-agent first, then each identity file, as OpenSSH orders them. */
async function authenticationMethods(target: SshTarget, parseKey: ParseKey): Promise<{ methods: AnyAuthMethod[]; tried: string[] }> {
  const methods: AnyAuthMethod[] = [];
  const tried: string[] = [];
  if (target.agent) {
    methods.push({ type: 'agent', username: target.user, agent: target.agent });
    tried.push('ssh-agent');
  }
  for (const file of target.identityFiles) {
    let key: Buffer;
    try {
      key = await readFile(file);
    } catch (error) {
      tried.push(`${file} (unreadable: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`);
      continue;
    }
    const parsed = parseKey(key);
    if (parsed instanceof Error) {
      // A passphrase-protected key is used through ssh-agent; Lifeboat never prompts for a passphrase.
      tried.push(`${file} (not usable: ${parsed.message}; add it to ssh-agent)`);
      continue;
    }
    methods.push({ type: 'publickey', username: target.user, key });
    tried.push(file);
  }
  if (methods.length === 0) {
    throw new SshError('auth', `no SSH key for ${target.name}: no ssh-agent (SSH_AUTH_SOCK is not set) and no usable identity file${tried.length ? ` (${tried.join(', ')})` : ' (set identityFile in lifeboat.yaml or IdentityFile in ~/.ssh/config)'}`);
  }
  return { methods, tried };
}

function describeConnectError(target: SshTarget, error: Error & { level?: string; code?: string }, tried: readonly string[]): SshError {
  const where = `${target.user}@${target.host}:${target.port}`;
  if (error.level === 'client-authentication') {
    return new SshError('auth', `authentication failed for ${where} (${target.name}): the server accepted none of the keys tried (${tried.join(', ')})`);
  }
  if (error.level === 'client-timeout') {
    return new SshError('timeout', `timed out after ${Math.round(target.connectTimeoutMs / 1000)} s connecting to ${where} (${target.name}): the host did not complete the SSH handshake`);
  }
  if (error.code === 'ECONNREFUSED') return new SshError('unreachable', `cannot reach ${where} (${target.name}): connection refused (is sshd running on port ${target.port}?)`);
  if (error.code && ['EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET'].includes(error.code)) {
    return new SshError('unreachable', `cannot reach ${where} (${target.name}): ${error.code} ${error.message}`);
  }
  return new SshError('protocol', `SSH connection to ${where} (${target.name}) failed: ${error.message}`);
}

/**
 * The connection to an inventory host for this run: opened on first use, shared by later steps, closed
 * when the run ends. A name that is not in `hosts:` is taken as an ssh alias (a `~/.ssh/config` Host).
 */
export function sshConnectionFor(clients: ClientPool, inventory: Inventory, hostName: string, options: ConnectOptions = {}): Promise<SshConnection> {
  return clients.get(`ssh:${hostName}`, async () => connectSsh(await resolveSshTarget(hostName, inventory.hosts?.[hostName] ?? {}), options));
}
