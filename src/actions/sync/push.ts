import * as z from 'zod';
import type { ActionPlan, ActionContext, PlannedOperation } from '../../core/actions/spec';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, formatDuration, markdownEscape, markdownTable, printable } from '../../core/render';
import { describeEndpoint, hostFolderParam, hostHasProgram, openEndpoint, type Endpoint } from './endpoint';
import type { ChangeKind, SyncChange } from './itemize';
import { relayRsync } from './rsyncRelay';
import { removeFromFolder } from './remoteListing';
import { planTarTransfer, runTarTransfer, type TarPlan } from './tarTransfer';

/** How many changes a plan and a result list one by one; the counts always cover all of them. */
const LISTED_CHANGES = 2000;

const syncPushParams = z
  .object({
    from: hostFolderParam.describe('The folder whose contents are pushed: `{ host, path }`.'),
    to: hostFolderParam.describe('The folder they are pushed into (created if missing): `{ host, path }`.'),
    delete: z.boolean().default(false).describe('Also delete what the destination has and the source has not. Off unless asked.'),
    bandwidthKiBps: z.int().positive().optional().describe('Bandwidth limit in KiB/s.'),
    method: z
      .enum(['auto', 'rsync', 'tar'])
      .default('auto')
      .describe('rsync (delta transfer) when both hosts have it, else a tar stream (`auto`); or force one.'),
  })
  .strict();

export type SyncPushParams = z.output<typeof syncPushParams>;
export type SyncMethod = 'rsync' | 'tar';

export interface ChangeCounts {
  create: number;
  update: number;
  attributes: number;
  delete: number;
  /** Bytes of the files created or updated. */
  bytes: number;
}

export interface SyncPushResult {
  from: string;
  to: string;
  method: SyncMethod;
  counts: ChangeCounts;
  /** The changes, the first LISTED_CHANGES of them. */
  changes: SyncChange[];
  durationMs: number;
}

export function countChanges(changes: readonly SyncChange[]): ChangeCounts {
  const counts: ChangeCounts = { create: 0, update: 0, attributes: 0, delete: 0, bytes: 0 };
  for (const change of changes) {
    counts[change.kind]++;
    if (change.kind === 'create' || change.kind === 'update') counts.bytes += change.bytes;
  }
  return counts;
}

function checkEndpoints(params: SyncPushParams): void {
  const from = params.from.path.replace(/\/+$/, '') + '/';
  const to = params.to.path.replace(/\/+$/, '') + '/';
  if (params.from.host === params.to.host && (from.startsWith(to) || to.startsWith(from))) {
    throw new Error(`\`from\` and \`to\` overlap on ${params.from.host} (${params.from.path}, ${params.to.path}): choose folders apart from each other`);
  }
  if (params.delete && to === '/') throw new Error('`delete: true` into / would delete everything the source lacks on that host; choose a folder');
}

export async function chooseMethod(source: Endpoint, destination: Endpoint, method: SyncPushParams['method'], signal: AbortSignal): Promise<SyncMethod> {
  if (method !== 'auto') return method;
  const [sourceHas, destinationHas] = await Promise.all([hostHasProgram(source.connection, 'rsync', signal), hostHasProgram(destination.connection, 'rsync', signal)]);
  return sourceHas && destinationHas ? 'rsync' : 'tar';
}

interface Opened {
  source: Endpoint;
  destination: Endpoint;
  method: SyncMethod;
}

async function open(params: SyncPushParams, ctx: ActionContext): Promise<Opened> {
  checkEndpoints(params);
  const [source, destination] = await Promise.all([openEndpoint(params.from, ctx), openEndpoint(params.to, ctx)]);
  return { source, destination, method: await chooseMethod(source, destination, params.method, ctx.signal) };
}

/** What a push would change: rsync's dry run, or the listings of both folders for tar. */
class PlannedPush {
  constructor(
    readonly opened: Opened,
    readonly changes: SyncChange[],
    readonly tarPlan?: TarPlan,
  ) {}

  // Holds nothing open: the connections belong to the run's client pool.
  dispose(): void {}
}

async function planPush(params: SyncPushParams, ctx: ActionContext): Promise<PlannedPush> {
  const opened = await open(params, ctx);
  const { source, destination, method } = opened;
  if (method === 'rsync') return new PlannedPush(opened, await relayRsync({ source, destination, dryRun: true, delete: params.delete, bandwidthKiBps: params.bandwidthKiBps, signal: ctx.signal }));
  const tarPlan = await planTarTransfer(source, destination, { delete: params.delete, signal: ctx.signal });
  return new PlannedPush(opened, tarPlan.changes, tarPlan);
}

/** The planned deletions still to make: none at or above a path the transfer has just written. */
function deletionsToMake(planned: readonly SyncChange[], written: readonly SyncChange[]): SyncChange[] {
  const writtenPaths = written.filter((change) => change.kind !== 'delete').map((change) => change.path);
  return planned.filter((change) => change.kind === 'delete' && !writtenPaths.some((path) => path === change.path || path.startsWith(`${change.path}/`)));
}

/** The paths not below another of them: deleting those (recursively) deletes them all. */
function topMost(paths: readonly string[]): string[] {
  const set = new Set(paths);
  return paths.filter((path) => !path.split('/').some((_, index, parts) => index > 0 && set.has(parts.slice(0, index).join('/'))));
}

/**
 * Carries out the push the plan showed. With tar, exactly its listing; with rsync, the transfer
 * (which finds its own changes), and then only the deletions the plan named: a file the source has
 * lost since is not deleted without being shown first.
 */
async function pushAsPlanned(planned: PlannedPush, params: SyncPushParams, signal: AbortSignal): Promise<SyncChange[]> {
  const { source, destination } = planned.opened;
  if (planned.tarPlan) {
    await runTarTransfer(source, destination, planned.tarPlan, { bandwidthKiBps: params.bandwidthKiBps, signal });
    return planned.changes;
  }
  const written = await relayRsync({ source, destination, dryRun: false, delete: false, bandwidthKiBps: params.bandwidthKiBps, signal });
  const deletions = params.delete ? deletionsToMake(planned.changes, written) : [];
  await removeFromFolder(destination, topMost(deletions.map((change) => change.path)), { recursive: true, signal });
  return [...written, ...deletions];
}

const OPERATION_OF: Readonly<Record<ChangeKind, PlannedOperation['kind']>> = { create: 'create', update: 'overwrite', attributes: 'overwrite', delete: 'delete' };

export function changeOperations(changes: readonly SyncChange[], where: string): PlannedOperation[] {
  const operations = changes.slice(0, LISTED_CHANGES).map((change): PlannedOperation => ({
    kind: OPERATION_OF[change.kind],
    target: `${where}/${change.path === '.' ? '' : printable(change.path)}${change.isDirectory && change.path !== '.' ? '/' : ''}`,
    ...(change.kind === 'create' || change.kind === 'update' ? { bytes: change.bytes } : {}),
    detail: change.kind === 'attributes' ? 'mode or time' : change.kind,
  }));
  if (changes.length > LISTED_CHANGES) operations.push({ kind: 'overwrite', target: where, items: changes.length - LISTED_CHANGES, detail: 'more changes, counted in the summary' });
  return operations;
}

export function describeCounts(counts: ChangeCounts): string {
  return `${counts.create} new, ${counts.update} changed (${formatBytes(counts.bytes)}), ${counts.attributes} with new mode or time, ${counts.delete} deleted`;
}

export const syncPush = defineAction({
  id: 'sync.push',
  title: 'Push a Folder to Another Host',
  description:
    'Makes a folder on one SSH host hold what a folder on another holds: rsync (delta transfer, run on the source host with its protocol relayed through this machine, so neither host needs a key for the other) when both hosts have it, else a tar stream through this machine into a staging folder that is linked into place once whole. Modes and modification times are kept. Deletes what the source lacks only with `delete: true`. The plan lists every change.',
  params: syncPushParams,
  destructive: true,
  async plan(params, ctx): Promise<ActionPlan> {
    const planned = await planPush(params, ctx);
    ctx.handOver?.give(planned);
    const { opened, changes } = planned;
    const counts = countChanges(changes);
    const to = describeEndpoint(opened.destination);
    return {
      summary: `push ${describeEndpoint(opened.source)} to ${to} with ${opened.method}: ${describeCounts(counts)}`,
      operations: changeOperations(changes, to),
      destructive: counts.delete > 0 || counts.update > 0 || counts.attributes > 0,
    };
  },
  async run(params, ctx): Promise<SyncPushResult> {
    const started = performance.now();
    const planned = ctx.handOver?.take(PlannedPush) ?? (await planPush(params, ctx));
    const { opened } = planned;
    ctx.progress.report({ message: `pushing ${describeEndpoint(opened.source)} to ${describeEndpoint(opened.destination)} with ${opened.method}` });
    const changes = await pushAsPlanned(planned, params, ctx.signal);
    return {
      from: describeEndpoint(opened.source),
      to: describeEndpoint(opened.destination),
      method: opened.method,
      counts: countChanges(changes),
      changes: changes.slice(0, LISTED_CHANGES),
      durationMs: Math.round(performance.now() - started),
    };
  },
  render(result: SyncPushResult) {
    const heading = `Pushed ${markdownEscape(result.from)} to ${markdownEscape(result.to)} with ${result.method} in ${formatDuration(result.durationMs)}: ${describeCounts(result.counts)}.`;
    if (result.changes.length === 0) return heading;
    return `${heading}\n\n${markdownTable(['change', 'path', 'size'], result.changes.map((change) => [change.kind, printable(change.path), change.kind === 'delete' || change.isDirectory ? '' : formatBytes(change.bytes)]))}`;
  },
});
