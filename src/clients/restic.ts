/**
 * restic repositories (local, SFTP, S3, REST …) through the restic binary. The password and the
 * repository location (which may hold credentials) travel in the child's environment, never in its
 * arguments, where any user on the machine could read them.
 */
import type { ProgressReporter } from '../core/actions/spec';
import { CancelledError } from '../core/errors';
import { ThrottledProgress } from '../core/progress';
import { runTool, toolEnvironment, type ToolInvocation, type ToolOutcome } from './process';
import {
  messageType,
  parseBackupSummary,
  parseDiffStatistics,
  parseForgetGroups,
  parseNode,
  parseSnapshot,
  parseSnapshots,
  parseVersion,
  resticFailure,
  ResticError,
  type ResticBackupSummary,
  type ResticChange,
  type ResticDiffStatistics,
  type ResticForgetGroup,
  type ResticNode,
  type ResticSnapshot,
} from './resticOutput';
import { isJsonObject, leadingJson, numberField, parseJsonObjectLine, stringField } from './toolJson';

export { ResticError, type ResticBackupSummary, type ResticChange, type ResticDiffStatistics, type ResticFailureKind, type ResticForgetGroup, type ResticNode, type ResticSnapshot } from './resticOutput';

export interface ResticRepositoryConfig {
  /** `/srv/restic`, `sftp:host:/path`, `s3:https://host/bucket/path`, `rest:https://…`. */
  repository: string;
  /** The resolved secret. */
  password: string;
  /** Backend settings and credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `B2_ACCOUNT_ID` …). */
  env?: Readonly<Record<string, string>>;
  /** PEM file with the CA of a self-signed or private-CA endpoint (`--cacert`). */
  caFile?: string;
  /** Skip TLS verification of the repository's server (`--insecure-tls`): only when the inventory says so. */
  insecureTls?: boolean;
  /** Backend options (`-o sftp.command=…`). */
  options?: Readonly<Record<string, string>>;
  cacheDir?: string;
  /** The restic binary; `restic` on the PATH by default. */
  binary?: string;
  /** Where restic runs: this machine by default, or another host (restic over SSH, as Backrest runs it there). */
  runner?: ResticRunner;
}

/**
 * One run of restic, before it is started somewhere. `env` holds only what restic needs (repository,
 * password, backend credentials), nothing else of ours: a runner adds what its side needs.
 */
export type ResticInvocation = Pick<ToolInvocation, 'args' | 'env' | 'cwd' | 'signal' | 'onStdoutLine' | 'onStderrLine' | 'background'> & { binary: string };

/** Starts restic and reports how it ended; a cancelled run either says so or throws a CancelledError. */
export interface ResticRunner {
  /** Where restic runs, for messages (`on host nas`); empty for this machine. */
  readonly where: string;
  run(invocation: ResticInvocation): Promise<ToolOutcome>;
}

/** restic on this machine, a child process with our environment minus any inherited RESTIC_* variables. */
export const resticHere: ResticRunner = {
  where: '',
  run: (invocation) =>
    // Inherited RESTIC_* variables (a password file, another repository) would override ours.
    runTool({ ...invocation, command: invocation.binary, env: toolEnvironment(['RESTIC_*'], invocation.env) }),
};

export interface ResticCallOptions {
  signal?: AbortSignal;
}

export interface ResticFilter {
  host?: string;
  tags?: string[];
  paths?: string[];
}

export interface ResticRetention {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** A duration such as `30d` or `1y6m`. */
  keepWithin?: string;
  keepTags?: string[];
}

export interface ResticBackupResult {
  summary: ResticBackupSummary;
  /** Exit code 3: the snapshot was made, but some files could not be read (named in `warnings`). */
  partial: boolean;
  warnings: string[];
}

export interface ResticRestoreResult {
  snapshot: string;
  target: string;
  /** Counts from restic's JSON summary; restic before 0.16 does not report them. */
  filesRestored?: number;
  bytesRestored?: number;
}

/** A file restore names with `--verbose=2` (restic 0.16+): `restored`, `updated`, `unchanged` or `deleted`. */
export interface ResticRestoreItem {
  action: string;
  item: string;
  size?: number;
}

export interface ResticForgetResult {
  groups: ResticForgetGroup[];
  removed: ResticSnapshot[];
  kept: ResticSnapshot[];
  /** What prune reported (text in restic 0.14), when `prune` was asked for. */
  pruneReport: string;
}

export interface ResticCheckResult {
  ok: boolean;
  /** restic's report, for the person to read. */
  report: string;
}

const RETENTION_FLAGS: Record<Exclude<keyof ResticRetention, 'keepTags' | 'keepWithin'>, string> = {
  keepLast: '--keep-last',
  keepHourly: '--keep-hourly',
  keepDaily: '--keep-daily',
  keepWeekly: '--keep-weekly',
  keepMonthly: '--keep-monthly',
  keepYearly: '--keep-yearly',
};

export class ResticRepository {
  private version: Promise<[number, number, number] | undefined> | undefined;
  private knownVersion: [number, number, number] | undefined;

  constructor(readonly config: ResticRepositoryConfig) {}

  /** The repository location without credentials a URL may carry, for messages, and where restic runs when not here. */
  get label(): string {
    const where = this.config.runner?.where;
    return `${this.config.repository.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@')}${where ? ` ${where}` : ''}`;
  }

  async init(options: ResticCallOptions = {}): Promise<{ id?: string }> {
    const outcome = await this.run(['init'], 'init', options);
    const fromJson = outcome.stdout.split('\n').map(parseJsonObjectLine).find((line) => line && stringField(line, 'id'));
    return { id: (fromJson && stringField(fromJson, 'id')) ?? /created restic repository (\w+)/.exec(outcome.stdout)?.[1] };
  }

  /** Snapshots, oldest first. */
  async snapshots(filter: ResticFilter = {}, options: ResticCallOptions = {}): Promise<ResticSnapshot[]> {
    const outcome = await this.run(['snapshots', '--json', ...filterArgs(filter)], 'list snapshots', options);
    return parseSnapshots(leadingJson(outcome.stdout)?.value);
  }

  async backup(paths: readonly string[], options: ResticCallOptions & { tags?: string[]; host?: string; excludes?: string[]; progress?: ProgressReporter; cwd?: string } = {}): Promise<ResticBackupResult> {
    if (paths.length === 0) throw new Error('restic backup needs at least one path');
    const args = ['backup', '--json', ...(options.tags ?? []).flatMap((tag) => ['--tag', tag]), ...(options.host ? ['--host', options.host] : []), ...(options.excludes ?? []).flatMap((pattern) => ['--exclude', pattern]), '--', ...paths];
    const progress = options.progress && new ThrottledProgress(options.progress);
    let summary: ResticBackupSummary | undefined;
    const warnings: string[] = [];
    const outcome = await this.run(args, 'backup', {
      ...options,
      acceptExitCodes: [3],
      onStdoutLine: (text) => {
        const line = parseJsonObjectLine(text);
        if (!line) return;
        const type = messageType(line);
        if (type === 'status') {
          progress?.update({ bytes: numberField(line, 'bytes_done'), totalBytes: numberField(line, 'total_bytes'), items: numberField(line, 'files_done'), totalItems: numberField(line, 'total_files') });
        } else if (type === 'summary') {
          summary = parseBackupSummary(line);
        }
      },
      onStderrLine: (text) => {
        const line = parseJsonObjectLine(text);
        if (line && messageType(line) === 'error') {
          const message = (isJsonObject(line.error) && stringField(line.error, 'message')) || 'error';
          warnings.push(`${stringField(line, 'item') ?? ''}: ${message}`.replace(/^: /, ''));
        } else if (!line && text.trim() !== '') {
          warnings.push(text.trim());
        }
      },
    });
    if (!summary) throw new ResticError(`backup to ${this.label} ended without a summary:\n${outcome.stderrTail.trim()}`, 'failed', outcome.exitCode);
    progress?.flush({ bytes: summary.totalBytesProcessed, items: summary.totalFilesProcessed });
    return { summary, partial: outcome.exitCode === 3, warnings };
  }

  /** The nodes of a snapshot (all of it, or below `paths`). With `onNode` they are handed over one by one instead of collected. */
  async ls(snapshot: string, options: ResticCallOptions & { paths?: string[]; recursive?: boolean; background?: boolean; onNode?: (node: ResticNode) => void } = {}): Promise<{ snapshot?: ResticSnapshot; nodes: ResticNode[] }> {
    let header: ResticSnapshot | undefined;
    const nodes: ResticNode[] = [];
    // A folder given without `--recursive` is listed one level deep: restic reads only the trees on the way to it.
    const outcome = await this.run(['ls', '--json', ...(options.recursive ? ['--recursive'] : []), '--', snapshot, ...(options.paths ?? [])], `list snapshot ${snapshot}`, {
      ...options,
      onStdoutLine: (text) => {
        const line = parseJsonObjectLine(text);
        if (!line) return;
        const type = messageType(line);
        if (type === 'snapshot') {
          header = parseSnapshot(line);
        } else if (type === 'node') {
          const node = parseNode(line);
          if (node && options.onNode) options.onNode(node);
          else if (node) nodes.push(node);
        }
      },
    });
    // restic 0.14 ignores an unknown snapshot with a warning and exits 0.
    if (!header) throw resticFailure(outcome.exitCode || 1, outcome.stderrTail, `restic ls of snapshot ${snapshot} on ${this.label}`);
    return { snapshot: header, nodes };
  }

  /** Restores into `target` (restic never deletes there; it overwrites files it restores). */
  async restore(
    snapshot: string,
    target: string,
    options: ResticCallOptions & { include?: string[]; exclude?: string[]; progress?: ProgressReporter; dryRun?: boolean; onItem?: (item: ResticRestoreItem) => void } = {},
  ): Promise<ResticRestoreResult> {
    // `--json` is a global flag: restic before 0.16 accepts it and prints its text, so the counts stay unknown, with no version asked first.
    if (options.dryRun && !(await this.supportsRestoreDryRun())) throw new ResticError(`restic ${this.versionText()} on ${this.label} has no \`restore --dry-run\` (restic 0.17 and later)`, 'failed', 0);
    // With `--verbose=2` restic names each file it would restore, update or leave unchanged.
    const verbose = options.onItem ? ['--verbose=2'] : [];
    // After `--`, a snapshot id that looks like an option (`--password-command=…`) is only an id.
    const args = ['restore', '--target', target, '--json', ...(options.dryRun ? ['--dry-run'] : []), ...verbose, ...(options.include ?? []).flatMap((pattern) => ['--include', pattern]), ...(options.exclude ?? []).flatMap((pattern) => ['--exclude', pattern]), '--', snapshot];
    const progress = options.progress && new ThrottledProgress(options.progress);
    const result: ResticRestoreResult = { snapshot, target };
    await this.run(args, `restore snapshot ${snapshot}`, {
      ...options,
      onStdoutLine: (text) => {
        const line = parseJsonObjectLine(text);
        if (!line) return;
        const type = messageType(line);
        if (type === 'verbose_status') {
          const item = stringField(line, 'item');
          const action = stringField(line, 'action');
          if (item !== undefined && action !== undefined) options.onItem?.({ action, item, size: numberField(line, 'size') });
        } else if (type === 'status') {
          progress?.update({ bytes: numberField(line, 'bytes_restored'), totalBytes: numberField(line, 'total_bytes'), items: numberField(line, 'files_restored'), totalItems: numberField(line, 'total_files') });
        } else if (type === 'summary') {
          result.filesRestored = numberField(line, 'files_restored');
          result.bytesRestored = numberField(line, 'bytes_restored');
        }
      },
    });
    return result;
  }

  /**
   * Removes snapshots by a retention policy (or by id), optionally pruning the data only they used.
   * With `dryRun` nothing is removed and the result says what would be.
   */
  async forget(selection: { policy: ResticRetention } | { ids: string[] }, options: ResticCallOptions & ResticFilter & { prune?: boolean; dryRun?: boolean } = {}): Promise<ResticForgetResult> {
    const args = ['forget', '--json', ...(options.prune ? ['--prune'] : []), ...(options.dryRun ? ['--dry-run'] : [])];
    let named: ResticSnapshot[] | undefined;
    if ('ids' in selection) {
      if (selection.ids.length === 0) throw new Error('restic forget: no snapshot ids given');
      // restic skips an id it does not know with a warning; an unknown id must stop the whole request.
      const existing = await this.snapshots({}, options);
      named = selection.ids.map((id) => {
        const snapshot = existing.find((candidate) => candidate.id.startsWith(id));
        if (!snapshot) throw new ResticError(`restic forget on ${this.label}: no snapshot ${id}`, 'snapshot-missing', 0);
        return snapshot;
      });
      args.push('--', ...named.map((snapshot) => snapshot.id));
    } else {
      const policyArgs = retentionArgs(selection.policy);
      if (policyArgs.length === 0) throw new Error('restic forget: the retention policy keeps everything (set keepLast, keepDaily, …)');
      args.push(...policyArgs, ...filterArgs(options));
    }
    const outcome = await this.run(args, 'forget', options);
    const parsed = leadingJson(outcome.stdout);
    // With explicit ids restic prints no groups; the snapshots named are the ones removed.
    const groups = named ? [] : parseForgetGroups(parsed?.value);
    const pruneReport = (parsed && !named ? parsed.rest : outcome.stdout).trim();
    return { groups, removed: named ?? groups.flatMap((group) => group.remove), kept: groups.flatMap((group) => group.keep), pruneReport };
  }

  /** Checks the repository's structure, and with `readData` every pack's contents. Errors found are a result, not a failure. */
  async check(options: ResticCallOptions & { readData?: boolean; readDataSubset?: string } = {}): Promise<ResticCheckResult> {
    const args = ['check', ...(options.readData ? ['--read-data'] : []), ...(options.readDataSubset ? [`--read-data-subset=${options.readDataSubset}`] : [])];
    const outcome = await this.run(args, 'check', { ...options, acceptExitCodes: [1] });
    const report = `${outcome.stdout}${outcome.stderrTail}`.trim();
    if (outcome.exitCode === 1) {
      const failure = resticFailure(outcome.exitCode, outcome.stderrTail, `check of ${this.label}`);
      if (failure.kind !== 'failed' || !/error|fatal/i.test(report)) throw failure;
      return { ok: false, report };
    }
    return { ok: true, report };
  }

  /** The snapshots `to` adds, removes and changes against `from`. */
  async diff(from: string, to: string, options: ResticCallOptions & { onChange?: (change: ResticChange) => void } = {}): Promise<ResticDiffStatistics> {
    let statistics: ResticDiffStatistics | undefined;
    await this.run(['diff', '--json', '--', from, to], `diff of ${from} and ${to}`, {
      ...options,
      onStdoutLine: (text) => {
        const line = parseJsonObjectLine(text);
        if (!line) return;
        const type = messageType(line);
        if (type === 'change') {
          const path = stringField(line, 'path');
          if (path !== undefined) options.onChange?.({ path, modifier: stringField(line, 'modifier') ?? '?' });
        } else if (type === 'statistics') {
          statistics = parseDiffStatistics(line);
        }
      },
    });
    if (!statistics) throw new ResticError(`restic diff of ${from} and ${to} on ${this.label} printed no statistics`, 'failed', 0);
    return statistics;
  }

  /** Removes data no snapshot uses any more; with `dryRun`, only reports what it would remove. Its report is text (restic 0.14). */
  async prune(options: ResticCallOptions & { dryRun?: boolean; maxUnused?: string } = {}): Promise<{ report: string }> {
    const args = ['prune', ...(options.dryRun ? ['--dry-run'] : []), ...(options.maxUnused ? ['--max-unused', options.maxUnused] : [])];
    const outcome = await this.run(args, 'prune', options);
    return { report: outcome.stdout.trim() };
  }

  /** `restore --dry-run` came with restic 0.17. */
  supportsRestoreDryRun(): Promise<boolean> {
    return this.atLeast(0, 17);
  }

  /** The installed restic's version as text (`0.14.0`), once `versionOf` has been asked. */
  versionText(): string {
    return this.knownVersion ? this.knownVersion.join('.') : 'unknown';
  }

  /** The installed restic's version, asked once. */
  async versionOf(options: ResticCallOptions = {}): Promise<[number, number, number] | undefined> {
    this.version ??= this.run(['version'], 'version', options).then((outcome) => (this.knownVersion = parseVersion(outcome.stdout)));
    return this.version;
  }

  private async atLeast(major: number, minor: number): Promise<boolean> {
    const version = await this.versionOf();
    return version !== undefined && (version[0] > major || (version[0] === major && version[1] >= minor));
  }

  private async run(
    args: string[],
    what: string,
    options: ResticCallOptions & { onStdoutLine?: (line: string) => void; onStderrLine?: (line: string) => void; acceptExitCodes?: number[]; cwd?: string; background?: boolean },
  ): Promise<ToolOutcome> {
    const { config } = this;
    const global = [
      ...(config.caFile ? ['--cacert', config.caFile] : []),
      ...(config.insecureTls ? ['--insecure-tls'] : []),
      ...(config.cacheDir ? ['--cache-dir', config.cacheDir] : []),
      ...Object.entries(config.options ?? {}).flatMap(([name, value]) => ['-o', optionArgument(name, value)]),
    ];
    const outcome = await (config.runner ?? resticHere).run({
      binary: config.binary ?? 'restic',
      args: [...global, ...args],
      env: { ...config.env, RESTIC_REPOSITORY: config.repository, RESTIC_PASSWORD: config.password },
      cwd: options.cwd,
      background: options.background,
      signal: options.signal,
      onStdoutLine: options.onStdoutLine,
      onStderrLine: options.onStderrLine,
    });
    if (outcome.cancelled) throw new CancelledError();
    if (outcome.exitCode !== 0 && !options.acceptExitCodes?.includes(outcome.exitCode)) {
      throw resticFailure(outcome.exitCode, outcome.stderrTail, `restic ${what} on ${this.label}`);
    }
    return outcome;
  }
}

/**
 * restic reads each `-o` value as a line of CSV (its flag library's string lists): a value holding a
 * quote, a comma or a line break is one quoted field, its quotes doubled, or it would be cut apart.
 */
function optionArgument(name: string, value: string): string {
  const option = `${name}=${value}`;
  return /["\n\r,]|^\s|\s$/.test(option) ? `"${option.replaceAll('"', '""')}"` : option;
}

function filterArgs(filter: ResticFilter): string[] {
  return [...(filter.host ? ['--host', filter.host] : []), ...(filter.tags ?? []).flatMap((tag) => ['--tag', tag]), ...(filter.paths ?? []).flatMap((path) => ['--path', path])];
}

function retentionArgs(policy: ResticRetention): string[] {
  const args: string[] = [];
  for (const [field, flag] of Object.entries(RETENTION_FLAGS) as [keyof typeof RETENTION_FLAGS, string][]) {
    const value = policy[field];
    if (value !== undefined) args.push(flag, String(value));
  }
  if (policy.keepWithin) args.push('--keep-within', policy.keepWithin);
  for (const tag of policy.keepTags ?? []) args.push('--keep-tag', tag);
  return args;
}
