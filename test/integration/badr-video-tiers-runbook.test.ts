import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { readTree, startTwoHosts, type TwoHosts } from '../support/twoHosts';

const RUNBOOK = 'badr-video-tiers.runbook.md';
const DAY_S = 86_400;

describe('runbook badr-video-tiers, end to end with the CLI on two real sshd hosts', function () {
  this.timeout(180_000);
  let hosts: TwoHosts;
  let workspace: string;

  before(async () => {
    requireFiles([[CLI, 'run `node esbuild.config.mjs` first']]);
    // The Pi 5 has an rclone remote `archive:` (the local backend standing for Google Drive).
    hosts = await startTwoHosts({ pi5Config: ['SetEnv RCLONE_CONFIG=/dev/null RCLONE_CONFIG_ARCHIVE_TYPE=local'] });
  });

  after(async () => {
    await hosts?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-video-tiers-'));
    await copyFile(join(REPO_ROOT, 'runbooks', RUNBOOK), join(workspace, RUNBOOK));
    await writeFile(join(workspace, 'lifeboat.yaml'), stringify(hosts.inventory));
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  it('moves, notices, archives and keeps flagged recordings; the check step and a second run find nothing to do', async () => {
    const videos = join(hosts.pi4.remoteDir, 'videos');
    const ssd = join(hosts.pi5.remoteDir, 'ssd');
    const archive = join(hosts.pi5.remoteDir, 'gdrive');
    const log = join(hosts.pi5.remoteDir, 'manage_videos.log');
    for (const dir of [videos, ssd, archive]) await rm(dir, { recursive: true, force: true });
    await rm(log, { force: true });
    const recordings: [string, number][] = [
      ['front/2026-12-06/08.00.mp4', 0.3],
      ['front/2026-12-03/08.00.mp4', 3.3],
      ['front/2026-11-30/08.00.mp4', 6.3],
      ['back/2026-11-27/08.00.mp4', 9.3],
      ['back/2026-11-27/visitor.mp4', 9.3],
      ['back/2026-11-27/visitor.mp4.keep', 0.2],
    ];
    for (const [path, ageDays] of recordings) {
      const file = join(videos, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `recording ${path}`);
      const time = Date.now() / 1000 - ageDays * DAY_S;
      await utimes(file, time, time);
    }
    const original = await readTree(videos);
    const params = ['--param', `tier1Path=${videos}`, '--param', `tier2Path=${ssd}`, '--param', `archiveRemote=archive:${archive}`, '--param', `logFile=${log}`];

    const dry = await lifeboat(['run', RUNBOOK, ...params, '--dry-run'], { cwd: workspace });
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(await readTree(videos), original, 'a dry run moves nothing');

    const result = await lifeboat(['run', RUNBOOK, ...params, '--yes'], { cwd: workspace });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const records = await readRecords(workspace);
    const lastRun = records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.action, record.status]);
    assert.deepEqual(lastRun, [
      ['ssh.run', 'succeeded'],
      ['tier.apply', 'succeeded'],
      ['ssh.run', 'succeeded'],
      ['tier.apply', 'planned'],
      ['ssh.run', 'succeeded'],
    ]);

    assert.match(result.stdout, /1 stay, 0 \(0 B\) move with rsync; .* 0 \(0 B\) to archive, 1 flagged and kept/, `the check step plans nothing more:\n${result.stdout}`);
    const left = [...(await readTree(videos))].filter(([, entry]) => entry.type === 'file').map(([path]) => path);
    assert.deepEqual(left, ['front/2026-12-06/08.00.mp4']);
    const onSsd = await readTree(ssd);
    for (const path of ['front/2026-12-03/08.00.mp4', 'front/2026-11-30/08.00.mp4', 'back/2026-11-27/visitor.mp4', 'back/2026-11-27/visitor.mp4.keep']) {
      assert.deepEqual(onSsd.get(path), original.get(path), `${path} on the SSD as it was`);
    }
    assert.ok(!onSsd.has('back/2026-11-27/08.00.mp4'), 'the expired recording left the SSD');
    const archived = await readTree(archive);
    assert.equal(archived.get('back/2026-11-27/08.00.mp4')?.content, original.get('back/2026-11-27/08.00.mp4')?.content, 'archived whole');
    assert.match(await readFile(log, 'utf8'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ 1 recording\(s\), .* older than 5 days and will be archived after 7 days unless flagged with \.keep\n$/);

    const settled = [await readTree(videos), await readTree(ssd), await readTree(archive)];
    const again = await lifeboat(['run', RUNBOOK, ...params, '--yes'], { cwd: workspace });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([await readTree(videos), await readTree(ssd), await readTree(archive)], settled, 'a second run changes nothing');
  });
});
