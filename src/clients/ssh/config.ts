import { readdir, readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';

/** What Lifeboat takes from `~/.ssh/config` for one host; everything else in the file is left to OpenSSH. */
export interface SshConfigHost {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly?: boolean;
  proxyJump?: string;
  userKnownHostsFiles?: string[];
  /** Lines this parser read but could not honour (a `Match` block), so a caller can say so. */
  ignored: string[];
}

/** A glob of OpenSSH patterns: `*` any run of characters, `?` one character, matched whole and case-insensitively. */
export function wildcardMatch(pattern: string, text: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`, 'i').test(text);
}

function hostPatternsMatch(patterns: readonly string[], alias: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (wildcardMatch(pattern.slice(1), alias)) return false;
    } else if (wildcardMatch(pattern, alias)) {
      matched = true;
    }
  }
  return matched;
}

/** Splits a config line into keyword and arguments: `Key value`, `Key=value`, double-quoted arguments. */
function splitLine(line: string): { keyword: string; args: string[] } | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(trimmed);
  if (!match) return { keyword: trimmed.toLowerCase(), args: [] };
  const args = [...(match[2] ?? '').matchAll(/"([^"]*)"|(\S+)/g)].map((part) => part[1] ?? part[2] ?? '');
  return { keyword: (match[1] ?? '').toLowerCase(), args };
}

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

interface ReadState {
  home: string;
  applies: boolean;
  result: SshConfigHost;
  depth: number;
}

/**
 * Resolves one alias the way `ssh` does for the keywords Lifeboat uses: the first value obtained wins,
 * except `IdentityFile` and `UserKnownHostsFile`, which collect. `Include` is followed (with `*`
 * globs in the file name); `Match` blocks are not evaluated and are reported in `ignored`.
 */
export async function resolveSshConfig(alias: string, configPath = join(homedir(), '.ssh', 'config')): Promise<SshConfigHost> {
  const home = homedir();
  const state: ReadState = { home, applies: true, result: { identityFiles: [], ignored: [] }, depth: 0 };
  await readConfigFile(configPath, alias, state, { required: false });
  const remoteUser = state.result.user ?? userInfo().username;
  const host = state.result.hostName ?? alias;
  const expandTokens = (value: string) =>
    expandHome(value, home).replace(/%([%dhpru])/g, (_, token: string) =>
      token === '%' ? '%' : token === 'd' ? home : token === 'h' ? host : token === 'p' ? String(state.result.port ?? 22) : token === 'r' ? remoteUser : userInfo().username,
    );
  state.result.identityFiles = state.result.identityFiles.map(expandTokens);
  if (state.result.hostName) state.result.hostName = state.result.hostName.replaceAll('%h', alias);
  if (state.result.userKnownHostsFiles) state.result.userKnownHostsFiles = state.result.userKnownHostsFiles.map(expandTokens);
  return state.result;
}

async function readConfigFile(path: string, alias: string, state: ReadState, { required }: { required: boolean }): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot read ssh config ${path}: ${(error as Error).message}`);
  }
  const { result } = state;
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    const parsed = splitLine(line);
    if (!parsed) continue;
    const { keyword, args } = parsed;
    const value = args[0];
    if (keyword === 'host') {
      state.applies = hostPatternsMatch(args, alias);
      continue;
    }
    if (keyword === 'match') {
      state.applies = false;
      result.ignored.push(`${path}:${index + 1}: Match blocks are not evaluated`);
      continue;
    }
    if (!state.applies || value === undefined) continue;
    switch (keyword) {
      case 'include':
        if (state.depth >= 16) throw new Error(`${path}:${index + 1}: Include nests too deep`);
        for (const pattern of args) {
          for (const included of await expandInclude(expandHome(pattern, state.home), dirname(path))) {
            await readConfigFile(included, alias, { ...state, depth: state.depth + 1 }, { required: false });
          }
        }
        break;
      case 'hostname':
        result.hostName ??= value;
        break;
      case 'user':
        result.user ??= value;
        break;
      case 'port':
        if (result.port === undefined) {
          const port = Number(value);
          if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${path}:${index + 1}: Port ${value} is not a TCP port`);
          result.port = port;
        }
        break;
      case 'identityfile':
        if (value.toLowerCase() !== 'none') result.identityFiles.push(value);
        break;
      case 'identitiesonly':
        result.identitiesOnly ??= value.toLowerCase() === 'yes';
        break;
      case 'proxyjump':
        result.proxyJump ??= value.toLowerCase() === 'none' ? '' : value;
        break;
      case 'userknownhostsfile':
        result.userKnownHostsFiles ??= args;
        break;
    }
  }
}

/** Include paths are relative to ~/.ssh; a `*` or `?` in the last component lists that folder. */
async function expandInclude(pattern: string, configDir: string): Promise<string[]> {
  const path = isAbsolute(pattern) ? pattern : join(configDir, pattern);
  const name = basename(path);
  if (!/[*?]/.test(name)) return [path];
  const folder = dirname(path);
  const names = await readdir(folder).catch(() => [] as string[]);
  return names.filter((candidate) => wildcardMatch(name, candidate)).sort().map((candidate) => join(folder, candidate));
}
