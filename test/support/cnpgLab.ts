import assert from 'node:assert/strict';
import { builtinActions } from '../../src/actions';
import { CUSTOM_RESOURCES, KubeClient, type KubeObject } from '../../src/clients/kube';
import type { ActionContext, ActionPlan } from '../../src/core/actions/spec';
import { KubeApiSimulator } from '../testbed/kubeSim';

/** One simulated cluster with CloudNativePG's resources. */
export interface SimulatedCnpg {
  sim: KubeApiSimulator;
  kubeconfig: string;
  kube: KubeClient;
}

export async function startCnpgCluster(controllerStepMs: number): Promise<SimulatedCnpg> {
  const sim = await KubeApiSimulator.start({ controllerStepMs });
  const kubeconfig = await sim.writeKubeconfig();
  return { sim, kubeconfig, kube: await KubeClient.connect({ kubeconfig }) };
}

/** A CloudNativePG Cluster as its manifest would declare it, with the backup configuration given. */
export function addCnpgCluster(kube: KubeClient, namespace: string, name: string, spec: Record<string, unknown>): Promise<KubeObject> {
  return kube.createObject(CUSTOM_RESOURCES.cnpgCluster, namespace, { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name }, spec: { instances: 3, imageName: 'ghcr.io/cloudnative-pg/postgresql:17.5', storage: { size: '20Gi', storageClass: 'longhorn' }, ...spec } });
}

export const PLUGIN_BACKUP = { plugins: [{ name: 'barman-cloud.cloudnative-pg.io', isWALArchiver: true, parameters: { barmanObjectName: 'minio-store' } }] };
export const IN_TREE_BACKUP = { backup: { barmanObjectStore: { destinationPath: 's3://backups/', endpointURL: 'http://minio:9000' } } };
export const SNAPSHOT_BACKUP = { backup: { volumeSnapshot: { className: 'longhorn' } } };

function action(id: string) {
  const spec = builtinActions.find((candidate) => candidate.id === id);
  assert.ok(spec, `action ${id} is registered`);
  return spec;
}

/** Validates raw parameters through the action's schema, as the runner does, runs it, then closes its connections. */
export async function runCnpgAction<Result>(id: string, params: Record<string, unknown>, ctx: ActionContext): Promise<Result> {
  const spec = action(id);
  try {
    return (await spec.run(spec.params.parse(params), ctx)) as Result;
  } finally {
    await ctx.clients.disposeAll();
  }
}

export async function planCnpgAction(id: string, params: Record<string, unknown>, ctx: ActionContext): Promise<ActionPlan> {
  const spec = action(id);
  try {
    return await spec.plan(spec.params.parse(params), ctx);
  } finally {
    await ctx.clients.disposeAll();
  }
}

export function renderCnpgResult(id: string, result: unknown): string {
  return String(action(id).render(result));
}
