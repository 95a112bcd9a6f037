import * as z from 'zod';
import type { ActionContext, ActionPlan, PlannedOperation } from '../../core/actions/spec';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, formatDuration, markdownTable, printable } from '../../core/render';
import { describeEndpoint, hostFolderParam, hostHasProgram, openEndpoint, type Endpoint } from '../sync/endpoint';
import { chooseMethod, type SyncMethod } from '../sync/push';
import { listHostFolder, removeFromFolder } from '../sync/remoteListing';
import { relayRsync } from '../sync/rsyncRelay';
import { planTarTransfer, runTarTransfer } from '../sync/tarTransfer';
import { checkPolicy, classify, tally, type Tally, type TierClassification, type TierFile } from './policy';

/** How many files to be archived or deleted a plan names one by one. */
const LISTED_FILES = 2000;

const days = (fallback: number, what: string) => z.number().nonnegative().default(fallback).describe(what);

const tierApplyParams = z
  .object({
    tier1: hostFolderParam.describe('Where recordings land (the Pi 4): `{ host, path }`.'),
    tier2: hostFolderParam.describe('Where older recordings are kept (the Pi 5 SSD): `{ host, path }`.'),
    moveAfterDays: days(2, 'Files older than this many days move from tier 1 to tier 2.'),
    notifyAfterDays: days(5, 'Files on tier 2 older than this many days are named in the notice (count and size).'),
    expireAfterDays: days(7, 'Files on tier 2 older than this many days are archived or deleted, unless flagged.'),
    expired: z.enum(['archive', 'delete']).describe('What happens past `expireAfterDays`: `archive` moves the file to `archiveRemote` with rclone on the tier 2 host (deleted there only once rclone has it), `delete` deletes it.'),
    archiveRemote: z
      .string()
      .regex(/^[^-\s:][^:\0]*:[^\0]*$/, 'expected an rclone remote and path configured on the tier 2 host, e.g. badr_gdrive:BadrBackups/videos')
      .optional()
      .describe('rclone remote (and folder) configured on the tier 2 host, for `expired: archive`.'),
    retainMarker: z
      .string()
      .regex(/^\.[^/\0]+$/, 'expected a file suffix starting with a dot, e.g. .keep')
      .default('.keep')
      .describe('A file named after a recording plus this suffix (`clip.mp4.keep`) flags it for retention: it is moved, never archived or deleted.'),
    method: z.enum(['auto', 'rsync', 'tar']).default('auto').describe('How files move between the tiers: rsync when both hosts have it, else a tar stream (`auto`); or force one.'),
  })
  .strict();

type TierApplyParams = z.output<typeof tierApplyParams>;

export interface TierApplyResult {
  tier1: string;
  tier2: string;
  method: SyncMethod;
  moved: Tally;
  archived: Tally;
  deleted: Tally;
  retained: Tally;
  /** Recordings due for the notice: older than notifyAfterDays, not yet expired. */
  notice: Tally & { message: string };
  /** What each tier holds afterwards. */
  remaining: { tier1: Tally; tier2: Tally };
  durationMs: number;
}

interface Surveyed {
  tier1: Endpoint;
  tier2: Endpoint;
  method: SyncMethod;
  classes: TierClassification;
}

async function survey(params: TierApplyParams, ctx: ActionContext): Promise<Surveyed> {
  checkPolicy(params);
  if (params.expired === 'archive' && params.archiveRemote === undefined) throw new Error('`expired: archive` needs `archiveRemote`, an rclone remote configured on the tier 2 host');
  if (params.tier1.host === params.tier2.host && params.tier1.path === params.tier2.path) throw new Error('`tier1` and `tier2` are the same folder');
  const [tier1, tier2] = await Promise.all([openEndpoint(params.tier1, ctx), openEndpoint(params.tier2, ctx)]);
  const [first, second, method] = await Promise.all([
    listHostFolder(tier1.connection, tier1.host, tier1.path, ctx.signal),
    listHostFolder(tier2.connection, tier2.host, tier2.path, ctx.signal),
    chooseMethod(tier1, tier2, params.method, ctx.signal),
  ]);
  if (!first) throw new Error(`${describeEndpoint(tier1)} does not exist or is not a folder`);
  if (params.expired === 'archive' && !(await hostHasProgram(tier2.connection, 'rclone', ctx.signal))) {
    throw new Error(`\`expired: archive\` runs rclone on ${tier2.host}, which has no rclone on its PATH`);
  }
  return { tier1, tier2, method, classes: classify(first, second ?? [], params, Date.now()) };
}

/** The survey the plan showed, handed to the run, which moves and expires exactly those files. */
class PlannedTiers {
  constructor(readonly surveyed: Surveyed) {}

  // Holds nothing open: the connections belong to the run's client pool.
  dispose(): void {}
}

function noticeMessage(params: TierApplyParams, notice: Tally, where: string): string {
  return notice.files === 0 ? '' : `${notice.files} recording(s), ${formatBytes(notice.bytes)}, on ${where} are older than ${params.notifyAfterDays} days and will be ${params.expired === 'archive' ? 'archived' : 'deleted'} after ${params.expireAfterDays} days unless flagged with ${params.retainMarker}`;
}

function planOperations(params: TierApplyParams, surveyed: Surveyed): PlannedOperation[] {
  const { classes } = surveyed;
  const t1 = describeEndpoint(surveyed.tier1);
  const t2 = describeEndpoint(surveyed.tier2);
  const row = (kind: PlannedOperation['kind'], target: string, files: readonly TierFile[], detail: string): PlannedOperation => ({ kind, target, items: files.length, bytes: tally(files).bytes, detail });
  const expiredKind = params.expired === 'archive' ? `archive to ${params.archiveRemote ?? ''}, then delete` : 'delete';
  return [
    row('read', t1, classes.stay, `stay on tier 1 (${params.moveAfterDays} days old or less)`),
    row('create', t2, classes.move, `move from ${t1} (older than ${params.moveAfterDays} days), times and modes kept`),
    row('read', t2, classes.notice, `due for the notice (older than ${params.notifyAfterDays} days)`),
    row('delete', t2, classes.expire, `${expiredKind} (older than ${params.expireAfterDays} days)`),
    row('read', t2, classes.retained, `flagged with ${params.retainMarker}: kept past ${params.expireAfterDays} days`),
    ...classes.expire.slice(0, LISTED_FILES).map((file): PlannedOperation => ({ kind: 'delete', target: `${t2}/${printable(file.path)}`, bytes: file.bytes, detail: `${Math.floor(file.ageDays)} days old` })),
  ];
}

/** Where rclone puts one archived file: the file's path below the remote's folder. */
function archiveTarget(remote: string, path: string): string {
  return remote.endsWith(':') || remote.endsWith('/') ? `${remote}${path}` : `${remote}/${path}`;
}

async function moveToTier2(surveyed: Surveyed, signal: AbortSignal): Promise<void> {
  const { tier1, tier2, method, classes } = surveyed;
  const files = classes.move.map((file) => file.path);
  if (files.length === 0) return;
  if (method === 'rsync') {
    await relayRsync({ source: tier1, destination: tier2, dryRun: false, delete: false, files, removeSourceFiles: true, signal });
    return;
  }
  const plan = await planTarTransfer(tier1, tier2, { delete: false, files, signal });
  await runTarTransfer(tier1, tier2, plan, { removeSourceFiles: true, signal });
}

/** rclone on the tier 2 host moves each file (`moveto` deletes it only once the remote has it). */
async function archive(tier2: Endpoint, remote: string, files: readonly TierFile[], ctx: ActionContext): Promise<void> {
  for (const [index, file] of files.entries()) {
    ctx.progress.report({ message: `archiving ${printable(file.path)}`, items: index, totalItems: files.length });
    await tier2.connection.run(['rclone', 'moveto', '--', `${tier2.path}/${file.path}`, archiveTarget(remote, file.path)], { signal: ctx.signal });
  }
}

export const tierApply = defineAction({
  id: 'tier.apply',
  title: 'Apply the Tiered Storage Policy',
  description:
    'The tiered storage policy for recordings between two SSH hosts: files older than `moveAfterDays` move from tier 1 to tier 2 (modification times and modes kept); those on tier 2 older than `notifyAfterDays` are counted for a notice; those older than `expireAfterDays` are archived with rclone on the tier 2 host or deleted, unless a marker file (`clip.mp4.keep`) flags them for retention. The plan counts files and bytes per tier; a second run on the same day changes nothing.',
  params: tierApplyParams,
  destructive: true,
  async plan(params, ctx): Promise<ActionPlan> {
    const surveyed = await survey(params, ctx);
    ctx.handOver?.give(new PlannedTiers(surveyed));
    const { classes } = surveyed;
    const moved = tally(classes.move);
    const expired = tally(classes.expire);
    const notice = tally(classes.notice);
    return {
      summary: `tier 1 ${describeEndpoint(surveyed.tier1)}: ${classes.stay.length} stay, ${moved.files} (${formatBytes(moved.bytes)}) move with ${surveyed.method}; tier 2 ${describeEndpoint(surveyed.tier2)}: ${notice.files} (${formatBytes(notice.bytes)}) due for the notice, ${expired.files} (${formatBytes(expired.bytes)}) to ${params.expired}, ${classes.retained.length} flagged and kept`,
      operations: planOperations(params, surveyed),
      destructive: expired.files > 0,
    };
  },
  async run(params, ctx): Promise<TierApplyResult> {
    const started = performance.now();
    const surveyed = ctx.handOver?.take(PlannedTiers)?.surveyed ?? (await survey(params, ctx));
    const { tier1, tier2, classes } = surveyed;
    ctx.progress.report({ message: `moving ${classes.move.length} file(s) from ${describeEndpoint(tier1)} to ${describeEndpoint(tier2)}` });
    await moveToTier2(surveyed, ctx.signal);
    if (params.expired === 'archive') await archive(tier2, params.archiveRemote as string, classes.expire, ctx);
    else await removeFromFolder(tier2, classes.expire.map((file) => file.path), { recursive: false, signal: ctx.signal });
    const notice = tally(classes.notice);
    const expiredPaths = new Set(classes.expire.map((file) => file.path));
    return {
      tier1: describeEndpoint(tier1),
      tier2: describeEndpoint(tier2),
      method: surveyed.method,
      moved: tally(classes.move),
      archived: params.expired === 'archive' ? tally(classes.expire) : { files: 0, bytes: 0 },
      deleted: params.expired === 'delete' ? tally(classes.expire) : { files: 0, bytes: 0 },
      retained: tally(classes.retained),
      notice: { ...notice, message: noticeMessage(params, notice, tier2.host) },
      remaining: { tier1: tally(classes.stay), tier2: tally(classes.tier2.filter((file) => !expiredPaths.has(file.path))) },
      durationMs: Math.round(performance.now() - started),
    };
  },
  render(result: TierApplyResult) {
    const cell = (value: Tally) => `${value.files} (${formatBytes(value.bytes)})`;
    const table = markdownTable(
      ['moved to tier 2', 'archived', 'deleted', 'flagged, kept', 'due for notice', 'tier 1 now', 'tier 2 now'],
      [[cell(result.moved), cell(result.archived), cell(result.deleted), cell(result.retained), cell(result.notice), cell(result.remaining.tier1), cell(result.remaining.tier2)]],
    );
    const notice = result.notice.message ? `\n\nNotice: ${result.notice.message}.` : '';
    return `Tiered ${result.tier1} → ${result.tier2} with ${result.method} in ${formatDuration(result.durationMs)}.\n\n${table}${notice}`;
  },
});
