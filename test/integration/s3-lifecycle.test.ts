import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as S3Sdk from '@aws-sdk/client-s3';
import { s3LifecycleGet, s3LifecycleRemove, s3LifecycleSet, type LifecycleGetResult, type LifecycleRemoveResult, type LifecycleSetResult } from '../../src/actions/s3/lifecycle';
import { createActionContext, environmentSecrets } from '../../src/core/actions/context';
import { PlanHandOver } from '../../src/core/actions/handOver';
import type { ActionContext, ActionPlan, Inventory } from '../../src/core/actions/spec';
import { canaryOccurrences } from '../support/canaries';
import { lifeboat, readRecords } from '../support/cli';
import { REPO_ROOT } from '../support/paths';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startLifecycleStandIn, type LifecycleStandIn } from '../testbed/s3LifecycleStandIn';

// The SDK is used directly here too (to set rules up as someone else would): its Node 20 notice is not news.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const BUCKET = 'snapshots';
/** The seed's example: snapshots expire after 30 days. */
const SEED_RULE = { rule: 'Delete old snapshots', prefix: 'frigate/snapshots/', days: 30 };
/** Rules someone else made, which Lifeboat must write back as they are. */
const OTHER_RULES: S3Sdk.LifecycleRule[] = [
  { ID: 'logs-to-glacier', Status: 'Enabled', Filter: { And: { Prefix: 'logs/', Tags: [{ Key: 'class', Value: 'audit' }] } }, Transitions: [{ Days: 90, StorageClass: 'GLACIER' }] },
  { ID: 'abort-uploads', Status: 'Disabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } },
];

type StoreEntry = NonNullable<Inventory['stores']>[string];

function sdkClient(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string } = { ...S3RVER_CREDENTIALS }): S3Sdk.S3Client {
  return new S3Sdk.S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', maxAttempts: 1 });
}

async function s3Code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { name: string }).name;
  }
  return 'no error';
}

/** A raw, unsigned request: what the SDK would never send. */
function rawRequest(endpoint: string, method: string, pathAndQuery: string, body: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${endpoint}${pathAndQuery}`, { method, headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('S3 lifecycle rules', function () {
  this.timeout(120_000);
  let server: RunningS3rver;
  let standIn: LifecycleStandIn;
  let work: string;
  let sdk: S3Sdk.S3Client;

  before(async () => {
    server = await startS3rver({ buckets: [BUCKET, 'other'] });
    standIn = await startLifecycleStandIn(server.endpoint);
    work = await mkdtemp(path.join(tmpdir(), 'lifeboat-s3-lifecycle-'));
    sdk = sdkClient(standIn.endpoint);
  });
  after(async () => {
    sdk?.destroy();
    await standIn?.stop();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  describe('the stand-in answers as the AWS S3 API documents (conformance, with the AWS SDK and raw requests)', () => {
    afterEach(async () => {
      await sdk.send(new S3Sdk.DeleteBucketLifecycleCommand({ Bucket: 'other' }));
    });

    it('has no configuration at first: GetBucketLifecycleConfiguration is 404 NoSuchLifecycleConfiguration', async () => {
      assert.equal(await s3Code(sdk.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: 'other' }))), 'NoSuchLifecycleConfiguration');
    });

    it('keeps what PutBucketLifecycleConfiguration writes and gives it back, rule for rule; DeleteBucketLifecycle removes it', async () => {
      const rules: S3Sdk.LifecycleRule[] = [...OTHER_RULES, { ID: 'legacy', Status: 'Enabled', Filter: { Prefix: 'a&b/<c>/' }, Expiration: { Days: 3 } }];
      await sdk.send(new S3Sdk.PutBucketLifecycleConfigurationCommand({ Bucket: 'other', LifecycleConfiguration: { Rules: rules } }));
      const answer = await sdk.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: 'other' }));
      assert.deepEqual(answer.Rules, rules);
      const deleted = await sdk.send(new S3Sdk.DeleteBucketLifecycleCommand({ Bucket: 'other' }));
      assert.equal(deleted.$metadata.httpStatusCode, 204);
      assert.equal(await s3Code(sdk.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: 'other' }))), 'NoSuchLifecycleConfiguration');
    });

    it('refuses duplicate IDs, a rule without an action, non-positive days and a rule without a filter, as S3 does', async () => {
      const put = (Rules: S3Sdk.LifecycleRule[]) => s3Code(sdk.send(new S3Sdk.PutBucketLifecycleConfigurationCommand({ Bucket: 'other', LifecycleConfiguration: { Rules } })));
      assert.equal(await put([OTHER_RULES[0] as S3Sdk.LifecycleRule, OTHER_RULES[0] as S3Sdk.LifecycleRule]), 'InvalidArgument');
      assert.equal(await put([{ ID: 'nothing', Status: 'Enabled', Filter: { Prefix: 'x/' } }]), 'InvalidRequest');
      assert.equal(await put([{ ID: 'zero', Status: 'Enabled', Filter: { Prefix: 'x/' }, Expiration: { Days: 0 } }]), 'InvalidArgument');
      assert.equal(await put([{ ID: 'unfiltered', Status: 'Enabled', Expiration: { Days: 1 } }]), 'MalformedXML');
      assert.equal(await s3Code(sdk.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: 'other' }))), 'NoSuchLifecycleConfiguration', 'nothing refused was kept');
    });

    it('needs an integrity header on PUT that matches the body (Content-MD5 here), and refuses XML that is not well formed', async () => {
      const body = '<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>x/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>';
      const missing = await rawRequest(standIn.endpoint, 'PUT', '/other?lifecycle', body);
      assert.equal(missing.status, 400);
      assert.match(missing.body, /<Code>InvalidRequest<\/Code><Message>Missing required header for this request: Content-MD5/);
      const wrong = await rawRequest(standIn.endpoint, 'PUT', '/other?lifecycle', body, { 'content-md5': createHash('md5').update('other').digest('base64') });
      assert.match(wrong.body, /<Code>BadDigest<\/Code>/);
      const right = await rawRequest(standIn.endpoint, 'PUT', '/other?lifecycle', body, { 'content-md5': createHash('md5').update(body).digest('base64') });
      assert.equal(right.status, 200, right.body);
      const broken = '<LifecycleConfiguration><Rule></LifecycleConfiguration>';
      const malformed = await rawRequest(standIn.endpoint, 'PUT', '/other?lifecycle', broken, { 'content-md5': createHash('md5').update(broken).digest('base64') });
      assert.match(malformed.body, /<Code>MalformedXML<\/Code>/);
    });

    it("leaves authentication and the bucket to s3rver: an unknown key and a missing bucket get s3rver's own answers", async () => {
      const stranger = sdkClient(standIn.endpoint, { accessKeyId: 'STRANGER', secretAccessKey: 'x' });
      try {
        assert.equal(await s3Code(stranger.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: 'other' }))), 'InvalidAccessKeyId');
      } finally {
        stranger.destroy();
      }
      assert.equal(await s3Code(sdk.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: 'no-such-bucket' }))), 'NoSuchBucket');
      // Object requests pass through to s3rver untouched.
      await sdk.send(new S3Sdk.PutObjectCommand({ Bucket: 'other', Key: 'a.txt', Body: 'a' }));
      assert.equal((await sdk.send(new S3Sdk.HeadObjectCommand({ Bucket: 'other', Key: 'a.txt' }))).ContentLength, 1);
    });
  });

  describe('s3.lifecycle.get, .set and .remove, through the AWS SDK against the stand-in', () => {
    let ctx: ActionContext;
    const store = (endpoint: string): StoreEntry => ({ endpoint, region: 'us-east-1', bucket: BUCKET, credentials: { accessKeyId: S3RVER_CREDENTIALS.accessKeyId, secretAccessKey: 'secret:s3-secret' } });

    async function plan(action: typeof s3LifecycleSet, params: Record<string, unknown>, handOver?: PlanHandOver): Promise<ActionPlan> {
      return action.plan(action.params.parse({ store: 'backups', ...params }), handOver ? { ...ctx, handOver } : ctx);
    }
    async function run<Result>(action: typeof s3LifecycleSet, params: Record<string, unknown>, handOver?: PlanHandOver): Promise<Result> {
      return (await action.run(action.params.parse({ store: 'backups', ...params }), handOver ? { ...ctx, handOver } : ctx)) as Result;
    }
    const rulesNow = async () => (await sdk.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }))).Rules;
    const putRules = (Rules: S3Sdk.LifecycleRule[]) => sdk.send(new S3Sdk.PutBucketLifecycleConfigurationCommand({ Bucket: BUCKET, LifecycleConfiguration: { Rules } }));

    before(() => {
      ctx = createActionContext({ workspaceDir: work, inventory: { stores: { backups: store(standIn.endpoint) } }, secrets: environmentSecrets({ LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey }) });
    });
    beforeEach(async () => {
      await sdk.send(new S3Sdk.DeleteBucketLifecycleCommand({ Bucket: BUCKET }));
    });
    after(async () => {
      await ctx?.clients.disposeAll();
    });

    it('shows a bucket without rules as such', async () => {
      const result = await run<LifecycleGetResult>(s3LifecycleGet, {});
      assert.deepEqual(result.rules, []);
      assert.match(s3LifecycleGet.render(result), /has no lifecycle rules: nothing expires by itself/);
    });

    it("adds the seed's expiration rule: a plan that creates, not destructive, then the rule in the bucket", async () => {
      const planned = await plan(s3LifecycleSet, SEED_RULE);
      assert.equal(planned.destructive, false);
      assert.deepEqual(planned.operations.map((operation) => [operation.kind, operation.target]), [['create', 'rule Delete old snapshots (enabled): prefix frigate/snapshots/: expire after 30 days']]);
      const result = await run<LifecycleSetResult>(s3LifecycleSet, SEED_RULE);
      assert.equal(result.change, 'added');
      assert.deepEqual(await rulesNow(), [{ ID: 'Delete old snapshots', Status: 'Enabled', Filter: { Prefix: 'frigate/snapshots/' }, Expiration: { Days: 30 } }]);
      const shown = await run<LifecycleGetResult>(s3LifecycleGet, {});
      assert.deepEqual(shown.rules, [{ id: 'Delete old snapshots', enabled: true, prefix: 'frigate/snapshots/', filter: 'prefix frigate/snapshots/', expirationDays: 30, actions: 'expire after 30 days' }]);
      assert.match(s3LifecycleGet.render(shown), /\| Delete old snapshots \| Enabled \| prefix frigate\/snapshots\/ \| expire after 30 days \|/);
    });

    it('writes nothing when the rule is already set', async () => {
      await run(s3LifecycleSet, SEED_RULE);
      const puts = () => standIn.requests.filter((request) => request.startsWith('PUT /snapshots?lifecycle')).length;
      const before = puts();
      const planned = await plan(s3LifecycleSet, SEED_RULE);
      assert.equal(planned.destructive, false);
      assert.match(planned.operations[0]?.detail ?? '', /already set/);
      const result = await run<LifecycleSetResult>(s3LifecycleSet, SEED_RULE);
      assert.equal(result.change, 'unchanged');
      assert.equal(puts(), before);
    });

    it('replaces the rule of the same ID as a destructive change that shows what it replaces, keeping the other rules as they were', async () => {
      await putRules([OTHER_RULES[0] as S3Sdk.LifecycleRule, { ID: SEED_RULE.rule, Status: 'Enabled', Filter: { Prefix: SEED_RULE.prefix }, Expiration: { Days: 30 } }, OTHER_RULES[1] as S3Sdk.LifecycleRule]);
      const planned = await plan(s3LifecycleSet, { ...SEED_RULE, days: 14 });
      assert.equal(planned.destructive, true);
      assert.deepEqual(planned.operations.map((operation) => [operation.kind, operation.target, operation.detail]), [
        ['overwrite', 'rule Delete old snapshots (enabled): prefix frigate/snapshots/: expire after 14 days', 'replaces rule Delete old snapshots (enabled): prefix frigate/snapshots/: expire after 30 days'],
        ['read', '2 other rules kept unchanged', 'logs-to-glacier, abort-uploads'],
      ]);
      const result = await run<LifecycleSetResult>(s3LifecycleSet, { ...SEED_RULE, days: 14 });
      assert.equal(result.change, 'replaced');
      assert.equal(result.replaced?.expirationDays, 30);
      assert.deepEqual(await rulesNow(), [OTHER_RULES[0], { ID: SEED_RULE.rule, Status: 'Enabled', Filter: { Prefix: SEED_RULE.prefix }, Expiration: { Days: 14 } }, OTHER_RULES[1]]);
      assert.match(s3LifecycleSet.render(result), /replaced rule Delete old snapshots .*30 days\. 2 other rules kept unchanged: logs-to-glacier, abort-uploads\./);
    });

    it('writes its rule in the older rule-level Prefix form when the other rules use it (S3 refuses a mix)', async () => {
      await putRules([{ ID: 'old-style', Status: 'Enabled', Prefix: 'tmp/', Expiration: { Days: 1 } }]);
      await run(s3LifecycleSet, SEED_RULE);
      assert.deepEqual(await rulesNow(), [
        { ID: 'old-style', Status: 'Enabled', Prefix: 'tmp/', Expiration: { Days: 1 } },
        { ID: SEED_RULE.rule, Status: 'Enabled', Prefix: SEED_RULE.prefix, Expiration: { Days: 30 } },
      ]);
    });

    it('refuses to write when the rules changed after the plan was shown', async () => {
      await putRules([OTHER_RULES[1] as S3Sdk.LifecycleRule]);
      const handOver = new PlanHandOver();
      await plan(s3LifecycleSet, SEED_RULE, handOver);
      await putRules([OTHER_RULES[1] as S3Sdk.LifecycleRule, { ID: SEED_RULE.rule, Status: 'Enabled', Filter: { Prefix: 'else/' }, Expiration: { Days: 2 } }]);
      await assert.rejects(run(s3LifecycleSet, SEED_RULE, handOver), /changed after the plan was shown; nothing was written/);
      assert.equal((await rulesNow())?.[1]?.Filter?.Prefix, 'else/');
    });

    it('removes one rule as a destructive change and keeps the others; the last one removed deletes the configuration', async () => {
      await putRules([OTHER_RULES[1] as S3Sdk.LifecycleRule, { ID: SEED_RULE.rule, Status: 'Enabled', Filter: { Prefix: SEED_RULE.prefix }, Expiration: { Days: 30 } }]);
      const planned = await plan(s3LifecycleRemove as typeof s3LifecycleSet, { rule: SEED_RULE.rule });
      assert.equal(planned.destructive, true);
      assert.equal(planned.operations[0]?.kind, 'delete');
      const removed = await run<LifecycleRemoveResult>(s3LifecycleRemove as typeof s3LifecycleSet, { rule: SEED_RULE.rule });
      assert.equal(removed.removed?.expirationDays, 30);
      assert.deepEqual(await rulesNow(), [OTHER_RULES[1]]);
      const nothing = await plan(s3LifecycleRemove as typeof s3LifecycleSet, { rule: SEED_RULE.rule });
      assert.equal(nothing.destructive, false);
      await run(s3LifecycleRemove as typeof s3LifecycleSet, { rule: 'abort-uploads' });
      assert.equal(await s3Code(sdk.send(new S3Sdk.GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }))), 'NoSuchLifecycleConfiguration');
    });

    it('refuses a prefix with a .. segment or a control character and a rule ID with a control character, naming the field', () => {
      for (const [params, field] of [
        [{ ...SEED_RULE, prefix: 'frigate/../' }, 'prefix'],
        [{ ...SEED_RULE, prefix: 'frigate/\u0000/' }, 'prefix'],
        [{ ...SEED_RULE, rule: 'rule\u001b[2J' }, 'rule'],
        [{ ...SEED_RULE, rule: 'x'.repeat(256) }, 'rule'],
        [{ ...SEED_RULE, days: 0 }, 'days'],
      ] as const) {
        const parsed = s3LifecycleSet.params.safeParse({ store: 'backups', ...params });
        assert.ok(!parsed.success, `accepted ${JSON.stringify(params)}`);
        assert.deepEqual(parsed.error.issues[0]?.path, [field]);
      }
    });

    it('fails cleanly on a store that does not exist in the inventory or a bucket that does not exist', async () => {
      await assert.rejects(s3LifecycleGet.run({ store: 'nowhere' }, ctx), /`store`: no S3 store 'nowhere' under `stores:` in lifeboat.yaml \(there are: backups\)/);
      const missing = createActionContext({ workspaceDir: work, inventory: { stores: { backups: { ...store(standIn.endpoint), bucket: 'no-such-bucket' } } }, secrets: ctx.secrets });
      try {
        await assert.rejects(s3LifecycleGet.run({ store: 'backups' }, missing), /bucket 'no-such-bucket' does not exist on http:\/\/127\.0\.0\.1:\d+/);
      } finally {
        await missing.clients.disposeAll();
      }
    });

    it('runbooks/frigate-s3-bucket-setup.runbook.md checks the mirror\'s permissions and sets the expiration rule beside the other rules, end to end on the CLI', async () => {
      const workspace = await mkdtemp(path.join(work, 'setup-'));
      const runbook = 'frigate-s3-bucket-setup.runbook.md';
      await copyFile(path.join(REPO_ROOT, 'runbooks', runbook), path.join(workspace, runbook));
      await writeFile(path.join(workspace, 'lifeboat.yaml'), `stores:\n  snapshots:\n    endpoint: ${standIn.endpoint}\n    bucket: ${BUCKET}\n    credentials: { accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}, secretAccessKey: secret:s3-secret }\n`);
      await putRules([OTHER_RULES[0] as S3Sdk.LifecycleRule]);
      const env = { LIFEBOAT_SECRET_S3_SECRET: S3RVER_CREDENTIALS.secretAccessKey };
      const first = await lifeboat(['run', runbook], { cwd: workspace, env });
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /\| put \| s3:PutObject \| yes \| ok \|/);
      assert.match(first.stdout, /\| cleanup \| s3:DeleteObject \| no \| ok \|/);
      assert.match(first.stdout, /\| logs-to-glacier \| Enabled \| prefix logs\/ and tag class=audit \| move to GLACIER after 90 days \|/);
      assert.deepEqual(await rulesNow(), [OTHER_RULES[0], { ID: 'Delete old snapshots', Status: 'Enabled', Filter: { Prefix: 'frigate/snapshots/' }, Expiration: { Days: 30 } }]);
      // Run again with other days: now it replaces a rule, which waits for --yes.
      const refused = await lifeboat(['run', runbook, '--param', 'days=60'], { cwd: workspace, env });
      assert.notEqual(refused.code, 0);
      assert.equal((await rulesNow())?.[1]?.Expiration?.Days, 30);
      const again = await lifeboat(['run', runbook, '--param', 'days=60', '--yes'], { cwd: workspace, env });
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.equal((await rulesNow())?.[1]?.Expiration?.Days, 60);
      assert.deepEqual((await readRecords(workspace)).filter((record) => record.status === 'succeeded').length, 4 + 2 + 4);
    });

    it('runs from a runbook on the CLI: the replacement needs --yes, and no secret reaches the output or the run record', async () => {
      const workspace = await mkdtemp(path.join(work, 'cli-'));
      await writeFile(path.join(workspace, 'lifeboat.yaml'), `stores:\n  backups:\n    endpoint: ${standIn.endpoint}\n    bucket: ${BUCKET}\n    credentials: { accessKeyId: secret:key-id, secretAccessKey: secret:s3-secret }\n`);
      await writeFile(path.join(workspace, 'expire.runbook.md'), `# Expire\n\n\`\`\`lifeboat\naction: s3.lifecycle.set\nstore: backups\nrule: ${SEED_RULE.rule}\nprefix: ${SEED_RULE.prefix}\ndays: 7\n\`\`\`\n\n\`\`\`lifeboat\naction: s3.lifecycle.get\nstore: backups\n\`\`\`\n`);
      await putRules([{ ID: SEED_RULE.rule, Status: 'Enabled', Filter: { Prefix: SEED_RULE.prefix }, Expiration: { Days: 30 } }]);
      const env = { LIFEBOAT_SECRET_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, LIFEBOAT_SECRET_S3_SECRET: 'sEcReT-never-shown-8c3e' };
      const refused = await lifeboat(['run', 'expire.runbook.md'], { cwd: workspace, env });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stdout + refused.stderr, /replaces rule Delete old snapshots \(enabled\): prefix frigate\/snapshots\/: expire after 30 days/);
      assert.equal((await rulesNow())?.[0]?.Expiration?.Days, 30, 'nothing written without --yes');
      const run = await lifeboat(['run', 'expire.runbook.md', '--yes'], { cwd: workspace, env });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /\| Delete old snapshots \| Enabled \| prefix frigate\/snapshots\/ \| expire after 7 days \|/);
      assert.equal((await rulesNow())?.[0]?.Expiration?.Days, 7);
      const records = await readRecords(workspace);
      assert.deepEqual(canaryOccurrences(`${refused.stdout}${refused.stderr}${run.stdout}${run.stderr}${JSON.stringify(records)}`, { secret: 'sEcReT-never-shown-8c3e' }), []);
    });
  });
});
