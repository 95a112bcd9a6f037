/**
 * What `ssh` would use to reach a host, asked of OpenSSH itself: `ssh -G` prints the options after it
 * has read ~/.ssh/config and /etc/ssh/ssh_config with every rule it has (`Match`, `Include`, tokens,
 * first value wins). Note that `ssh -G` runs the commands of `Match exec` lines, as `ssh` would. Where
 * there is no `ssh` program, the `ssh-config` package reads the files instead (see configFiles.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { runCaptured } from '../process';
import { computeSshOptions, SYSTEM_CONFIG, type SshOptions } from './configFiles';
import { findOpenSsh } from './openssh';

export type StrictHostKeyChecking = 'yes' | 'ask' | 'accept-new' | 'no';

/** The options Lifeboat takes from the SSH configuration for one host, with OpenSSH's defaults filled in. */
export interface SshConfigHost {
  hostName: string;
  user: string;
  port: number;
  /** Tokens and `~` expanded; OpenSSH's default key files only when they exist. */
  identityFiles: string[];
  identitiesOnly: boolean;
  proxyJump?: string;
  userKnownHostsFiles: string[];
  strictHostKeyChecking: StrictHostKeyChecking;
  connectTimeoutSeconds?: number;
  /** `IdentityAgent`: a socket path, or `none`; undefined means `SSH_AUTH_SOCK`. */
  identityAgent?: string;
  /** Who read the configuration: OpenSSH (`ssh -G`), or the `ssh-config` package. */
  readBy: 'openssh' | 'ssh-config';
}

export interface SshConfigQuery {
  /** Given elsewhere (lifeboat.yaml), as `ssh -l`: `Match user` and `%r` see it. */
  user?: string;
  /** Given elsewhere, as `ssh -p`. */
  port?: number;
  /** A configuration file read instead of ~/.ssh/config and /etc/ssh/ssh_config, as `ssh -F`; one that does not exist is empty. */
  configPath?: string;
  /** The `ssh` program; null reads the files without OpenSSH. Looked for on PATH when left out. */
  ssh?: string | null;
  /** The home folder of `~`, `%d` and relative includes when read without OpenSSH (the account's, as ssh takes it). */
  home?: string;
  env?: NodeJS.ProcessEnv;
}

/** How long `ssh -G` may take: it only reads files, unless a `Match exec` command is slow. */
const OPENSSH_CONFIG_TIMEOUT_MS = 10_000;
/** The key files `ssh` tries when the configuration names none. */
const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'];

/** The SSH configuration of `alias`, as `ssh` itself would use it. */
export async function resolveSshConfig(alias: string, query: SshConfigQuery = {}): Promise<SshConfigHost> {
  // What OpenSSH refuses too (ssh.c valid_hostname: "hostname contains invalid characters"); a leading `-` would be an option.
  if (alias === '' || alias.startsWith('-') || /[\s\p{Cc}'`"$\\;&<>|(){}]/u.test(alias)) throw new Error(`'${alias}' is not a host name or ssh alias`);
  const ssh = query.ssh === undefined ? await findOpenSsh() : query.ssh;
  // ssh takes `~` and `%d` from the account, whatever $HOME says.
  const home = (ssh ? undefined : query.home) ?? userInfo().homedir;
  const options = ssh ? await askOpenSsh(ssh, alias, query) : await readWithoutOpenSsh(alias, query, home);
  return interpret(options, alias, ssh ? 'openssh' : 'ssh-config', home, query.env ?? process.env);
}

async function askOpenSsh(ssh: string, alias: string, query: SshConfigQuery): Promise<SshOptions> {
  const args = ['-G'];
  if (query.configPath !== undefined) args.push('-F', existsSync(query.configPath) ? query.configPath : 'none');
  if (query.user !== undefined) args.push('-l', query.user);
  if (query.port !== undefined) args.push('-p', String(query.port));
  args.push('--', alias);
  const result = await runCaptured(ssh, args, { timeoutMs: OPENSSH_CONFIG_TIMEOUT_MS, env: query.env });
  if (result.timedOut) throw new Error(`\`ssh -G ${alias}\` took longer than ${OPENSSH_CONFIG_TIMEOUT_MS / 1000} s (a slow Match exec command in the ssh configuration?)`);
  if (result.exitCode !== 0) {
    const why = result.stderr.split('\n').filter((line) => line && !line.startsWith('Pseudo-terminal')).join('; ');
    throw new Error(`ssh configuration for ${alias}: ${why || `ssh -G ${result.exitCode === null ? 'did not run to its end' : `exited with code ${result.exitCode}`}`}`);
  }
  const options: SshOptions = new Map();
  for (const line of result.stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const keyword = line.slice(0, space).toLowerCase();
    const value = line.slice(space + 1);
    // One line per key file; the known_hosts files share one line.
    const values = keyword === 'userknownhostsfile' || keyword === 'globalknownhostsfile' ? value.split(' ').filter(Boolean) : [value];
    options.set(keyword, [...(options.get(keyword) ?? []), ...values]);
  }
  return options;
}

async function readWithoutOpenSsh(alias: string, query: SshConfigQuery, home: string): Promise<SshOptions> {
  const files = query.configPath !== undefined
    ? [{ path: query.configPath, system: false }]
    : [{ path: join(home, '.ssh', 'config'), system: false }, { path: SYSTEM_CONFIG, system: true }];
  const options = await computeSshOptions(files, alias, query.user, home);
  if (query.port !== undefined) options.set('port', [String(query.port)]);
  // OpenSSH's defaults, which `ssh -G` prints.
  const defaults: Record<string, string[]> = {
    hostname: [alias],
    user: [userInfo().username],
    port: ['22'],
    identityfile: DEFAULT_IDENTITIES.map((name) => `~/.ssh/${name}`),
    userknownhostsfile: ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'],
    stricthostkeychecking: ['ask'],
    identitiesonly: ['no'],
  };
  for (const [keyword, value] of Object.entries(defaults)) if (!options.has(keyword)) options.set(keyword, value);
  // OpenSSH lowercases the host name, and expands %h (the alias) and %% in HostName.
  options.set('hostname', [expandTokens(first(options, 'hostname') ?? alias, { h: alias }, 'HostName').toLowerCase()]);
  return options;
}

function first(options: SshOptions, keyword: string): string | undefined {
  return options.get(keyword)?.[0];
}

function interpret(options: SshOptions, alias: string, readBy: SshConfigHost['readBy'], home: string, env: NodeJS.ProcessEnv): SshConfigHost {
  const hostName = first(options, 'hostname') ?? alias;
  const user = first(options, 'user') ?? userInfo().username;
  const port = Number(first(options, 'port') ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`ssh configuration for ${alias}: Port ${first(options, 'port')} is not a TCP port`);
  const proxyJump = first(options, 'proxyjump');
  const localHost = hostname();
  const tokens: Record<string, string> = {
    d: home,
    h: hostName,
    i: String(userInfo().uid),
    j: proxyJump ?? '',
    k: first(options, 'hostkeyalias') ?? alias,
    L: localHost.split('.')[0] ?? localHost,
    l: localHost,
    n: alias,
    p: String(port),
    r: user,
    u: userInfo().username,
  };
  // As OpenSSH 9.2 computes %C.
  tokens.C = createHash('sha1').update(`${tokens.l}${hostName}${port}${user}`).digest('hex');
  const path = (value: string, keyword: string) => expandTokens(expandHome(expandEnvironment(value, env, keyword), home), tokens, keyword);
  const defaults = new Set(DEFAULT_IDENTITIES.map((name) => join(home, '.ssh', name)));
  const identityFiles = (options.get('identityfile') ?? [])
    .filter((file) => file.toLowerCase() !== 'none')
    .map((file) => path(file, 'IdentityFile'))
    // ssh passes over its default key files when they are missing, without a word.
    .filter((file) => !defaults.has(file) || existsSync(file));
  const knownHosts = options.get('userknownhostsfile') ?? [];
  const timeout = first(options, 'connecttimeout');
  const agent = first(options, 'identityagent');
  const strict = (first(options, 'stricthostkeychecking') ?? 'ask').toLowerCase();
  return {
    hostName,
    user,
    port,
    identityFiles: [...new Set(identityFiles)],
    identitiesOnly: first(options, 'identitiesonly')?.toLowerCase() === 'yes',
    proxyJump: proxyJump && proxyJump.toLowerCase() !== 'none' ? proxyJump : undefined,
    // `ssh -G` prints these expanded already.
    userKnownHostsFiles: knownHosts.length === 1 && knownHosts[0]?.toLowerCase() === 'none' ? [] : readBy === 'openssh' ? knownHosts : knownHosts.map((file) => path(file, 'UserKnownHostsFile')),
    strictHostKeyChecking: strict === 'yes' || strict === 'true' ? 'yes' : strict === 'accept-new' ? 'accept-new' : strict === 'no' || strict === 'off' || strict === 'false' ? 'no' : 'ask',
    connectTimeoutSeconds: timeout && /^\d+$/.test(timeout) ? Number(timeout) : undefined,
    identityAgent: agent === undefined || agent === 'SSH_AUTH_SOCK' ? undefined : agent.toLowerCase() === 'none' ? 'none' : path(agent.replace(/^\$(\w+)$/, '$${$1}'), 'IdentityAgent'),
    readBy,
  };
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** `${NAME}` from the environment, as OpenSSH expands it in paths; an unset name is an error there too. */
function expandEnvironment(value: string, env: NodeJS.ProcessEnv, keyword: string): string {
  return value.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const found = env[name];
    if (found === undefined) throw new Error(`${keyword} ${value}: environment variable ${name} is not set`);
    return found;
  });
}

/** The `%` tokens of ssh_config(5) TOKENS; an unknown one is an error, as in ssh. */
function expandTokens(value: string, tokens: Readonly<Record<string, string>>, keyword: string): string {
  return value.replace(/%(.)/g, (_, token: string) => {
    if (token === '%') return '%';
    const found = tokens[token];
    if (found === undefined) throw new Error(`${keyword} ${value}: unknown token %${token}`);
    return found;
  });
}
