/**
 * The test run itself: a test file that cannot be loaded, a process warning, or a test that reads
 * outside the repository must each fail the run visibly, never pass or hide other tests.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeWarnings, type CliResult } from '../support/cli';
import { REPO_ROOT } from '../support/paths';

const MOCHA = join(REPO_ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
const REPORTER = join(REPO_ROOT, 'out', 'test', 'support', 'summaryReporter.js');

/** Runs mocha with the project's reporter on the given test files, as `npx mocha` does. */
function mocha(files: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MOCHA, '--no-config', '--reporter', REPORTER, ...files], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the test run', function () {
  this.timeout(30_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-harness-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function testFile(name: string, lines: string[]): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, lines.join('\n'));
    return path;
  }

  it('names a test file that fails to load, fails the run, runs none of its tests and every other file', async () => {
    const broken = await testFile('broken.test.js', ["describe('never reached', () => it('x', () => {}));", "require('node:fs').readdirSync('/no/such/fixtures');"]);
    const before = await testFile('a.test.js', ["describe('a', () => it('passes', () => {}));"]);
    const after = await testFile('z.test.js', ["describe('z', () => it('passes too', () => {}));"]);
    const result = await mocha([before, broken, after]);
    assert.notEqual(result.code, 0, result.stdout);
    const lines = result.stdout.trimEnd().split('\n');
    const total = lines.findIndex((line) => /^\d+ passed, \d+ failed/.test(line));
    assert.equal(lines[total], '2 passed, 1 failed', result.stdout);
    assert.match(lines[total + 1] ?? '', /^suite failed to load: \S*broken\.test\.js: ENOENT: no such file or directory, scandir '\/no\/such\/fixtures'$/);
  });

  it('fails a run that emits a process warning, naming the warning and where it came from', async () => {
    const late = await testFile('late.test.js', [
      "describe('late', () => it('handles a rejection only after it was reported', async () => {",
      "  const rejected = Promise.reject(new Error('x'));",
      '  await new Promise((resolve) => setTimeout(resolve, 10));',
      '  await rejected.catch(() => {});',
      '}));',
    ]);
    const result = await mocha([late]);
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(result.stdout, /"after all" hook: no process warnings/);
    assert.match(result.stdout, /1 process warning\(s\) during the run:\n\s+PromiseRejectionHandledWarning: Promise rejection was handled asynchronously[^\n]*\n\s+at [^\n]*late\.test\.js:4:/);
    assert.match(result.stdout, /^1 passed, 1 failed$/m);
  });

  it('passes a run without warnings', async () => {
    const quiet = await testFile('quiet.test.js', ["describe('quiet', () => it('passes', async () => { await Promise.reject(new Error('x')).catch(() => {}); }));"]);
    const result = await mocha([quiet]);
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /^1 passed, 0 failed$/m);
  });

  it('fails a run whose process does not end, naming the connection a test left open', async () => {
    const lingering = await testFile('linger.test.js', [
      "const net = require('node:net');",
      "describe('linger', () => it('leaves a connection open', async () => {",
      "  const server = net.createServer(() => {}).listen(0, '127.0.0.1');",
      "  await new Promise((resolve) => server.once('listening', resolve));",
      "  await new Promise((resolve) => net.connect(server.address().port, '127.0.0.1').once('connect', resolve));",
      '}));',
    ]);
    const result = await mocha([lingering], { LIFEBOAT_TEST_EXIT_GRACE_MS: '1000' });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^1 passed, 0 failed\nthe run ended, but the process was still held 1 s later by: a TCP connection 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+; .*TCPServerWrap/m);
  });

  it("reads the warnings Node prints in a child process's output", () => {
    const script = "process.emitWarning('leak', 'MaxListenersExceededWarning'); process.emitWarning('old', { type: 'DeprecationWarning', code: 'DEP0999' }); console.error('(node) not a warning line');";
    const { stderr } = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.deepEqual(nodeWarnings(stderr), ['MaxListenersExceededWarning: leak', 'DeprecationWarning: old']);
  });

  it('no test or benchmark reads the folders beside the repository', () => {
    const sources = ['test', 'bench'].flatMap((folder) =>
      readdirSync(join(REPO_ROOT, folder), { recursive: true })
        .map(String)
        .filter((file) => file.endsWith('.ts'))
        .map((file) => join(folder, file)),
    );
    const outside = sources.filter((file) => /REPO_ROOT, '\.\.'|\.\.\/shared\b|'\.\.', 'shared'/.test(readFileSync(join(REPO_ROOT, file), 'utf8')));
    assert.deepEqual(outside, []);
  });
});

describe('the benchmarks', () => {
  it('`npm run bench` runs every benchmark', () => {
    const files = readdirSync(join(REPO_ROOT, 'bench')).filter((file) => file.endsWith('.ts'));
    const imported = new Set(files.flatMap((file) => [...readFileSync(join(REPO_ROOT, 'bench', file), 'utf8').matchAll(/from '\.\/(\w+)'/g)].map((match) => `${match[1]}.ts`)));
    const entryPoints = files.filter((file) => !imported.has(file));
    assert.ok(entryPoints.length >= 9, `benchmarks found: ${entryPoints.join(', ')}`);
    const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.deepEqual(
      entryPoints.filter((file) => !scripts.bench?.includes(`node out/bench/${file.replace(/\.ts$/, '.js')}`)),
      [],
    );
  });

  it('a process that activated the extension ends on its own once it is deactivated', function () {
    this.timeout(60_000);
    const child = spawnSync(process.execPath, [join(REPO_ROOT, 'out', 'bench', 'activation.js'), '--child', 'open'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(child.error, undefined, 'the measurement process was still running after 20 s');
    assert.equal(child.status, 0, child.stderr);
    assert.ok((JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '') as { ms: number }).ms > 0);
  });
});

describe('installing the Debian packages the tests need', () => {
  const script = join(REPO_ROOT, 'scripts', 'install-system-packages.sh');

  /** A user who cannot become root without a password: `nobody` when the tests run as root, else the tester. */
  function asUserWithoutRoot(args: string[]): ReturnType<typeof spawnSync> | undefined {
    if (process.getuid?.() === 0) return spawnSync('runuser', ['-u', 'nobody', '--', 'bash', script, ...args], { encoding: 'utf8', cwd: '/' });
    if (spawnSync('sudo', ['-n', 'true']).status === 0) return undefined;
    return spawnSync('bash', [script, ...args], { encoding: 'utf8' });
  }

  it('installs nothing without root and prints the exact command to run', function () {
    const result = asUserWithoutRoot(['bash', 'lifeboat-no-such-package', 'name with space']);
    // With a sudo that asks for no password there is no user here who cannot install.
    if (!result) this.skip();
    assert.equal(result.status, 1, String(result.stderr));
    const sudo = spawnSync('sh', ['-c', 'command -v sudo']).status === 0 ? 'sudo ' : '';
    assert.match(String(result.stderr), /^install-system-packages: missing Debian packages: lifeboat-no-such-package name with space$/m);
    assert.ok(String(result.stderr).includes(`\n  ${sudo}bash ${script} lifeboat-no-such-package name\\ with\\ space\n`), String(result.stderr));
  });
});
