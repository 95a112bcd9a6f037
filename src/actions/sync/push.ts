import { z } from 'zod';
import type { ActionPlan, ActionContext, PlannedOperation } from '../../core/actions/spec';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, formatDuration, markdownEscape, markdownTable, printable } from '../../core/render';
import { describeEndpoint, hostFolderParam, hostHasProgram, openEndpoint, type Endpoint } from './endpoint';
import type { ChangeKind, SyncChange } from './itemize';
import { relayRsync } from './rsyncRelay';
import { planTarTransfer, runTarTransfer } from './tarTransfer';

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

/** The changes of one push; carried out unless `dryRun`. */
async function transfer(opened: Opened, params: SyncPushParams, dryRun: boolean, signal: AbortSignal): Promise<SyncChange[]> {
  const { source, destination, method } = opened;
  if (method === 'rsync') return relayRsync({ source, destination, dryRun, delete: params.delete, bandwidthKiBps: params.bandwidthKiBps, signal });
  const plan = await planTarTransfer(source, destination, { delete: params.delete, signal });
  if (!dryRun) await runTarTransfer(source, destination, plan, { bandwidthKiBps: params.bandwidthKiBps, signal });
  return plan.changes;
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
    const opened = await open(params, ctx);
    const changes = await transfer(opened, params, true, ctx.signal);
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
    const opened = await open(params, ctx);
    ctx.progress.report({ message: `pushing ${describeEndpoint(opened.source)} to ${describeEndpoint(opened.destination)} with ${opened.method}` });
    const changes = await transfer(opened, params, false, ctx.signal);
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
