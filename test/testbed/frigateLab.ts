import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FrigateSimulator } from './frigateSim';
import type { KubeApiSimulator, SimPod } from './kubeSim';
import type { Sshd } from './sshd';

/** Frigate's pod: its `/media/frigate` is the simulator's media folder, so what exec writes, the API lists. */
export async function addFrigatePod(kube: KubeApiSimulator, frigate: FrigateSimulator, name: string): Promise<SimPod> {
  const pod = kube.addPod({ namespace: 'frigate', name, labels: { 'app.kubernetes.io/name': 'frigate' }, containers: ['frigate'] });
  await mkdir(join(pod.root, 'media'), { recursive: true });
  await symlink(frigate.mediaDir, join(pod.root, 'media', 'frigate'));
  return pod;
}

/** lifeboat.yaml lines for the cluster and the Frigate of `addFrigatePod`, as a user writes them. */
export async function frigateInventoryLines(cluster: string, kube: KubeApiSimulator, frigate: FrigateSimulator): Promise<string[]> {
  return [
    'clusters:',
    `  ${cluster}:`,
    `    kubeconfig: ${await kube.writeKubeconfig()}`,
    'frigate:',
    '  frigate:',
    `    url: ${frigate.url}`,
    '    auth: { username: admin, password: secret:frigate_password }',
    '    # The simulator has a self-signed certificate.',
    '    tls: { insecure: true }',
    `    files: { cluster: ${cluster}, namespace: frigate, labelSelector: app.kubernetes.io/name=frigate }`,
  ];
}

/** lifeboat.yaml lines for the test sshd as the host `name`. */
export function sshHostInventoryLines(name: string, sshd: Sshd): string[] {
  return ['hosts:', `  ${name}:`, `    host: ${sshd.host}`, `    port: ${sshd.port}`, `    user: ${sshd.user}`, `    identityFile: ${sshd.clientKey.privateKeyPath}`, `    knownHosts: ${sshd.knownHostsPath}`];
}
