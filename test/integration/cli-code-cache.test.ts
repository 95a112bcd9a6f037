import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI, requireFiles } from '../support/paths';

const run = promisify(execFile);

describe("the CLI's code cache", function () {
  this.timeout(60_000);
  let dir: string;
  let cacheHome: string;
  /** A copy of the real entry, dist/cli.js, beside a `cli-main.js` of the test's own. */
  let entry: string;

  before(() => requireFiles([[CLI, 'the CLI: node esbuild.config.mjs']]));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-code-cache-'));
    cacheHome = join(dir, 'cache');
    entry = join(dir, 'cli.js');
    await copyFile(CLI, entry);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cacheFolder = () => join(cacheHome, 'lifeboat', 'v8');
  const startCli = async (program = entry) => (await run(process.execPath, [program, '--version'], { env: { ...process.env, XDG_CACHE_HOME: cacheHome } })).stdout;
  const writeMain = (said: string) => writeFile(join(dir, 'cli-main.js'), `exports.start = () => process.stdout.write(${JSON.stringify(said)});\n`);

  it('keeps the compiled CLI in a private folder and starts from it', async () => {
    await writeMain('first start');
    assert.equal(await startCli(), 'first start');
    const [cached, ...others] = await readdir(cacheFolder());
    assert.deepEqual(others, [], 'one file, no partial one left');
    assert.match(cached ?? '', /^cli-main-[0-9a-f]{32}\.bin$/);
    const file = join(cacheFolder(), cached as string);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(cacheFolder())).mode & 0o777, 0o700);
    const written = await readFile(file);
    assert.equal(await startCli(), 'first start');
    assert.ok((await readFile(file)).equals(written), 'an accepted cache is not written again');
  });

  it('never runs the code of another source, even one of the same length (V8 checks only the length)', async () => {
    await writeMain('version one');
    assert.equal(await startCli(), 'version one');
    await writeMain('version two');
    assert.equal(await startCli(), 'version two');
    assert.equal((await readdir(cacheFolder())).length, 2, 'each source has its own cache');
  });

  it('keeps the caches of the last three sources, the oldest removed', async () => {
    for (const said of ['build 1', 'build 2', 'build 3', 'build 4', 'build 5']) {
      await writeMain(said);
      assert.equal(await startCli(), said);
      // Apart in time, as builds are.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const kept = await readdir(cacheFolder());
    assert.equal(kept.length, 3);
    await writeMain('build 5');
    const newest = (await readdir(cacheFolder())).map((name) => join(cacheFolder(), name));
    const mtimes = await Promise.all(newest.map(async (file) => (await stat(file)).mtimeMs));
    assert.equal(await startCli(), 'build 5');
    assert.deepEqual(await Promise.all(newest.map(async (file) => (await stat(file)).mtimeMs)), mtimes, 'the newest build started from its cache');
  });

  it('requires a bundle with a dynamic import() as usual, which then works, with no warning', async () => {
    await writeFile(join(dir, 'cli-main.js'), `exports.start = () => import('node:os').then((os) => process.stdout.write(typeof os.cpus));\n`);
    const { stdout, stderr } = await run(process.execPath, [entry], { env: { ...process.env, XDG_CACHE_HOME: cacheHome } });
    assert.equal(stdout, 'function');
    assert.equal(stderr, '');
    assert.deepEqual(await readdir(cacheFolder()).catch(() => []), [], 'no cache for it');
  });

  it('runs without a cache when there is no home folder to keep one in', async () => {
    await writeMain('homeless');
    const env = { ...process.env, HOME: join(dir, 'no-such-home'), XDG_CACHE_HOME: '' };
    await writeFile(join(dir, 'no-such-home'), 'a file where the home folder would be');
    assert.equal((await run(process.execPath, [entry, '--version'], { env })).stdout, 'homeless');
  });

  it('runs without a cache, at once, when its folder cannot be made (a cache home under /proc)', async () => {
    await writeMain('no folder there');
    // Node's recursive mkdir spins there for ever; the timeout turns that into a failure.
    const { stdout } = await run(process.execPath, [entry, '--version'], { env: { ...process.env, XDG_CACHE_HOME: '/proc/self/lifeboat-cache' }, timeout: 10_000 });
    assert.equal(stdout, 'no folder there');
  });

  it('starts as usual from a corrupt cache, and replaces it', async () => {
    await writeMain('from a corrupt cache');
    await startCli();
    const [cached] = await readdir(cacheFolder());
    const file = join(cacheFolder(), cached as string);
    await writeFile(file, Buffer.alloc(4096, 0x5a));
    assert.equal(await startCli(), 'from a corrupt cache');
    assert.ok(!(await readFile(file)).equals(Buffer.alloc(4096, 0x5a)), 'the corrupt cache was replaced');
  });

  it('uses no cache folder that others can write, and still runs', async () => {
    await writeMain('without a cache');
    await mkdir(cacheFolder(), { recursive: true });
    await chmod(cacheFolder(), 0o777);
    assert.equal(await startCli(), 'without a cache');
    assert.deepEqual(await readdir(cacheFolder()), [], 'nothing read or written there');
    await chmod(cacheFolder(), 0o700);
    await chmod(join(cacheHome, 'lifeboat'), 0o757);
    assert.equal(await startCli(), 'without a cache');
    assert.deepEqual(await readdir(cacheFolder()), [], 'nor when the folder above it is writable by others');
  });

  it('runs the real CLI with and without its cache', async () => {
    const version = (JSON.parse(await readFile(join(CLI, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(await startCli(CLI), `lifeboat ${version}\n`);
    assert.equal(await startCli(CLI), `lifeboat ${version}\n`);
    assert.ok((await readdir(cacheFolder())).some((file) => file.startsWith('cli-main-')));
  });
});
