/**
 * A Backrest installation's plans as Lifeboat sees them: each plan's repo, paths, schedule, retention
 * and hooks from config.json, and from the repo itself (restic, with the repo's password and
 * environment from config.json, in restic's environment only) its last snapshot and whether that is
 * older than the schedule allows. Backrest tags a plan's snapshots `plan:<id>` and
 * `created-by:<instance>`.
 */
import { parse } from 'yaml';
import { ResticRepository, type ResticRepositoryConfig, type ResticSnapshot } from '../../clients/restic';
import { resticOverSsh } from '../../clients/resticRemote';
import { sshConnectionFor } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';
import { errorMessage, isCancellationError } from '../../core/errors';
import { formatAge } from '../../core/render';
import { hostUtcOffsetMinutes } from '../schedule/remote';
import { repoEnvironment, repoEnvironmentNames, type BackrestConfig, type BackrestPlan, type BackrestRepo } from './config';
import { describeRetention, describeSchedule, expectation, isStale, summarizeHook, type HookSummary } from './describe';
import { loadBackrestConfig, type BackrestSource } from './source';

export type PlanState = 'ok' | 'stale' | 'no snapshot' | 'unscheduled' | 'unknown' | 'failed' | 'not checked';

export interface PlanSnapshot {
  id: string;
  shortId: string;
  time: string;
  age: string;
}

export interface BackrestPlanReport {
  id: string;
  repo: { id: string; uri: string };
  paths: string[];
  excludes: string[];
  iexcludes: string[];
  schedule: string;
  /** A cron schedule's latest due time (less the grace): the last snapshot must be newer. */
  dueSince?: string;
  /** A max-frequency schedule's longest allowed age (with the grace). */
  maxAge?: string;
  retention: string;
  hooks: HookSummary[];
  lastSnapshot?: PlanSnapshot;
  /** How many snapshots of the plan the repo holds, when they were read. */
  snapshots?: number;
  stale?: boolean;
  state: PlanState;
  reason: string;
}

export interface BackrestRepoReport {
  id: string;
  /** Without any password a URL carries. */
  uri: string;
  /** Names only: Backrest's env values are secrets. */
  env: string[];
  /** The repo's own hooks (they fire for its plans' backups too), by kind and condition. */
  hooks: HookSummary[];
  /**
   * What of the repo's settings restic is not given here, by name: flags other than `-o`, `--cacert`
   * and `--insecure-tls`, and options and variables that make restic start a program.
   */
  notApplied: string[];
  /** Why its snapshots could not be read. */
  error?: string;
}

export interface BackrestPlansResult {
  config: string;
  instance: string;
  version: number;
  checkedAt: string;
  /** Where restic ran, when snapshots were read. */
  restic?: string;
  repos: BackrestRepoReport[];
  plans: BackrestPlanReport[];
  /** `repositories:` entries for lifeboat.yaml, passwords as `secret:` references. */
  inventory: string;
}

export interface PlanCheckOptions {
  snapshots: boolean;
  /** The restic binary where restic runs. */
  restic: string;
  graceMinutes: number;
  now?: Date;
}

/** A repository location without the password a URL may carry (`rest:https://user:***@host/`). */
function shownUri(uri: string): string {
  return new ResticRepository({ repository: uri, password: '' }).label;
}

interface ResticFlags {
  options: Record<string, string>;
  caFile?: string;
  insecureTls?: boolean;
  notApplied: string[];
}

/** Options with which restic starts a program of the config's choosing: Lifeboat starts nothing a config file names. */
const PROGRAM_OPTIONS: ReadonlySet<string> = new Set(['sftp.command', 'rclone.program']);
/** Variables with which restic starts a program, or that would stand in for the repo's password or location. */
const PROGRAM_VARIABLES: ReadonlySet<string> = new Set(['RESTIC_PASSWORD_COMMAND', 'RESTIC_PASSWORD_FILE', 'RESTIC_REPOSITORY', 'RESTIC_REPOSITORY_FILE']);

/**
 * The repo's extra restic flags Lifeboat can give restic (`-o`, `--cacert`, `--insecure-tls`); the
 * others are named (never their values) and not passed. Each entry is one flag with its value, after
 * `=` or a space, as Backrest's settings page takes them.
 */
function resticFlags(flags: readonly string[]): ResticFlags {
  const result: ResticFlags = { options: {}, notApplied: [] };
  for (const flag of flags) {
    const [, name = '', value] = /^(--[^=\s]+|-[^-\s]\S*?)(?:[=\s]\s*(.*))?$/s.exec(flag.trim()) ?? [];
    if (name === '-o' || name === '--option') {
      const equals = value?.indexOf('=') ?? -1;
      const option = value?.slice(0, equals) ?? '';
      if (value !== undefined && equals > 0 && !PROGRAM_OPTIONS.has(option)) result.options[option] = value.slice(equals + 1);
      else result.notApplied.push(equals > 0 ? `${name} ${option}` : name);
    } else if (name === '--cacert' && value) {
      result.caFile = value;
    } else if (name === '--insecure-tls' && value === undefined) {
      result.insecureTls = true;
    } else {
      result.notApplied.push(name || 'an argument that is not a flag');
    }
  }
  return result;
}

/** The repo's environment as restic gets it, and the names of the variables it does not get. */
function resticEnvironment(entry: BackrestRepo): { env: Record<string, string>; notApplied: string[] } {
  const env = repoEnvironment(entry);
  const notApplied = Object.keys(env).filter((name) => PROGRAM_VARIABLES.has(name));
  for (const name of notApplied) delete env[name];
  return { env, notApplied: notApplied.map((name) => `env ${name}`) };
}

function resticConfig(entry: BackrestRepo, flags: ResticFlags, binary: string): ResticRepositoryConfig {
  const { env } = resticEnvironment(entry);
  return {
    repository: entry.uri,
    // A repo with no password in config.json may take it from its environment.
    password: entry.password || env.RESTIC_PASSWORD || '',
    env,
    options: flags.options,
    binary,
    ...(flags.caFile ? { caFile: flags.caFile } : {}),
    ...(flags.insecureTls ? { insecureTls: true } : {}),
  };
}

/** The snapshots of each plan, newest first: tagged `plan:<id>`, and made by this instance when the snapshot says which made it. */
function snapshotsByPlan(snapshots: readonly ResticSnapshot[], instance: string): Map<string, ResticSnapshot[]> {
  const byPlan = new Map<string, ResticSnapshot[]>();
  for (const snapshot of snapshots) {
    const creators = snapshot.tags.filter((tag) => tag.startsWith('created-by:')).map((tag) => tag.slice('created-by:'.length));
    if (instance !== '' && creators.length > 0 && !creators.includes(instance)) continue;
    for (const tag of snapshot.tags) {
      if (!tag.startsWith('plan:')) continue;
      const plan = tag.slice('plan:'.length);
      const list = byPlan.get(plan);
      if (list) list.push(snapshot);
      else byPlan.set(plan, [snapshot]);
    }
  }
  for (const list of byPlan.values()) list.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  return byPlan;
}

/** Whether `value` written plain in YAML reads back as itself (not a number, a map, a comment, several lines). */
function readsBackAs(value: string): boolean {
  if (/[\n\r]/.test(value)) return false;
  try {
    return parse(value) === value;
  } catch {
    return false;
  }
}

/** `iac-daily: secret:backrest-iac-daily` lines for lifeboat.yaml; values that YAML would read otherwise are written double-quoted (JSON's quoting is YAML's too). */
function inventoryEntries(config: BackrestConfig, host: string | undefined): string {
  const scalar = (value: string) => (readsBackAs(value) ? value : JSON.stringify(value));
  const lines = ['repositories:'];
  for (const entry of config.repos) {
    const secret = `backrest-${entry.id.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
    lines.push(`  ${scalar(entry.id)}:`, `    repository: ${scalar(shownUri(entry.uri))}`, `    password: secret:${secret}`);
    if (host) lines.push(`    host: ${scalar(host)}`);
    const names = repoEnvironmentNames(entry);
    if (/^s3:/.test(entry.uri) && names.some((name) => name.startsWith('AWS_'))) lines.push(`    # its S3 credentials (${names.filter((name) => name.startsWith('AWS_')).join(', ')} in Backrest) belong to an S3 store of \`stores:\`, named here as \`store:\``);
    if (entry.password === '') lines.push('    # Backrest has no password for it in config.json (it comes from its environment)');
  }
  return `${lines.join('\n')}\n`;
}

function planReport(plan: BackrestPlan, repo: BackrestRepo, now: Date, graceMs: number, utcOffsetMinutes: number | undefined): BackrestPlanReport {
  const expected = expectation(plan.schedule, now, graceMs, utcOffsetMinutes);
  const report: BackrestPlanReport = {
    id: plan.id,
    repo: { id: repo.id, uri: shownUri(repo.uri) },
    paths: plan.paths,
    excludes: plan.excludes,
    iexcludes: plan.iexcludes,
    schedule: describeSchedule(plan.schedule),
    retention: describeRetention(plan.retention),
    hooks: plan.hooks.map(summarizeHook),
    state: 'not checked',
    reason: 'snapshots were not read',
  };
  if (expected.kind === 'due') report.dueSince = expected.dueSince.toISOString();
  if (expected.kind === 'within') report.maxAge = `${Number((expected.maxAgeMs / 3_600_000).toFixed(2))} h`;
  return report;
}

function judge(report: BackrestPlanReport, plan: BackrestPlan, snapshots: readonly ResticSnapshot[], now: Date, graceMs: number, utcOffsetMinutes: number | undefined): void {
  const [last] = snapshots;
  report.snapshots = snapshots.length;
  const lastTime = last ? new Date(last.time) : undefined;
  if (last && lastTime) report.lastSnapshot = { id: last.id, shortId: last.shortId, time: last.time, age: formatAge(lastTime, now) };
  const expected = expectation(plan.schedule, now, graceMs, utcOffsetMinutes);
  if (expected.kind === 'none' || expected.kind === 'unknown') {
    report.state = expected.kind === 'none' ? 'unscheduled' : 'unknown';
    report.reason = expected.reason;
    return;
  }
  report.stale = isStale(expected, lastTime, now);
  if (!last) {
    report.state = 'no snapshot';
    report.reason = 'the repo holds no snapshot of this plan';
  } else if (report.stale) {
    report.state = 'stale';
    report.reason = expected.kind === 'due' ? `the last snapshot (${report.lastSnapshot?.age}) is older than the run due at ${expected.dueSince.toISOString()}` : `the last snapshot (${report.lastSnapshot?.age}) is older than ${report.maxAge} allows`;
  } else {
    report.state = 'ok';
    report.reason = `last snapshot ${report.lastSnapshot?.age}`;
  }
}

/** Reads the config and, with `snapshots`, each used repo's snapshots once. A repo that cannot be read fails its plans, not the report. */
export async function checkBackrestPlans(ctx: ActionContext, source: BackrestSource, options: PlanCheckOptions): Promise<BackrestPlansResult> {
  const now = options.now ?? new Date();
  const graceMs = options.graceMinutes * 60_000;
  const { config, shownAs } = await loadBackrestConfig(ctx, source);
  const connection = source.host ? await sshConnectionFor(ctx.clients, ctx.inventory, source.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log }) : undefined;
  const needsLocalClock = config.plans.some((plan) => plan.schedule?.cron !== undefined);
  const utcOffsetMinutes = connection && needsLocalClock ? await hostUtcOffsetMinutes(connection, ctx.signal) : undefined;
  const reposById = new Map(config.repos.map((entry) => [entry.id, entry]));
  const flagsById = new Map(config.repos.map((entry) => [entry.id, resticFlags(entry.flags)]));
  const repos: BackrestRepoReport[] = config.repos.map((entry) => ({ id: entry.id, uri: shownUri(entry.uri), env: repoEnvironmentNames(entry), hooks: entry.hooks.map(summarizeHook), notApplied: [...(flagsById.get(entry.id)?.notApplied ?? []), ...resticEnvironment(entry).notApplied] }));
  const plans = config.plans.map((plan) => planReport(plan, reposById.get(plan.repo) as BackrestRepo, now, graceMs, utcOffsetMinutes));
  const result: BackrestPlansResult = { config: shownAs, instance: config.instance, version: config.version, checkedAt: now.toISOString(), repos, plans, inventory: inventoryEntries(config, source.host) };
  if (!options.snapshots) return result;

  const runner = connection && source.host ? resticOverSsh(connection, source.host) : undefined;
  result.restic = `${options.restic}${runner ? ` ${runner.where}` : ''}`;
  const used = new Set(config.plans.map((plan) => plan.repo));
  for (const repoReport of repos) {
    if (!used.has(repoReport.id)) continue;
    const entry = reposById.get(repoReport.id) as BackrestRepo;
    const repository = new ResticRepository({ ...resticConfig(entry, flagsById.get(entry.id) as ResticFlags, options.restic), ...(runner ? { runner } : {}) });
    ctx.progress.report({ message: `snapshots of Backrest repo ${repoReport.id}` });
    let byPlan: Map<string, ResticSnapshot[]>;
    try {
      byPlan = snapshotsByPlan(await repository.snapshots({}, { signal: ctx.signal }), config.instance);
    } catch (error) {
      if (isCancellationError(error) || ctx.signal.aborted) throw error;
      repoReport.error = errorMessage(error);
      for (const [index, plan] of config.plans.entries()) {
        if (plan.repo !== entry.id) continue;
        const report = plans[index] as BackrestPlanReport;
        report.state = 'failed';
        report.reason = `the snapshots of repo ${entry.id} could not be read: ${repoReport.error}`;
      }
      continue;
    }
    for (const [index, plan] of config.plans.entries()) {
      if (plan.repo === entry.id) judge(plans[index] as BackrestPlanReport, plan, byPlan.get(plan.id) ?? [], now, graceMs, utcOffsetMinutes);
    }
  }
  return result;
}
