import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EndpointsUnhealthyError, httpCheck, type HttpCheckResult } from '../../src/actions/http/check';
import { builtinActions, builtinBrowsers } from '../../src/actions';
import { builtinPaletteCommands } from '../../src/actions/paletteCommands';
import { createActionContext } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { Inventory } from '../../src/core/actions/spec';
import { BrowseModel } from '../../src/core/browse/model';
import { inventorySchema } from '../../src/core/inventory/schema';
import { REPO_ROOT } from '../support/paths';
import { hostilePayloads } from '../support/payloads';
import { selfSignedCertificate, type TestCertificate } from '../testbed/certificate';

/** C0 control characters, which could forge lines or colours in a message. */
const isControl = (character: string) => (character.codePointAt(0) ?? 0) < 0x20;

type Answer = (request: http.IncomingMessage, response: http.ServerResponse) => void;

interface TestServer {
  url: string;
  /** Request paths seen, in order. */
  seen: string[];
  /** How the next requests are answered; the last one given answers all after it. */
  answers: Answer[];
  close(): Promise<void>;
}

const status = (code: number): Answer => (_request, response) => response.writeHead(code).end();
/** Never answers: the request waits until the client gives up. */
const silence: Answer = () => {};

async function serve(certificate?: TestCertificate): Promise<TestServer> {
  const seen: string[] = [];
  const answers: Answer[] = [status(200)];
  const handler = (request: http.IncomingMessage, response: http.ServerResponse) => {
    seen.push(request.url ?? '');
    const answer = answers.length > 1 ? (answers.shift() as Answer) : (answers[0] as Answer);
    answer(request, response);
  };
  const server = certificate ? https.createServer({ key: certificate.key, cert: certificate.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${certificate ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    answers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('http.check against local HTTP and HTTPS servers with self-signed certificates', function () {
  this.timeout(60_000);
  let dir: string;
  let certificate: TestCertificate;
  let fingerprint: string;
  let s3Api: TestServer;
  let webUi: TestServer;
  let selfSigned: TestServer;

  const inventory = (endpoints: Record<string, unknown>) => inventorySchema.parse({ endpoints }) as Inventory;
  const check = (params: Record<string, unknown>, endpoints: Record<string, unknown> = {}) =>
    httpCheck.run(httpCheck.params.parse(params), createActionContext({ workspaceDir: dir, inventory: inventory(endpoints) })) as Promise<HttpCheckResult>;
  async function unhealthy(params: Record<string, unknown>, endpoints: Record<string, unknown> = {}): Promise<HttpCheckResult> {
    try {
      await check(params, endpoints);
    } catch (error) {
      assert.ok(error instanceof EndpointsUnhealthyError, String(error));
      return error.result;
    }
    assert.fail('the check passed');
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-http-check-'));
    certificate = await selfSignedCertificate(dir);
    fingerprint = new X509Certificate(certificate.cert).fingerprint256;
    [s3Api, webUi, selfSigned] = await Promise.all([serve(), serve(), serve(certificate)]);
    s3Api.answers.splice(0, 1, status(403));
  });
  afterEach(() => {
    for (const server of [s3Api, webUi, selfSigned]) {
      server.seen.length = 0;
      server.answers.splice(0, server.answers.length, status(server === s3Api ? 403 : 200));
    }
  });
  after(async () => {
    await Promise.all([s3Api, webUi, selfSigned].map((server) => server?.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it("checks the inventory's endpoints: an S3 API answering 403 is healthy, a self-signed one trusted by its pinned fingerprint", async () => {
    const result = await check({}, {
      'Garage S3 API': { url: s3Api.url, expect: 403 },
      'Garage Web UI': { url: `${webUi.url}/` },
      Backrest: { url: `${selfSigned.url}/health`, fingerprint: fingerprint.toLowerCase().replace(/:/g, '') },
    });
    assert.equal(result.healthy, 3);
    assert.deepEqual(
      result.endpoints.map((endpoint) => [endpoint.name, endpoint.status, endpoint.healthy, endpoint.tls, endpoint.attempts]),
      [
        ['Garage S3 API', 403, true, 'none', 1],
        ['Garage Web UI', 200, true, 'none', 1],
        ['Backrest', 200, true, 'pinned', 1],
      ],
    );
    assert.deepEqual(selfSigned.seen, ['/health']);
    assert.match(httpCheck.render(result), /^3 endpoints healthy\.\n\n\| endpoint \| url \|/);
  });

  it('refuses a certificate with another fingerprint before sending the request, and never tries again', async () => {
    const wrong = fingerprint.replace(/^../, fingerprint.startsWith('00') ? '11' : '00');
    const result = await unhealthy({ endpoints: [{ name: 'pbs', url: selfSigned.url, fingerprint: wrong }] });
    assert.equal(result.endpoints[0]?.attempts, 1);
    assert.match(result.endpoints[0]?.problem ?? '', new RegExp(`presented a certificate with SHA-256 fingerprint ${fingerprint}, not the pinned ${wrong}; refused`));
    assert.deepEqual(selfSigned.seen, [], 'the request never reached the server');
  });

  it('verifies TLS by default: a self-signed certificate without a pin is refused; `insecure` is an opt-out the result shows', async () => {
    const refused = await unhealthy({ endpoints: [selfSigned.url] }, { [selfSigned.url]: { url: selfSigned.url } });
    assert.match(refused.endpoints[0]?.problem ?? '', /its certificate is not trusted \(self[- ]signed certificate\); for a self-signed certificate give its SHA-256 fingerprint/);
    assert.equal(refused.endpoints[0]?.attempts, 1);
    const insecure = await check({ endpoints: [{ url: selfSigned.url, tls: { insecure: true } }] });
    assert.equal(insecure.endpoints[0]?.tls, 'insecure');
    assert.match(httpCheck.render(insecure), /NOT verified \(insecure\)/);
  });

  it('reports an endpoint that does not answer within its timeout, after a bounded number of attempts', async () => {
    webUi.answers.splice(0, 1, silence);
    const started = Date.now();
    const result = await unhealthy({ endpoints: [{ name: 'slow', url: webUi.url, timeoutSeconds: 0.3 }], attempts: 2 });
    assert.equal(result.endpoints[0]?.attempts, 2);
    assert.match(result.endpoints[0]?.problem ?? '', /^no answer from http:\/\/127\.0\.0\.1:\d+\/ within 0\.3 s \(after 2 attempts\)$/);
    assert.equal(webUi.seen.length, 2);
    assert.ok(Date.now() - started < 10_000);
  });

  it('retries a 5xx answer with backoff up to the attempts, and passes once the expected status comes', async () => {
    webUi.answers.splice(0, 1, status(503));
    const failing = await unhealthy({ endpoints: [{ name: 'web', url: webUi.url }] });
    assert.equal(failing.endpoints[0]?.attempts, 4, 'the default policy: 4 attempts in all');
    assert.equal(webUi.seen.length, 4);
    assert.match(failing.endpoints[0]?.problem ?? '', /^answered 503, expected 200 \(after 4 attempts\)$/);

    webUi.seen.length = 0;
    webUi.answers.splice(0, webUi.answers.length, status(502), status(503), status(200));
    const recovered = await check({ endpoints: [{ name: 'web', url: webUi.url }] });
    assert.deepEqual([recovered.endpoints[0]?.healthy, recovered.endpoints[0]?.attempts, webUi.seen.length], [true, 3, 3]);
  });

  it('does not retry an unexpected answer that is not a server error, and names every unhealthy endpoint', async () => {
    webUi.answers.splice(0, 1, status(404));
    await assert.rejects(
      check({}, { web: { url: webUi.url }, s3: { url: s3Api.url, expect: [200, 403] }, gone: { url: 'http://127.0.0.1:1/' } }),
      (error: unknown) => {
        assert.ok(error instanceof EndpointsUnhealthyError);
        assert.match(error.message, /^2 endpoints of 3 unhealthy:\n- web: answered 404, expected 200\n- gone: http:\/\/127\.0\.0\.1:1\/: connect ECONNREFUSED 127\.0\.0\.1:1 \(after 4 attempts\)$/);
        return true;
      },
    );
    assert.equal(webUi.seen.length, 1);
  });

  it('stops when cancelled, as a cancellation', async () => {
    webUi.answers.splice(0, 1, silence);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(httpCheck.run(httpCheck.params.parse({ endpoints: [{ url: webUi.url, timeoutSeconds: 30 }] }), createActionContext({ workspaceDir: dir, signal: controller.signal })), { name: 'CancelledError' });
  });

  it('names what is wrong with its input: an unknown endpoint, none at all, a fingerprint on plain http', async () => {
    await assert.rejects(check({ endpoints: ['nope'] }), /`endpoints.0`: no endpoint 'nope' under `endpoints:` in lifeboat.yaml/);
    await assert.rejects(check({}), /none given, and lifeboat.yaml has no `endpoints:` to check/);
    const plain = await unhealthy({ endpoints: [{ url: webUi.url, fingerprint }] });
    assert.match(plain.endpoints[0]?.problem ?? '', /a certificate fingerprint is given for http:\/\/127\.0\.0\.1:\d+, which is not https/);
    assert.throws(() => httpCheck.params.parse({ endpoints: [{ url: webUi.url, fingerprint: 'AA:BB' }] }), /SHA-256 certificate fingerprint/);
  });

  it('hostile names and paths reach the server as the path and the messages as printable text', async () => {
    webUi.answers.splice(0, 1, status(500));
    for (const payload of hostilePayloads(path.join(dir, 'sentinel'))) {
      const result = await unhealthy({ endpoints: [{ name: payload, url: `${webUi.url}/${encodeURIComponent(payload)}` }], attempts: 1 });
      // Node's server answers a request line of 64 KiB with 431 before any handler sees it.
      const reached = result.endpoints[0]?.status === 431 || webUi.seen.at(-1) === `/${encodeURIComponent(payload)}`;
      assert.ok(reached, `the path of ${JSON.stringify(payload.slice(0, 40))} reached the server as written`);
      assert.ok(![...(result.endpoints[0]?.problem ?? '')].some(isControl), 'the problem is printable');
      await assert.rejects(check({ endpoints: [payload] }), (error: Error) => ![...error.message].some((character) => character !== '\n' && isControl(character)));
    }
  });

  it('lists the endpoints in the Backups tree, an unverified certificate as a warning, each with Check', async () => {
    const endpoints = { 'Garage S3 API': { url: s3Api.url, expect: 403 }, lax: { url: selfSigned.url, tls: { insecure: true } }, pbs: { url: selfSigned.url, fingerprint } };
    const ctx = createActionContext({ workspaceDir: dir, inventory: inventory(endpoints) });
    const model = new BrowseModel(builtinBrowsers, new ActionRegistry(builtinActions), path.join(dir, 'lifeboat.yaml'));
    const nodes = model.roots(ctx).filter((node) => node.kind === 'endpoint');
    assert.deepEqual(nodes.map((node) => [node.path, node.description, node.status?.level ?? 'none']), [
      ['endpoints/Garage S3 API', `${s3Api.url} · expects 403`, 'none'],
      ['endpoints/lax', `${selfSigned.url} · expects 200`, 'warning'],
      ['endpoints/pbs', `${selfSigned.url} · expects 200`, 'none'],
    ]);
    assert.equal(nodes[2]?.facts.trust, 'certificate pinned');
    const check = nodes[0]?.operations.find((operation) => operation.id === 'check');
    assert.ok(check?.kind === 'action' && !check.destructive);
    const result = (await httpCheck.run(httpCheck.params.parse(check.params), ctx)) as HttpCheckResult;
    assert.deepEqual(result.endpoints.map((endpoint) => [endpoint.name, endpoint.status]), [['Garage S3 API', 403]]);
  });

  it('is the palette command Check Endpoints', () => {
    const command = builtinPaletteCommands.find((candidate) => candidate.command === 'lifeboat.checkEndpoints');
    assert.equal(command?.action, 'http.check');
    assert.deepEqual(command?.steps, []);
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
    assert.equal(manifest.contributes.commands.find((entry) => entry.command === 'lifeboat.checkEndpoints')?.title, 'Check Endpoints');
  });
});
