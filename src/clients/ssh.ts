/**
 * SSH to the hosts of the inventory, with ssh2 (loaded on first connection, never at start-up). Host
 * keys are checked against known_hosts: an unknown key is put to the caller once (the extension asks;
 * the CLI fails with the line to add), a changed key always fails. Commands are argument arrays,
 * quoted for the remote shell here and nowhere else.
 */
import { Socket } from 'node:net';
import { posix } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import type { Client, ConnectConfig, FileEntryWithStats, ServerHostKeyAlgorithm, SFTPWrapper, Stats } from 'ssh2';
import type { ClientPool } from '../core/actions/clients';
import type { HostKeyApproval, Inventory, Logger } from '../core/actions/spec';
import { CancelledError, errorMessage } from '../core/errors';
import type { ExecOptions, ExecResult } from './ssh/exec';
import { driveChannel } from './ssh/exec';
import { authenticationMethods, describeConnectError, SshError, verifyHostKey } from './ssh/handshake';
import { knownHostsName, knownKeyTypes, readKnownHosts } from './ssh/knownHosts';
import { findOpenSsh, runWithOpenSsh } from './ssh/openssh';
import { remoteCommand } from './ssh/quote';
import { RemoteProcess } from './ssh/remoteProcess';
import type { SshTarget } from './ssh/target';
import { resolveSshTarget, SshConfigCache } from './ssh/target';

export type { ExecOptions, ExecResult, LocalFile } from './ssh/exec';
export { SshError, type SshFailure } from './ssh/handshake';
export type { SshTarget } from './ssh/target';
export { resolveSshTarget } from './ssh/target';
export { remoteCommand } from './ssh/quote';

const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 4;

export interface ConnectOptions {
  signal?: AbortSignal;
  approveHostKey?: HostKeyApproval;
  log?: Logger;
}

/** Promise forms of the SFTP calls actions use; the session closes with its connection. */
export interface SftpSession {
  stat(path: string): Promise<{ size: number; mtime: number; isDirectory: boolean }>;
  readdir(path: string): Promise<{ name: string; size: number; isDirectory: boolean; isFile: boolean }[]>;
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Renames over an existing file in one step (OpenSSH's `posix-rename@openssh.com`). */
  replace(from: string, to: string): Promise<void>;
  /** A second name for a file, failing when the name exists (OpenSSH's `hardlink@openssh.com`). */
  link(existing: string, name: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** A small file's whole content. */
  readFile(path: string): Promise<Buffer>;
  /** Parallel-request upload and download: far faster than SFTP read/write streams. */
  upload(localPath: string, remotePath: string): Promise<void>;
  download(remotePath: string, localPath: string): Promise<void>;
  /**
   * A new file (never one that exists) written from a stream, with writes pipelined as `upload`'s
   * are. The stream finishes once the host has acknowledged every byte and closed the file; destroyed,
   * it closes the file before it reports closed, so no request of it reaches the host after that.
   */
  createFile(path: string): Writable;
}

/** SSH_FX_NO_SUCH_FILE: the status of an SFTP request on a path that does not exist. */
const SFTP_NO_SUCH_FILE = 2;

/** A failed SFTP request, with whether the path it named does not exist. */
export class SftpError extends Error {
  constructor(
    message: string,
    readonly noSuchFile: boolean,
  ) {
    super(message);
    this.name = 'SftpError';
  }
}

/** Bytes of file writes awaiting the host's acknowledgement at most: the window `upload` keeps (64 requests of 32 KiB). */
const WRITE_BYTES_IN_FLIGHT = 2 * 1024 * 1024;

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
    ).then((sftp) => wrapSftp(sftp, this.client, this.label));
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

function wrapSftp(sftp: SFTPWrapper, client: Client, label: string): SftpSession {
  // ssh2 never calls back a transfer under way when the connection drops: every call also ends when the session does.
  let closed = false;
  const pending = new Set<() => void>();
  const onClose = () => {
    closed = true;
    for (const fail of pending) fail();
    pending.clear();
  };
  sftp.once('close', onClose);
  client.once('close', onClose);
  const call = <T>(what: string, start: (done: (error: (Error & { code?: unknown }) | null | undefined, value?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      const fail = (reason: string, noSuchFile = false) => reject(new SftpError(`${label}: SFTP ${what}: ${reason}`, noSuchFile));
      const failClosed = () => fail('the connection closed');
      if (closed) return failClosed();
      pending.add(failClosed);
      start((error, value) => {
        pending.delete(failClosed);
        if (error) fail(error.message, error.code === SFTP_NO_SUCH_FILE);
        else resolve(value as T);
      });
    });
  const createFile = (path: string): Writable => {
    let handle: Buffer | undefined;
    let position = 0;
    let bytesInFlight = 0;
    let failure: Error | undefined;
    // What waits for writes in flight to be acknowledged: a write for room, the end or a destroy for none left.
    let waiter: { until: () => boolean; then: () => void } | undefined;
    const settle = () => {
      if (waiter && (failure || waiter.until())) {
        const { then } = waiter;
        waiter = undefined;
        then();
      }
    };
    const wait = (until: () => boolean, then: () => void) => {
      waiter = { until, then };
      settle();
    };
    const close = (callback: (error: Error | null) => void) => {
      const opened = handle;
      handle = undefined;
      if (!opened) return callback(failure ?? null);
      call<void>(`close ${path}`, (done) => sftp.close(opened, done)).then(
        () => callback(failure ?? null),
        (error: Error) => callback(failure ?? error),
      );
    };
    return new Writable({
      construct: (callback) => {
        call<Buffer>(`create ${path}`, (done) => sftp.open(path, 'wx', done)).then(
          (opened) => {
            handle = opened;
            callback();
          },
          (error: Error) => callback(error),
        );
      },
      write: (chunk: Buffer, _encoding, callback) => {
        if (failure || !handle) return callback(failure ?? new Error(`${label}: SFTP ${path} is not open`));
        const at = position;
        position += chunk.length;
        bytesInFlight += chunk.length;
        call<void>(`write ${path}`, (done) => sftp.write(handle as Buffer, chunk, 0, chunk.length, at, done)).then(
          () => {
            bytesInFlight -= chunk.length;
            settle();
          },
          (error: Error) => {
            failure ??= error;
            settle();
          },
        );
        wait(() => bytesInFlight < WRITE_BYTES_IN_FLIGHT, () => callback(failure ?? null));
      },
      final: (callback) => wait(() => bytesInFlight === 0, () => close(callback)),
      destroy: (error, callback) => {
        failure ??= error ?? undefined;
        if (closed) return callback(error);
        wait(() => bytesInFlight === 0, () => close(() => callback(error)));
      },
    });
  };
  return {
    stat: (path) => call<Stats>('stat ' + path, (done) => sftp.stat(path, done)).then((stats) => ({ size: stats.size, mtime: stats.mtime, isDirectory: stats.isDirectory() })),
    readdir: (path) =>
      call<FileEntryWithStats[]>('list ' + path, (done) => sftp.readdir(path, done)).then((entries) =>
        entries.map((entry) => ({ name: entry.filename, size: entry.attrs.size, isDirectory: entry.attrs.isDirectory(), isFile: entry.attrs.isFile() })),
      ),
    mkdir: (path) => call('mkdir ' + path, (done) => sftp.mkdir(path, done)),
    rename: (from, to) => call(`rename ${from}`, (done) => sftp.rename(from, to, done)),
    replace: (from, to) => call(`rename ${from} over ${to}`, (done) => sftp.ext_openssh_rename(from, to, done)),
    link: (existing, name) => call(`link ${name}`, (done) => sftp.ext_openssh_hardlink(existing, name, done)),
    unlink: (path) => call('delete ' + path, (done) => sftp.unlink(path, done)),
    readFile: (path) => call<Buffer>('read ' + path, (done) => sftp.readFile(path, done)),
    upload: (localPath, remotePath) => call('upload ' + remotePath, (done) => sftp.fastPut(localPath, remotePath, done)),
    download: (remotePath, localPath) => call('download ' + remotePath, (done) => sftp.fastGet(remotePath, localPath, done)),
    createFile,
  };
}

/** Makes a folder on the host and the ones above it that are missing, as `mkdir -p` does. */
export async function makeRemoteFolders(sftp: SftpSession, folder: string): Promise<void> {
  const found = await sftp.stat(folder).then(
    (stats) => stats,
    (error: unknown) => (error instanceof SftpError && error.noSuchFile ? undefined : Promise.reject(error)),
  );
  if (found?.isDirectory) return;
  if (found) throw new Error(`${folder} on the host is not a folder`);
  const parent = posix.dirname(folder);
  if (parent !== folder) await makeRemoteFolders(sftp, parent);
  // Made meanwhile by another run: fine.
  await sftp.mkdir(folder).catch(async (error: unknown) => {
    if (!(await sftp.stat(folder).then((stats) => stats.isDirectory, () => false))) throw error;
  });
}

/** Removes a file on the host; one that is not there is not an error. */
export async function removeRemoteFile(sftp: SftpSession, file: string): Promise<void> {
  await sftp.unlink(file).catch((error: unknown) => {
    if (!(error instanceof SftpError && error.noSuchFile)) throw error;
  });
}

/** Host key algorithms ssh2 can ask for, by the key type known_hosts records. */
const HOST_KEY_ALGORITHMS: Readonly<Record<string, readonly ServerHostKeyAlgorithm[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * A TCP connection whose writes in one turn of the event loop leave together. ssh2 writes each packet
 * in three parts (length, encrypted body, tag), and with Nagle's algorithm off (see connectSsh) each
 * part would be a TCP segment of its own, waking the server for each. The write is wrapped after
 * `connect`, which puts back the prototype's own.
 */
function connectBatchingWrites(host: string, port: number): Socket {
  const socket = new Socket().connect({ host, port });
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => {
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    return write(...args);
  }) as Socket['write'];
  return socket;
}

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
    const { Client: SshClient, OpenSSHAgent, utils } = await import('./ssh2Sdk');
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
    const { methods, tried } = await authenticationMethods(target, { utils, OpenSSHAgent });
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      // ssh2 connects a socket of its own only when given none; errors reach it as from its own.
      sock: sock ?? connectBatchingWrites(target.host, target.port),
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
      // Many small requests (SFTP, command starts) each wait for the last one's answer: with Nagle's
      // algorithm each would also wait out the server's delayed ACK, 40 ms at a time.
      client.setNoDelay(true);
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

/**
 * The connection to an inventory host for this run: opened on first use, shared by later steps, closed
 * when the run ends. A name that is not in `hosts:` is taken as an ssh alias (a `~/.ssh/config` Host).
 */
export function sshConnectionFor(clients: ClientPool, inventory: Inventory, hostName: string, options: ConnectOptions = {}): Promise<SshConnection> {
  return clients.get(`ssh:${hostName}`, async () => {
    const cache = await clients.get('ssh-config', async () => new SshConfigCache());
    return connectSsh(await resolveSshTarget(hostName, inventory.hosts?.[hostName] ?? {}, { cache }), options);
  });
}
