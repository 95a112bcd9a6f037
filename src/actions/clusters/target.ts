import * as z from 'zod';
import { KubeClient } from '../../clients/kube';
import type { ActionContext } from '../../core/actions/spec';

/** The `cluster:` parameter of every Kubernetes action: a cluster of the inventory, by name. */
export const clusterParam = z.string().min(1).describe('Name of a cluster in `clusters:` of lifeboat.yaml.');

/**
 * The run's client for an inventory cluster (one connection shared by every step). `field` names
 * where the name was given, for the error when lifeboat.yaml has no such cluster.
 */
export function kubeClientFor(ctx: ActionContext, name: string, field = '`cluster`'): Promise<KubeClient> {
  const cluster = ctx.inventory.clusters?.[name];
  if (!cluster) {
    const known = Object.keys(ctx.inventory.clusters ?? {});
    const hint = known.length > 0 ? `; lifeboat.yaml names ${known.map((item) => `'${item}'`).join(', ')}` : '; add it under `clusters:` in lifeboat.yaml';
    return Promise.reject(new Error(`${field} names '${name}', which is not under \`clusters:\`${hint}`));
  }
  return ctx.clients.get(`kube:${name}`, () => KubeClient.connect(cluster));
}
