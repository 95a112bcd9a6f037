import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openS3Store, type S3Store } from '../../src/clients/s3';
import { s3Check, S3PermissionsMissingError, type S3CheckResult } from '../../src/actions/s3/check';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import type { ActionContext, Inventory } from '../../src/core/actions/spec';
import { CANARIES, canaryOccurrences } from '../support/canaries';
import { lifeboat, readRecords } from '../support/cli';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startS3PolicyProxy, type S3PolicyProxy } from '../testbed/s3PolicyProxy';

const BUCKET = 'snapshots';
/** An access key ID s3rver does not know, handed over as a secret. */
const UNKNOWN_KEY_ID = 'AKIA-never-shown-4f2a9c';
const USER_OBJECTS = { 'frigate/snapshots/front_door/2026-12-01/abc-1.jpg': 'jpeg bytes', 'notes.txt': 'keep me' };

type StoreEntry = NonNullable<Inventory['stores']>[string];

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('s3.check: the bucket and each permission, tried on a probe object against s3rver', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  let tlsServer: RunningS3rver;
  let policy: S3PolicyProxy;
  let work: string;
  let admin: S3Store;
  let unreachable: string;
  const contexts: ActionContext[] = [];

  const store = (endpoint: string, overrides: Partial<StoreEntry> = {}): StoreEntry => ({
    endpoint,
    region: 'us-east-1',
    bucket: BUCKET,
    credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3-secret' },
    ...overrides,
  });

  function context(entry: StoreEntry, secret: string = S3RVER_CREDENTIALS.secretAccessKey): ActionContext {
    const ctx = createActionContext({ workspaceDir: work, inventory: { stores: { backups: entry } }, secrets: environmentSecrets({ LIFEBOAT_SECRET_S3_SECRET: secret }) });
    contexts.push(ctx);
    return ctx;
  }

  async function check(ctx: ActionContext, params: Record<string, unknown> = {}): Promise<S3CheckResult> {
    return s3Check.run(s3Check.params.parse({ store: 'backups', ...params }), ctx) as Promise<S3CheckResult>;
  }

  async function failedCheck(ctx: ActionContext, params: Record<string, unknown> = {}): Promise<S3PermissionsMissingError> {
    try {
      await check(ctx, params);
    } catch (error) {
      assert.ok(error instanceof S3PermissionsMissingError, `expected the check to fail on permissions, got ${String(error)}`);
      return error;
    }
    assert.fail('the check passed');
  }

  const outcomes = (result: S3CheckResult) => result.rows.map((row) => [row.check, row.outcome, row.code ?? '']);

  async function keys(): Promise<string[]> {
    const found: string[] = [];
    for await (const object of admin.listObjects()) found.push(object.key);
    return found.sort();
  }

  before(async () => {
    server = await startS3rver({ buckets: [BUCKET] });
    tlsServer = await startS3rver({ buckets: [BUCKET], tls: true });
    policy = await startS3PolicyProxy(server.endpoint);
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-s3-check-'));
    admin = await openS3Store({ endpoint: server.endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { ...S3RVER_CREDENTIALS } });
    for (const [key, body] of Object.entries(USER_OBJECTS)) await admin.putBytes(key, body);
    unreachable = `http://127.0.0.1:${await closedPort()}`;
  });
  afterEach(() => policy.deny([]));
  after(async () => {
    for (const ctx of contexts) await ctx.clients.disposeAll();
    admin?.dispose();
    await policy?.stop();
    await server?.stop();
    await tlsServer?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('tries list, put, get and delete one by one, removes its probe and leaves every other object as it was', async () => {
    const result = await check(context(store(server.endpoint)), { prefix: 'frigate/snapshots/', permissions: ['list', 'put', 'get', 'delete'] });
    assert.deepEqual(outcomes(result), [
      ['bucket', 'ok', ''],
      ['list', 'ok', ''],
      ['put', 'ok', ''],
      ['get', 'ok', ''],
      ['delete', 'ok', ''],
    ]);
    assert.match(result.probeKey, /^frigate\/snapshots\/lifeboat-permission-check-\d{8}T\d{6}Z-[0-9a-f]{12}\.tmp$/);
    assert.deepEqual(await keys(), Object.keys(USER_OBJECTS).sort());
    assert.equal((await admin.getStream('notes.txt')).size, 'keep me'.length);
    const table = s3Check.render(result);
    assert.match(table, /every required permission works/);
    assert.match(table, /\| put \| s3:PutObject \| yes \| ok \|/);
  });

  it("checks what the snapshot mirror needs by default (list, put and get) and still removes the probe", async () => {
    const result = await check(context(store(server.endpoint)));
    assert.deepEqual(outcomes(result), [
      ['bucket', 'ok', ''],
      ['list', 'ok', ''],
      ['put', 'ok', ''],
      ['get', 'ok', ''],
      ['cleanup', 'ok', ''],
    ]);
    assert.deepEqual(await keys(), Object.keys(USER_OBJECTS).sort());
  });

  it('reports a permission a policy denies with the store\'s code and fails; the others are still tried', async () => {
    policy.deny(['s3:GetObject']);
    const error = await failedCheck(context(store(policy.endpoint)), { permissions: ['list', 'put', 'get', 'delete'] });
    assert.deepEqual(outcomes(error.result), [
      ['bucket', 'ok', ''],
      ['list', 'ok', ''],
      ['put', 'ok', ''],
      ['get', 'denied', 'AccessDenied'],
      ['delete', 'ok', ''],
    ]);
    assert.deepEqual(error.result.missing, ['get']);
    assert.match(error.message, /lacks 1 required permission: get\n- get \(s3:GetObject\): denied \[AccessDenied\]: access denied by http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await keys(), Object.keys(USER_OBJECTS).sort());
  });

  it('says so when the probe cannot be removed, naming its key, and fails only when delete was required', async () => {
    policy.deny(['s3:DeleteObject']);
    const result = await check(context(store(policy.endpoint)));
    const cleanup = result.rows.find((row) => row.check === 'cleanup');
    assert.equal(cleanup?.outcome, 'left behind');
    assert.equal(cleanup?.code, 'AccessDenied');
    assert.ok(cleanup?.detail.startsWith(`${result.probeKey} is still in the bucket`));
    assert.match(s3Check.render(result), /could not be removed/);

    const error = await failedCheck(context(store(policy.endpoint)), { permissions: ['put', 'delete'] });
    assert.deepEqual(error.result.missing, ['delete']);
    assert.match(error.message, /still in the bucket/);
    policy.deny([]);
    for (const key of await keys()) if (key.includes('lifeboat-permission-check-')) await admin.delete(key);
  });

  it('does not try get or delete when the probe could not be written', async () => {
    policy.deny(['s3:PutObject']);
    const error = await failedCheck(context(store(policy.endpoint)), { permissions: ['list', 'put', 'get', 'delete'] });
    assert.deepEqual(outcomes(error.result), [
      ['bucket', 'ok', ''],
      ['list', 'ok', ''],
      ['put', 'denied', 'AccessDenied'],
      ['get', 'skipped', ''],
      ['delete', 'skipped', ''],
    ]);
    assert.deepEqual(error.result.missing, ['put', 'get', 'delete']);
  });

  // s3rver checks the access key ID, not the SigV4 signature: an unknown key ID is the credential failure it can give.
  it('reports credentials the store does not know as InvalidAccessKeyId on every request, and the secrets nowhere', async () => {
    const ctx = createActionContext({
      workspaceDir: work,
      inventory: { stores: { backups: store(server.endpoint, { credentials: { accessKeyId: 'secret:key-id', secretAccessKey: 'secret:s3-secret' } }) } },
      secrets: environmentSecrets({ LIFEBOAT_SECRET_KEY_ID: UNKNOWN_KEY_ID, LIFEBOAT_SECRET_S3_SECRET: CANARIES.quoted }),
    });
    contexts.push(ctx);
    const error = await failedCheck(ctx, { permissions: ['list', 'put', 'get', 'delete'] });
    assert.deepEqual(outcomes(error.result).slice(0, 3), [
      ['bucket', 'denied', 'HTTP 403'],
      ['list', 'denied', 'InvalidAccessKeyId'],
      ['put', 'denied', 'InvalidAccessKeyId'],
    ]);
    assert.match(error.message, /the access key ID is not known to the store/);
    assert.deepEqual(canaryOccurrences(`${error.message}\n${JSON.stringify(error.result)}\n${s3Check.render(error.result)}`, { ...CANARIES, keyId: UNKNOWN_KEY_ID }), []);
  });

  it('stops after the bucket when it does not exist', async () => {
    const error = await failedCheck(context(store(server.endpoint, { bucket: 'no-such-bucket' })));
    assert.deepEqual(outcomes(error.result), [
      ['bucket', 'failed', 'NotFound'],
      ['list', 'skipped', ''],
      ['put', 'skipped', ''],
      ['get', 'skipped', ''],
      ['delete', 'not asked', ''],
    ]);
    assert.match(error.message, /bucket 'no-such-bucket' does not exist/);
  });

  it('stops after the bucket when the endpoint is unreachable, with the network code', async () => {
    const error = await failedCheck(context(store(unreachable)));
    assert.equal(error.result.rows[0]?.code, 'ECONNREFUSED');
    assert.match(error.result.rows[0]?.detail ?? '', /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.deepEqual(error.result.rows.slice(1).map((row) => row.outcome), ['skipped', 'skipped', 'skipped', 'not asked']);
  });

  it('trusts a self-signed certificate pinned by caFile, and refuses it without', async () => {
    const pinned = await check(context(store(tlsServer.endpoint, { caFile: tlsServer.caFile })));
    assert.ok(pinned.rows.every((row) => row.outcome === 'ok' || row.outcome === 'not asked'));
    const error = await failedCheck(context(store(tlsServer.endpoint)));
    assert.equal(error.result.rows[0]?.check, 'bucket');
    assert.match(error.result.rows[0]?.detail ?? '', /TLS verification of https:\/\/127\.0\.0\.1:\d+ failed .*set the store's caFile/);
    assert.deepEqual(error.result.rows.slice(1, 3).map((row) => row.outcome), ['skipped', 'skipped']);
  });

  it('refuses a prefix with a .. segment or a control character, naming the field', () => {
    for (const prefix of ['../frigate/', 'frigate/../../etc/', 'frigate/\u001b[31m/', 'a\nb/', '/frigate/']) {
      const parsed = s3Check.params.safeParse({ store: 'backups', prefix });
      assert.ok(!parsed.success, `accepted ${JSON.stringify(prefix)}`);
      assert.deepEqual(parsed.error.issues[0]?.path, ['prefix']);
    }
    assert.ok(s3Check.params.safeParse({ store: 'backups', prefix: 'frigate/snap..shots/' }).success, 'two dots inside a name are a name');
    assert.ok(!s3Check.params.safeParse({ store: 'backups', permissions: ['put', 'acl'] }).success);
  });

  it('runs from a runbook on the CLI: a failure is a clean error and no secret reaches the output or the run record', async () => {
    const workspace = await mkdtemp(path.join(work, 'cli-'));
    await writeFile(
      path.join(workspace, 'lifeboat.yaml'),
      `stores:\n  good:\n    endpoint: ${server.endpoint}\n    bucket: ${BUCKET}\n    credentials: { accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}, secretAccessKey: secret:s3-secret }\n  wrong:\n    endpoint: ${server.endpoint}\n    bucket: ${BUCKET}\n    credentials: { accessKeyId: secret:wrong-key-id, secretAccessKey: secret:s3-secret }\n`,
    );
    await writeFile(path.join(workspace, 'check.runbook.md'), '# Check\n\n```lifeboat\naction: s3.check\nstore: good\nprefix: frigate/snapshots/\npermissions: [list, put, get, delete]\n```\n\n```lifeboat\naction: s3.check\nstore: wrong\n```\n');
    const env = { LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey, LIFEBOAT_SECRET_WRONG_KEY_ID: UNKNOWN_KEY_ID };
    const run = await lifeboat(['run', 'check.runbook.md', '--yes'], { cwd: workspace, env });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout + run.stderr, /\| delete \| s3:DeleteObject \| yes \| ok \|/);
    assert.match(run.stdout + run.stderr, /cell 3 \(s3\.check\): S3 store wrong .* lacks 3 required permissions: list, put, get/);
    assert.match(run.stdout + run.stderr, /InvalidAccessKeyId/);
    assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at .*\.js:\d+/, 'no stack trace');
    const records = await readRecords(workspace);
    assert.deepEqual(records.map((record) => record.status), ['succeeded', 'failed']);
    assert.deepEqual(canaryOccurrences(`${run.stdout}\n${run.stderr}\n${JSON.stringify(records)}`, { keyId: UNKNOWN_KEY_ID }), []);
  });
});
