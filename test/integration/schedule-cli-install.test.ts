import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { scheduleActions } from '../../src/actions/schedule';
import type { CliInstallResult } from '../../src/actions/schedule/cliInstall';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, ActionPlan, ActionSpec } from '../../src/core/actions/spec';
import { isCancellationError } from '../../src/core/errors';
import { lifeboat } from '../support/cli';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { hostilePayloads } from '../support/payloads';
import type { Sshd } from '../testbed/sshd';
import { startSshd } from '../testbed/sshd';

const run = promisify(execFile);
const DIST = join(REPO_ROOT, 'dist');

function action(): ActionSpec {
  const found = scheduleActions.find((candidate) => candidate.id === 'schedule.cli.install');
  assert.ok(found, 'schedule.cli.install is registered with the schedule actions');
  return found;
}

const sha256Of = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

/** The bundles dist/cli.js loads from its own folder at run time, and those they load, as the build wrote the requires. */
async function siblingsOfCli(): Promise<string[]> {
  const found = new Set<string>();
  for (const pending = [basename(CLI)]; pending.length > 0; ) {
    const text = await readFile(join(dirname(CLI), pending.pop() as string), 'utf8');
    for (const [, name] of text.matchAll(/\.join\(__dirname,\s*"([\w-]+\.js)"\)/g)) {
      if (!name || found.has(name)) continue;
      found.add(name);
      pending.push(name);
    }
  }
  return [...found];
}

/**
 * A build of another version, small and quick to copy: its cli.js prints the version, or its
 * arguments as JSON, as the real one's launcher would pass them; `padding` bytes make one sibling large.
 */
async function fakeBuild(root: string, version: string, padding = 0): Promise<string> {
  const dist = join(root, 'dist');
  await mkdir(dist, { recursive: true });
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'lifeboat', version }));
  await writeFile(join(dist, 'cli.js'), `const args = process.argv.slice(2);\nprocess.stdout.write(args[0] === '--version' ? 'lifeboat ${version}\\n' : JSON.stringify(args));\n`);
  for (const name of await siblingsOfCli()) await writeFile(join(dist, name), name === 'kubernetes-client.js' && padding > 0 ? randomBytes(padding) : `// ${name} of ${version}\n`);
  return dist;
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

describe('schedule.cli.install on a real sshd', function () {
  this.timeout(120_000);
  let sshd: Sshd;
  let root: string;
  /** The home folder and PATH every SSH session gets (sshd_config SetEnv), so nothing is written to this machine's real home. */
  let home: string;
  /** The session's PATH besides ~/.local/bin: every program of /usr/bin, with `node` put there, taken away or replaced by an old one. */
  let tools: string;
  let version: string;

  before(async () => {
    requireFiles((['cli.js', 'cli-main.js', 'ssh2.js', 's3-sdk.js', 'kubernetes-client.js'] as const).map((name) => [join(DIST, name), 'built by `node esbuild.config.mjs`'] as const));
    version = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    root = await mkdtemp(join(tmpdir(), 'lifeboat-cli-install-'));
    home = join(root, 'home');
    tools = join(root, 'tools');
    await mkdir(home);
    await mkdir(tools);
    for (const name of await readdir('/usr/bin')) if (name !== 'node' && name !== 'nodejs') await symlink(join('/usr/bin', name), join(tools, name));
    sshd = await startSshd({ config: [`SetEnv HOME=${home} PATH=${join(home, '.local', 'bin')}:${tools}`] });
  });

  after(async () => {
    await sshd?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await rm(join(home, '.local'), { recursive: true, force: true });
    await useNode('current');
  });

  /** What `node` on the hosts's PATH is: this machine's, none, or one that says it is Node.js 18. */
  async function useNode(kind: 'current' | 'missing' | 'old'): Promise<void> {
    await rm(join(tools, 'node'), { force: true });
    if (kind === 'current') await symlink(process.execPath, join(tools, 'node'));
    if (kind === 'old') await writeOldNode(join(tools, 'node'));
  }

  async function writeOldNode(path: string): Promise<void> {
    await writeFile(path, '#!/bin/sh\necho v18.19.0\n');
    await chmod(path, 0o755);
  }

  function context(overrides: Partial<ActionContext> = {}): ActionContext {
    return createActionContext({
      workspaceDir: root,
      inventory: { hosts: { backup: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } } },
      ...overrides,
    });
  }

  async function install(params: Record<string, unknown>, overrides: Partial<ActionContext> = {}): Promise<CliInstallResult> {
    const spec = action();
    const ctx = context(overrides);
    try {
      return (await spec.run(spec.params.parse({ host: 'backup', bundle: DIST, ...params }), ctx)) as CliInstallResult;
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  async function plan(params: Record<string, unknown>): Promise<ActionPlan> {
    const spec = action();
    const ctx = context();
    try {
      return await spec.plan(spec.params.parse({ host: 'backup', bundle: DIST, ...params }), ctx);
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  /** A command through the test sshd with the system ssh client, as a person types it. */
  async function overSsh(command: string): Promise<string> {
    const { stdout } = await run('ssh', ['-p', String(sshd.port), '-i', sshd.clientKey.privateKeyPath, '-o', `UserKnownHostsFile=${sshd.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${sshd.user}@${sshd.host}`, command]);
    return stdout;
  }

  const defaultFolder = () => join(home, '.local', 'share', 'lifeboat', version);
  const defaultLauncher = () => join(home, '.local', 'bin', 'lifeboat');

  it('copies the built CLI and its sibling bundles into ~/.local/share/lifeboat/<version> with a launcher that runs over SSH', async () => {
    const siblings = await siblingsOfCli();
    assert.deepEqual([...siblings].sort(), ['cli-main.js', 'kubernetes-client.js', 's3-sdk.js', 'ssh2.js']);
    const result = await install({});
    const folder = defaultFolder();
    const launcher = defaultLauncher();
    assert.deepEqual([result.change, result.version, result.folder, result.launcher], ['installed', version, folder, launcher]);
    assert.deepEqual(result.written, [...['cli.js', 'cli-main.js', 'ssh2.js', 's3-sdk.js', 'kubernetes-client.js'].map((name) => join(folder, name)), launcher]);
    assert.deepEqual((await entries(folder)).sort(), ['cli.js', ...siblings].sort(), 'the folder holds the CLI and exactly the bundles it loads');
    for (const name of await entries(folder)) assert.equal(await sha256Of(join(folder, name)), await sha256Of(join(DIST, name)), name);
    assert.equal((await stat(launcher)).mode & 0o777, 0o755);
    assert.equal(result.node, join(tools, 'node'));
    assert.equal(result.nodeVersion, process.version);

    assert.equal(await overSsh('lifeboat --version'), `lifeboat ${version}\n`);
    assert.match(await overSsh('lifeboat actions'), /schedule\.cli\.install/, 'the installed CLI lists its actions');
    assert.equal(result.onSessionPath, true);
    // Cron's PATH (/usr/bin:/bin) does not reach ~/.local/bin: schedule.cron.install gets the launcher's path.
    assert.equal(result.onCronPath, false);
    assert.deepEqual(result.scheduleWith, [launcher]);
    assert.equal(await overSsh(`env PATH=/usr/bin:/bin ${result.scheduleWith.join(' ')} --version`), `lifeboat ${version}\n`);
    assert.ok(action().render(result).includes(`give schedule.cron.install \`lifeboat: ["${launcher}"]\``), action().render(result));
  });

  it('`lifeboat do hosts/<host> installCli` copies the folder of the CLI that runs it', async () => {
    const workspace = join(root, 'workspace');
    await mkdir(workspace, { recursive: true });
    const host = `{ host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, identityFile: ${JSON.stringify(sshd.clientKey.privateKeyPath)}, knownHosts: ${JSON.stringify(sshd.knownHostsPath)} }`;
    await writeFile(join(workspace, 'lifeboat.yaml'), `hosts:\n  backup: ${host}\n`);
    const done = await lifeboat(['do', 'hosts/backup', 'installCli', '--json'], { cwd: workspace });
    assert.equal(done.code, 0, done.stderr);
    const step = JSON.parse(done.stdout.trim().split('\n').at(-1) as string) as { status: string; result: CliInstallResult };
    assert.deepEqual([step.status, step.result.change, step.result.folder], ['succeeded', 'installed', defaultFolder()]);
    for (const name of ['cli.js', ...(await siblingsOfCli())]) assert.equal(await sha256Of(join(defaultFolder(), name)), await sha256Of(join(DIST, name)), name);
    assert.equal(await overSsh('lifeboat --version'), `lifeboat ${version}\n`);
  });

  it('a re-run of the same version writes nothing and says so', async () => {
    await install({});
    const files = [...(await entries(defaultFolder())).map((name) => join(defaultFolder(), name)), defaultLauncher()];
    const before = await Promise.all(files.map(async (file) => [(await lstat(file)).ino, (await lstat(file)).mtimeMs]));
    const plannedAgain = await plan({});
    assert.match(plannedAgain.summary, /is already installed on backup .*: nothing to write/);
    assert.deepEqual(plannedAgain.operations.map((operation) => operation.kind), ['read']);
    const again = await install({});
    assert.equal(again.change, 'unchanged');
    assert.deepEqual(again.written, []);
    assert.deepEqual(await Promise.all(files.map(async (file) => [(await lstat(file)).ino, (await lstat(file)).mtimeMs])), before, 'no file was rewritten');
    assert.match(action().render(again), /already installed/);
  });

  it('the plan lists every file it would write, with its size, and writes none', async () => {
    const planned = await plan({});
    const folder = defaultFolder();
    assert.deepEqual(
      planned.operations.map((operation) => [operation.kind, operation.target]),
      [['read', `backup:${join(tools, 'node')}`], ...['cli.js', 'cli-main.js', 'ssh2.js', 's3-sdk.js', 'kubernetes-client.js'].map((name) => ['create', `backup:${join(folder, name)}`]), ['create', `backup:${defaultLauncher()}`]],
    );
    assert.equal(planned.operations[1]?.bytes, (await stat(CLI)).size);
    assert.match(planned.summary, /would write Lifeboat .* run by Node\.js v\d+/);
    assert.equal(planned.destructive, false);
    assert.equal(existsSync(join(home, '.local')), false, 'the plan wrote nothing');
  });

  it('a newer build goes into a folder of its own, and the launcher moves to it', async () => {
    await install({});
    const newer = await fakeBuild(join(root, 'newer'), '99.1.0');
    const planned = await plan({ bundle: newer });
    assert.deepEqual(planned.operations.filter((operation) => operation.kind !== 'read').map((operation) => operation.kind), [...['cli.js', ...(await siblingsOfCli())].map(() => 'create'), 'overwrite']);
    const result = await install({ bundle: newer });
    assert.equal(result.change, 'replaced');
    assert.equal(result.folder, join(home, '.local', 'share', 'lifeboat', '99.1.0'));
    assert.equal(await overSsh('lifeboat --version'), 'lifeboat 99.1.0\n');
    assert.equal(await sha256Of(join(defaultFolder(), 'cli.js')), await sha256Of(CLI), 'the older version stays where it was');
    // And back: only the launcher changes, the older folder is complete.
    const back = await install({});
    assert.deepEqual([back.change, back.written], ['replaced', [defaultLauncher()]]);
    assert.equal(await overSsh('lifeboat --version'), `lifeboat ${version}\n`);
  });

  it('with no node, or one older than package.json engines, says what to do and writes nothing', async () => {
    await useNode('missing');
    const missing = /^node: \S+ has no `node` on the PATH of an SSH session \(.*\); the Lifeboat CLI needs Node\.js 20\.19 or newer\. On Debian or Ubuntu, as root: `curl -fsSL https:\/\/deb\.nodesource\.com\/setup_22\.x \| bash - && apt-get install -y nodejs`.* give its path as `node`\.$/;
    await assert.rejects(install({}), (error: Error) => missing.test(error.message) || assert.fail(error.message));
    await assert.rejects(plan({}), (error: Error) => missing.test(error.message));
    await useNode('old');
    await assert.rejects(install({}), /^Error: node: \S+\/tools\/node on \S+ is Node\.js v18\.19\.0; the Lifeboat CLI needs 20\.19 or newer\. On Debian or Ubuntu/);
    await useNode('current');
    const oldNode = join(root, 'old-node');
    await writeOldNode(oldNode);
    await assert.rejects(install({ node: oldNode }), /is Node\.js v18\.19\.0; the Lifeboat CLI needs 20\.19 or newer/);
    await assert.rejects(install({ node: join(root, 'no-such-node') }), /^Error: node: \S+ has no runnable \S+\/no-such-node; the Lifeboat CLI needs Node\.js 20\.19/);
    assert.equal(existsSync(join(home, '.local')), false, 'nothing was written');
  });

  it('leaves a file at the launcher path that is not a Lifeboat launcher alone', async () => {
    const launcher = join(root, 'theirs', 'lifeboat');
    await mkdir(dirname(launcher));
    await writeFile(launcher, '#!/bin/sh\necho "somebody else\'s lifeboat"\n');
    await assert.rejects(install({ launcher }), /^Error: launcher: \S+\/theirs\/lifeboat on \S+ exists and is not a Lifeboat launcher; move it away or choose another `launcher`$/);
    assert.equal(await readFile(launcher, 'utf8'), '#!/bin/sh\necho "somebody else\'s lifeboat"\n');
    assert.equal(existsSync(join(home, '.local')), false);
  });

  it('a cancel while the bundles are on their way leaves no file under a final name, and no staging behind', async () => {
    const big = await fakeBuild(join(root, 'big'), '99.2.0', 48 * 1024 * 1024);
    const folder = join(root, 'cancelled', 'lifeboat', '99.2.0');
    const launcher = join(root, 'cancelled', 'bin', 'lifeboat');
    const abort = new AbortController();
    let sentWhenCancelled: number | undefined;
    let totalBytes = 0;
    // The host is this machine: the cancel comes once its staging folder holds part of the upload.
    const staged = () => existsSync(dirname(folder)) && readdirSync(dirname(folder)).some((name) => name.startsWith('.lifeboat-staging.') && readdirSync(join(dirname(folder), name)).length > 0);
    const progress = {
      report(update: { bytes?: number; totalBytes?: number }) {
        if (sentWhenCancelled !== undefined || (update.bytes ?? 0) < 8 * 1024 * 1024 || !staged()) return;
        sentWhenCancelled = update.bytes;
        totalBytes = update.totalBytes ?? 0;
        abort.abort();
      },
    };
    await assert.rejects(install({ bundle: big, folder, launcher }, { signal: abort.signal, progress }), (error: unknown) => isCancellationError(error));
    assert.ok(sentWhenCancelled !== undefined && sentWhenCancelled < totalBytes, `cancelled after ${sentWhenCancelled} of ${totalBytes} bytes`);
    assert.equal(existsSync(folder), false, 'no versioned folder');
    assert.equal(existsSync(launcher), false, 'no launcher');
    assert.deepEqual(await entries(dirname(folder)), [], 'the staging folder was removed on the host');
    assert.deepEqual(await entries(dirname(launcher)), []);
  });

  describe('hostile folder and launcher names', () => {
    let small: string;
    let sentinel: string;

    before(async () => {
      small = await fakeBuild(join(root, 'small'), '99.3.0');
      sentinel = join(root, 'PWNED');
    });

    /** Installs into paths built from `name`, then runs the launcher with `name` as its argument; either works as written or is refused, and never runs anything. */
    async function installNamed(name: string, index: number): Promise<'installed' | string> {
      const base = join(root, 'hostile', String(index));
      const folder = join(base, `v-${name}`);
      const launcher = join(base, `bin-${name}`, 'lifeboat');
      let result: CliInstallResult;
      try {
        result = await install({ bundle: small, folder, launcher });
      } catch (error) {
        return (error as Error).message;
      }
      assert.deepEqual([result.folder, result.launcher], [folder, launcher]);
      assert.equal(await sha256Of(join(folder, 'cli.js')), await sha256Of(join(small, 'cli.js')));
      const { stdout } = await run(launcher, [name, '--version']);
      assert.deepEqual(JSON.parse(stdout), [name, '--version'], 'the launcher hands its arguments on as they are');
      return 'installed';
    }

    it('are used as written, or refused with the reason, and run nothing', async () => {
      const payloads = hostilePayloads(sentinel);
      const outcomes = [];
      for (const [index, payload] of payloads.entries()) outcomes.push(await installNamed(payload, index));
      const refused = outcomes.filter((outcome) => outcome !== 'installed');
      const lineBreaks = payloads.filter((payload) => /[\r\n]/.test(payload)).length;
      // Refused before anything runs: line breaks (the launcher's path must fit a crontab line), and the 64 KiB name (no path is that long).
      assert.equal(refused.length, lineBreaks + 1, refused.join('\n'));
      assert.equal(refused.filter((message) => /cannot be written in a crontab line/.test(message)).length, lineBreaks);
      assert.equal(refused.filter((message) => /is longer than the 4095 bytes a path can have/.test(message)).length, 1);
      assert.equal(existsSync(sentinel), false, 'no payload ran');
    });

    it('any generated name works as written', async () => {
      let index = 1000;
      await fc.assert(
        fc.asyncProperty(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((name) => !/[\0\r\n/]/.test(name)),
          async (name) => assert.equal(await installNamed(name, index++), 'installed'),
        ),
        { numRuns: 25 },
      );
      assert.equal(existsSync(sentinel), false);
    });
  });
});

describe('npm pack', function () {
  this.timeout(120_000);
  let dir: string | undefined;

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives a tarball of the CLI that npm installs, with no registry and no node_modules, as a working lifeboat', async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs`']]);
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-npm-pack-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO_ROOT });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    assert.ok(packed);
    const files = packed.files.map((file) => file.path);
    assert.deepEqual(files.filter((file) => file.startsWith('dist/')).sort(), ['cli.js', ...(await siblingsOfCli())].map((name) => `dist/${name}`).sort(), 'the CLI and the bundles it loads, nothing of the extension');
    assert.deepEqual(files.filter((file) => /^(src|test|node_modules|out)\//.test(file)), []);
    const prefix = join(dir, 'prefix');
    // --offline: the registry is never asked, so the CLI must need nothing beyond the tarball.
    await run('npm', ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', join(dir, packed.filename)]).catch((error: { stderr?: string }) =>
      assert.fail(`npm install of the tarball needs more than the tarball (the CLI's packages are bundled into dist/, so package.json lists none as dependencies):\n${error.stderr ?? String(error)}`),
    );
    const installed = join(prefix, 'lib', 'node_modules', 'lifeboat');
    assert.equal(existsSync(join(installed, 'node_modules')), false, 'no dependency was installed');
    const { stdout: printed } = await run(join(prefix, 'bin', 'lifeboat'), ['--version'], { env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } });
    assert.equal(printed, `lifeboat ${(JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });
});
