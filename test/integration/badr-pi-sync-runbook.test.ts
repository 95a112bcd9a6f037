import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { readTree, startTwoHosts, type TwoHosts } from '../support/twoHosts';

const RUNBOOK = 'badr-pi-sync.runbook.md';

describe('runbook badr-pi-sync, end to end with the CLI on two real sshd hosts', function () {
  this.timeout(180_000);
  let hosts: TwoHosts;
  let workspace: string;

  before(async () => {
    requireFiles([[CLI, 'run `node esbuild.config.mjs` first']]);
    hosts = await startTwoHosts();
  });

  after(async () => {
    await hosts?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-pi-sync-'));
    await copyFile(join(REPO_ROOT, 'runbooks', RUNBOOK), join(workspace, RUNBOOK));
    await writeFile(join(workspace, 'lifeboat.yaml'), stringify(hosts.inventory));
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  async function put(root: string, path: string, content: string): Promise<void> {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }

  it('pushes configuration and faces to the Pi 5 and database backups back, deleting only with mirror=true', async () => {
    const pi4 = join(hosts.pi4.remoteDir, 'badr');
    const pi5 = join(hosts.pi5.remoteDir, 'badr');
    for (const dir of [pi4, pi5]) await rm(dir, { recursive: true, force: true });
    await put(pi4, 'config/settings.yaml', 'greeting: hello\n');
    await put(pi4, 'data/faces/Alice Smith/1.jpg', 'jpeg');
    await put(pi5, 'data/faces/Removed Person/1.jpg', 'stale');
    await put(pi5, 'backups/db/badr-20261206.sql.gz', 'dump');
    const params = (extra: string[]) => ['run', RUNBOOK, '--param', `controllerHome=${pi4}`, '--param', `processorHome=${pi5}`, '--param', `databaseCopies=${pi4}/db-copies`, ...extra];

    const dry = await lifeboat([...params(['--param', 'mirror=true', '--dry-run'])], { cwd: workspace });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /delete .*Removed Person\/1\.jpg/);
    assert.deepEqual([...(await readTree(join(pi5, 'data', 'faces')))].map(([path]) => path), ['Removed Person', 'Removed Person/1.jpg'], 'the dry run changed nothing');

    const result = await lifeboat(params(['--yes']), { cwd: workspace });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const records = await readRecords(workspace);
    assert.deepEqual(records.filter((record) => record.run === records.at(-1)?.run).map((record) => [record.step, record.status]), [['config', 'succeeded'], ['faces', 'succeeded'], ['database', 'succeeded']]);
    assert.deepEqual(await readTree(join(pi5, 'config')), await readTree(join(pi4, 'config')));
    assert.ok((await readTree(join(pi5, 'data', 'faces'))).has('Removed Person/1.jpg'), 'kept without mirror');
    assert.deepEqual(await readTree(join(pi4, 'db-copies')), await readTree(join(pi5, 'backups', 'db')));

    const mirrored = await lifeboat(params(['--param', 'mirror=true', '--yes']), { cwd: workspace });
    assert.equal(mirrored.code, 0, mirrored.stderr);
    assert.deepEqual(await readTree(join(pi5, 'data', 'faces')), await readTree(join(pi4, 'data', 'faces')));
  });
});
