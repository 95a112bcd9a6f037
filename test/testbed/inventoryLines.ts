import type { FrigateSimulator } from './frigateSim';
import type { KubeApiSimulator } from './kubeSim';
import type { Sshd } from './sshd';

/** lifeboat.yaml lines for the cluster and the Frigate of `runFrigateInPod`, as a user writes them. */
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
