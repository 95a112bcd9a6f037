/**
 * rclone (Google Drive, S3 and every other backend it knows) through the rclone binary. Remotes come
 * from the user's rclone.conf or are defined for one call in the child's environment
 * (`RCLONE_CONFIG_<NAME>_<OPTION>`), so secrets never appear in arguments.
 */
import type { ProgressReporter } from '../core/actions/spec';
import { CancelledError } from '../core/errors';
import { ThrottledProgress } from '../core/progress';
import { runTool, toolEnvironment, type ToolOutcome } from './process';
import type { S3StoreConfig } from './s3';
import { booleanField, isJsonObject, leadingJson, numberField, parseJsonObjectLine, stringField, type JsonObject } from './toolJson';

export interface RcloneRemoteDefinition {
  /** Backend: `s3`, `drive`, `sftp`, … */
  type: string;
  /** Backend options by their config-file names (`provider`, `endpoint`, `access_key_id` …). */
  options: Readonly<Record<string, string>>;
}

export interface RcloneConfig {
  /** Remotes defined for each call, by name; they take precedence over same-named ones in the config file. */
  remotes?: Readonly<Record<string, RcloneRemoteDefinition>>;
  /** The rclone.conf to read; `false` reads none (only `remotes`); by default the user's. */
  configFile?: string | false;
  /** PEM file with the CA of a self-signed or private-CA endpoint (`--ca-cert`). */
  caFile?: string;
  /** Further global flags, e.g. `--bwlimit 10M` or `--retries 1`. */
  flags?: readonly string[];
  /** The rclone binary; `rclone` on the PATH by default. */
  binary?: string;
}

export interface RcloneEntry {
  path: string;
  name: string;
  /** -1 for directories. */
  size: number;
  isDir: boolean;
  isBucket: boolean;
  modTime?: string;
  mimeType?: string;
  tier?: string;
  hashes: Record<string, string>;
}

export interface RcloneTransferResult {
  bytes: number;
  transfers: number;
  checks: number;
  deletes: number;
  errors: number;
  elapsedSeconds: number;
}

export type RcloneDifferenceKind = 'missing-on-destination' | 'missing-on-source' | 'differ' | 'error';

export interface RcloneCheckResult {
  ok: boolean;
  matching: number;
  differences: { path: string; kind: RcloneDifferenceKind }[];
  /** Files compared by size alone, as the two sides share no checksum (a crypt remote, say). */
  unhashed: number;
}

export type RcloneFailureKind = 'not-found' | 'access-denied' | 'tls' | 'unreachable' | 'no-space' | 'usage' | 'failed';

export class RcloneError extends Error {
  constructor(
    message: string,
    readonly kind: RcloneFailureKind,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'RcloneError';
  }
}

interface CallOptions {
  signal?: AbortSignal;
}

export interface TransferOptions extends CallOptions {
  progress?: ProgressReporter;
  dryRun?: boolean;
  checksum?: boolean;
  /** Leaves out files that `compareDest` already holds unchanged: only new and changed files are written. */
  compareDest?: string;
}

export interface RcloneRemote {
  name: string;
  /** Its backend: `drive`, `s3`, `local`, `crypt` … */
  type: string;
}

/** An rclone remote for an S3 store of the inventory. */
export function s3Remote(store: Pick<S3StoreConfig, 'endpoint' | 'region' | 'pathStyle' | 'credentials'>): RcloneRemoteDefinition {
  const options: Record<string, string> = { provider: store.endpoint ? 'Other' : 'AWS', region: store.region, env_auth: store.credentials ? 'false' : 'true' };
  if (store.endpoint) options.endpoint = store.endpoint;
  if (store.pathStyle ?? store.endpoint !== undefined) options.force_path_style = 'true';
  if (store.credentials) {
    options.access_key_id = store.credentials.accessKeyId;
    options.secret_access_key = store.credentials.secretAccessKey;
    if (store.credentials.sessionToken) options.session_token = store.credentials.sessionToken;
  }
  return { type: 's3', options };
}

/** `rclone check --combined` line marks: `+` only in the source, `-` only in the destination. */
const COMBINED_KINDS: Record<string, RcloneDifferenceKind> = { '+': 'missing-on-destination', '-': 'missing-on-source', '*': 'differ', '!': 'error' };

export class Rclone {
  constructor(readonly config: RcloneConfig = {}) {}

  async lsjson(remotePath: string, options: CallOptions & { recursive?: boolean; hashes?: boolean; filesOnly?: boolean; dirsOnly?: boolean; maxDepth?: number } = {}): Promise<RcloneEntry[]> {
    const flags = [
      ...(options.recursive ? ['--recursive'] : []),
      ...(options.hashes ? ['--hash'] : []),
      ...(options.filesOnly ? ['--files-only'] : []),
      ...(options.dirsOnly ? ['--dirs-only'] : []),
      ...(options.maxDepth !== undefined ? ['--max-depth', String(options.maxDepth)] : []),
    ];
    const outcome = await this.run(['lsjson', ...flags], [remotePath], `list ${remotePath}`, options);
    const listing = leadingJson(outcome.stdout)?.value;
    return Array.isArray(listing) ? listing.filter(isJsonObject).map(parseEntry) : [];
  }

  /** Copies new and changed files; never deletes on the destination. */
  copy(source: string, destination: string, options: TransferOptions = {}): Promise<RcloneTransferResult> {
    return this.transfer('copy', source, destination, options);
  }

  /** Moves files (server-side where the backend can), leaving the source's emptied folders behind unless asked. */
  move(source: string, destination: string, options: TransferOptions & { deleteEmptySourceDirs?: boolean } = {}): Promise<RcloneTransferResult> {
    return this.transfer('move', source, destination, options, options.deleteEmptySourceDirs ? ['--delete-empty-src-dirs'] : []);
  }

  /** Removes a folder and everything in it. */
  async purge(remotePath: string, options: CallOptions = {}): Promise<void> {
    await this.run(['purge'], [remotePath], `purge ${remotePath}`, options);
  }

  /** The remotes rclone knows (the config file's and those defined for each call), with their backends. */
  async listRemotes(options: CallOptions = {}): Promise<RcloneRemote[]> {
    const outcome = await this.run(['listremotes', '--long'], [], 'listremotes', options);
    return outcome.stdout.split('\n').flatMap((line) => {
      const match = /^(.*?):\s+(\S+)\s*$/.exec(line);
      return match ? [{ name: match[1] as string, type: match[2] as string }] : [];
    });
  }

  /** Makes the destination equal to the source, deleting what the source does not have. */
  sync(source: string, destination: string, options: CallOptions & { progress?: ProgressReporter; dryRun?: boolean; checksum?: boolean } = {}): Promise<RcloneTransferResult> {
    return this.transfer('sync', source, destination, options);
  }

  /** Compares two trees; differences are a result (rclone exits 1 for them), not a failure. */
  async check(source: string, destination: string, options: CallOptions & { oneWay?: boolean; download?: boolean; sizeOnly?: boolean; include?: readonly string[] } = {}): Promise<RcloneCheckResult> {
    const args = [
      'check',
      '--combined',
      '-',
      ...(options.oneWay ? ['--one-way'] : []),
      ...(options.download ? ['--download'] : []),
      ...(options.sizeOnly ? ['--size-only'] : []),
      // One argument each, so a pattern that looks like a flag stays the flag's value.
      ...(options.include ?? []).map((pattern) => `--include=${pattern}`),
    ];
    let unhashed = 0;
    const outcome = await this.run(args, [source, destination], `check ${source} against ${destination}`, {
      ...options,
      acceptExitCodes: [1],
      onLogLine: (line) => {
        const counted = /^(\d+) hashes could not be checked/.exec(stringField(line, 'msg') ?? '');
        if (counted) unhashed = Number(counted[1]);
      },
    });
    const differences: RcloneCheckResult['differences'] = [];
    let matching = 0;
    for (const line of outcome.stdout.split('\n')) {
      const path = line.slice(2);
      if (line.startsWith('= ')) matching++;
      else if (line[1] === ' ' && line[0] && COMBINED_KINDS[line[0]]) differences.push({ path, kind: COMBINED_KINDS[line[0]] as RcloneDifferenceKind });
    }
    if (outcome.exitCode === 1 && differences.length === 0) throw rcloneFailure(outcome, `rclone check ${source} against ${destination}`);
    return { ok: differences.length === 0, matching, differences, unhashed };
  }

  private async transfer(command: 'copy' | 'sync' | 'move', source: string, destination: string, options: TransferOptions, flags: readonly string[] = []): Promise<RcloneTransferResult> {
    const args = [
      command,
      '--stats',
      '1s',
      '--stats-log-level',
      'NOTICE',
      ...(options.dryRun ? ['--dry-run'] : []),
      ...(options.checksum ? ['--checksum'] : []),
      // One argument, so a path that looks like a flag stays the flag's value.
      ...(options.compareDest !== undefined ? [`--compare-dest=${options.compareDest}`] : []),
      ...flags,
    ];
    const progress = options.progress && new ThrottledProgress(options.progress);
    let last: JsonObject | undefined;
    await this.run(args, [source, destination], `${command} ${source} to ${destination}`, {
      ...options,
      onLogLine: (line) => {
        const stats = line.stats;
        if (!isJsonObject(stats)) return;
        last = stats;
        progress?.update({ bytes: numberField(stats, 'bytes'), totalBytes: numberField(stats, 'totalBytes'), items: numberField(stats, 'transfers'), totalItems: numberField(stats, 'totalTransfers') });
      },
    });
    const count = (name: string) => (last && numberField(last, name)) ?? 0;
    const result = { bytes: count('bytes'), transfers: count('transfers'), checks: count('checks'), deletes: count('deletes'), errors: count('errors'), elapsedSeconds: count('elapsedTime') };
    progress?.flush({ bytes: result.bytes, items: result.transfers });
    return result;
  }

  /** Runs `command` (with its flags first) on `paths`, which follow `--`: a path that looks like a flag is only a path. */
  private async run(command: string[], paths: readonly string[], what: string, options: CallOptions & { onLogLine?: (line: JsonObject) => void; acceptExitCodes?: number[] }): Promise<ToolOutcome> {
    const { config } = this;
    const remotes: Record<string, string> = {};
    for (const [name, remote] of Object.entries(config.remotes ?? {})) {
      const prefix = `RCLONE_CONFIG_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
      remotes[`${prefix}TYPE`] = remote.type;
      for (const [option, value] of Object.entries(remote.options)) remotes[`${prefix}${option.toUpperCase()}`] = value;
    }
    if (config.configFile !== undefined) remotes.RCLONE_CONFIG = config.configFile === false ? '/dev/null' : config.configFile;
    const outcome = await runTool({
      command: config.binary ?? 'rclone',
      args: [...command, '--use-json-log', ...(config.caFile ? ['--ca-cert', config.caFile] : []), ...(config.flags ?? []), '--', ...paths],
      // rclone's S3 backend fails every command when AWS_CA_BUNDLE is set ("LoadCustomCABundleError …
      // unsupported transport"); a CA belongs in `caFile`.
      env: toolEnvironment(['AWS_CA_BUNDLE'], remotes),
      signal: options.signal,
      onStderrLine: (text) => {
        const line = parseJsonObjectLine(text);
        if (line) options.onLogLine?.(line);
      },
    });
    if (outcome.cancelled) throw new CancelledError();
    if (outcome.exitCode !== 0 && !options.acceptExitCodes?.includes(outcome.exitCode)) throw rcloneFailure(outcome, `rclone ${what}`);
    return outcome;
  }
}

function parseEntry(raw: JsonObject): RcloneEntry {
  const hashes: Record<string, string> = {};
  if (isJsonObject(raw.Hashes)) for (const [name, value] of Object.entries(raw.Hashes)) if (typeof value === 'string') hashes[name] = value;
  return {
    path: stringField(raw, 'Path') ?? '',
    name: stringField(raw, 'Name') ?? '',
    size: numberField(raw, 'Size') ?? -1,
    isDir: booleanField(raw, 'IsDir') ?? false,
    isBucket: booleanField(raw, 'IsBucket') ?? false,
    modTime: stringField(raw, 'ModTime'),
    mimeType: stringField(raw, 'MimeType'),
    tier: stringField(raw, 'Tier'),
    hashes,
  };
}

/**
 * rclone's exit codes (docs/content/docs.md): 2 usage, 3 directory not found, 4 file not found, 5
 * temporary, 7 fatal; its last words are JSON log lines at level error and a final "Failed to …" line.
 */
function rcloneFailure(outcome: ToolOutcome, what: string): RcloneError {
  const lines = outcome.stderrTail.split('\n').filter((line) => line.trim() !== '');
  const errors = lines.map(parseJsonObjectLine).flatMap((line) => (line && stringField(line, 'level') === 'error' ? [stringField(line, 'msg') ?? ''] : []));
  const finalWords = lines.filter((line) => !line.startsWith('{')).join('\n');
  const said = (finalWords || errors.at(-1) || '').replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /gm, '').trim();
  const code = outcome.exitCode;
  const kind: RcloneFailureKind = /no space left on device|file too big for remaining disk space|disk quota exceeded|InsufficientStorage|QuotaExceeded|storageQuotaExceeded|status code: 507/i.test(said)
    ? 'no-space'
    : code === 3 || code === 4 || /directory not found|object not found|NoSuchBucket|NoSuchKey/i.test(said)
      ? 'not-found'
      : /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|status code: 403|Forbidden|unauthori[sz]ed/i.test(said)
        ? 'access-denied'
        : /x509|certificate/i.test(said)
          ? 'tls'
          : /connection refused|no such host|dial tcp|i\/o timeout/i.test(said)
            ? 'unreachable'
            : code === 2
              ? 'usage'
              : 'failed';
  const hint = kind === 'tls' ? ' (for a self-signed or private CA, give the CA file)' : kind === 'no-space' ? ' (the destination is out of space)' : '';
  return new RcloneError(`${what} failed (exit code ${code})${hint}${said ? `:\n${said}` : ''}`, kind, code);
}
