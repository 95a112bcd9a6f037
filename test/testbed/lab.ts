/**
 * The services of `npm run demo`'s lab, from the test bed: a Frigate (the simulator, with a small face
 * library and two days of recordings from two cameras) running in a pod of a Kubernetes cluster (the API simulator), an SSH host (a real sshd with
 * its own keys) and an S3 store (s3rver). Rewrites the lab's lifeboat.yaml to name them
 * beside its local backup location, prints "lab services ready" and runs until it is stopped (SIGTERM
 * or SIGINT), then stops them. Secrets are the ones Lifeboat will read from the environment:
 * LIFEBOAT_SECRET_FRIGATE_PASSWORD (Frigate's admin password) and LIFEBOAT_SECRET_OFFSITE_SECRET_KEY
 * (s3rver's fixed secret key, S3RVER).
 *
 *   LIFEBOAT_SECRET_FRIGATE_PASSWORD=… LIFEBOAT_SECRET_OFFSITE_SECRET_KEY=S3RVER node out/test/testbed/lab.js LAB_FOLDER
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addFrigatePod, frigateInventoryLines, sshHostInventoryLines } from './frigateLab';
import { FrigateSimulator } from './frigateSim';
import { KubeApiSimulator } from './kubeSim';
import { S3RVER_CREDENTIALS, startS3rver } from './s3rver';
import { startSshd } from './sshd';
import { solidWebp } from './webp';

const PEOPLE = { Adil: 6, Asha: 12, G: 20, Waffles: 3 } as const;
const CAMERAS = ['driveway', 'front_door'] as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Yesterday's and today's recordings (UTC), a few 10-second segments an hour, in Frigate's layout. */
async function addRecordings(mediaDir: string): Promise<number> {
  let count = 0;
  for (const daysAgo of [1, 0]) {
    const date = new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);
    for (const hour of ['08', '17']) {
      for (const camera of CAMERAS) {
        const dir = join(mediaDir, 'recordings', date, hour, camera);
        await mkdir(dir, { recursive: true });
        for (const segment of ['00.00', '00.10', '00.20']) {
          await writeFile(join(dir, `${segment}.mp4`), randomBytes(20_000 + count * 131));
          count++;
        }
      }
    }
  }
  return count;
}

async function main(): Promise<void> {
  const lab = process.argv[2];
  const password = process.env.LIFEBOAT_SECRET_FRIGATE_PASSWORD;
  if (!lab || !password || process.env.LIFEBOAT_SECRET_OFFSITE_SECRET_KEY !== S3RVER_CREDENTIALS.secretAccessKey) {
    throw new Error(`usage: LIFEBOAT_SECRET_FRIGATE_PASSWORD=… LIFEBOAT_SECRET_OFFSITE_SECRET_KEY=${S3RVER_CREDENTIALS.secretAccessKey} lab.js LAB_FOLDER`);
  }
  const [frigate, kube, sshd, s3] = await Promise.all([
    FrigateSimulator.start({ users: { admin: { password, role: 'admin' } } }),
    KubeApiSimulator.start(),
    startSshd(),
    // Plain http on loopback: the inventory has no CA setting for a self-signed store yet.
    startS3rver({ buckets: ['offsite'] }),
  ]);
  const stop = async () => {
    await Promise.all([frigate.stop(), kube.stop(), sshd.stop(), s3.stop()]);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());

  await addFrigatePod(kube, frigate, 'frigate-7d9f');
  for (const [person, count] of Object.entries(PEOPLE)) {
    for (let index = 1; index <= count; index++) {
      await frigate.addFace(person, `${person}_${1770500000 + index}.webp`, solidWebp({ width: 112, height: 112, padding: randomBytes(500 + index * 37) }));
    }
  }
  const recordings = await addRecordings(frigate.mediaDir);
  await writeFile(
    join(lab, 'lifeboat.yaml'),
    [
      '# The demo lab: local backups, and a Frigate in a Kubernetes cluster (simulators from the test bed).',
      ...(await frigateInventoryLines('lab', kube, frigate)),
      ...sshHostInventoryLines('nas', sshd),
      'stores:',
      '  offsite:',
      `    endpoint: ${s3.endpoint}`,
      '    bucket: offsite',
      `    credentials: { accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}, secretAccessKey: secret:offsite_secret_key }`,
      'locations:',
      '  local:',
      '    path: backups',
      '  frigate-faces:',
      '    path: backups/frigate',
      '  nas-faces:',
      '    host: nas',
      `    path: ${sshd.remoteDir}/frigate-faces`,
      '  nas-recordings:',
      '    host: nas',
      `    path: ${sshd.remoteDir}/frigate-recordings`,
      '  offsite-faces:',
      '    store: offsite',
      '    prefix: frigate-faces',
      '',
    ].join('\n'),
  );
  console.log(`lab services ready: Frigate at ${frigate.url} (${Object.values(PEOPLE).reduce((sum, count) => sum + count, 0)} face images, ${recordings} recordings) in a simulated Kubernetes cluster, sshd on port ${sshd.port}, S3 at ${s3.endpoint}`);
}

main().catch((error: unknown) => {
  console.error(`lab: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
