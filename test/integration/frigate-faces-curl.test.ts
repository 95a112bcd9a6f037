import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import type { FacesBackupResult } from '../../src/actions/frigate/backup';
import { bulkGetConfig, curlBulkGet, curlConfigValue, findBulkCurl, type BulkCurl } from '../../src/clients/curl';
import { findOnPath } from '../../src/clients/process';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { lifeboat } from '../support/cli';
import { runFrigateAction } from '../support/frigateActions';
import { FrigateSimulator } from '../testbed/frigateSim';
import { solidWebp } from '../testbed/webp';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const PASSWORD = 'frigate-admin-pass';

/**
 * Names a face library can hold (any file name but `/`, and `\\` which the simulator's static route
 * refuses) that mean something to a shell, to curl's config syntax or to a URL.
 */
const HOSTILE_PEOPLE = ['a"b', "it's", '$(touch PWNED)', '`touch PWNED`', '-rf', 'sp ace', '...', 'semi;colon&amp', '100%25', 'Åsa ünïcode'];
const HOSTILE_FILES = ['x"; touch PWNED; echo ".webp', "q'uote.webp", '--config.webp', 'new\nline.webp', 'tab\tbed.webp', 'hash#frag?query=1.webp', 'url = "file:.webp', '%2e%2e.webp'];

/** The argument lists of every process now running. */
async function commandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const line = await readFile(join('/proc', pid, 'cmdline'), 'utf8').catch(() => '');
    if (line) lines.push(line.replaceAll('\0', ' '));
  }
  return lines;
}

describe('Frigate faces: downloads through the system curl', function () {
  this.timeout(60_000);
  let sim: FrigateSimulator;
  let workspace: string;
  const library = new Map<string, string>();

  before(async function () {
    if (!(await findBulkCurl())) throw new Error('curl 7.75 or newer is needed on the PATH (the test set-up installs it)');
    sim = await FrigateSimulator.start({ users: { admin: { password: PASSWORD, role: 'admin' } } });
    let index = 0;
    for (const person of HOSTILE_PEOPLE) {
      for (const file of HOSTILE_FILES) {
        const image = solidWebp({ width: 40, height: 40, padding: Buffer.from(`${person}/${file}/${index++}`) });
        library.set(`${person}/${file}`, sha256(image));
        await sim.addFace(person, file, image);
      }
    }
  });

  after(async () => {
    await sim?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-faces-curl-'));
    sim.requests.length = 0;
  });

  afterEach(async () => {
    sim.clearFaults();
    await rm(workspace, { recursive: true, force: true });
  });

  function inventory(tls: { insecure: boolean }): Inventory {
    return { frigate: { home: { url: sim.url, auth: { username: 'admin', password: 'secret:frigate_password' }, tls } } };
  }

  function context(overrides: Partial<ActionContext> = {}, tls = { insecure: true }): ActionContext {
    const secrets = environmentSecrets({ LIFEBOAT_SECRET_FRIGATE_PASSWORD: PASSWORD });
    return createActionContext({ workspaceDir: workspace, inventory: inventory(tls), secrets, ...overrides });
  }

  /** Extracts the archive with the system's tar and returns every image's sha256 by `<person>/<file>`. */
  async function archived(archive: string): Promise<Map<string, string>> {
    const out = join(workspace, 'extracted');
    await mkdir(out);
    await run('tar', ['xzf', archive, '-C', out]);
    const found = new Map<string, string>();
    for (const person of await readdir(join(out, 'faces'))) {
      for (const file of await readdir(join(out, 'faces', person))) found.set(`${person}/${file}`, sha256(await readFile(join(out, 'faces', person, file))));
    }
    return found;
  }

  const imageRequests = (from: 'curl' | 'node') =>
    sim.requests.filter((request) => request.path.startsWith('/clips/faces/') && (from === 'curl') === /^curl\//.test(request.headers['user-agent'] ?? ''));

  it('backs up names holding quotes, $(), backticks, newlines and config syntax byte for byte through curl, and runs none of them', async () => {
    // Slow answers keep curl running long enough to see its arguments.
    sim.injectFault({ kind: 'slow', delayMs: 300, path: /^\/clips\/faces\//, times: 16 });
    const backup = runFrigateAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups' }, context());
    let seen: string[] = [];
    for (let attempt = 0; attempt < 50 && !seen.some((line) => /curl -q --config -/.test(line)); attempt++) {
      seen = await commandLines();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = await backup;
    assert.ok(seen.some((line) => /curl -q --config -/.test(line)), 'curl ran while the images downloaded');
    // The session never reaches a command line, where any user of the machine can read it.
    const session = sim.requests.find((request) => request.headers.cookie)?.headers.cookie ?? '';
    assert.match(session, /^frigate_token=./);
    for (const line of seen) assert.ok(!line.includes(session.slice('frigate_token='.length)) && !line.includes(PASSWORD), `no secret in: ${line}`);

    assert.deepEqual([...(await archived(join(workspace, 'backups', result.name)))].sort(), [...library].sort());
    assert.equal(imageRequests('curl').length, library.size, 'curl fetched every image, once');
    assert.equal(imageRequests('node').length, 0);
    assert.equal(existsSync(join(workspace, 'PWNED')) || existsSync(join(process.cwd(), 'PWNED')), false);
  });

  it('fetches an image curl could not get again through the Frigate client, and archives it whole', async () => {
    const [person, file] = ['a"b', 'x"; touch PWNED; echo ".webp'];
    const path = `/clips/faces/${encodeURIComponent(person)}/${encodeURIComponent(file)}`;
    sim.injectFault({ kind: 'status', status: 503, path: new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`), times: 1 });
    const result = await runFrigateAction<FacesBackupResult>('frigate.faces.backup', { frigate: 'home', destination: 'backups' }, context());
    assert.deepEqual([...(await archived(join(workspace, 'backups', result.name)))].sort(), [...library].sort());
    assert.deepEqual(
      imageRequests('node').map((request) => request.path),
      [path],
      'only the image curl could not get was fetched again',
    );
  });

  it("trusts exactly what the Frigate client trusts: the certificate given, else Node's own list, not the system's", async () => {
    const curl = (await findBulkCurl()) as BulkCurl;
    const [person, file] = [HOSTILE_PEOPLE[0] as string, HOSTILE_FILES[0] as string];
    const fetch = async (tls: { caFile?: string; insecure?: boolean }) => {
      const outcomes: { ok: boolean; status: number }[] = [];
      await curlBulkGet(curl, [{ url: `${sim.url}/clips/faces/${encodeURIComponent(person)}/${encodeURIComponent(file)}`, output: join(workspace, 'image') }], {
        headers: { Authorization: `Bearer ${sim.token('admin')}` },
        ...tls,
        timeoutMs: 5000,
        parallel: 1,
        maxBytes: 1024 * 1024,
        signal: new AbortController().signal,
        onTransfer: (_index, outcome) => outcomes.push(outcome),
      });
      return outcomes;
    };
    const pem = async (name: string, text: string) => {
      await writeFile(join(workspace, name), text);
      return join(workspace, name);
    };
    assert.deepEqual(await fetch({ caFile: await pem('node.pem', rootCertificates.join('\n')) }), [{ ok: false, status: 0, bytes: 0 }], "the simulator's self-signed certificate is in no list");
    assert.deepEqual(await fetch({ caFile: await pem('frigate.pem', sim.certificate.cert) }), [{ ok: true, status: 200, bytes: (await readFile(join(sim.facesDir, person, file))).length }]);
    assert.equal((await fetch({ insecure: true }))[0]?.ok, true);
    assert.equal(imageRequests('curl').length, 2, 'the refused one never reached Frigate');
  });

  it('cancelled midway, stops curl and leaves neither its files nor an archive', async () => {
    const before = (await readdir(tmpdir())).filter((name) => name.startsWith('lifeboat-faces-images-'));
    sim.injectFault({ kind: 'slow', delayMs: 400, path: /^\/clips\/faces\//, times: 40 });
    const stop = new AbortController();
    const ctx = context({ signal: stop.signal, progress: { report: (update) => void ((update.items ?? 0) >= 3 && stop.abort()) } });
    await assert.rejects(runFrigateAction('frigate.faces.backup', { frigate: 'home', destination: 'backups' }, ctx), CancelledError);
    assert.equal((await commandLines()).filter((line) => /curl -q --config -/.test(line)).length, 0, 'curl is gone');
    assert.deepEqual((await readdir(tmpdir())).filter((name) => name.startsWith('lifeboat-faces-images-')), before);
    assert.equal(existsSync(join(workspace, 'backups')) && (await readdir(join(workspace, 'backups'))).length > 0, false);
  });

  /**
   * Runs a face backup through the CLI with only node, `programs` and the `scripts` (name → text) on
   * its PATH; checks the archive holds the whole library.
   */
  async function backUpWithOnly(programs: readonly string[], scripts: Readonly<Record<string, string>> = {}): Promise<void> {
    const bin = join(workspace, 'bin');
    await mkdir(bin);
    await symlink(process.execPath, join(bin, 'node'));
    for (const program of programs) await symlink((await findOnPath(program)) as string, join(bin, program));
    for (const [name, text] of Object.entries(scripts)) await writeFile(join(bin, name), text, { mode: 0o755 });
    await writeFile(join(workspace, 'lifeboat.yaml'), JSON.stringify(inventory({ insecure: true })));
    await writeFile(join(workspace, 'backup.runbook.md'), ['---', 'title: Faces', '---', '', '```lifeboat {id=faces}', 'action: frigate.faces.backup', 'frigate: home', 'destination: backups', '```', ''].join('\n'));
    const result = await lifeboat(['run', 'backup.runbook.md', '--yes'], { cwd: workspace, env: { PATH: bin, HOME: workspace, LIFEBOAT_SECRET_FRIGATE_PASSWORD: PASSWORD, LIFEBOAT_SECRETS_FILE: '' } });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const [name] = await readdir(join(workspace, 'backups')).then((names) => names.filter((entry) => entry.endsWith('.tar.gz')));
    assert.ok(name);
    assert.deepEqual([...(await archived(join(workspace, 'backups', name)))].sort(), [...library].sort());
  }

  it("without coreutils' stdbuf on the PATH, runs curl itself and archives the same images", async () => {
    await backUpWithOnly(['curl']);
    assert.equal(imageRequests('curl').length, library.size);
    assert.equal(imageRequests('node').length, 0);
  });

  it('with a stdbuf that cannot start curl, runs curl itself', async () => {
    await backUpWithOnly(['curl'], { stdbuf: '#!/bin/sh\necho "stdbuf: failed to run command" >&2\nexit 125\n' });
    assert.equal(imageRequests('curl').length, library.size);
    assert.equal(imageRequests('node').length, 0);
  });

  it('without curl on the PATH, downloads through the Frigate client and archives the same images', async () => {
    await backUpWithOnly([]);
    assert.equal(imageRequests('curl').length, 0);
    assert.equal(imageRequests('node').length, library.size);
  });
});

describe("curl's config for bulk downloads", function () {
  this.timeout(60_000);
  let server: ReturnType<typeof createServer>;
  let url: string;
  const received: IncomingHttpHeaders[] = [];

  /** Answers to `/held` wait until released. */
  const held: (() => void)[] = [];

  before(async () => {
    server = createServer((request, response) => {
      received.push(request.headers);
      if (request.url === '/held') held.push(() => response.end('ok'));
      else response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('hands any header value without control characters to the server exactly as given', async () => {
    const curl = (await findBulkCurl()) as BulkCurl;
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-curl-config-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: fc.constantFrom(...'ab"\\\'$`;&|<> #=%{}()*?!~'.split('')), maxLength: 40 }), async (value) => {
          received.length = 0;
          const config = bulkGetConfig([{ url, output: join(dir, 'out') }], { headers: { 'X-Value': `<${value}>` }, timeoutMs: 5000, parallel: 1, maxBytes: 1024 });
          const { stderr } = await new Promise<{ stderr: string }>((resolve, reject) => {
            const child = execFile(curl.command, [...curl.prefix, '-q', '--config', '-'], (error, _out, err) => (error ? reject(error) : resolve({ stderr: err })));
            child.stdin?.end(config);
          });
          assert.match(stderr, /^0 200 0 2\n$/);
          assert.equal(received.at(-1)?.['x-value'], `<${value}>`);
        }),
        { numRuns: 40 },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports each transfer as it ends, not when curl exits', async () => {
    const curl = (await findBulkCurl()) as BulkCurl;
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-curl-reports-'));
    const quick = 40;
    const heldIndex = 5;
    const reported: number[] = [];
    let allQuickReported!: () => void;
    const quickReported = new Promise<void>((resolve) => (allQuickReported = resolve));
    const stop = new AbortController();
    let finished: Promise<void> | undefined;
    try {
      const requests = Array.from({ length: quick }, (_, index) => ({ url: `${url}${index}`, output: join(dir, String(index)) }));
      requests.splice(heldIndex, 0, { url: `${url}held`, output: join(dir, 'held') });
      finished = curlBulkGet(curl, requests, {
        headers: {},
        timeoutMs: 30_000,
        parallel: 4,
        maxBytes: 1024,
        signal: stop.signal,
        onTransfer: (index, outcome) => {
          assert.deepEqual(outcome, { ok: true, status: 200, bytes: 2 });
          reported.push(index);
          if (reported.length === quick) allQuickReported();
        },
      });
      // While one transfer is still held open, every other one has been reported: what a backup archives as it goes.
      await Promise.race([quickReported, finished.then(() => assert.fail('curl ended before the held transfer was released'))]);
      assert.deepEqual([...reported].sort((a, b) => a - b), Array.from({ length: quick + 1 }, (_, index) => index).filter((index) => index !== heldIndex));
      while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      held.shift()?.();
      await finished;
      assert.equal(reported.at(-1), heldIndex, 'the held transfer is reported once released');
    } finally {
      for (const release of held.splice(0)) release();
      // After a failure curl may still be writing into the folder.
      stop.abort();
      await finished?.catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a value with a control character, which would split a header or a line of the config', () => {
    for (const value of ['a\nb', 'a\rb', 'a\u0000b', 'a\u007fb', 'Bearer x\r\nX-Injected: 1']) assert.throws(() => curlConfigValue(value), /control character/);
  });
});
