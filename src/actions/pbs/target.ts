import * as z from 'zod';
import { PBS_BACKUP_TYPES, PbsClient } from '../../clients/pbs';
import type { ActionContext } from '../../core/actions/spec';
import { secretName } from '../../core/secrets';

/** The `server:` parameter every PBS action takes: a Proxmox Backup Server of the inventory, by name. */
export const pbsServerParam = z.string().min(1).describe('Name of a Proxmox Backup Server in `backupServers:` of lifeboat.yaml.');
export const pbsDatastoreParam = z.string().min(1).optional().describe("Datastore name; the server's `datastore` in lifeboat.yaml when left out.");
export const pbsNamespaceParam = z
  .string()
  .min(1)
  .optional()
  .describe('Backup namespace, e.g. prod or site-a/prod; the root namespace when left out.');
export const pbsBackupTypeParam = z.enum(PBS_BACKUP_TYPES as [string, ...string[]]).describe('Backup type: vm, ct or host.');

type BackupServerEntry = NonNullable<ActionContext['inventory']['backupServers']>[string];

export function backupServerEntry(ctx: ActionContext, name: string): BackupServerEntry {
  const entry = ctx.inventory.backupServers?.[name];
  if (!entry) {
    const known = Object.keys(ctx.inventory.backupServers ?? {});
    const hint = known.length > 0 ? `; lifeboat.yaml names ${known.map((item) => `'${item}'`).join(', ')}` : '; add it under `backupServers:` in lifeboat.yaml';
    throw new Error(`no Proxmox Backup Server '${name}' in the inventory${hint}`);
  }
  return entry;
}

/** The datastore a step names, or the server's own from the inventory. */
export function datastoreOf(ctx: ActionContext, server: string, datastore: string | undefined): string {
  return datastore ?? backupServerEntry(ctx, server).datastore;
}

/**
 * The run's client for a PBS of the inventory. Its certificate is trusted by the pinned fingerprint
 * (or the system's CAs without one); `tls.insecure` is refused: the API token would go to whoever answers.
 */
export function pbsClientFor(ctx: ActionContext, name: string): Promise<PbsClient> {
  const entry = backupServerEntry(ctx, name);
  return ctx.clients.get(`pbs:${name}`, async () => {
    if (entry.tls?.insecure) {
      throw new Error(`\`backupServers.${name}.tls.insecure\` is not supported for Proxmox Backup Server: pin its certificate with \`fingerprint\` (the SHA-256 fingerprint the server shows) instead`);
    }
    const secret = secretName(entry.tokenSecret);
    if (secret === undefined) throw new Error(`\`backupServers.${name}.tokenSecret\` must name a secret (secret:NAME)`);
    return new PbsClient({
      url: entry.url,
      tokenId: entry.tokenId,
      tokenSecret: await ctx.secrets.resolve(secret),
      ...(entry.fingerprint === undefined ? {} : { fingerprint: entry.fingerprint }),
      name,
    });
  });
}
