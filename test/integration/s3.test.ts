import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import pLimit from 'p-limit';
import { openS3Store, S3StoreError, type S3Store, type S3StoreConfig, type S3TransferSettings } from '../../src/clients/s3';
import type { ProgressUpdate } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { startFaultProxy, type FaultProxy } from '../testbed/faultProxy';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';

const MiB = 1024 * 1024;
const BUCKET = 'backups';
/** Quick retries, so failure tests stay fast. */
const TEST_SETTINGS: Partial<S3TransferSettings> = { retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 100 }, partSizeBytes: 5 * MiB };

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function kindOf(kind: S3StoreError['kind']) {
  return (error: unknown) => {
    assert.ok(error instanceof S3StoreError, `expected an S3StoreError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    return true;
  };
}

describe('S3 client against s3rver', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  let work: string;
  const opened: S3Store[] = [];

  const open = async (overrides: Partial<S3StoreConfig> = {}, settings: Partial<S3TransferSettings> = {}) => {
    const store = await openS3Store({ endpoint: server.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS }, ...overrides }, { settings: { ...TEST_SETTINGS, ...settings } });
    opened.push(store);
    return store;
  };

  before(async () => {
    server = await startS3rver({ buckets: [BUCKET] });
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-s3-'));
  });
  after(async () => {
    for (const store of opened) store.dispose();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  describe('round trips', () => {
    let source: string;
    let sourceDigest: string;
    before(async () => {
      source = path.join(work, 'random-50MiB.bin');
      const data = randomBytes(50 * MiB);
      sourceDigest = sha256(data);
      await writeFile(source, data);
    });

    it('keeps 50 MiB byte-exact through one streamed PutObject and a download to file', async () => {
      const store = await open();
      const reports: ProgressUpdate[] = [];
      const put = await store.putFile('round-trip/single.bin', source, { sha256: true, progress: { report: (update) => reports.push(update) } });
      assert.equal(put.multipart, false);
      assert.equal(put.bytes, 50 * MiB);
      assert.equal(put.sha256, sourceDigest);
      assert.deepEqual(reports.at(-1), { bytes: 50 * MiB, totalBytes: 50 * MiB });

      const target = path.join(work, 'single.bin');
      const download = await store.downloadFile('round-trip/single.bin', target, { sha256: true });
      assert.equal(download.sha256, sourceDigest);
      assert.equal(await sha256OfFile(target), sourceDigest);
      assert.deepEqual((await readdir(work)).filter((name) => name.includes('partial')), []);
    });

    it('keeps 50 MiB byte-exact through a multipart upload of a stream', async () => {
      // Watched through the proxy (injecting nothing), to see the parts go up.
      const proxy = await startFaultProxy(server.endpoint);
      try {
        const store = await open({ endpoint: proxy.endpoint });
        const put = await store.putStream('round-trip/multipart.bin', createReadStream(source), { sha256: true });
        assert.equal(put.multipart, true);
        assert.equal(put.sha256, sourceDigest);
      } finally {
        await proxy.stop();
      }
      assert.equal(proxy.requests.filter((request) => request.startsWith('POST /backups/round-trip/multipart.bin?uploads')).length, 1);
      assert.equal(proxy.requests.filter((request) => /^PUT \/backups\/round-trip\/multipart\.bin\?.*partNumber=/.test(request)).length, 10);
      const store = await open();
      const { body, size } = await store.getStream('round-trip/multipart.bin');
      assert.equal(size, 50 * MiB);
      const hash = createHash('sha256');
      for await (const chunk of body) hash.update(chunk as Buffer);
      assert.equal(hash.digest('hex'), sourceDigest);
    });

    it('sends a file above the threshold as multipart', async () => {
      const store = await open({}, { multipartThresholdBytes: 20 * MiB });
      const put = await store.putFile('round-trip/large-file.bin', source);
      assert.equal(put.multipart, true);
      assert.equal((await store.head('round-trip/large-file.bin'))?.size, 50 * MiB);
    });

    it('refuses to overwrite an existing file unless asked', async () => {
      const store = await open();
      await store.putBytes('small/hello.txt', 'hello');
      const target = path.join(work, 'hello.txt');
      await writeFile(target, 'keep me');
      await assert.rejects(store.downloadFile('small/hello.txt', target), /already exists/);
      assert.equal(await readFile(target, 'utf8'), 'keep me');
      await store.downloadFile('small/hello.txt', target, { overwrite: true });
      assert.equal(await readFile(target, 'utf8'), 'hello');
    });
  });

  it('lists more than 1000 keys across pages', async () => {
    const store = await open();
    const limit = pLimit(32);
    const keys = Array.from({ length: 1050 }, (_, index) => `many/item-${String(index).padStart(5, '0')}`);
    await Promise.all(keys.map((key) => limit(() => store.putBytes(key, key))));
    const first = await store.listPage({ prefix: 'many/' });
    assert.equal(first.objects.length, 1000);
    assert.ok(first.nextToken, 'a truncated page hands out a continuation token');
    const listed: string[] = [];
    for await (const object of store.listObjects({ prefix: 'many/' })) listed.push(object.key);
    assert.deepEqual(listed, keys);
    const folders = await store.listPage({ delimiter: '/' });
    assert.ok(folders.prefixes.includes('many/'), `prefixes: ${folders.prefixes.join(', ')}`);
  });

  it('reports a missing bucket and a missing object by name', async () => {
    const store = await open({ bucket: 'no-such-bucket' });
    await assert.rejects(store.checkBucket(), (error: unknown) => kindOf('no-such-bucket')(error) && /'no-such-bucket' does not exist/.test((error as Error).message));
    await assert.rejects(store.listPage(), kindOf('no-such-bucket'));
    const present = await open();
    assert.equal(await present.head('nothing/here'), undefined);
    await assert.rejects(present.getStream('nothing/here'), kindOf('no-such-key'));
  });

  // s3rver checks the access key ID but not SigV4 signatures, so a wrong secret key cannot be tested here.
  it('reports an unknown access key as access denied, saying which part is wrong', async () => {
    const unknownKey = await open({ credentials: { accessKeyId: 'WRONG', secretAccessKey: 'S3RVER' } });
    await assert.rejects(unknownKey.listPage(), (error: unknown) => kindOf('access-denied')(error) && /access key ID is not known/.test((error as Error).message));
    await assert.rejects(unknownKey.putBytes('x', 'y'), kindOf('access-denied'));
  });

  describe('without credentials in the store', () => {
    const variables = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_EC2_METADATA_DISABLED'];
    const saved = Object.fromEntries(variables.map((name) => [name, process.env[name]]));
    beforeEach(async () => {
      for (const name of variables) delete process.env[name];
      // No ~/.aws of whoever runs the tests, and no EC2 metadata lookups.
      process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(work, 'no-credentials');
      process.env.AWS_CONFIG_FILE = path.join(work, 'no-config');
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
    });
    afterEach(() => {
      for (const name of variables) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    });

    it('takes them from the environment', async () => {
      process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
      const store = await open({ credentials: undefined });
      await store.putBytes('chain/env.txt', 'from the environment');
      assert.equal((await store.head('chain/env.txt'))?.size, 'from the environment'.length);
    });

    it('takes them from a named profile', async () => {
      const credentialsFile = path.join(work, 'aws-credentials');
      await writeFile(credentialsFile, `[backup]\naws_access_key_id = ${S3RVER_CREDENTIALS.accessKeyId}\naws_secret_access_key = ${S3RVER_CREDENTIALS.secretAccessKey}\n`, { mode: 0o600 });
      process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
      process.env.AWS_PROFILE = 'backup';
      const store = await open({ credentials: undefined });
      await store.checkBucket();
    });

    it('says so when the chain finds none', async () => {
      const store = await open({ credentials: undefined });
      await assert.rejects(store.checkBucket(), kindOf('no-credentials'));
    });
  });

  it('reports an endpoint nobody listens on as unreachable', async () => {
    const proxy = await startFaultProxy(server.endpoint);
    const closedEndpoint = proxy.endpoint;
    await proxy.stop();
    const store = await open({ endpoint: closedEndpoint });
    await assert.rejects(store.checkBucket(), (error: unknown) => kindOf('unreachable')(error) && (error as Error).message.includes(closedEndpoint));
  });

  describe('through a proxy that injects failures', () => {
    let proxy: FaultProxy;
    before(async () => {
      proxy = await startFaultProxy(server.endpoint);
    });
    after(() => proxy.stop());

    it('retries uploads and downloads that answer 500 or lose their connection', async () => {
      const store = await open({ endpoint: proxy.endpoint });
      const file = path.join(work, 'retried.bin');
      const data = randomBytes(3 * MiB);
      await writeFile(file, data);
      proxy.failNext('PUT', 1);
      const put = await store.putFile('retried/file.bin', file, { sha256: true });
      assert.equal(put.sha256, sha256(data));
      proxy.failNext('PUT', 1, 'drop-connection');
      await store.putBytes('retried/small.txt', 'small');
      proxy.failNext('GET', 1);
      const download = await store.downloadFile('retried/file.bin', path.join(work, 'retried-download.bin'));
      assert.equal(download.sha256, undefined, 'hashing is on request only');
      assert.equal(await sha256OfFile(download.path), sha256(data));
      proxy.failNext('GET', 1);
      assert.equal((await store.listPage({ prefix: 'retried/' })).objects.length, 2);
      const attempts = (request: string) => proxy.requests.filter((line) => line === request || line.startsWith(`${request}?`)).length;
      assert.equal(attempts('PUT /backups/retried/file.bin'), 2);
      assert.equal(attempts('PUT /backups/retried/small.txt'), 2);
      assert.equal(attempts('GET /backups/retried/file.bin'), 2);
    });

    it('gives up after the last attempt with the server error', async () => {
      const store = await open({ endpoint: proxy.endpoint });
      proxy.failNext('PUT', 3);
      await assert.rejects(store.putBytes('failing/x.txt', 'x'), (error: unknown) => kindOf('server')(error) && /HTTP 500 InternalError/.test((error as Error).message));
    });
  });

  describe('cancellation', () => {
    it('stops an upload, aborts it on the server and reports a cancellation', async () => {
      const store = await open();
      const controller = new AbortController();
      let sent = 0;
      // An endless stream: only the abort can end this upload.
      const endless = new Readable({
        read() {
          sent += MiB;
          if (sent === 12 * MiB) controller.abort();
          this.push(randomBytes(MiB));
        },
      });
      await assert.rejects(store.putStream('cancelled/upload.bin', endless, { signal: controller.signal }), CancelledError);
      assert.equal(await store.head('cancelled/upload.bin'), undefined);
    });

    it('stops a download and leaves no file behind', async () => {
      const store = await open();
      await store.putStream('cancelled/download.bin', Readable.from([randomBytes(20 * MiB)]));
      const folder = await mkdtemp(path.join(work, 'cancel-'));
      const controller = new AbortController();
      const download = store.downloadFile('cancelled/download.bin', path.join(folder, 'download.bin'), {
        signal: controller.signal,
        // The first report comes with the first chunk, long before the end.
        progress: { report: () => controller.abort() },
      });
      await assert.rejects(download, CancelledError);
      assert.deepEqual(await readdir(folder), []);
    });

    it("aborts each request in flight with its own call's signal, and no other", async () => {
      // A server that takes every request and never answers: only an abort ends a call.
      const held: Socket[] = [];
      const silent = createServer((socket) => held.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const store = await open({ endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` });
        const [first, second] = [new AbortController(), new AbortController()];
        const heading = store.head('held/a', first.signal);
        let putSettled = false;
        const putting = store.putBytes('held/b', 'contents', { signal: second.signal }).finally(() => (putSettled = true));
        putting.catch(() => undefined);
        for (let tries = 0; tries < 100 && held.length < 2; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(held.length, 2, 'both requests reached the server');
        first.abort();
        await assert.rejects(heading, CancelledError);
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(putSettled, false, 'the other call is still waiting for its answer');
        second.abort();
        await assert.rejects(putting, CancelledError);
      } finally {
        for (const socket of held) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('refuses to start when already cancelled', async () => {
      const store = await open();
      await assert.rejects(store.listPage({ signal: AbortSignal.abort() }), CancelledError);
    });
  });
});

describe('S3 client over https', function () {
  this.timeout(60_000);
  let server: RunningS3rver;
  const opened: S3Store[] = [];
  const open = async (overrides: Partial<S3StoreConfig>, warnings: string[] = []) => {
    const log = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} };
    const store = await openS3Store({ endpoint: server.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS }, ...overrides }, { log, settings: TEST_SETTINGS });
    opened.push(store);
    return store;
  };

  before(async () => {
    server = await startS3rver({ buckets: [BUCKET], tls: true });
  });
  after(async () => {
    for (const store of opened) store.dispose();
    await server?.stop();
  });

  it('verifies the endpoint against the configured CA', async () => {
    assert.match(server.endpoint, /^https:/);
    const store = await open({ caFile: server.caFile });
    await store.putBytes('tls/hello.txt', 'over TLS');
    const { body } = await store.getStream('tls/hello.txt');
    assert.equal(Buffer.concat(await body.toArray()).toString(), 'over TLS');
  });

  it('fails with a TLS error, naming the fix, when the CA is not given', async () => {
    const store = await open({});
    await assert.rejects(store.checkBucket(), (error: unknown) => kindOf('tls')(error) && /caFile/.test((error as Error).message));
  });

  it('connects without verification only when told to, and says so', async () => {
    const warnings: string[] = [];
    const store = await open({ insecure: true }, warnings);
    await store.checkBucket();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /TLS verification is off/);
  });

  it('names a CA file it cannot read', async () => {
    await assert.rejects(open({ caFile: '/nonexistent/ca.pem' }), /cannot read the CA file '\/nonexistent\/ca.pem'/);
  });
});
