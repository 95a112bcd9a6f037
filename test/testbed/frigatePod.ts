import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FrigateSimulator } from './frigateSim';
import type { KubeApiSimulator, SimPod } from './kubeSim';

/**
 * Runs the simulated Frigate in a pod of the simulated cluster (namespace `frigate`, label
 * `app.kubernetes.io/name=frigate`): the pod's /media/frigate is the simulator's media folder, so what
 * exec writes there the API lists.
 */
export async function runFrigateInPod(kube: KubeApiSimulator, frigate: FrigateSimulator, name = 'frigate-7d9f'): Promise<SimPod> {
  const pod = kube.addPod({ namespace: 'frigate', name, labels: { 'app.kubernetes.io/name': 'frigate' }, containers: ['frigate'] });
  await mkdir(join(pod.root, 'media'), { recursive: true });
  await symlink(frigate.mediaDir, join(pod.root, 'media', 'frigate'));
  return pod;
}
