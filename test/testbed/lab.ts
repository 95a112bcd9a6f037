/**
 * The services of `npm run demo`'s lab, from the test bed: a Frigate (the simulator, with a small face
 * library and two days of recordings from two cameras) running in a pod of a Kubernetes cluster (the API simulator), an SSH host (a real sshd with
 * its own keys) and an S3 store (s3rver). Rewrites the lab's lifeboat.yaml to name them
 * beside its local backup location, prints "lab services ready" and runs until it is stopped (SIGTERM
 * or SIGINT), then stops them. The extension-host suite starts the same lab with `startLab`. Secrets are the ones Lifeboat will read from the environment:
 * LIFEBOAT_SECRET_FRIGATE_PASSWORD (Frigate's admin password) and LIFEBOAT_SECRET_OFFSITE_SECRET_KEY
 * (s3rver's fixed secret key, S3RVER).
 *
 *   LIFEBOAT_SECRET_FRIGATE_PASSWORD=… LIFEBOAT_SECRET_OFFSITE_SECRET_KEY=S3RVER node out/test/testbed/lab.js LAB_FOLDER
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FrigateSimulator } from './frigateSim';
import { runFrigateInPod } from './frigatePod';
import { frigateInventoryLines, sshHostInventoryLines } from './inventoryLines';
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

/** The lab's services, running; `stop()` ends them all. */
export interface RunningLab {
  /** One line for a person: where each service is. */
  description: string;
  stop(): Promise<void>;
}

/**
 * Starts the lab's services and writes `lab`'s lifeboat.yaml naming them: Frigate `frigate` (face
 * backups in a local folder, on the SSH host and in the S3 store; recordings on the SSH host).
 * Secrets are for `secret:frigate_password` and `secret:offsite_secret_key`, which the inventory names.
 */
export async function startLab(lab: string, frigatePassword: string): Promise<RunningLab> {
  const [frigate, kube, sshd, s3] = await Promise.all([
    FrigateSimulator.start({ users: { admin: { password: frigatePassword, role: 'admin' } } }),
    KubeApiSimulator.start(),
    startSshd(),
    // Plain http on loopback: the inventory has no CA setting for a self-signed store yet.
    startS3rver({ buckets: ['offsite'] }),
  ]);
  const stop = async () => {
    await Promise.all([frigate.stop(), kube.stop(), sshd.stop(), s3.stop()]);
  };
  try {
    await runFrigateInPod(kube, frigate);
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
        // Continues the Frigate entry above.
        '    backups: { faces: [frigate-faces, nas-faces, offsite-faces], recordings: [nas-recordings] }',
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
    const images = Object.values(PEOPLE).reduce((sum, count) => sum + count, 0);
    return { description: `Frigate at ${frigate.url} (${images} face images, ${recordings} recordings) in a simulated Kubernetes cluster, sshd on port ${sshd.port}, S3 at ${s3.endpoint}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function main(): Promise<void> {
  const lab = process.argv[2];
  const password = process.env.LIFEBOAT_SECRET_FRIGATE_PASSWORD;
  if (!lab || !password || process.env.LIFEBOAT_SECRET_OFFSITE_SECRET_KEY !== S3RVER_CREDENTIALS.secretAccessKey) {
    throw new Error(`usage: LIFEBOAT_SECRET_FRIGATE_PASSWORD=… LIFEBOAT_SECRET_OFFSITE_SECRET_KEY=${S3RVER_CREDENTIALS.secretAccessKey} lab.js LAB_FOLDER`);
  }
  const starting = startLab(lab, password);
  // A stop while the lab is starting waits for it, so no service (sshd runs as a daemon) is left behind.
  const stop = () => void starting.then((running) => running.stop(), () => undefined).finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log(`lab services ready: ${(await starting).description}`);
}

// Run as the demo's script; imported by the extension-host suite, which starts the lab itself.
if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`lab: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
