import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Disposable } from '../../core/actions/clients';
import type { SshHostEntry } from '../../core/inventory/schema';
import type { SshConfigHost, SshConfigQuery, StrictHostKeyChecking } from './config';
import { resolveSshConfig } from './config';

/** Everything needed to reach one SSH server, after the inventory and the SSH configuration are merged. */
export interface SshTarget {
  /** How the host is named in messages: the inventory entry or the alias. */
  name: string;
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  /** Only the identity files, as `IdentitiesOnly yes`: the agent's other keys are not offered. */
  identitiesOnly: boolean;
  /** ssh-agent socket (`IdentityAgent`, else `SSH_AUTH_SOCK`), when there is one. */
  agent?: string;
  /** known_hosts files, the first being where an accepted key is added. */
  knownHostsFiles: string[];
  /** `StrictHostKeyChecking`: `yes` never adds an unknown key; `accept-new` and `no` add it without asking. */
  strictHostKeyChecking: StrictHostKeyChecking;
  /** The hop to go through first (`ProxyJump`); itself a target, possibly with its own hop. */
  jump?: SshTarget;
  connectTimeoutMs: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;

/** The SSH configuration of each host read in one run, so `ssh -G` runs once per host (jump hosts too). */
export class SshConfigCache implements Disposable {
  private readonly hosts = new Map<string, Promise<SshConfigHost>>();

  resolve(alias: string, query: SshConfigQuery): Promise<SshConfigHost> {
    const key = JSON.stringify([alias, query.user, query.port, query.configPath, query.ssh, query.home]);
    let config = this.hosts.get(key);
    if (!config) {
      config = resolveSshConfig(alias, query);
      this.hosts.set(key, config);
      // A failure is not kept: the next step reads the configuration again.
      config.catch(() => this.hosts.delete(key));
    }
    return config;
  }

  dispose(): void {
    this.hosts.clear();
  }
}

export interface ResolveOptions {
  /** Read instead of ~/.ssh/config and /etc/ssh/ssh_config, as `ssh -F`. */
  configPath?: string;
  /** The `ssh` program that reads the configuration; null reads it without OpenSSH. Looked for on PATH when left out. */
  ssh?: string | null;
  /** The home folder of `~` when the configuration is read without OpenSSH. */
  home?: string;
  env?: NodeJS.ProcessEnv;
  cache?: SshConfigCache;
}

/**
 * An inventory host (or a bare alias) as a target: inventory fields win (given to the SSH configuration
 * as `ssh -l`/`-p` would be), then what `ssh` itself would use for the alias, with OpenSSH's defaults.
 */
export async function resolveSshTarget(name: string, entry: SshHostEntry, options: ResolveOptions = {}): Promise<SshTarget> {
  const env = options.env ?? process.env;
  const alias = entry.host ?? name;
  const query: SshConfigQuery = { user: entry.user, port: entry.port, configPath: options.configPath, ssh: options.ssh, home: options.home, env: options.env };
  const config = await (options.cache ? options.cache.resolve(alias, query) : resolveSshConfig(alias, query));
  const expand = (path: string) => (path.startsWith('~/') ? join(homedir(), path.slice(2)) : path);
  const proxyJump = entry.proxyJump ?? config.proxyJump;
  const target: SshTarget = {
    name,
    host: config.hostName,
    port: config.port,
    user: config.user,
    identityFiles: entry.identityFile ? [expand(entry.identityFile)] : config.identityFiles,
    identitiesOnly: config.identitiesOnly,
    agent: config.identityAgent === 'none' ? undefined : (config.identityAgent ?? (env.SSH_AUTH_SOCK || undefined)),
    knownHostsFiles: entry.knownHosts ? [expand(entry.knownHosts)] : config.userKnownHostsFiles,
    strictHostKeyChecking: config.strictHostKeyChecking,
    connectTimeoutMs: entry.connectTimeoutSeconds ? entry.connectTimeoutSeconds * 1000 : config.connectTimeoutSeconds ? config.connectTimeoutSeconds * 1000 : DEFAULT_CONNECT_TIMEOUT_MS,
  };
  if (proxyJump) target.jump = await resolveJumpChain(proxyJump, target, options);
  return target;
}

/**
 * `ProxyJump a,b`: connect to a, from there to b, from there to the target. Each hop is an alias of its
 * own in the SSH configuration and checks its host key against the target's known_hosts files.
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
    // A hop's own ProxyJump in the SSH configuration is ignored: the chain is the one written here, as `ssh -J` does.
    delete resolved.jump;
    if (previous) resolved.jump = previous;
    previous = resolved;
  }
  if (!previous) throw new Error(`${target.name}: ProxyJump is empty`);
  return previous;
}
