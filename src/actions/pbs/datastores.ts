import * as z from 'zod';
import type { PbsClient, PbsDatastore } from '../../clients/pbs';
import { defineAction } from '../../core/actions/spec';
import { errorMessage, isCancellationError } from '../../core/errors';
import { formatBytes, formatCount, markdownTable, printable } from '../../core/render';
import { snapshotTime } from './snapshotSummary';
import { backupServerEntry, pbsClientFor, pbsServerParam } from './target';

const pbsDatastoresParams = z.object({ server: pbsServerParam }).strict();

export interface DatastoreSummary {
  store: string;
  comment: string | null;
  maintenance: string | null;
  /** The datastore lifeboat.yaml names for this server. */
  configured: boolean;
  totalBytes: number | null;
  usedBytes: number | null;
  availBytes: number | null;
  groups: number | null;
  snapshots: number | null;
  /** The newest backup of any group, null when there is none or it could not be read. */
  lastBackup: string | null;
  /** Why space or groups could not be read (a token without audit rights on it). */
  problem: string | null;
}

export interface PbsDatastoresResult {
  server: string;
  url: string;
  datastores: DatastoreSummary[];
}

/** Space, groups and the newest backup of one datastore; what cannot be read is named, not fatal. */
export async function summarizeDatastore(client: PbsClient, datastore: PbsDatastore, configured: boolean, signal: AbortSignal): Promise<DatastoreSummary> {
  const [status, groups] = await Promise.allSettled([client.datastoreStatus(datastore.store, signal), client.groups(datastore.store, signal)]);
  const problems = [status, groups].flatMap((outcome) => {
    if (outcome.status === 'fulfilled') return [];
    if (isCancellationError(outcome.reason)) throw outcome.reason;
    return [errorMessage(outcome.reason)];
  });
  const groupList = groups.status === 'fulfilled' ? groups.value : undefined;
  const newest = groupList && groupList.length > 0 ? Math.max(...groupList.map((group) => group.lastBackup)) : undefined;
  return {
    store: datastore.store,
    comment: datastore.comment === undefined ? null : printable(datastore.comment),
    maintenance: datastore.maintenance === undefined ? null : printable(datastore.maintenance),
    configured,
    totalBytes: status.status === 'fulfilled' ? status.value.total : null,
    usedBytes: status.status === 'fulfilled' ? status.value.used : null,
    availBytes: status.status === 'fulfilled' ? status.value.avail : null,
    groups: groupList?.length ?? null,
    snapshots: groupList ? groupList.reduce((sum, group) => sum + group.backupCount, 0) : null,
    lastBackup: newest === undefined ? null : snapshotTime(newest),
    problem: problems.length > 0 ? problems.join('; ') : null,
  };
}

export const pbsDatastores = defineAction({
  id: 'pbs.datastores',
  title: 'List PBS Datastores',
  description: "Lists the datastores of a Proxmox Backup Server the API token may see: space used and available, backup groups, snapshots and the newest backup. Fails when the datastore lifeboat.yaml names for the server is not among them.",
  params: pbsDatastoresParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const entry = backupServerEntry(ctx, params.server);
    return { summary: `List the datastores of PBS '${params.server}'`, operations: [{ kind: 'read', target: entry.url, detail: 'datastores, their space and groups' }], destructive: false };
  },
  async run(params, ctx): Promise<PbsDatastoresResult> {
    const entry = backupServerEntry(ctx, params.server);
    const client = await pbsClientFor(ctx, params.server);
    const listed = (await client.datastores(ctx.signal)).sort((a, b) => a.store.localeCompare(b.store));
    if (!listed.some((datastore) => datastore.store === entry.datastore)) {
      const names = listed.map((datastore) => `'${printable(datastore.store)}'`).join(', ');
      throw new Error(`datastore '${printable(entry.datastore)}' (\`backupServers.${params.server}.datastore\`) is not on ${client.description}${names ? `: the token sees ${names}` : ': the token sees no datastore'}`);
    }
    const datastores: DatastoreSummary[] = [];
    for (const datastore of listed) {
      ctx.progress.report({ message: `datastore ${printable(datastore.store)}`, items: datastores.length, totalItems: listed.length });
      datastores.push(await summarizeDatastore(client, datastore, datastore.store === entry.datastore, ctx.signal));
    }
    return { server: params.server, url: entry.url, datastores };
  },
  render(result: PbsDatastoresResult) {
    const bytes = (value: number | null) => (value === null ? '' : formatBytes(value));
    const rows = result.datastores.map((datastore) => [
      `${printable(datastore.store)}${datastore.configured ? ' (lifeboat.yaml)' : ''}`,
      bytes(datastore.usedBytes),
      bytes(datastore.availBytes),
      datastore.groups ?? '',
      datastore.snapshots ?? '',
      datastore.lastBackup ?? '',
      [datastore.maintenance ? `maintenance: ${datastore.maintenance}` : '', datastore.problem ?? '', datastore.comment ?? ''].filter(Boolean).join('; '),
    ]);
    return `PBS '${result.server}' (${result.url}): ${formatCount(result.datastores.length, 'datastore')}.\n\n${markdownTable(['Datastore', 'Used', 'Available', 'Groups', 'Snapshots', 'Newest backup (UTC)', 'Notes'], rows)}`;
  },
});
