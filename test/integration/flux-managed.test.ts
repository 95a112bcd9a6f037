import assert from 'node:assert/strict';
import { CUSTOM_RESOURCES, KubeClient, type KubeObject } from '../../src/clients/kube';
import { describeManaging, managesNamespace, unsuspendedKustomizationsManaging } from '../../src/actions/flux/managed';
import { KubeApiSimulator } from '../testbed/kubeSim';

const kustomization = (namespace: string, name: string, spec: Record<string, unknown> = {}, status?: Record<string, unknown>): KubeObject => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name, namespace },
  spec: { interval: '10m', path: `./apps/${name}`, prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec },
  ...(status ? { status } : {}),
});

describe('Kustomizations managing a namespace', function () {
  this.timeout(20_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;

  before(async () => {
    sim = await KubeApiSimulator.start({ controllerStepMs: 5 });
    kube = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig() });
    const ks = CUSTOM_RESOURCES.fluxKustomization;
    await kube.createObject(ks, 'flux-system', kustomization('flux-system', 'pelican', { targetNamespace: 'pelican' }));
    await kube.createObject(ks, 'flux-system', kustomization('flux-system', 'pelican-suspended', { targetNamespace: 'pelican', suspend: true }));
    await kube.createObject(ks, 'immich', kustomization('immich', 'immich', { targetNamespace: 'immich' }));
    await kube.createObject(ks, 'flux-system', kustomization('flux-system', 'cluster-apps'));
  });

  after(async () => {
    await sim?.stop();
  });

  it('finds the unsuspended Kustomizations whose targetNamespace is the namespace, in any namespace', async () => {
    assert.deepEqual(await unsuspendedKustomizationsManaging(kube, 'pelican'), [{ namespace: 'flux-system', name: 'pelican', through: 'targetNamespace' }]);
    assert.deepEqual(await unsuspendedKustomizationsManaging(kube, 'immich'), [{ namespace: 'immich', name: 'immich', through: 'targetNamespace' }]);
    assert.deepEqual(await unsuspendedKustomizationsManaging(kube, 'nobody-manages-this'), []);
  });

  it('stops finding one once it is suspended', async () => {
    await kube.patchObject(CUSTOM_RESOURCES.fluxKustomization, 'immich', 'immich', { spec: { suspend: true } });
    try {
      assert.deepEqual(await unsuspendedKustomizationsManaging(kube, 'immich'), []);
    } finally {
      await kube.patchObject(CUSTOM_RESOURCES.fluxKustomization, 'immich', 'immich', { spec: { suspend: null } });
    }
  });

  it('finds none on a cluster without Flux', async () => {
    const bare = await KubeApiSimulator.start();
    try {
      bare.objects.uninstalledGroups.add('kustomize.toolkit.fluxcd.io');
      assert.deepEqual(await unsuspendedKustomizationsManaging(await KubeClient.connect({ kubeconfig: await bare.writeKubeconfig() }), 'pelican'), []);
    } finally {
      await bare.stop();
    }
  });

  it('stops when cancelled', async () => {
    await assert.rejects(unsuspendedKustomizationsManaging(kube, 'pelican', AbortSignal.abort()), { name: 'CancelledError' });
  });

  it("reads the inventory kustomize-controller records: objects in the namespace and the Namespace itself", () => {
    const withInventory = (ids: string[]) => kustomization('flux-system', 'apps', {}, { inventory: { entries: ids.map((id) => ({ id, v: 'v1' })) } });
    assert.equal(managesNamespace(withInventory(['pelican_pelican-panel_apps_Deployment']), 'pelican'), 'inventory');
    assert.equal(managesNamespace(withInventory(['_pelican__Namespace']), 'pelican'), 'inventory');
    assert.equal(managesNamespace(withInventory(['pelican-db_main_postgresql.cnpg.io_Cluster', '_pelicans__Namespace']), 'pelican'), undefined, 'a namespace whose name starts the same is another namespace');
    assert.equal(managesNamespace(withInventory(['_pelican-reader_rbac.authorization.k8s.io_ClusterRole']), 'pelican'), undefined, 'cluster-scoped objects are in no namespace');
    assert.equal(managesNamespace(kustomization('flux-system', 'apps', {}, { inventory: { entries: [null, { id: 3 }] } }), 'pelican'), undefined);
    assert.equal(managesNamespace(kustomization('flux-system', 'apps', { targetNamespace: 'pelican' }), 'pelican'), 'targetNamespace');
    assert.equal(describeManaging([{ namespace: 'flux-system', name: 'pelican', through: 'targetNamespace' }, { namespace: 'flux-system', name: 'apps', through: 'inventory' }]), 'flux-system/pelican (spec.targetNamespace), flux-system/apps (status.inventory)');
  });
});
