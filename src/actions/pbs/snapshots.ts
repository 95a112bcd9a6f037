import { z } from 'zod';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, markdownTable, printable } from '../../core/render';
import { describeVerification, newestFirst, summarizeSnapshot, type SnapshotSummary } from './snapshotSummary';
import { backupServerEntry, datastoreOf, pbsBackupTypeParam, pbsClientFor, pbsDatastoreParam, pbsServerParam } from './target';

const pbsSnapshotsParams = z
  .object({
    server: pbsServerParam,
    datastore: pbsDatastoreParam,
    type: pbsBackupTypeParam.optional().describe('Only snapshots of this backup type: vm, ct or host.'),
    id: z.string().min(1).optional().describe('Only snapshots of this backup id, e.g. 100 for VM 100.'),
  })
  .strict();

export interface PbsSnapshotsResult {
  server: string;
  datastore: string;
  snapshots: SnapshotSummary[];
  counts: { total: number; verified: number; failed: number; unverified: number; protected: number };
  /** The newest snapshot's time, null when there is none. */
  newest: string | null;
}

export const pbsSnapshots = defineAction({
  id: 'pbs.snapshots',
  title: 'List PBS Snapshots',
  description: 'Lists the snapshots of a Proxmox Backup Server datastore, newest first: type, id, time, size, verification state, protection and comment.',
  params: pbsSnapshotsParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const entry = backupServerEntry(ctx, params.server);
    const datastore = datastoreOf(ctx, params.server, params.datastore);
    return { summary: `List snapshots of datastore '${datastore}' on PBS '${params.server}'`, operations: [{ kind: 'read', target: `${entry.url} datastore ${datastore}` }], destructive: false };
  },
  async run(params, ctx): Promise<PbsSnapshotsResult> {
    const datastore = datastoreOf(ctx, params.server, params.datastore);
    const client = await pbsClientFor(ctx, params.server);
    const listed = await client.snapshots(datastore, { ...(params.type ? { type: params.type as SnapshotSummary['type'] } : {}), ...(params.id ? { id: params.id } : {}) }, ctx.signal);
    const snapshots = listed.map(summarizeSnapshot).sort(newestFirst);
    const count = (state: SnapshotSummary['verification']) => snapshots.filter((snapshot) => snapshot.verification === state).length;
    return {
      server: params.server,
      datastore,
      snapshots,
      counts: { total: snapshots.length, verified: count('ok'), failed: count('failed'), unverified: count('none'), protected: snapshots.filter((snapshot) => snapshot.protected).length },
      newest: snapshots[0]?.time ?? null,
    };
  },
  render(result: PbsSnapshotsResult) {
    const { counts } = result;
    const head = `Datastore '${printable(result.datastore)}' on PBS '${result.server}': ${counts.total} snapshots, ${counts.verified} verified, ${counts.failed} failed verification, ${counts.unverified} not verified.`;
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
