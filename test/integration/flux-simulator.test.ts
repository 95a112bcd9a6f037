import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTRACT_FIXTURES, REPO_ROOT } from '../support/paths';
import { KUBE_SIM_PATHS, KubeApiSimulator } from '../testbed/kubeSim';
import { ObjectStore, type SimResource } from '../testbed/kubeSimObjects';

const KS: SimResource = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', kind: 'Kustomization' };
const contract = readFileSync(join(CONTRACT_FIXTURES, 'EXTERNAL-SYSTEMS.md'), 'utf8');
const fluxSection = contract.slice(contract.indexOf('## 3. Flux'), contract.indexOf('\n## 4.'));

function kustomization(name: string, spec: Record<string, unknown> = {}) {
  return { apiVersion: `${KS.group}/${KS.version}`, kind: KS.kind, metadata: { name }, spec: { interval: '10m', path: './apps', prune: true, ...spec } };
}

describe('Kubernetes simulator: what Flux actions rely on, against the contracts', function () {
  this.timeout(10_000);

  it('lists a kind across all namespaces at the path @kubernetes/client-node requests for it', async () => {
    const client = readFileSync(join(REPO_ROOT, 'node_modules', '@kubernetes', 'client-node', 'dist', 'gen', 'apis', 'CustomObjectsApi.js'), 'utf8');
    const listCluster = client.slice(client.indexOf('listClusterCustomObject(group'));
    assert.equal(/localVarPath = '([^']+)'/.exec(listCluster)?.[1], KUBE_SIM_PATHS.customObjectsInAllNamespaces);
    const sim = await KubeApiSimulator.start();
    try {
      sim.objects.create(KS, 'flux-system', kustomization('apps'));
      sim.objects.create(KS, 'immich', kustomization('immich'));
      const path = KUBE_SIM_PATHS.customObjectsInAllNamespaces.replace('{group}', KS.group).replace('{version}', KS.version).replace('{plural}', KS.plural);
      const response = await fetchJson(sim, path);
      assert.equal(response.status, 200);
      const list = response.body as { kind: string; apiVersion: string; items: { metadata: { namespace: string; name: string } }[] };
      assert.deepEqual([list.kind, list.apiVersion], ['KustomizationList', 'kustomize.toolkit.fluxcd.io/v1']);
      assert.deepEqual(list.items.map((item) => `${item.metadata.namespace}/${item.metadata.name}`).sort(), ['flux-system/apps', 'immich/immich']);
      sim.objects.uninstalledGroups.add(KS.group);
      assert.equal((await fetchJson(sim, path)).status, 404, 'a cluster without the CRD answers 404 for the kind');
    } finally {
      await sim.stop();
    }
  });

  it('fails a reconciliation on request as kustomize-controller does: Ready False with the reason, the request still handled', async () => {
    assert.match(fluxSection, /Ready condition/);
    assert.match(fluxSection, /`status\.lastHandledReconcileAt == <value>`/);
    const store = new ObjectStore(2);
    try {
      store.kustomizationFailures.set('broken', 'kustomize build failed');
      const requestedAt = '2026-12-06T12:00:00.5Z';
      store.create(KS, 'flux-system', { ...kustomization('broken'), metadata: { name: 'broken', annotations: { 'reconcile.fluxcd.io/requestedAt': requestedAt } } });
      await sleep(30);
      const status = store.get(KS, 'flux-system', 'broken').status ?? {};
      assert.deepEqual(Object.keys(status).sort(), ['conditions', 'lastHandledReconcileAt', 'observedGeneration']);
      for (const field of ['lastHandledReconcileAt', 'observedGeneration']) assert.ok(fluxSection.includes(field), `${field} is in §3`);
      assert.equal(status.lastHandledReconcileAt, requestedAt);
      const [ready] = status.conditions as { type: string; status: string; reason: string; message: string }[];
      assert.deepEqual([ready?.type, ready?.status, ready?.reason, ready?.message], ['Ready', 'False', 'ReconciliationFailed', 'kustomize build failed']);
    } finally {
      store.stop();
    }
  });

  it('leaves a suspended Kustomization unreconciled, so its generation runs ahead of observedGeneration (the kstatus caveat of §3)', async () => {
    assert.match(fluxSection, /while suspended, `generation` > `observedGeneration`/);
    const store = new ObjectStore(2);
    try {
      store.create(KS, 'flux-system', kustomization('apps'));
      await sleep(20);
      store.patch(KS, 'flux-system', 'apps', { spec: { suspend: true } });
      store.patch(KS, 'flux-system', 'apps', { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 'now' } } });
      await sleep(20);
      const suspended = store.get(KS, 'flux-system', 'apps');
      assert.ok(suspended.metadata.generation > Number(suspended.status?.observedGeneration));
      assert.equal(suspended.status?.lastHandledReconcileAt, undefined, 'a request to a suspended Kustomization is not handled');
      store.patch(KS, 'flux-system', 'apps', { spec: { suspend: null } });
      await sleep(20);
      const resumed = store.get(KS, 'flux-system', 'apps');
      assert.equal(resumed.status?.observedGeneration, resumed.metadata.generation);
      assert.equal(resumed.status?.lastHandledReconcileAt, 'now');
    } finally {
      store.stop();
    }
  });
});

function fetchJson(sim: KubeApiSimulator, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const call = request(`${sim.url}${path}`, { headers: { Authorization: `Bearer ${sim.token}` }, ca: sim.certificate.cert }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    call.on('error', reject);
    call.end();
  });
}
