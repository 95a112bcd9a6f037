/**
 * Reading `~/.ssh/config` where there is no `ssh` program to ask: the `ssh-config` package computes a
 * host's options, and this module gives it what it does not do itself, the files: `Include` (relative
 * to ~/.ssh, or /etc/ssh in the system file; globs in any part of the path; nested up to 16 deep; an
 * `Include` in a `Host` or `Match` block that does not apply reads nothing), then /etc/ssh/ssh_config.
 * `Match exec` is not run here.
 */
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Line } from 'ssh-config';
import SSHConfig from 'ssh-config';

/** Every value of every option, keyed by lowercase keyword, as `ssh -G` prints them. */
export type SshOptions = Map<string, string[]>;

export const SYSTEM_CONFIG = '/etc/ssh/ssh_config';
/** OpenSSH's READCONF_MAX_DEPTH. */
const MAX_INCLUDE_DEPTH = 16;
/** A keyword OpenSSH does not have, put in a block to learn whether the block applies. */
const PROBE = 'LifeboatBlockApplies';

interface Reading {
  alias: string;
  user?: string;
  home: string;
  /** The system file resolves relative includes in /etc/ssh and takes no `~`. */
  system: boolean;
}

/** The options for `alias` from these files, in order (the first value obtained wins, as in ssh). */
export async function computeSshOptions(files: readonly { path: string; system: boolean }[], alias: string, user: string | undefined, home: string): Promise<SshOptions> {
  const lines: string[] = [];
  for (const file of files) {
    const reading: Reading = { alias, user, home, system: file.system };
    const text = await readConfig(file.path);
    if (text === undefined) continue;
    lines.push(...(await flatten(file.path, text, reading, lines, 0)), 'Match all');
  }
  const computed = compute(lines, alias, user);
  const options: SshOptions = new Map();
  for (const [keyword, value] of Object.entries(computed)) {
    if (keyword === 'host' || keyword === 'match' || keyword === 'include' || keyword === PROBE.toLowerCase()) continue;
    options.set(keyword, Array.isArray(value) ? value : [value]);
  }
  return options;
}

function compute(lines: readonly string[], alias: string, user: string | undefined): Record<string, string | string[]> {
  const config = SSHConfig.parse(lines.join('\n'));
  canonicalKeywords(config);
  return config.compute(user === undefined ? { Host: alias } : { Host: alias, User: user }, { ignoreCase: true, matchExec: false });
}

/** ssh-config tracks `HostName` and `User` for `Match host`/`Match user` only when spelt so; OpenSSH reads keywords in any case. */
function canonicalKeywords(lines: Line[]): void {
  for (const line of lines) {
    if (!('param' in line)) continue;
    if (/^hostname$/i.test(line.param)) line.param = 'HostName';
    else if (/^user$/i.test(line.param)) line.param = 'User';
    if ('config' in line) canonicalKeywords(line.config);
  }
}

/** A file's text; undefined when it does not exist (a configuration file that is not there is empty). */
async function readConfig(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    // A glob's match, like glob(3)'s, is only a path that exists.
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw new Error(`cannot read ssh config ${path}: ${(error as Error).message}`);
  }
}

/**
 * The file's lines with each `Include` replaced by the included files' lines, followed by the block
 * header it sat in again, so the lines after it stay in that block. `before` is everything read
 * until this file, which decides whether a block applies.
 */
async function flatten(path: string, text: string, reading: Reading, before: readonly string[], depth: number): Promise<string[]> {
  const out: string[] = [];
  let header: string | undefined;
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    const directive = /^\s*(\w+)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    const keyword = directive?.[1]?.toLowerCase();
    if (keyword === 'host' || keyword === 'match') header = line;
    if (keyword !== 'include') {
      out.push(line);
      continue;
    }
    if (depth >= MAX_INCLUDE_DEPTH) throw new Error(`${path}:${index + 1}: Include nests more than ${MAX_INCLUDE_DEPTH} deep`);
    if (header !== undefined && !applies([...before, ...out, header], reading)) continue;
    for (const pattern of words(directive?.[2] ?? '')) {
      for (const included of await globPaths(anchor(pattern, reading, `${path}:${index + 1}`))) {
        const includedText = await readConfig(included);
        if (includedText === undefined) continue;
        out.push(...(await flatten(included, includedText, reading, [...before, ...out], depth + 1)));
        out.push(header ?? 'Match all');
      }
    }
  }
  return out;
}

function applies(lines: readonly string[], reading: Reading): boolean {
  return compute([...lines, `  ${PROBE} yes`], reading.alias, reading.user)[PROBE.toLowerCase()] !== undefined;
}

/** Arguments as OpenSSH splits them: by white space, `"…"` quoting, a `#` word ends the line. */
function words(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/"([^"]*)"|(\S+)/g)) {
    if (match[2]?.startsWith('#')) break;
    found.push(match[1] ?? match[2] ?? '');
  }
  return found;
}

function anchor(pattern: string, reading: Reading, where: string): string {
  if (pattern.startsWith('~')) {
    if (reading.system) throw new Error(`${where}: Include: ~ is not allowed in the system configuration`);
    if (pattern !== '~' && !pattern.startsWith('~/')) throw new Error(`${where}: Include: only ~/ is understood here, not ${pattern}`);
    return join(reading.home, pattern.slice(1));
  }
  return isAbsolute(pattern) ? pattern : join(reading.system ? '/etc/ssh' : join(reading.home, '.ssh'), pattern);
}

/** glob(3) on an absolute path: `*`, `?` and `[…]` in any part; a leading dot is matched only by a dot; sorted. */
async function globPaths(pattern: string): Promise<string[]> {
  let paths = ['/'];
  for (const part of pattern.split('/').filter(Boolean)) {
    if (!/[*?[]/.test(part)) {
      paths = paths.map((path) => join(path, part));
      continue;
    }
    const matcher = componentMatcher(part);
    const next: string[] = [];
    for (const path of paths) {
      const names = await readdir(path).catch(() => [] as string[]);
      next.push(...names.filter((name) => (!name.startsWith('.') || part.startsWith('.')) && matcher.test(name)).sort().map((name) => join(path, name)));
    }
    paths = next;
  }
  return paths;
}

function componentMatcher(part: string): RegExp {
  let source = '';
  for (let index = 0; index < part.length; index++) {
    const char = part.charAt(index);
    const close = char === '[' ? part.indexOf(']', index + 2) : -1;
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (close !== -1) {
      const members = part.slice(index + 1, close);
      source += `[${members.startsWith('!') ? `^${members.slice(1)}` : members}]`.replaceAll('\\', '\\\\');
      index = close;
    } else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
