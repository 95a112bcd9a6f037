import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { BackupNode, LifeboatApi, ModelTreeNode } from '../../../src/vscode/api';
import { KubeApiSimulator } from '../../testbed/kubeSim';
import { SIM_RESOURCES, type SimResource } from '../../testbed/kubeSimObjects';
import { fixtureUri, readText, shown, waitFor } from './workspace';

const EXTENSION_ID = 'lifeboat.lifeboat';
const BACKUPS_PATH = '/apis/velero.io/v1/namespaces/velero/backups';

const resource = (group: string, plural: string) => SIM_RESOURCES.find((candidate) => candidate.group === group && candidate.plural === plural) as SimResource;

suite('Backups view: running Velero backups follow the cluster through a watch', () => {
  test("a running backup's node changes in place as the cluster moves it on, listed once and watched while the view shows it", async function () {
    this.timeout(90_000);
    const extension = vscode.extensions.getExtension<LifeboatApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded`);
    const api = await extension.activate();
    const tree = api.views.backups;
    // Slow enough steps to see each phase in the tree.
    const kube = await KubeApiSimulator.start({ controllerStepMs: 300 });
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    const find = async (parent: BackupNode | undefined, label: string): Promise<ModelTreeNode | undefined> =>
      (await tree.getChildren(parent)).find((node): node is ModelTreeNode => node.type === 'node' && node.node.label === label);
    const child = async (parent: BackupNode | undefined, label: string): Promise<ModelTreeNode> => {
      const found = await find(parent, label);
      assert.ok(found, `${label} is shown`);
      return found;
    };
    /**
     * Writes lifeboat.yaml and waits until the view has read it (its file watcher may report the
     * change more than once) and then redrawn nothing for a second, so the nodes listed next stay current.
     */
    const useInventory = async (text: string, withProd: boolean): Promise<void> => {
      let reloadedAt = Date.now();
      const reloads = tree.onDidChangeTreeData((changed) => {
        if (changed === undefined) reloadedAt = Date.now();
      });
      try {
        await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(text));
        const deadline = Date.now() + 20_000;
        for (;;) {
          const showsProd = (await find(undefined, 'prod')) !== undefined;
          if (showsProd === withProd && Date.now() - reloadedAt >= 1000) break;
          if (Date.now() > deadline) throw new Error(`timed out waiting for the view to read lifeboat.yaml ${withProd ? 'with' : 'without'} cluster prod`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        reloads.dispose();
      }
    };
    const backups = resource('velero.io', 'backups');
    const makeBackup = (name: string) => kube.objects.create(backups, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name }, spec: { includedNamespaces: ['immich'] } });
    try {
      kube.objects.create(resource('velero.io', 'backupstoragelocations'), 'velero', { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name: 'default' }, spec: { provider: 'aws', objectStorage: { bucket: 'velero' } } });
      await useInventory(['clusters:', `  prod: { kubeconfig: ${JSON.stringify(await kube.writeKubeconfig())} }`, ''].join('\n'), true);
      await vscode.commands.executeCommand('lifeboat.backups.focus');
      makeBackup('nightly');
      const folder = await child(await child(await child(undefined, 'prod'), 'Velero'), 'Backups');
      const entry = await child(folder, 'nightly');
      const listedAt = kube.requests.length;
      assert.notEqual(entry.node.facts.phase, 'Completed');
      const redrawn: string[] = [];
      const listening = tree.onDidChangeTreeData((changed) => {
        if (changed === entry) redrawn.push(String(shown(tree.getTreeItem(entry)).description));
      });
      try {
        await waitFor('the backup shown Completed', () => entry.node.facts.phase === 'Completed', 30_000);
      } finally {
        listening.dispose();
      }
      assert.ok(redrawn.some((description) => description.startsWith('InProgress')), redrawn.join('\n'));
      assert.match(redrawn.at(-1) ?? '', /^42\/42 items · expires in/);
      assert.deepEqual(entry.node.operations.map((operation) => operation.id), ['describe', 'logs', 'restore', 'delete']);
      const lists = kube.requests.slice(listedAt).filter((request) => request.startsWith(`GET ${BACKUPS_PATH}`) && !request.includes('watch=true'));
      assert.equal(lists.length, 1, `one list, by name, then the watch: ${kube.requests.slice(listedAt).join('\n')}`);
      await waitFor('no watch left', () => tree.watching === 0 && kube.objects.history.openWatches === 0);

      // A backup that stays running is watched while the view is in sight, and not while it is hidden.
      kube.objects.outcomes.set('held', 'Stuck');
      makeBackup('held');
      tree.refreshNode(folder);
      await child(folder, 'held');
      await waitFor('the running backup watched', () => tree.watching === 1 && kube.objects.history.openWatches === 1);
      await vscode.commands.executeCommand('workbench.action.closeSidebar');
      await waitFor('the watch closed with the view', () => tree.watching === 0 && kube.objects.history.openWatches === 0);
      await vscode.commands.executeCommand('lifeboat.backups.focus');
      await waitFor('watched again once shown', () => tree.watching === 1 && kube.objects.history.openWatches === 1);
    } finally {
      // The tests after this one see the workspace's own lifeboat.yaml again.
      await useInventory(original, false);
      await kube.stop();
    }
  });
});
