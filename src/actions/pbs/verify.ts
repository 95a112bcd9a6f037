import * as z from 'zod';
import type { PbsBackupType, PbsVerifyScope } from '../../clients/pbs';
import { defineAction } from '../../core/actions/spec';
import { errorMessage, isCancellationError } from '../../core/errors';
import { formatCount, markdownTable, printable } from '../../core/render';
import { describeStore, describeVerification, newestFirst, snapshotName, snapshotTime, summarizeSnapshot, type SnapshotSummary } from './snapshotSummary';
import { backupServerEntry, datastoreOf, pbsBackupTypeParam, pbsClientFor, pbsDatastoreParam, pbsNamespaceParam, pbsServerParam } from './target';

/** How many of a failed task's last log lines its error shows. */
const FAILURE_LOG_LINES = 20;

const snapshotTimeParam = z
  .union([z.number().int().nonnegative(), z.string().min(1)])
  .describe('Snapshot time: Unix seconds, or UTC as PBS shows it (2026-12-06T02:00:00Z).')
  .transform((value, check) => {
    if (typeof value === 'number') return value;
    const epoch = Date.parse(value);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(epoch)) {
      check.addIssue({ code: 'custom', message: `'${value}' is not a snapshot time: Unix seconds or RFC 3339 such as 2026-12-06T02:00:00Z` });
      return z.NEVER;
    }
    return Math.floor(epoch / 1000);
  });

const pbsVerifyParams = z
  .object({
    server: pbsServerParam,
    datastore: pbsDatastoreParam,
    namespace: pbsNamespaceParam.describe('Backup namespace, e.g. prod; the root when left out. Verifying a whole namespace covers the namespaces below it too.'),
    backupType: pbsBackupTypeParam.optional().describe('With `backupId`: verify one backup group (or, with `time`, one snapshot); left out: the whole datastore.'),
    backupId: z.string().min(1).optional().describe('Backup id of the group or snapshot, e.g. 100.'),
    time: snapshotTimeParam.optional(),
    ignoreVerified: z
      .boolean()
      .optional()
      .describe('Skip snapshots verified before. Default: true for a datastore or group (as PBS does), false for one snapshot.'),
    outdatedAfterDays: z.number().int().positive().optional().describe('With ignoreVerified: verify again snapshots last verified more than this many days ago.'),
  })
  .strict()
  .superRefine((params, check) => {
    if ((params.backupType === undefined) !== (params.backupId === undefined)) check.addIssue({ code: 'custom', path: [params.backupType === undefined ? 'backupType' : 'backupId'], message: '`backupType` and `backupId` name a backup group together: give both, or neither to verify the whole datastore' });
    if (params.time !== undefined && params.backupId === undefined) check.addIssue({ code: 'custom', path: ['time'], message: '`time` names a snapshot of a group: give `backupType` and `backupId` too' });
  });

export interface PbsVerifyResult {
  server: string;
  datastore: string;
  /** What was verified, in words. */
  scope: string;
  upid: string;
  /** `OK` or `WARNINGS: <n>`. */
  exitstatus: string;
  /** The snapshots the verify covered, with their verification state afterwards. */
  snapshots: SnapshotSummary[];
  logLines: number;
}

type VerifyParams = z.output<typeof pbsVerifyParams>;

function scopeOf(params: VerifyParams): PbsVerifyScope {
  if (params.backupType === undefined || params.backupId === undefined) return { kind: 'datastore' };
  const type = params.backupType as PbsBackupType;
  return params.time === undefined ? { kind: 'group', type, id: params.backupId } : { kind: 'snapshot', type, id: params.backupId, time: params.time };
}

function describeScope(scope: PbsVerifyScope, datastore: string, namespace: string | undefined): string {
  const store = describeStore(datastore, namespace);
  if (scope.kind === 'datastore') return store;
  if (scope.kind === 'group') return `group ${scope.type}/${printable(scope.id)} of ${store}`;
  return `snapshot ${snapshotName({ type: scope.type, id: scope.id, time: snapshotTime(scope.time) })} of ${store}`;
}

function covered(snapshot: SnapshotSummary, scope: PbsVerifyScope): boolean {
  if (scope.kind === 'datastore') return true;
  if (snapshot.type !== scope.type || snapshot.id !== scope.id) return false;
  return scope.kind === 'group' || snapshot.epoch === scope.time;
}

/** The official client counts OK and WARNINGS as success (pbs-client/src/task_log.rs). */
function succeeded(exitstatus: string): boolean {
  return exitstatus === 'OK' || exitstatus.startsWith('WARNINGS');
}

export const pbsVerify = defineAction({
  id: 'pbs.verify',
  title: 'Verify PBS Backups',
  description: 'Starts a verify job on a Proxmox Backup Server (a whole datastore, one backup group or one snapshot), follows its task log until it ends, and fails with the reason and the failed snapshots when the verification fails. Cancelling asks the server to stop the task.',
  params: pbsVerifyParams,
  destructive: false,
  async plan(params, ctx) {
    const entry = backupServerEntry(ctx, params.server);
    const datastore = datastoreOf(ctx, params.server, params.datastore);
    const scope = describeScope(scopeOf(params), datastore, params.namespace);
    return { summary: `Verify ${scope} on PBS '${params.server}'`, operations: [{ kind: 'verify', target: `${entry.url} ${scope}`, detail: 'reads every chunk and records the verification state' }], destructive: false };
  },
  async run(params, ctx): Promise<PbsVerifyResult> {
    const datastore = datastoreOf(ctx, params.server, params.datastore);
    const client = await pbsClientFor(ctx, params.server);
    const scope = scopeOf(params);
    const scopeText = describeScope(scope, datastore, params.namespace);
    const ignoreVerified = params.ignoreVerified ?? scope.kind !== 'snapshot';
    const options = { ignoreVerified, ...(params.namespace ? { ns: params.namespace } : {}), ...(params.outdatedAfterDays === undefined ? {} : { outdatedAfterDays: params.outdatedAfterDays }) };
    const upid = await client.startVerify(datastore, scope, options, ctx.signal);
    ctx.log.info(`verify of ${scopeText} started on ${client.description}: task ${upid}`);
    const outcome = await client
      .waitForTask(upid, {
        signal: ctx.signal,
        onLog: (line) => {
          ctx.progress.report({ message: printable(line) });
          ctx.log.debug(printable(line));
        },
      })
      .catch((error: unknown) => {
        if (isCancellationError(error)) throw error;
        throw new Error(`lost track of the verify of ${scopeText} (task ${upid}), which may still be running on ${client.description}: ${errorMessage(error)}`);
      });
    if (!succeeded(outcome.exitstatus)) {
      const tail = outcome.log.slice(-FAILURE_LOG_LINES).map((line) => `  ${printable(line)}`);
      throw new Error(`verify of ${scopeText} on ${client.description} failed: ${printable(outcome.exitstatus)}\n${tail.length > 0 ? `last lines of the task log:\n${tail.join('\n')}\n` : ''}(task ${upid})`);
    }
    // Namespaces below a verified one are not listed: their snapshots are in the task's log.
    const ns = params.namespace ? { ns: params.namespace } : {};
    const listing = await client.snapshots(datastore, scope.kind === 'datastore' ? ns : { ...ns, type: scope.type, id: scope.id }, ctx.signal);
    const snapshots = listing.map(summarizeSnapshot).filter((snapshot) => covered(snapshot, scope)).sort(newestFirst);
    return { server: params.server, datastore, scope: scopeText, upid, exitstatus: outcome.exitstatus, snapshots, logLines: outcome.log.length };
  },
  render(result: PbsVerifyResult) {
    const verified = result.snapshots.filter((snapshot) => snapshot.verification === 'ok').length;
    const head = `Verified ${result.scope} on PBS '${result.server}': ${printable(result.exitstatus)}, ${formatCount(verified, 'snapshot')} of ${result.snapshots.length} verified (task ${result.upid}).`;
    if (result.snapshots.length === 0) return head;
    const rows = result.snapshots.map((snapshot) => [snapshot.type, printable(snapshot.id), snapshot.time, describeVerification(snapshot.verification)]);
    return `${head}\n\n${markdownTable(['Type', 'ID', 'Time (UTC)', 'Verification'], rows)}`;
  },
});
