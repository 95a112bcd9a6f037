import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import type { CronInstallResult } from '../../src/actions/schedule/install';
import { openS3Store } from '../../src/clients/s3';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import type { ActionContext, Inventory, Logger } from '../../src/core/actions/spec';
import { ActionRegistry } from '../../src/core/actions/registry';
import { BrowseModel } from '../../src/core/browse/model';
import type { BrowseNode, Page, PageRequest } from '../../src/core/browse/node';
import { isCancellationError } from '../../src/core/errors';
import { assertListedUnder } from '../support/browseNodes';
import { keepCrontab, runAsCron, setCrontab } from '../support/cron';
import { CLI, requireFiles } from '../support/paths';
import { startTcpFaultProxy, type TcpFaultProxy } from '../testbed/faultProxy';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { freePort, generateKey, startSshd, type Sshd } from '../testbed/sshd';

const registry = new ActionRegistry(builtinActions);
const FACES = 'frigate-faces-20260101-030000.tar.gz';
const BACKUP = 'backup-20260102-030000.tar.gz';

describe('browse model: hosts, SSH and S3 locations, recordings, against a real sshd, s3rver and crontab', function () {
  this.timeout(60_000);
  let sshd: Sshd;
  let s3: RunningS3rver;
  let proxy: TcpFaultProxy;
  let local: string;
  let hostWorkspace: string;
  let inventory: Inventory;
  let restoreCrontab: (() => Promise<void>) | undefined;
  let model: BrowseModel;
  const errors: string[] = [];

  before(async () => {
    requireFiles([
      [CLI, 'built by `node esbuild.config.mjs`'],
      ['/usr/bin/crontab', 'install Debian cron (scripts/install-system-packages.sh cron)'],
    ]);
    restoreCrontab = await keepCrontab();
    [sshd, s3] = await Promise.all([startSshd(), startS3rver({ buckets: ['backups'] })]);
    proxy = await startTcpFaultProxy(sshd.port);
    local = await mkdtemp(join(tmpdir(), 'lifeboat-browse-hosts-'));
    hostWorkspace = join(sshd.remoteDir, 'workspace');
    await mkdir(hostWorkspace);
    await writeFile(join(hostWorkspace, 'lifeboat.yaml'), '# the backup host\'s own workspace\n');
    await writeFile(join(hostWorkspace, 'nightly.runbook.md'), '---\ntitle: Nightly\n---\n\n```bash {id=work}\ndate -u +%s > done-at.txt\n```\n');
    const archives = join(sshd.remoteDir, 'archives');
    await mkdir(archives);
    for (const name of [FACES, BACKUP, 'notes.txt']) await writeFile(join(archives, name), 'archive bytes');
    for (const [camera, day] of [['front', '2026-01-05'], ['front', '2026-01-06'], ['yard', '2026-01-06']] as const) {
      await mkdir(join(sshd.remoteDir, 'recordings', camera, day, '03'), { recursive: true });
      await writeFile(join(sshd.remoteDir, 'recordings', camera, day, '03', '00.00.mp4'), 'mp4');
    }
    const store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: S3RVER_CREDENTIALS });
    for (const key of [`lifeboat/${FACES}`, 'lifeboat/backup-20260104-030000.tgz', 'lifeboat/deeper/backup-20260105-030000.tar.gz', 'lifeboat/readme.md']) await store.putBytes(key, 'archive bytes');
    const stranger = await generateKey(join(local, 'stranger'));
    await writeFile(join(local, 'stranger_known_hosts'), `[127.0.0.1]:${sshd.port} ${stranger.publicKey.split(' ').slice(0, 2).join(' ')}\n`);
    await writeFile(join(local, 'proxy_known_hosts'), `${sshd.knownHostsLine.replace(`]:${sshd.port} `, `]:${proxy.port} `)}\n`);
    const host = (overrides: object) => ({ host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath, ...overrides });
    inventory = {
      hosts: {
        piglet: host({}),
        flaky: host({ port: proxy.port, knownHosts: join(local, 'proxy_known_hosts') }),
        stranger: host({ knownHosts: join(local, 'stranger_known_hosts') }),
        closed: host({ port: await freePort() }),
      },
      stores: { garage: { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3_secret' } } },
      frigate: { home: { url: 'https://127.0.0.1:9', backups: { recordings: ['recordings'] } } },
      locations: {
        nas: { host: 'piglet', path: archives },
        offsite: { store: 'garage', prefix: 'lifeboat' },
        recordings: { host: 'piglet', path: join(sshd.remoteDir, 'recordings') },
        behind: { host: 'closed', path: '/srv' },
      },
    } as Inventory;
  });

  after(async () => {
    await Promise.all([sshd?.stop(), s3?.stop(), proxy?.stop()]);
    if (local) await rm(local, { recursive: true, force: true });
    await restoreCrontab?.();
  });

  beforeEach(() => {
    model = new BrowseModel(builtinBrowsers, registry, join(local, 'lifeboat.yaml'));
    errors.length = 0;
  });

  function context(signal?: AbortSignal): ActionContext {
    const log: Logger = { debug() {}, info() {}, warn() {}, error: (message) => errors.push(message) };
    return createActionContext({ workspaceDir: local, inventory, log, secrets: environmentSecrets({ LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey }), ...(signal ? { signal } : {}) });
  }

  async function withContext<Result>(work: (ctx: ActionContext) => Promise<Result>, signal?: AbortSignal): Promise<Result> {
    const ctx = context(signal);
    try {
      return await work(ctx);
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  const list = (at: string, request: PageRequest = { limit: 50 }): Promise<Page> => withContext(async (ctx) => assertListedUnder(at, await model.children(at, request, ctx)));
  const rows = (nodes: readonly BrowseNode[]) => nodes.map((node) => [node.path, node.kind, node.status?.level ?? null]);

  it('a host lists its connection, the CLI there, its locations and the Lifeboat schedules of its crontab with their last success', async () => {
    await setCrontab('*/5 * * * * /usr/bin/true # not ours\n');
    const install = builtinActions.find((action) => action.id === 'schedule.cron.install');
    const installed = (await withContext(async (ctx) => install?.run(install.params.parse({ host: 'piglet', workspace: hostWorkspace, runbook: 'nightly.runbook.md', lifeboat: [process.execPath, CLI] }), ctx))) as CronInstallResult;
    const runbook = `${hostWorkspace}/nightly.runbook.md`;
    const page = await list('hosts/piglet');
    assert.deepEqual(rows(page.nodes), [
      ['hosts/piglet/connection', 'host.connection', 'ok'],
      ['hosts/piglet/cli', 'host.cli', 'warning'],
      ['hosts/piglet/locations/nas', 'location', null],
      ['hosts/piglet/locations/recordings', 'location', null],
      [`hosts/piglet/schedules/${runbook.replace(/%/g, '%25').replace(/\//g, '%2F')}`, 'host.schedule', 'warning'],
    ]);
    assert.equal(page.nodes[0]?.description, `${sshd.user}@[127.0.0.1]:${sshd.port} · host key verified`);
    assert.equal(page.nodes[1]?.description, "not found on cron's PATH (/usr/bin:/bin)");
    const schedule = page.nodes[4] as BrowseNode;
    assert.equal(schedule.label, 'nightly.runbook.md');
    assert.equal(schedule.description, '0 3 * * * · never ran · no success yet');
    assert.deepEqual(schedule.facts, { host: 'piglet', runbook, schedule: '0 3 * * *', state: 'never ran', lastSuccess: null });

    assert.equal(await runAsCron(installed.line), 0);
    assert.equal((await list('hosts/piglet')).nodes[4]?.status?.level, 'warning', 'the listing read before the run is kept until refreshed');
    model.forget('hosts/piglet');
    const refreshed = (await list('hosts/piglet')).nodes[4];
    assert.equal(refreshed?.status?.level, 'ok');
    assert.match(refreshed?.description ?? '', /^0 3 \* \* \* · ok · last success (just now|\d+ s ago)$/);
  });

  it('an SSH location lists its archives, under the locations and under its host; only face archives restore from there', async () => {
    for (const at of ['locations/nas', 'hosts/piglet/locations/nas']) {
      const page = await list(at);
      assert.deepEqual(rows(page.nodes), [[`${at}/${BACKUP}`, 'archive', 'unknown'], [`${at}/${FACES}`, 'archive', 'unknown']]);
      assert.deepEqual(page.nodes[0]?.operations, []);
      assert.deepEqual(page.nodes[1]?.operations, [{ kind: 'runbook', id: 'restore', label: 'Restore…', runbook: 'frigate-faces-restore.runbook.md', params: { location: 'nas', archive: FACES, frigate: 'home' } }]);
      assert.match(page.nodes[1]?.description ?? '', /^13 B · .* · not verified here$/);
    }
    assert.equal((await withContext((ctx) => model.node('hosts/piglet/locations/nas', ctx)))?.kind, 'location', 'a location under a host is found by its path');
  });

  it('an S3 location lists the archives right under its prefix, a page at a time', async () => {
    const first = await list('locations/offsite', { limit: 1 });
    assert.deepEqual(first.nodes.map((node) => node.label), ['backup-20260104-030000.tgz']);
    assert.equal(first.total, 2);
    const second = await list('locations/offsite', { limit: 1, cursor: first.next as string });
    assert.deepEqual(second.nodes.map((node) => [node.label, node.operations.map((entry) => entry.id)]), [[FACES, ['restore']]]);
    assert.equal(second.next, undefined);
  });

  it('a recordings backup on a host lists its cameras, and each camera its days, newest first', async () => {
    const cameras = await list('frigate/home/recordings/recordings');
    assert.deepEqual(cameras.nodes.map((node) => [node.path, node.description]), [
      ['frigate/home/recordings/recordings/front', '2 days · 6 B'],
      ['frigate/home/recordings/recordings/yard', '1 day · 3 B'],
    ]);
    const days = await list('frigate/home/recordings/recordings/front');
    assert.deepEqual(days.nodes.map((node) => node.label), ['2026-01-06', '2026-01-05']);
  });

  it('a host that refuses (a host key not in known_hosts, a closed port) is an error node, logged', async () => {
    const stranger = await list('hosts/stranger');
    assert.equal(stranger.nodes[0]?.kind, 'error');
    assert.match(stranger.nodes[0]?.description ?? '', /^listing hosts\/stranger failed: .*host key/i);
    const closed = await list('hosts/closed');
    assert.match(closed.nodes[0]?.description ?? '', /^listing hosts\/closed failed: .*(refused|ECONNREFUSED)/i);
    const behind = await list('locations/behind');
    assert.match(behind.nodes[0]?.description ?? '', /^listing locations\/behind failed: /);
    assert.equal(errors.length, 3);
  });

  it('a connection cut mid-listing is an error node, and the next expand connects again', async () => {
    proxy.cutAfter(0);
    const cut = await list('hosts/flaky');
    assert.equal(cut.nodes[0]?.kind, 'error');
    assert.match(cut.nodes[0]?.description ?? '', /^listing hosts\/flaky failed: /);
    const again = await list('hosts/flaky');
    assert.equal(again.nodes[0]?.kind, 'host.connection');
  });

  it('cancelling a listing held up on a slow link rejects with the cancellation, at once', async () => {
    proxy.throttle(100, 'both');
    const abort = new AbortController();
    const started = Date.now();
    try {
      const listing = withContext((ctx) => model.children('hosts/flaky', { limit: 50 }, ctx), abort.signal);
      setTimeout(() => abort.abort(), 300);
      await assert.rejects(listing, (error: unknown) => isCancellationError(error));
      assert.ok(Date.now() - started < 5_000, `cancelled after ${Date.now() - started} ms`);
    } finally {
      proxy.throttle(undefined);
    }
    assert.equal((await list('hosts/flaky')).nodes[0]?.kind, 'host.connection', 'nothing of the cancelled listing was kept');
  });
});
