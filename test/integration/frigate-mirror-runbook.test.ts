import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openS3Store, type S3Store } from '../../src/clients/s3';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { FrigateSimulator } from '../testbed/frigateSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

const RUNBOOK = 'frigate-s3-mirror-status.runbook.md';
const BUCKET = 'nvr-snapshots';
const T0 = 1_765_000_000.5;

describe('The Frigate snapshot mirror status runbook through the lifeboat CLI', function () {
  this.timeout(120_000);
  let sim: FrigateSimulator;
  let s3: RunningS3rver;
  let reader: S3Store;
  let workspace: string;

  before(async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs`']]);
    [sim, s3] = await Promise.all([FrigateSimulator.start(), startS3rver({ buckets: [BUCKET] })]);
    reader = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS } });
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-mirror-runbook-'));
    await copyFile(join(REPO_ROOT, 'runbooks', RUNBOOK), join(workspace, RUNBOOK));
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      ['frigate:', '  frigate:', `    url: ${sim.internalUrl}`, 'stores:', '  snapshots:', `    endpoint: ${s3.endpoint}`, `    bucket: ${BUCKET}`, '    credentials:', `      accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}`, '      secretAccessKey: secret:s3', ''].join('\n'),
    );
  });
  after(async () => {
    reader?.dispose();
    await Promise.all([sim?.stop(), s3?.stop()]);
    await rm(workspace, { recursive: true, force: true });
  });

  const run = (...params: string[]) => lifeboat(['run', RUNBOOK, ...params.flatMap((param) => ['--param', param])], { cwd: workspace, env: { LIFEBOAT_SECRET_S3: S3RVER_CREDENTIALS.secretAccessKey, LIFEBOAT_SECRETS_FILE: '', HOME: workspace } });

  async function keys(): Promise<string[]> {
    const found: string[] = [];
    for await (const object of reader.listObjects()) found.push(object.key);
    return found;
  }

  it('shows the state, retries the failed events and shows them gone', async () => {
    for (let index = 0; index < 12; index++) {
      sim.events.push({ id: `${T0 + index}-ev${index}`, camera: index % 2 ? 'driveway' : 'porch', label: 'car', start_time: T0 + index, end_time: T0 + index + 3, has_snapshot: true, has_clip: false });
    }
    const broken = sim.events[5]?.id ?? '';

    // A first run while Frigate cannot serve one snapshot: the event ends up failed with its error.
    sim.injectFault({ kind: 'status', status: 500, path: new RegExp(`/events/${broken.replace(/\./g, '\\.')}/snapshot`), times: 1000 });
    const first = await run('maxFailedRetries=0');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /no state to show \(there is no state file/);
    assert.match(first.stdout, /Success: 11, Failed: 1, Retry Queue: 0, Tracked Events: 11, Failed Events: 1/);
    assert.match(first.stdout, /Tracked Events: 11, Failed Events: 1, Health: OK, 1 failed event/);
    assert.ok(first.stdout.includes(broken) && /HTTP 500/.test(first.stdout), first.stdout);
    assert.equal((await keys()).length, 11);

    // Frigate serves it again: the runbook shows it failed, retries it, and shows none left.
    sim.clearFaults();
    const second = await run();
    assert.equal(second.code, 0, second.stderr);
    const [before, after] = second.stdout.split('Mirrored the snapshots');
    assert.match(before ?? '', /Tracked Events: 11, Failed Events: 1/);
    assert.match(after ?? '', /^ of Frigate 'frigate' to s3:\/\/nvr-snapshots\/frigate\/snapshots in .*: 1 snapshot uploaded \(1 failed events retried\)/);
    assert.match(after ?? '', /Tracked Events: 12, Failed Events: 0, Health: OK/);
    assert.match(after ?? '', /No failed events\./);
    assert.equal((await keys()).length, 12);
    assert.ok((await keys()).some((key) => key.startsWith(`frigate/snapshots/driveway/2025-12-06/${broken}-`)));

    const records = await readRecords(workspace);
    assert.deepEqual(
      records.filter((record) => record.runbook !== undefined).map((record) => [record.action, record.status]).slice(-3),
      [['frigate.snapshots.mirror.status', 'succeeded'], ['frigate.snapshots.mirror', 'succeeded'], ['frigate.snapshots.mirror.status', 'succeeded']],
    );
  });
});
