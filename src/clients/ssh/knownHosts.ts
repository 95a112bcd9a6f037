import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** A known_hosts pattern: `*` any run of characters, `?` one character, matched whole and case-insensitively (as OpenSSH's match_hostname). */
function wildcardMatch(pattern: string, text: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`, 'i').test(text);
}

/** The name a host has in known_hosts: `host` on port 22, `[host]:port` elsewhere (as OpenSSH writes it). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The algorithm name inside an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256` …). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) throw new Error('not an SSH public key');
  const length = blob.readUInt32BE(0);
  if (length > blob.length - 4) throw new Error('not an SSH public key');
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** The fingerprint OpenSSH shows: `SHA256:` and the unpadded base64 of the key's SHA-256. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}`;
}

/** One line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  line: number;
  marker?: '@cert-authority' | '@revoked';
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyCheck =
  | { status: 'known'; file: string; line: number }
  /** The host is listed, but with other keys: someone may be in the middle. */
  | { status: 'changed'; file: string; line: number; knownFingerprint: string }
  | { status: 'revoked'; file: string; line: number }
  | { status: 'unknown' };

/** The entries of known_hosts files; a missing file is an empty one. */
export async function readKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const entries: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read known hosts file ${file}: ${(error as Error).message}`);
    }
    text.split(/\r?\n/).forEach((raw, index) => {
      const fields = raw.trim().split(/\s+/);
      if (fields[0] === '' || fields[0]?.startsWith('#')) return;
      const marker = fields[0] === '@cert-authority' || fields[0] === '@revoked' ? fields.shift() : undefined;
      const [hosts, keyType, key] = fields;
      // A malformed line is skipped, as OpenSSH does; it can never vouch for a key.
      if (!hosts || !keyType || !key) return;
      entries.push({ file, line: index + 1, marker: marker as KnownHostEntry['marker'], hosts, keyType, key: Buffer.from(key, 'base64') });
    });
  }
  return entries;
}

/**
 * Whether a `hosts` field names a host: comma-separated patterns with `*`/`?` and `!` negation, or
 * one hashed name `|1|salt|hmac` (HMAC-SHA1 of the name keyed with the salt, as `HashKnownHosts` writes).
 */
export function hostsFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const expected = Buffer.from(hash, 'base64');
    const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (wildcardMatch(pattern.slice(1), name)) return false;
    } else if (wildcardMatch(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Checks a host key the server presented against known_hosts entries. */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, blob: Buffer): HostKeyCheck {
  const name = knownHostsName(host, port);
  const forHost = entries.filter((entry) => entry.marker !== '@cert-authority' && hostsFieldMatches(entry.hosts, name));
  const revoked = entries.find((entry) => entry.marker === '@revoked' && entry.key.equals(blob));
  if (revoked) return { status: 'revoked', file: revoked.file, line: revoked.line };
  const match = forHost.find((entry) => entry.marker === undefined && entry.key.equals(blob));
  if (match) return { status: 'known', file: match.file, line: match.line };
  // Any other key on record for this host, whatever its type, means the host is not the one we knew.
  const other = forHost.find((entry) => entry.marker === undefined);
  if (other) return { status: 'changed', file: other.file, line: other.line, knownFingerprint: fingerprintOf(other.key) };
  return { status: 'unknown' };
}

/** The key types known for a host, so the handshake asks for one of them first (as OpenSSH does). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  return [...new Set(entries.filter((entry) => entry.marker === undefined && hostsFieldMatches(entry.hosts, name)).map((entry) => entry.keyType))];
}
