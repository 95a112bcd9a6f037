import { appendFile, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type * as Ssh2Module from 'ssh2';
import type { AnyAuthMethod } from 'ssh2';
import type { HostKeyApproval } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import type { KnownHostEntry } from './knownHosts';
import { checkHostKey, fingerprintOf, keyTypeOf, knownHostsLine, knownHostsName } from './knownHosts';
import type { SshTarget } from './target';
import { makeFolders } from '../../core/atomicFiles';

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

/** Checks the key the server presented: known passes, changed or revoked fails, unknown is asked about (or fails). */
export async function verifyHostKey(target: SshTarget, knownHosts: readonly KnownHostEntry[], key: Buffer, approve: HostKeyApproval | undefined): Promise<void> {
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
  // `StrictHostKeyChecking yes` never adds a key; `accept-new` (and `no`) add a new one without asking, as ssh does.
  const accepted = target.strictHostKeyChecking === 'yes' ? false : target.strictHostKeyChecking !== 'ask' || (approve !== undefined && (await approve({ host: name, keyType: keyTypeOf(key), fingerprint, knownHostsLine: line, knownHostsFile: file })));
  if (accepted) {
    await makeFolders(dirname(file), 0o700);
    await appendFile(file, `${line}\n`, { mode: 0o600 });
    return;
  }
  throw new SshError(
    'host-key-unknown',
    `The host key of ${target.name} (${name}) is not known: ${keyTypeOf(key)} ${fingerprint}. ` +
      `If that is the key of this host (check on the host: ssh-keygen -lf /etc/ssh/ssh_host_${keyTypeOf(key).replace(/^ssh-|-.*$/g, '')}_key.pub), add this line to ${file}:\n${line}`,
  );
}

/** The parts of ssh2 the authentication uses (ssh2 is loaded on first connection). */
export interface Ssh2Auth {
  utils: Pick<(typeof Ssh2Module)['utils'], 'parseKey'>;
  OpenSSHAgent: (typeof Ssh2Module)['OpenSSHAgent'];
}

interface Identity {
  /** The private key, when the file holds one ssh2 can use as it is. */
  key?: Buffer;
  /** The public key blob (`<file>.pub`), to find the key in ssh-agent when the file is passphrase-protected. */
  publicKey?: Buffer;
}

/**
 * ssh-agent first, then each identity file, as OpenSSH orders them. With `IdentitiesOnly yes` the agent
 * offers only the keys of the identity files (a passphrase-protected file through its `.pub`), so a
 * server that allows a few attempts is not worn out by the agent's other keys.
 */
export async function authenticationMethods(target: SshTarget, ssh2: Ssh2Auth): Promise<{ methods: AnyAuthMethod[]; tried: string[] }> {
  const methods: AnyAuthMethod[] = [];
  const tried: string[] = [];
  if (target.agent && !target.identitiesOnly) {
    methods.push({ type: 'agent', username: target.user, agent: target.agent });
    tried.push('ssh-agent');
  }
  for (const file of target.identityFiles) {
    const identity = await readIdentity(file, ssh2, tried);
    if (identity?.key) {
      methods.push({ type: 'publickey', username: target.user, key: identity.key });
      tried.push(file);
    } else if (identity?.publicKey && target.agent && target.identitiesOnly) {
      methods.push({ type: 'agent', username: target.user, agent: agentOffering(ssh2, target.agent, identity.publicKey) });
      tried.push(`${file} (through ssh-agent)`);
    } else if (identity?.publicKey) {
      tried.push(`${file} (passphrase-protected: used only through ssh-agent)`);
    }
  }
  if (methods.length === 0) {
    const agent = target.agent ? 'IdentitiesOnly yes keeps ssh-agent to the identity files (a passphrase-protected one needs its .pub beside it)' : 'no ssh-agent (SSH_AUTH_SOCK is not set)';
    throw new SshError('auth', `no SSH key for ${target.name}: ${agent} and no usable identity file${tried.length ? ` (${tried.join(', ')})` : ' (set identityFile in lifeboat.yaml or IdentityFile in ~/.ssh/config)'}`);
  }
  return { methods, tried };
}

async function readIdentity(file: string, ssh2: Ssh2Auth, tried: string[]): Promise<Identity | undefined> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (error) {
    tried.push(`${file} (unreadable: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`);
    return undefined;
  }
  const parsed = ssh2.utils.parseKey(key);
  if (!(parsed instanceof Error)) return { key };
  const publicKey = await readFile(`${file}.pub`).then(
    (text) => ssh2.utils.parseKey(text),
    () => undefined,
  );
  if (publicKey && !(publicKey instanceof Error)) return { publicKey: publicKey.getPublicSSH() };
  // A passphrase-protected key is used through ssh-agent; Lifeboat never prompts for a passphrase.
  tried.push(`${file} (not usable: ${parsed.message}; add it to ssh-agent)`);
  return undefined;
}

/** The agent at `socket`, offering only the key whose public blob is `publicKey`. */
function agentOffering(ssh2: Ssh2Auth, socket: string, publicKey: Buffer): InstanceType<Ssh2Auth['OpenSSHAgent']> {
  return new (class extends ssh2.OpenSSHAgent {
    override getIdentities(callback: Parameters<InstanceType<Ssh2Auth['OpenSSHAgent']>['getIdentities']>[0]): void {
      super.getIdentities((error, keys) => callback(error, keys?.filter((key) => 'getPublicSSH' in key && key.getPublicSSH().equals(publicKey))));
    }
  })(socket);
}

export function describeConnectError(target: SshTarget, error: Error & { level?: string; code?: string }, tried: readonly string[]): SshError {
  const where = `${target.user}@${target.host}:${target.port}`;
  if (error.level === 'client-authentication') {
    return new SshError('auth', `authentication failed for ${where} (${target.name}): the server accepted none of the keys tried (${tried.join(', ')})`);
  }
  if (/too many authentication failures/i.test(error.message)) {
    return new SshError(
      'auth',
      `authentication failed for ${where} (${target.name}): the server stopped after too many keys were offered (${tried.join(', ')}); ` +
        'when ssh-agent holds many keys, set `IdentitiesOnly yes` and the right IdentityFile for this host in ~/.ssh/config',
    );
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
