import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { veleroInspectActions } from '../../src/actions/velero/inspectActions';
import { CUSTOM_RESOURCES, KubeClient, type KubeObject } from '../../src/clients/kube';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { KubeApiSimulator } from '../testbed/kubeSim';

/** One simulated cluster with Velero installed: a storage location `default` in namespace `velero`. */
export interface SimulatedVelero {
  sim: KubeApiSimulator;
  kubeconfig: string;
  kube: KubeClient;
}

export async function startVeleroCluster(controllerStepMs: number): Promise<SimulatedVelero> {
  const sim = await KubeApiSimulator.start({ controllerStepMs });
  const kubeconfig = await sim.writeKubeconfig();
  const kube = await KubeClient.connect({ kubeconfig });
  await addLocation(kube, 'default', { provider: 'aws', objectStorage: { bucket: 'velero', prefix: 'cluster' }, default: true });
  return { sim, kubeconfig, kube };
}

export function addLocation(kube: KubeClient, name: string, spec: Record<string, unknown>, namespace = 'velero'): Promise<KubeObject> {
  return kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, namespace, { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name }, spec });
}

const finished = (object: KubeObject) => ['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'].includes(String(object.status?.phase));

/** A backup made the way Velero's own CLI makes one, waited for until it has finished. */
export async function makeBackup(kube: KubeClient, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Promise<KubeObject> {
  await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name, labels }, spec });
  return kube.waitForObject(CUSTOM_RESOURCES.veleroBackup, 'velero', name, { isDone: finished, intervalMs: 10, timeoutMs: 15_000 });
}

/** A workspace folder and an action context over the given inventory clusters (kubeconfig per name). */
export async function veleroWorkspace(clusters: Record<string, string>): Promise<{ dir: string; context: (overrides?: Partial<ActionContext>) => ActionContext; inventory: Inventory; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-velero-'));
  const inventory: Inventory = { clusters: Object.fromEntries(Object.entries(clusters).map(([name, kubeconfig]) => [name, { kubeconfig }])) };
  return {
    dir,
    inventory,
    context: (overrides = {}) => createActionContext({ workspaceDir: dir, inventory, ...overrides }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Validates raw parameters through the action's schema, as the runner does, runs it, then closes its connections. */
export async function runVeleroAction<Result>(id: string, params: Record<string, unknown>, ctx: ActionContext): Promise<Result> {
  const spec = veleroInspectActions.find((candidate) => candidate.id === id);
  assert.ok(spec, `action ${id} is registered`);
  try {
    return (await spec.run(spec.params.parse(params), ctx)) as Result;
  } finally {
    await ctx.clients.disposeAll();
  }
}
