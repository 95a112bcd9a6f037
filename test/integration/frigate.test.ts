import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FrigateClient, FrigateError } from '../../src/clients/frigate';
import type { FrigateTarget } from '../../src/clients/frigate';
import { CancelledError } from '../../src/core/errors';
import { FrigateSimulator } from '../testbed/frigateSim';
import { solidWebp } from '../testbed/webp';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const quickRetries = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function isFailure(failure: FrigateError['failure'], pattern?: RegExp) {
  return (error: unknown) => error instanceof FrigateError && error.failure === failure && (!pattern || pattern.test(error.message));
}

describe('Frigate client against the Frigate simulator', function () {
  this.timeout(20_000);
  let sim: FrigateSimulator;
  const library: Record<string, Buffer> = {};
  let target: FrigateTarget;

  before(async () => {
    sim = await FrigateSimulator.start();
    for (const [person, count] of [['Asha', 3], ['G', 2], ['Waffles', 1]] as const) {
      for (let index = 1; index <= count; index++) {
        const image = solidWebp({ width: 112, height: 112, padding: randomBytes(2000 + index * 997) });
        library[`${person}/${person}-${index}.webp`] = image;
        await sim.addFace(person, `${person}-${index}.webp`, image);
      }
    }
    await sim.addFace('train', '1700000000.1-abc123-1700000001.2-person-0.81.webp', solidWebp({ width: 60, height: 60 }));
    target = { url: sim.url, ca: sim.certificate.cert, auth: { username: 'admin', password: 'frigate-admin-pass' }, retry: quickRetries, timeoutMs: 2000, name: 'home' };
  });

  after(async () => {
    await sim?.stop();
  });

  describe('auth and TLS', () => {
    it('reads the version without logging in', async () => {
      const anonymous = new FrigateClient({ url: sim.url, ca: sim.certificate.cert });
      assert.equal(await anonymous.version(), '0.16.0-c2f8de9');
    });

    it('logs in with a user and password and uses the session cookie', async () => {
      const client = new FrigateClient(target);
      const faces = await client.faces();
      assert.deepEqual(Object.keys(faces.people), ['Asha', 'G', 'Waffles']);
      assert.deepEqual(faces.train, ['1700000000.1-abc123-1700000001.2-person-0.81.webp']);
      const listing = sim.requests.filter((request) => request.path === '/api/faces').at(-1);
      assert.match(String(listing?.headers.cookie), /^frigate_token=[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('logs in again once when the session has ended', async () => {
      const client = new FrigateClient(target);
      await client.faces();
      const logins = () => sim.requests.filter((request) => request.path === '/api/login').length;
      const before = logins();
      sim.endSessions();
      assert.ok((await client.faces()).people.Asha);
      assert.equal(logins() - before, 1);
    });

    it('accepts a Bearer token', async () => {
      const client = new FrigateClient({ url: sim.url, ca: sim.certificate.cert, auth: { token: sim.token('admin') } });
      assert.equal(Object.keys((await client.faces()).people).length, 3);
    });

    it('reports a wrong password and a missing login clearly', async () => {
      await assert.rejects(new FrigateClient({ ...target, auth: { username: 'admin', password: 'nope' } }).faces(), isFailure('unauthorized', /refused the login of user 'admin'/));
      await assert.rejects(new FrigateClient({ url: sim.url, ca: sim.certificate.cert }).faces(), isFailure('unauthorized', /Frigate at https:\/\/127\.0\.0\.1:\d+ refused \/api\/faces \(401\)/));
    });

    it('needs no login on the internal port', async () => {
      const internal = new FrigateClient({ url: `${sim.internalUrl}/` });
      assert.equal(Object.keys((await internal.faces()).people).length, 3);
      assert.deepEqual(internal.warnings, []);
    });

    it('keeps the base path of a Frigate behind a proxy', async () => {
      const internal = new URL(sim.internalUrl);
      const proxy = createServer((request, response) => {
        if (!request.url?.startsWith('/frigate/')) return void response.writeHead(404).end();
        const forwarded = httpRequest({ host: internal.hostname, port: internal.port, path: request.url.slice('/frigate'.length), method: request.method, headers: request.headers }, (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        });
        request.pipe(forwarded);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const client = new FrigateClient({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/frigate/` });
        assert.deepEqual(Object.keys((await client.faces()).people).slice(0, 1), ['Asha']);
        const { stream } = await client.downloadFace('Asha', 'Asha-1.webp');
        assert.equal(sha256(await readAll(stream)), sha256(library['Asha/Asha-1.webp'] as Buffer));
      } finally {
        proxy.close();
      }
    });

    it('verifies TLS unless the inventory opts out, and warns when it does', async () => {
      await assert.rejects(new FrigateClient({ url: sim.url, auth: target.auth, retry: quickRetries }).version(), isFailure('tls', /TLS verification of Frigate at .* failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/));
      const insecure = new FrigateClient({ url: sim.url, auth: target.auth, insecure: true, name: 'garage' });
      assert.equal(await insecure.version(), '0.16.0-c2f8de9');
      assert.match(insecure.warnings.join('\n'), /TLS certificate verification is off for Frigate 'garage'/);
    });

    it('turns away viewers from writes (admin only)', async () => {
      const viewerSim = await FrigateSimulator.start({ version: '0.17.0-a1b2c3d', users: { guest: { password: 'guest-pass', role: 'viewer' } } });
      try {
        const viewer = new FrigateClient({ url: viewerSim.url, ca: viewerSim.certificate.cert, auth: { username: 'guest', password: 'guest-pass' } });
        await assert.rejects(viewer.createFace('Someone'), isFailure('forbidden', /admin role/));
      } finally {
        await viewerSim.stop();
      }
    });
  });

  describe('face library', () => {
    it('downloads every image from /clips/faces byte for byte, as real WebP', async () => {
      const client = new FrigateClient(target);
      const faces = await client.faces();
      for (const [person, files] of Object.entries(faces.people)) {
        for (const file of files) {
          const { stream, size } = await client.downloadFace(person, file);
          const data = await readAll(stream);
          assert.equal(size, data.length);
          assert.equal(sha256(data), sha256(library[`${person}/${file}`] as Buffer), `${person}/${file}`);
        }
      }
      assert.ok(sim.requests.some((request) => request.path === '/clips/faces/Asha/Asha-1.webp'), 'images come from the static path, not /api');
      const decoded = join(sim.mediaDir, 'decoded.png');
      await writeFile(join(sim.mediaDir, 'probe.webp'), library['Asha/Asha-1.webp'] as Buffer);
      const { stderr } = await run('dwebp', [join(sim.mediaDir, 'probe.webp'), '-o', decoded]);
      assert.match(stderr, /Dimensions: 112 x 112/);
    });

    it('creates a person although Frigate answers success: false', async () => {
      const client = new FrigateClient(target);
      await client.createFace('New Person');
      assert.deepEqual((await client.faces()).people.New_Person, []);
      const create = sim.requests.filter((request) => request.path.endsWith('/create')).at(-1);
      assert.equal(create?.headers['x-csrf-token'], '1', 'every write carries the CSRF header');
    });

    it('registers an image, which Frigate re-crops and renames', async () => {
      const client = new FrigateClient(target);
      const upload = library['Asha/Asha-2.webp'] as Buffer;
      await client.registerFace('Asha', { file: 'Asha-2.webp', data: upload });
      const files = (await client.faces()).people.Asha ?? [];
      const added = files.filter((file) => /^Asha_\d+\.\d{6}\.webp$/.test(file));
      assert.equal(added.length, 1, files.join(', '));
      const stored = await readFile(join(sim.facesDir, 'Asha', added[0] as string));
      assert.notEqual(sha256(stored), sha256(upload), 'never byte-identical to the upload');
      const { stderr } = await run('dwebp', [join(sim.facesDir, 'Asha', added[0] as string), '-o', join(sim.mediaDir, 'crop.png')]);
      assert.match(stderr, /Dimensions: 90 x 90/);
    });

    it('reports an image without a detectable face as rejected', async () => {
      const client = new FrigateClient(target);
      await assert.rejects(client.registerFace('Asha', { file: 'tight.webp', data: solidWebp({ width: 24, height: 24 }) }), isFailure('rejected', /No face was detected/));
    });

    it('deletes all images of a person (the folder goes with them) and renames people', async () => {
      const client = new FrigateClient(target);
      await sim.addFace('Temp', 'a.webp', solidWebp({ width: 50, height: 50 }));
      await sim.addFace('Temp', 'b.webp', solidWebp({ width: 50, height: 50 }));
      await client.deleteFaces('Temp', ['a.webp', 'b.webp']);
      assert.equal((await client.faces()).people.Temp, undefined);
      await client.renameFace('New_Person', 'Adil');
      assert.deepEqual((await client.faces()).people.Adil, []);
      await assert.rejects(client.renameFace('Adil', 'bad/name'), isFailure('rejected'));
    });

    it('says so when face recognition is off', async () => {
      sim.faceRecognition = false;
      try {
        await assert.rejects(new FrigateClient(target).createFace('X'), isFailure('disabled', /Face recognition is not enabled/));
      } finally {
        sim.faceRecognition = true;
      }
    });
  });

  it('leaves no listeners on a long run\'s signal after its requests finish', async () => {
    const client = new FrigateClient(target);
    const run = new AbortController();
    for (let index = 0; index < 20; index++) {
      const { stream } = await client.downloadFace('Asha', 'Asha-1.webp', run.signal);
      await readAll(stream);
      await client.faces(run.signal);
    }
    assert.equal(getEventListeners(run.signal, 'abort').length, 0);
  });

  describe('CSRF', () => {
    it('refuses a write that carries an Origin but no X-CSRF-TOKEN', async () => {
      const answer = await fetch(`${sim.internalUrl}/api/faces/Someone/create`, { method: 'POST', headers: { Origin: 'http://evil.example' } });
      assert.equal(answer.status, 401);
      assert.deepEqual(await answer.json(), { success: false, message: 'Missing CSRF header' });
      const allowed = await fetch(`${sim.internalUrl}/api/faces/Someone/create`, { method: 'POST', headers: { Origin: 'http://frigate.lan', 'X-CSRF-TOKEN': '1' } });
      assert.equal(allowed.status, 200);
    });
  });

  describe('events and snapshots', () => {
    it('lists events with filters and streams a snapshot', async () => {
      sim.events.push(
        { id: '1721730000.51-ab12cd', camera: 'front', label: 'person', start_time: 1721730000.51, end_time: 1721730030.2, has_snapshot: true, has_clip: true },
        { id: '1721730100.10-ef34gh', camera: 'yard', label: 'cat', start_time: 1721730100.1, end_time: null, has_snapshot: false, has_clip: false },
      );
      const client = new FrigateClient(target);
      const events = await client.events({ camera: 'front', hasSnapshot: true, after: 1721720000 });
      assert.deepEqual(events.map((event) => event.id), ['1721730000.51-ab12cd']);
      const { stream } = await client.snapshot('1721730000.51-ab12cd');
      const jpeg = await readAll(stream);
      assert.equal(jpeg.subarray(0, 2).toString('hex'), 'ffd8');
      await assert.rejects(client.snapshot('1721730100.10-ef34gh'), isFailure('not-found', /Snapshot not available/));
    });
  });

  describe('faults', () => {
    it('retries 5xx answers with backoff and succeeds', async () => {
      sim.injectFault({ kind: 'status', status: 500, path: /^\/api\/faces$/, times: 2 });
      const before = sim.requests.filter((request) => request.path === '/api/faces').length;
      const faces = await new FrigateClient(target).faces();
      assert.ok(faces.people.Asha);
      assert.equal(sim.requests.filter((request) => request.path === '/api/faces').length - before, 3);
    });

    it('gives up after the last attempt with the status in the error', async () => {
      sim.injectFault({ kind: 'status', status: 503, path: /^\/api\/faces$/, times: 3 });
      await assert.rejects(new FrigateClient(target).faces(), isFailure('server', /HTTP 503/));
    });

    it('times out a slow answer', async () => {
      sim.injectFault({ kind: 'slow', delayMs: 1500, path: /^\/api\/version$/, times: 1 });
      await assert.rejects(new FrigateClient({ ...target, timeoutMs: 300, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }).version(), isFailure('timeout', /did not answer GET \/api\/version within 300 ms/));
    });

    it('retries a dropped connection for reads, never for a register', async () => {
      sim.injectFault({ kind: 'drop', path: /^\/api\/faces$/, times: 1 });
      assert.ok((await new FrigateClient(target).faces()).people.G);
      const client = new FrigateClient(target);
      await client.login();
      sim.injectFault({ kind: 'drop', path: /\/register$/, times: 1 });
      const before = sim.requests.filter((request) => request.path.endsWith('/register')).length;
      await assert.rejects(client.registerFace('G', { file: 'g.webp', data: library['G/G-1.webp'] as Buffer }), isFailure('dropped'));
      assert.equal(sim.requests.filter((request) => request.path.endsWith('/register')).length - before, 1);
    });

    it('fails a download whose connection is cut midway', async () => {
      sim.injectFault({ kind: 'truncate', path: /^\/clips\/faces\/G\//, times: 1 });
      const { stream } = await new FrigateClient(target).downloadFace('G', 'G-1.webp');
      await assert.rejects(readAll(stream));
    });

    it('says the server is unreachable when nothing listens', async () => {
      await assert.rejects(new FrigateClient({ url: 'http://127.0.0.1:1', retry: quickRetries }).version(), isFailure('unreachable', /could not connect to Frigate at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/));
    });

    it('stops waiting when cancelled', async () => {
      sim.injectFault({ kind: 'slow', delayMs: 1000, path: /^\/api\/version$/, times: 1 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(new FrigateClient(target).version(controller.signal), (error: unknown) => error instanceof CancelledError);
    });
  });
});
