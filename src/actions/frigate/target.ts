import * as z from 'zod';
import { FrigateClient, type FrigateAuth } from '../../clients/frigate';
import type { KubeClient, PodInfo } from '../../clients/kube';
import { kubeClientFor } from '../clusters/target';
import type { ActionContext } from '../../core/actions/spec';
import { secretName } from '../../core/secrets';

/** The `frigate:` parameter every Frigate action takes: an instance of the inventory, by name. */
export const frigateInstanceParam = z.string().min(1).describe('Name of a Frigate instance in `frigate:` of lifeboat.yaml.');

type FrigateEntry = NonNullable<ActionContext['inventory']['frigate']>[string];

export function frigateEntry(ctx: ActionContext, name: string): FrigateEntry {
  const entry = ctx.inventory.frigate?.[name];
  if (!entry) {
    const known = Object.keys(ctx.inventory.frigate ?? {});
    const hint = known.length > 0 ? `; lifeboat.yaml names ${known.map((item) => `'${item}'`).join(', ')}` : '; add it under `frigate:` in lifeboat.yaml';
    throw new Error(`no Frigate instance '${name}' in the inventory${hint}`);
  }
  return entry;
}

async function resolveAuth(ctx: ActionContext, name: string, entry: FrigateEntry): Promise<FrigateAuth | undefined> {
  const auth = entry.auth;
  if (!auth) return undefined;
  const reference = 'token' in auth ? auth.token : auth.password;
  const secret = secretName(reference);
  if (secret === undefined) throw new Error(`\`frigate.${name}.auth\` must name a secret (secret:NAME)`);
  const value = await ctx.secrets.resolve(secret);
  return 'token' in auth ? { token: value } : { username: auth.username, password: value };
}

/** The run's client for an inventory Frigate instance (one login shared by every step), with its TLS warning logged once. */
export function frigateClientFor(ctx: ActionContext, name: string): Promise<FrigateClient> {
  const entry = frigateEntry(ctx, name);
  return ctx.clients.get(`frigate:${name}`, async () => {
    const client = new FrigateClient({ url: entry.url, auth: await resolveAuth(ctx, name, entry), insecure: entry.tls?.insecure ?? false, name, ...(entry.timeoutSeconds ? { timeoutMs: entry.timeoutSeconds * 1000 } : {}) });
    for (const warning of client.warnings) ctx.log.warn(warning);
    return client;
  });
}

/** Where the instance keeps its files in Kubernetes, when the inventory says so. */
export type FrigatePodLocation = Extract<NonNullable<FrigateEntry['files']>, { cluster: string }>;

export function podLocationOf(entry: FrigateEntry): FrigatePodLocation | undefined {
  return entry.files && 'cluster' in entry.files ? entry.files : undefined;
}

/** The running Frigate pod of an instance whose files live in a cluster of the inventory. */
export async function findFrigatePod(ctx: ActionContext, name: string, location: FrigatePodLocation): Promise<{ kube: KubeClient; pod: PodInfo }> {
  const kube = await kubeClientFor(ctx, location.cluster, `\`frigate.${name}.files.cluster\``);
  return { kube, pod: await kube.findPod(location.namespace, location.labelSelector) };
}
