import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { formatAge, formatBytes, formatCount, markdownTable, printable } from '../../core/render';
import { describeStore, describeVerification, newestFirst, snapshotName, summarizeSnapshot, type SnapshotSummary } from './snapshotSummary';
import { backupServerEntry, datastoreOf, pbsBackupTypeParam, pbsClientFor, pbsDatastoreParam, pbsNamespaceParam, pbsServerParam } from './target';

const pbsSnapshotsParams = z
  .object({
    server: pbsServerParam,
    datastore: pbsDatastoreParam,
    namespace: pbsNamespaceParam,
    backupType: pbsBackupTypeParam.optional().describe('Only snapshots of this backup type: vm, ct or host.'),
    backupId: z.string().min(1).optional().describe('Only snapshots of this backup id, e.g. 100 for VM 100.'),
    maxAgeDays: z.number().positive().optional().describe('Fail when the newest snapshot listed is older than this many days, or there is none: 8 for a weekly backup.'),
    failOnFailedVerification: z.boolean().default(false).describe('Fail when the last verification of any snapshot listed failed.'),
  })
  .strict();

export interface PbsSnapshotsResult {
  server: string;
  datastore: string;
  /** The namespace listed; null for the root. */
  namespace: string | null;
  snapshots: SnapshotSummary[];
  counts: { total: number; verified: number; failed: number; unverified: number; protected: number };
  /** The newest snapshot's time, null when there is none. */
  newest: string | null;
}

export const pbsSnapshots = defineAction({
  id: 'pbs.snapshots',
  title: 'List PBS Snapshots',
  description: 'Lists the snapshots of a Proxmox Backup Server datastore, newest first: type, id, time, size, verification state, protection and comment. Can fail when the newest is too old or a verification failed.',
  params: pbsSnapshotsParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const entry = backupServerEntry(ctx, params.server);
    const datastore = datastoreOf(ctx, params.server, params.datastore);
    return { summary: `List snapshots of ${describeStore(datastore, params.namespace)} on PBS '${params.server}'`, operations: [{ kind: 'read', target: `${entry.url} ${describeStore(datastore, params.namespace)}` }], destructive: false };
  },
  async run(params, ctx): Promise<PbsSnapshotsResult> {
    const datastore = datastoreOf(ctx, params.server, params.datastore);
    const client = await pbsClientFor(ctx, params.server);
    const filter = { ...(params.namespace ? { ns: params.namespace } : {}), ...(params.backupType ? { type: params.backupType as SnapshotSummary['type'] } : {}), ...(params.backupId ? { id: params.backupId } : {}) };
    const listed = await client.snapshots(datastore, filter, ctx.signal);
    const snapshots = listed.map(summarizeSnapshot).sort(newestFirst);
    const count = (state: SnapshotSummary['verification']) => snapshots.filter((snapshot) => snapshot.verification === state).length;
    const where = `${describeStore(datastore, params.namespace)} on ${client.description}${params.backupType || params.backupId ? ` (${params.backupType ?? '*'}/${printable(params.backupId ?? '*')})` : ''}`;
    const newest = snapshots[0];
    if (params.maxAgeDays !== undefined && (newest === undefined || Date.now() / 1000 - newest.epoch > params.maxAgeDays * 86_400)) {
      throw new Error(newest === undefined ? `no snapshot in ${where}` : `the newest snapshot in ${where}, ${snapshotName(newest)}, is ${formatAge(new Date(newest.epoch * 1000))}: older than ${params.maxAgeDays} days`);
    }
    const failed = snapshots.filter((snapshot) => snapshot.verification === 'failed');
    if (params.failOnFailedVerification && failed.length > 0) {
      throw new Error(`the last verification of ${failed.length === 1 ? 'a snapshot' : `${failed.length} snapshots`} in ${where} failed: ${failed.map((snapshot) => `${snapshotName(snapshot)} (task ${snapshot.verifyTask ?? 'unknown'})`).join(', ')}`);
    }
    return {
      server: params.server,
      datastore,
      namespace: params.namespace ?? null,
      snapshots,
      counts: { total: snapshots.length, verified: count('ok'), failed: count('failed'), unverified: count('none'), protected: snapshots.filter((snapshot) => snapshot.protected).length },
      newest: snapshots[0]?.time ?? null,
    };
  },
  render(result: PbsSnapshotsResult) {
    const { counts } = result;
    const where = describeStore(result.datastore, result.namespace);
    const head = `${where.charAt(0).toUpperCase()}${where.slice(1)} on PBS '${result.server}': ${formatCount(counts.total, 'snapshot')}, ${counts.verified} verified, ${counts.failed} failed verification, ${counts.unverified} not verified.`;
    if (result.snapshots.length === 0) return head;
    const rows = result.snapshots.map((snapshot) => [
      snapshot.type,
      printable(snapshot.id),
      snapshot.time,
      snapshot.size === null ? '' : formatBytes(snapshot.size),
      describeVerification(snapshot.verification),
      snapshot.protected ? 'yes' : '',
      snapshot.comment ?? '',
    ]);
    return `${head}\n\n${markdownTable(['Type', 'ID', 'Time (UTC)', 'Size', 'Verification', 'Protected', 'Comment'], rows)}`;
  },
});
