import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { SshHostEntry } from '../../core/inventory/schema';
import { resolveSshConfig } from './config';

/** Everything needed to reach one SSH server, after the inventory and `~/.ssh/config` are merged. */
export interface SshTarget {
  /** How the host is named in messages: the inventory entry or the alias. */
  name: string;
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  /** Only the identity files, as `IdentitiesOnly yes`: the agent's other keys are not offered. */
  identitiesOnly: boolean;
  /** ssh-agent socket (`SSH_AUTH_SOCK`), when there is one. */
  agent?: string;
  /** known_hosts files, the first being where an accepted key is added. */
  knownHostsFiles: string[];
  /** The hop to go through first (`ProxyJump`); itself a target, possibly with its own hop. */
  jump?: SshTarget;
  connectTimeoutMs: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

export interface ResolveOptions {
  /** `~/.ssh/config` by default. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * An inventory host (or a bare alias) as a target: inventory fields win, then `~/.ssh/config` for the
 * alias, then OpenSSH's defaults (port 22, the local user, ~/.ssh/id_* keys, ~/.ssh/known_hosts).
 */
export async function resolveSshTarget(name: string, entry: SshHostEntry, options: ResolveOptions = {}): Promise<SshTarget> {
  const env = options.env ?? process.env;
  const alias = entry.host ?? name;
  const config = await resolveSshConfig(alias, options.configPath);
  const home = homedir();
  const expand = (path: string) => (path.startsWith('~/') ? join(home, path.slice(2)) : path);
  const identityFiles = entry.identityFile
    ? [expand(entry.identityFile)]
    : config.identityFiles.length > 0
      ? config.identityFiles
      : DEFAULT_IDENTITIES.map((file) => join(home, '.ssh', file)).filter((file) => existsSync(file));
  const proxyJump = entry.proxyJump ?? config.proxyJump;
  const target: SshTarget = {
    name,
    host: config.hostName ?? alias,
    port: entry.port ?? config.port ?? 22,
    user: entry.user ?? config.user ?? userInfo().username,
    identityFiles,
    identitiesOnly: config.identitiesOnly ?? false,
    agent: env.SSH_AUTH_SOCK || undefined,
    knownHostsFiles: entry.knownHosts ? [expand(entry.knownHosts)] : (config.userKnownHostsFiles ?? [join(home, '.ssh', 'known_hosts'), join(home, '.ssh', 'known_hosts2')]),
    connectTimeoutMs: entry.connectTimeoutSeconds ? entry.connectTimeoutSeconds * 1000 : DEFAULT_CONNECT_TIMEOUT_MS,
  };
  if (proxyJump) target.jump = await resolveJumpChain(proxyJump, target, options);
  return target;
}

/**
 * `ProxyJump a,b`: connect to a, from there to b, from there to the target. Each hop is an alias of its
 * own in `~/.ssh/config` and checks its host key against the target's known_hosts files.
 */
async function resolveJumpChain(spec: string, target: SshTarget, options: ResolveOptions): Promise<SshTarget> {
  let previous: SshTarget | undefined;
  for (const hop of spec.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop);
    if (!match) throw new Error(`${target.name}: ProxyJump '${hop}' is not [user@]host[:port]`);
    const [, user, host = '', port] = match;
    const resolved = await resolveSshTarget(hop, { host: host.replace(/^\[|\]$/g, ''), user, port: port ? Number(port) : undefined, knownHosts: undefined }, options);
    // Every hop is checked against the target's known_hosts files, so an inventory `knownHosts` covers the whole path.
    resolved.knownHostsFiles = target.knownHostsFiles;
    // A hop's own ProxyJump in ~/.ssh/config is ignored: the chain is the one written here, as `ssh -J` does.
    delete resolved.jump;
    if (previous) resolved.jump = previous;
    previous = resolved;
  }
  if (!previous) throw new Error(`${target.name}: ProxyJump is empty`);
  return previous;
}
