/**
 * The services of `npm run demo`'s lab, from the test bed: a Frigate (the simulator, with a small face
 * library) running in a pod of a Kubernetes cluster (the API simulator). Rewrites the lab's
 * lifeboat.yaml to name them beside its local backup location, prints "lab services ready" and runs
 * until it is stopped (SIGTERM or SIGINT), then stops them. Frigate's admin password is the one
 * Lifeboat will read, LIFEBOAT_SECRET_FRIGATE_PASSWORD.
 *
 *   LIFEBOAT_SECRET_FRIGATE_PASSWORD=… node out/test/testbed/lab.js LAB_FOLDER
 */
import { randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FrigateSimulator } from './frigateSim';
import { KubeApiSimulator } from './kubeSim';
import { solidWebp } from './webp';

const PEOPLE = { Adil: 6, Asha: 12, G: 20, Waffles: 3 } as const;

async function main(): Promise<void> {
  const lab = process.argv[2];
  const password = process.env.LIFEBOAT_SECRET_FRIGATE_PASSWORD;
  if (!lab || !password) throw new Error('usage: LIFEBOAT_SECRET_FRIGATE_PASSWORD=… lab.js LAB_FOLDER');
  const [frigate, kube] = await Promise.all([FrigateSimulator.start({ users: { admin: { password, role: 'admin' } } }), KubeApiSimulator.start()]);
  const stop = async () => {
    await Promise.all([frigate.stop(), kube.stop()]);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());

  const pod = kube.addPod({ namespace: 'frigate', name: 'frigate-7d9f', labels: { 'app.kubernetes.io/name': 'frigate' }, containers: ['frigate'] });
  await mkdir(join(pod.root, 'media'), { recursive: true });
  await symlink(frigate.mediaDir, join(pod.root, 'media', 'frigate'));
  for (const [person, count] of Object.entries(PEOPLE)) {
    for (let index = 1; index <= count; index++) {
      await frigate.addFace(person, `${person}_${1770500000 + index}.webp`, solidWebp({ width: 112, height: 112, padding: randomBytes(500 + index * 37) }));
    }
  }
  await writeFile(
    join(lab, 'lifeboat.yaml'),
    [
      '# The demo lab: local backups, and a Frigate in a Kubernetes cluster (simulators from the test bed).',
      'clusters:',
      '  lab:',
      `    kubeconfig: ${await kube.writeKubeconfig()}`,
      'frigate:',
      '  frigate:',
      `    url: ${frigate.url}`,
      '    auth: { username: admin, password: secret:frigate_password }',
      '    # The simulator has a self-signed certificate.',
      '    tls: { insecure: true }',
      '    files: { cluster: lab, namespace: frigate, labelSelector: app.kubernetes.io/name=frigate }',
      'locations:',
      '  local:',
      '    path: backups',
      '  frigate-faces:',
      '    path: backups/frigate',
      '',
    ].join('\n'),
  );
  console.log(`lab services ready: Frigate at ${frigate.url}, Kubernetes API simulator, ${Object.values(PEOPLE).reduce((sum, count) => sum + count, 0)} face images`);
}

main().catch((error: unknown) => {
  console.error(`lab: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
