import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { parse, parseAllDocuments } from 'yaml';
import { frigateSnapshotsMirrorStatus } from '../../src/actions/frigate/mirrorStatus';
import { scheduleActions } from '../../src/actions/schedule';
import type { K8sInstallResult } from '../../src/actions/schedule/k8sInstall';
import { IMAGE_PROGRAM, manifestsFile, POD_WORKSPACE, type ScheduledRunbook } from '../../src/actions/schedule/k8sManifests';
import type { K8sStatusResult } from '../../src/actions/schedule/k8sStatus';
import { CUSTOM_RESOURCES, KubeClient, type KubeObject } from '../../src/clients/kube';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, ActionSpec } from '../../src/core/actions/spec';
import { loadInventory } from '../../src/core/workspace';
import { lifeboat } from '../support/cli';
import { addLifeboatImage, mirrorEvent, withMirrorLab } from '../support/clusterMirrorLab';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { S3RVER_CREDENTIALS } from '../testbed/s3rver';

const run = promisify(execFile);
const IMAGE = 'registry.example/lifeboat:test';

/** A key's time, as the mirror names it: YYYYMMDD_HHMMSS in UTC. */
const compactTime = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
const SECRET_VALUE = 'tok-3f9a-never-in-a-manifest';
const CRONJOB = { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob' };
const JOB = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };

const INVENTORY = (kubeconfig: string) => `# the homelab's clusters\nclusters:\n  prod:\n    kubeconfig: ${kubeconfig}   # the admin's kubeconfig\n  monit:\n    kubeconfig: ${kubeconfig}\nstores:\n  garage:\n    bucket: backups\n    credentials: { accessKeyId: garage-key, secretAccessKey: secret:garage_secret }\n`;

/** A runbook that proves where it ran: the secret's digest and the parameter in its workspace, the Velero backups read in-cluster. */
const NIGHTLY = [
  '---',
  'title: Nightly backup in the cluster',
  'params:',
  '  app: { type: string, default: shop }',
  '---',
  '',
  '```lifeboat',
  'action: shell',
  'script: printf %s "$TOKEN" | sha256sum | cut -c1-64 > token.sha256; printf %s "$LIFEBOAT_PARAM_APP" > app.txt',
  'env:',
  '  TOKEN: secret:api_token',
  '```',
  '',
  '```lifeboat',
  'action: velero.backups.list',
  'cluster: prod',
  '```',
  '',
].join('\n');
const BROKEN = '```bash\necho "disk full" >&2\nexit 3\n```\n';

function action(id: string): ActionSpec {
  const found = scheduleActions.find((candidate) => candidate.id === id);
  assert.ok(found, `action ${id} is registered`);
  return found;
}

describe('schedule.k8s.install and schedule.k8s.status: a runbook CronJob run by the simulated cluster with the packed CLI', function () {
  this.timeout(90_000);
  let sim: KubeApiSimulator;
  let kube: KubeClient;
  let workspace: string;
  let installed: string;
  const contexts: ActionContext[] = [];

  const context = async (): Promise<ActionContext> => {
    const ctx = createActionContext({ workspaceDir: workspace, inventory: await loadInventory(join(workspace, 'lifeboat.yaml'), { required: true }) });
    contexts.push(ctx);
    return ctx;
  };
  const install = async (params: Record<string, unknown>) => {
    const spec = action('schedule.k8s.install');
    return (await spec.run(spec.params.parse({ cluster: 'prod', image: IMAGE, ...params }), await context())) as K8sInstallResult;
  };
  const status = async (params: Record<string, unknown>) => {
    const spec = action('schedule.k8s.status');
    return (await spec.run(spec.params.parse({ cluster: 'prod', ...params }), await context())) as K8sStatusResult;
  };
  const podFile = (job: KubeObject, file: string) => {
    const runs = sim.jobs.pods.get(`lifeboat/${job.metadata.name}`) ?? [];
    return readFile(join(runs.at(-1)?.sandbox ?? '', POD_WORKSPACE, file), 'utf8');
  };

  before(async () => {
    requireFiles([[CLI, 'built by `node esbuild.config.mjs --tests`']]);
    sim = await KubeApiSimulator.start({ controllerStepMs: 5 });
    const kubeconfig = await sim.writeKubeconfig();
    kube = await KubeClient.connect({ kubeconfig });
    await kube.createObject(CUSTOM_RESOURCES.veleroBackupStorageLocation, 'velero', { apiVersion: 'velero.io/v1', kind: 'BackupStorageLocation', metadata: { name: 'default' }, spec: { provider: 'aws', default: true } });
    await kube.createObject(CUSTOM_RESOURCES.veleroBackup, 'velero', { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name: 'seeded-before-the-run' }, spec: { includedNamespaces: ['shop'] } });
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-schedule-k8s-'));
    await writeFile(join(workspace, 'lifeboat.yaml'), INVENTORY(kubeconfig));
    await mkdir(join(workspace, 'runbooks'));
    await writeFile(join(workspace, 'runbooks', 'nightly.runbook.md'), NIGHTLY);
    await writeFile(join(workspace, 'runbooks', 'broken.runbook.md'), BROKEN);
    installed = await addLifeboatImage(sim, workspace, IMAGE);
  });

  after(async () => {
    for (const ctx of contexts) await ctx.clients.disposeAll();
    await sim?.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it('refuses to apply while the Secret the runbook reads is missing, naming its keys and never a value', async () => {
    const spec = action('schedule.k8s.install');
    const params = spec.params.parse({ cluster: 'prod', image: IMAGE, runbook: 'runbooks/nightly.runbook.md', secret: 'lifeboat-secrets', params: { app: 'shop' } });
    const plan = await spec.plan(params, await context());
    assert.match(plan.summary, /Apply CronJob lifeboat\/nightly \(0 3 \* \* \*\) on cluster 'prod' running: lifeboat run nightly.runbook.md --param app=shop/);
    assert.match(plan.summary, /Secret 'lifeboat-secrets' must hold the keys api_token; it may also read garage_secret/);
    assert.deepEqual(plan.operations.map((operation) => `${operation.kind} ${operation.target}`), ['read Secret lifeboat/lifeboat-secrets', 'create ConfigMap lifeboat/nightly-runbook', 'create CronJob lifeboat/nightly']);
    await assert.rejects(install({ runbook: 'runbooks/nightly.runbook.md', secret: 'lifeboat-secrets' }), /secret: there is no Secret 'lifeboat-secrets' in namespace lifeboat\. .*kubectl -n lifeboat create secret generic lifeboat-secrets --from-literal=api_token=…/);
    sim.jobs.addSecret('lifeboat', 'lifeboat-secrets', { other: 'x' });
    await assert.rejects(install({ runbook: 'runbooks/nightly.runbook.md', secret: 'lifeboat-secrets' }), /has no key api_token, which the runbook reads/);
    await assert.rejects(install({ runbook: 'runbooks/nightly.runbook.md' }), /secret: the runbook reads secret:api_token; name the Kubernetes Secret that holds it/);
    await assert.rejects(kube.request('CronJob', (sdk, config) => config.makeApiClient(sdk.BatchV1Api).readNamespacedCronJob({ namespace: 'lifeboat', name: 'nightly' })), /not found/);
  });

  it('applies the ConfigMap and a Forbid CronJob with history limits; the Job controller runs the runbook in-cluster with the installed CLI, and status reports the last successful Job and its age', async () => {
    sim.jobs.addSecret('lifeboat', 'lifeboat-secrets', { api_token: SECRET_VALUE });
    const result = await install({ runbook: 'runbooks/nightly.runbook.md', secret: 'lifeboat-secrets', params: { app: 'shop' }, successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1, yes: true });
    assert.deepEqual([result.mode, result.configMap, result.workload, result.secretKeys, result.optionalSecretKeys, result.missingOptionalKeys], ['applied', 'created', 'created', ['api_token'], ['garage_secret'], ['garage_secret']]);
    const cronJob = sim.objects.get(CRONJOB, 'lifeboat', 'nightly');
    const spec = cronJob.spec as { concurrencyPolicy: string; successfulJobsHistoryLimit: number; failedJobsHistoryLimit: number; jobTemplate: { spec: { backoffLimit: number; activeDeadlineSeconds: number; template: { spec: { containers: { command: string[]; workingDir: string; env: unknown[] }[] } } } } };
    assert.deepEqual([spec.concurrencyPolicy, spec.successfulJobsHistoryLimit, spec.failedJobsHistoryLimit, spec.jobTemplate.spec.backoffLimit, spec.jobTemplate.spec.activeDeadlineSeconds], ['Forbid', 2, 1, 0, 360 * 60]);
    const container = spec.jobTemplate.spec.template.spec.containers[0];
    assert.deepEqual(container?.command, ['lifeboat', 'run', 'nightly.runbook.md', '--param', 'app=shop', '--yes']);
    assert.deepEqual(container?.env, [
      { name: 'LIFEBOAT_SECRET_API_TOKEN', valueFrom: { secretKeyRef: { name: 'lifeboat-secrets', key: 'api_token', optional: false } } },
      { name: 'LIFEBOAT_SECRET_GARAGE_SECRET', valueFrom: { secretKeyRef: { name: 'lifeboat-secrets', key: 'garage_secret', optional: true } } },
    ]);
    const configMap = await kube.request('ConfigMap', (sdk, config) => config.makeApiClient(sdk.CoreV1Api).readNamespacedConfigMap({ namespace: 'lifeboat', name: 'nightly-runbook' }));
    assert.equal(configMap.data?.['nightly.runbook.md'], NIGHTLY);
    const podInventory = parse(configMap.data?.['lifeboat.yaml'] ?? '') as { clusters: Record<string, unknown> };
    assert.deepEqual(podInventory.clusters.prod, { inCluster: true }, 'the runbook reaches its own cluster with the pod\'s service account');
    assert.match(configMap.data?.['lifeboat.yaml'] ?? '', /^# the homelab's clusters\n/, 'the workspace\'s inventory, comments kept');
    assert.ok(!JSON.stringify([cronJob, configMap]).includes(SECRET_VALUE), 'no secret value is in the CronJob or the ConfigMap');

    const before = await status({ name: 'nightly' });
    assert.equal(before.cronJobs[0]?.state, 'never ran');

    const job = await sim.jobs.runCronJob('lifeboat', 'nightly');
    assert.ok(job, 'the CronJob was due and not suspended');
    const pod = sim.jobs.pods.get(`lifeboat/${job.metadata.name}`)?.at(-1);
    assert.equal(pod?.phase, 'Succeeded', pod?.log);
    assert.deepEqual((job.status?.conditions as { type: string }[]).map((condition) => condition.type), ['SuccessCriteriaMet', 'Complete']);
    assert.equal((await podFile(job, 'token.sha256')).trim(), createHash('sha256').update(SECRET_VALUE).digest('hex'), 'the Secret\'s key arrived as LIFEBOAT_SECRET_API_TOKEN');
    assert.match(pod?.log ?? '', /seeded-before-the-run/, 'the runbook read the Velero backups through the in-cluster service account');
    const records = await readdir(join(pod?.sandbox ?? '', POD_WORKSPACE, '.lifeboat', 'runs'));
    assert.equal(records.length, 1, 'the run is recorded in the pod\'s workspace');
    assert.ok(!pod?.log.includes(SECRET_VALUE));

    const after = await status({ name: 'nightly' });
    const reported = after.cronJobs[0];
    assert.equal(reported?.state, 'ok');
    assert.equal(reported?.lastSuccessfulJob?.name, job.metadata.name);
    assert.equal(reported?.lastSuccessfulTime, new Date(String(job.status?.completionTime)).toISOString());
    assert.equal(reported?.runbook, 'runbooks/nightly.runbook.md');
    const rendered = action('schedule.k8s.status').render?.(after) ?? '';
    assert.match(rendered, new RegExp(`\\| nightly \\| runbooks/nightly.runbook.md \\| ok \\| 0 3 \\* \\* \\* \\|.*\\| \\d+ s ago \\| ${job.metadata.name} \\|`));
  });

  it('skips a run while one is active (Forbid) and keeps only as many finished Jobs as the history limits say', async () => {
    const minute = 60_000;
    const start = Date.now() + 10 * minute;
    const [first, skipped] = await Promise.all([sim.jobs.runCronJob('lifeboat', 'nightly', new Date(start)), sim.jobs.runCronJob('lifeboat', 'nightly', new Date(start + minute))]);
    assert.ok(first);
    assert.equal(skipped, undefined, 'Forbid: the next run is skipped while the first is active');
    await sim.jobs.runCronJob('lifeboat', 'nightly', new Date(start + 2 * minute));
    const jobs = sim.objects.list(JOB, 'lifeboat', () => true).items as KubeObject[];
    const owned = jobs.filter((job) => job.metadata.name.startsWith('nightly-'));
    assert.equal(owned.length, 2, `successfulJobsHistoryLimit 2 keeps two of three: ${owned.map((job) => job.metadata.name).join(', ')}`);
    assert.ok(owned.every((job) => (job.metadata.ownerReferences as { kind: string; name: string }[])[0]?.name === 'nightly'));
  });

  it('shows a failing runbook as failed, with the Job\'s reason', async () => {
    await install({ runbook: 'runbooks/broken.runbook.md' });
    const job = await sim.jobs.runCronJob('lifeboat', 'broken');
    assert.ok(job);
    assert.match(sim.jobs.pods.get(`lifeboat/${job.metadata.name}`)?.at(-1)?.log ?? '', /disk full/);
    const reported = (await status({})).cronJobs;
    assert.deepEqual(reported.map((cronJob) => [cronJob.name, cronJob.state]), [['broken', 'failed'], ['nightly', 'ok']]);
    assert.equal(reported[0]?.lastJob?.reason, 'BackoffLimitExceeded: Job has reached the specified backoff limit');
    assert.equal(reported[0]?.lastSuccessfulJob, undefined);
  });

  it('re-applying replaces the CronJob in place, keeping its status', async () => {
    const again = await install({ runbook: 'runbooks/nightly.runbook.md', secret: 'lifeboat-secrets', schedule: '30 2 * * *', timeZone: 'Europe/Berlin', params: { app: 'shop' }, successfulJobsHistoryLimit: 2, failedJobsHistoryLimit: 1, yes: true });
    assert.deepEqual([again.configMap, again.workload], ['replaced', 'replaced']);
    const cronJob = sim.objects.get(CRONJOB, 'lifeboat', 'nightly');
    assert.deepEqual([cronJob.spec?.schedule, cronJob.spec?.timeZone], ['30 2 * * *', 'Europe/Berlin']);
    assert.ok(cronJob.status?.lastSuccessfulTime, 'the controller\'s status stays');

    // A last success from before the time the schedule was last due (02:30 in Berlin, within a day) is stale.
    sim.objects.patch(CRONJOB, 'lifeboat', 'nightly', { status: { lastSuccessfulTime: new Date(Date.now() - 3 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z') } });
    const [stale] = (await status({ name: 'nightly' })).cronJobs;
    assert.deepEqual([stale?.state, stale?.stale, stale?.timeZone], ['stale', true, 'Europe/Berlin']);
    assert.ok(stale?.dueSince && Date.now() - Date.parse(stale.dueSince) <= 86_400_000 + 3_600_000, stale?.dueSince);
    assert.deepEqual((await status({ name: 'absent' })).cronJobs.map((cronJob) => [cronJob.name, cronJob.state]), [['absent', 'not installed']]);
  });

  it('GitOps: writes the ConfigMap and CronJob file and lists it in kustomization.yaml, every other byte kept; applied as Flux would, it runs', async () => {
    const folder = join(workspace, 'kubernetes', 'apps', 'lifeboat');
    await mkdir(folder, { recursive: true });
    const kustomization = '---\n# lifeboat in the cluster\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./namespace.yaml   # first\n  - "./secret.sops.yaml"\n\n# keep this comment\n';
    await writeFile(join(folder, 'kustomization.yaml'), kustomization);
    const result = await install({ runbook: 'runbooks/nightly.runbook.md', name: 'nightly-gitops', namespace: 'gitops', secret: 'lifeboat-secrets', params: { app: 'shop' }, folder: 'kubernetes/apps/lifeboat' });
    assert.equal(result.file, 'kubernetes/apps/lifeboat/lifeboat/nightly-gitops-cronjob.yaml');
    assert.equal(await readFile(join(folder, 'kustomization.yaml'), 'utf8'), kustomization.replace('  - "./secret.sops.yaml"\n', '  - "./secret.sops.yaml"\n  - ./lifeboat/nightly-gitops-cronjob.yaml\n'));
    const documents = parseAllDocuments(await readFile(join(workspace, result.file ?? ''), 'utf8')).map((document) => document.toJS() as KubeObject);
    assert.deepEqual(documents.map((document) => document.kind), ['ConfigMap', 'CronJob']);
    assert.ok(!JSON.stringify(documents).includes(SECRET_VALUE));
    sim.jobs.addSecret('gitops', 'lifeboat-secrets', { api_token: SECRET_VALUE });
    for (const document of documents) {
      const plural = document.kind === 'ConfigMap' ? 'configmaps' : 'cronjobs';
      const path = document.kind === 'ConfigMap' ? `/api/v1/namespaces/gitops/${plural}` : `/apis/batch/v1/namespaces/gitops/${plural}`;
      sim.jobs.route('POST', path, document);
    }
    const job = await sim.jobs.runCronJob('gitops', 'nightly-gitops');
    assert.equal(sim.jobs.pods.get(`gitops/${job?.metadata.name ?? ''}`)?.at(-1)?.phase, 'Succeeded');
  });

  it('refuses an unknown cluster, hostile names and unfit runbooks before anything is written; parameter values stay data', async () => {
    await assert.rejects(install({ cluster: 'staging', runbook: 'runbooks/nightly.runbook.md' }), /`cluster` names 'staging', which is not under `clusters:`/);
    const spec = action('schedule.k8s.install');
    for (const name of ['Nightly', 'a_b', 'x'.repeat(53), '-x', 'x;rm -rf /', '$(id)']) assert.equal(spec.params.safeParse({ cluster: 'prod', runbook: 'r.md', name }).success, false, name);
    for (const secret of ['Bad', 'a/b', '../x', '']) assert.equal(spec.params.safeParse({ cluster: 'prod', runbook: 'r.md', secret }).success, false, secret);
    for (const runbook of ['/etc/passwd', '../outside.runbook.md']) assert.equal(spec.params.safeParse({ cluster: 'prod', runbook }).success, false, runbook);
    for (const schedule of ['CRON_TZ=UTC 0 3 * * *', '@reboot', '0 3 * *', '0 25 * * *']) assert.equal(spec.params.safeParse({ cluster: 'prod', runbook: 'r.md', schedule }).success, false, schedule);
    await writeFile(join(workspace, 'runbooks', "it's mine.runbook.md"), BROKEN);
    await assert.rejects(install({ runbook: "runbooks/it's mine.runbook.md", name: 'mine' }), /runbook: the file name "it's mine.runbook.md" cannot be a ConfigMap key/);
    await assert.rejects(install({ runbook: "runbooks/it's mine.runbook.md" }), /name: the runbook's file name does not make a CronJob name/);

    // A hostile parameter value reaches the runbook as one argument and one environment variable, never as code.
    const hostile = `$(touch pwned) \`touch pwned\`; touch pwned ' " \\ \n--yes`;
    await install({ runbook: 'runbooks/nightly.runbook.md', name: 'hostile', secret: 'lifeboat-secrets', params: { app: hostile } });
    const job = await sim.jobs.runCronJob('lifeboat', 'hostile');
    assert.ok(job);
    assert.equal(await podFile(job, 'app.txt'), hostile);
    const sandbox = sim.jobs.pods.get(`lifeboat/${job.metadata.name}`)?.at(-1)?.sandbox ?? '';
    assert.equal(existsSync(join(sandbox, POD_WORKSPACE, 'pwned')), false);
  });

  it('writes any parameter value and runbook text into manifests that read back as written (property)', () => {
    const base: Omit<ScheduledRunbook, 'params' | 'runbookText'> = {
      kind: 'CronJob',
      name: 'prop',
      namespace: 'lifeboat',
      schedule: '0 3 * * *',
      image: IMAGE,
      runbook: 'runbooks/prop.runbook.md',
      inventoryText: 'clusters:\n  prod:\n    inCluster: true\n',
      yes: false,
      secrets: { steps: [], inventory: [] },
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      timeoutMinutes: 360,
    };
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }).filter((value) => !value.includes('\0')), fc.string({ unit: 'binary' }), (value, runbookText) => {
        const [configMap, cronJob] = parseAllDocuments(manifestsFile({ ...base, params: { app: value }, runbookText })).map((document) => document.toJS() as { data?: Record<string, string>; spec?: { jobTemplate: { spec: { template: { spec: { containers: { command: string[] }[] } } } } } });
        assert.equal(configMap?.data?.['prop.runbook.md'], runbookText);
        assert.deepEqual(cronJob?.spec?.jobTemplate.spec.template.spec.containers[0]?.command, ['lifeboat', 'run', 'prop.runbook.md', '--param', `app=${value}`]);
      }),
      { numRuns: 300 },
    );
  });

  it('a Deployment\'s pod template changes with its runbook or lifeboat.yaml, so the cluster replaces a pod that runs an old one', () => {
    const spec: ScheduledRunbook = { kind: 'Deployment', name: 'watch', namespace: 'lifeboat', image: IMAGE, runbook: 'watch.runbook.md', runbookText: 'one', inventoryText: 'clusters: {}\n', params: {}, yes: false, secrets: { steps: [], inventory: [] }, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, timeoutMinutes: 360 };
    const template = (changed: Partial<ScheduledRunbook>) => (parseAllDocuments(manifestsFile({ ...spec, ...changed }))[1]?.toJS() as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations;
    assert.deepEqual(template({}), template({}));
    assert.notDeepEqual(template({ runbookText: 'two' }), template({}));
    assert.notDeepEqual(template({ inventoryText: 'clusters: { other: {} }\n' }), template({}));
  });

  it('in-cluster: a cluster entry `inCluster: true` needs a pod, and takes no kubeconfig', async () => {
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    delete process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_PORT;
    try {
      await assert.rejects(KubeClient.connect({ inCluster: true }), /`inCluster: true` needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT/);
    } finally {
      if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
    const file = join(workspace, 'bad-inventory.yaml');
    await writeFile(file, 'clusters:\n  prod:\n    inCluster: true\n    kubeconfig: /etc/kube\n');
    await assert.rejects(loadInventory(file, { required: true }), /`inCluster: true` uses the pod's service account: leave out `kubeconfig` and `context`/);
  });

  it('runs the snapshot mirror as a CronJob in the cluster: the pod mirrors Frigate\'s snapshots to S3 holding a Lease through its service account', async () => {
    await withMirrorLab(sim, { image: IMAGE, events: 6, cell: [] }, async ({ bucketKeys, install }) => {
      await install({ schedule: '*/10 * * * *' });
      const job = await sim.jobs.runCronJob('lifeboat', 'snapshot-mirror');
      assert.ok(job);
      const pod = sim.jobs.pods.get(`lifeboat/${job.metadata.name}`)?.at(-1);
      assert.equal(pod?.phase, 'Succeeded', pod?.log);
      assert.match(pod?.log ?? '', /6 snapshots uploaded/);
      assert.equal((await bucketKeys()).length, 6);
    });
  });

  it('runs the watching snapshot mirror as a Deployment: its pod mirrors new events as they come, keeps its state on a PersistentVolumeClaim across pods, and stops when the pod is deleted', async () => {
    await withMirrorLab(sim, { image: IMAGE, events: 6, cell: ['watch: true', 'pollSeconds: 0.2'] }, async ({ frigate, bucketKeys, install, mirrorStatus }) => {
      const waitForKeys = async (count: number) => {
        for (let tries = 0; tries < 300 && (await bucketKeys()).length < count; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal((await bucketKeys()).length, count);
      };
      // Run by a CronJob so far: a Deployment of that name is refused until the CronJob is gone, as both would run it.
      await install({ name: 'mirror-watch', schedule: '*/10 * * * *' });
      await assert.rejects(install({ kind: 'Deployment', name: 'mirror-watch' }), /name: CronJob lifeboat\/mirror-watch already runs a runbook there; both would run it\. Give another `name`, or delete the CronJob first \(kubectl -n lifeboat delete cronjob mirror-watch\)/);
      await kube.request('CronJob', (sdk, config) => config.makeApiClient(sdk.BatchV1Api).deleteNamespacedCronJob({ namespace: 'lifeboat', name: 'mirror-watch' }));
      await assert.rejects(install({ kind: 'Deployment', name: 'mirror-watch', schedule: '*/10 * * * *' }), /^Error: schedule: a Deployment runs the runbook without end and has no schedule/);
      sim.objects.workloads.add('v1', 'PersistentVolumeClaim', 'lifeboat', 'mirror-state');
      const installed = await install({ kind: 'Deployment', name: 'mirror-watch', persistentVolumeClaim: 'mirror-state' });
      assert.deepEqual([installed.kind, installed.workload, installed.schedule], ['Deployment', 'created', undefined]);
      const deployment = await kube.request('Deployment', (sdk, config) => config.makeApiClient(sdk.AppsV1Api).readNamespacedDeployment({ namespace: 'lifeboat', name: 'mirror-watch' }));
      const pod = deployment.spec?.template.spec;
      assert.deepEqual([deployment.spec?.replicas, deployment.spec?.strategy?.type, pod?.restartPolicy], [1, 'Recreate', 'Always']);
      assert.equal(pod?.volumes?.find((volume) => volume.persistentVolumeClaim)?.persistentVolumeClaim?.claimName, 'mirror-state');
      assert.deepEqual(pod?.containers[0]?.volumeMounts?.find((mount) => mount.name === 'state')?.mountPath, `${POD_WORKSPACE}/.lifeboat`);
      await assert.rejects(install({ name: 'mirror-watch' }), /name: Deployment lifeboat\/mirror-watch already runs a runbook there; both would run it/);
      // Status finds it beside the CronJobs, as `kubectl get deployment` shows it.
      const reported = await status({ name: 'mirror-watch' });
      assert.deepEqual([reported.cronJobs, reported.deployments], [[], [{ name: 'mirror-watch', runbook: 'snapshot-mirror.runbook.md', readyReplicas: 1, replicas: 1, state: 'running' }]]);
      assert.ok((await status({})).deployments.some((deployment) => deployment.name === 'mirror-watch'));
      sim.objects.workloads.heldBack.add('Deployment lifeboat/mirror-stuck');
      await install({ kind: 'Deployment', name: 'mirror-stuck' });
      assert.deepEqual((await status({ name: 'mirror-stuck' })).deployments.map((deployment) => [deployment.state, deployment.readyReplicas, deployment.reason]), [['not ready', 0, 'MinimumReplicasUnavailable: Deployment does not have minimum availability.']]);

      const first = sim.jobs.runDeployment('lifeboat', 'mirror-watch');
      await waitForKeys(6);
      for (let index = 6; index < 9; index++) frigate.events.push(mirrorEvent(index));
      await waitForKeys(9);
      // Show Mirror Status reads the state where the mirror keeps it: in the pod that runs it.
      const inCluster = { cluster: 'prod', namespace: 'lifeboat', name: 'mirror-watch' };
      let shown = await mirrorStatus({ inCluster });
      for (let tries = 0; tries < 100 && shown.tracked < 9; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        shown = await mirrorStatus({ inCluster });
      }
      assert.deepEqual([shown.tracked, shown.running, shown.health, shown.failedEvents, shown.cursor], [9, true, 'OK', [], new Date(mirrorEvent(8).start_time * 1000).toISOString()]);
      assert.match(shown.statePath, /^\/workspace\/\.lifeboat\/frigate-mirror\/home--snaps--[0-9a-f]{8}\/mirror-state\.json in pod lifeboat\/mirror-watch-[0-9a-f]{5} on cluster 'prod'$/);
      assert.match(frigateSnapshotsMirrorStatus.render?.(shown) ?? '', /\(running now\)\.\n\nTracked Events: 9, Failed Events: 0, Health: OK\n/);
      // A state path is an argument of the commands run in the pod, never a script.
      const hostile = await mirrorStatus({ inCluster, state: '$(touch pwned)`touch pwned`; touch pwned --help' });
      assert.match(hostile.problem ?? '', /^there is no state file \/workspace\/\$\(touch pwned\)`touch pwned`; touch pwned --help in pod lifeboat\/mirror-watch-/);
      // Deleted (a node drained, a rollout): the pod stops on SIGTERM, its state saved on the claim.
      await first.stop();
      const gone = await mirrorStatus({ inCluster });
      assert.deepEqual([gone.problem, gone.health, gone.running], ["none of the pods of 'mirror-watch' in namespace lifeboat on cluster 'prod' is running, and the state is read in a running one", 'unknown', false]);
      const stopped = first.pods.at(-1);
      assert.equal(stopped?.exitCode, 130, stopped?.log);
      assert.match(stopped?.log ?? '', /Stopping the running step/);
      // The first pod found no state, the claim being new.
      assert.match(stopped?.log ?? '', /there is no state file \S+; it was rebuilt from the listing/);
      assert.deepEqual((await readdir(stopped?.sandbox ?? '', { recursive: true })).filter((entry) => entry.includes('pwned')), [], 'nothing ran the hostile path');
      const stateFolder = join(stopped?.sandbox ?? '', POD_WORKSPACE, '.lifeboat', 'frigate-mirror');
      const [stateName] = await readdir(stateFolder);
      const state = JSON.parse(await readFile(join(stateFolder, stateName ?? '', 'mirror-state.json'), 'utf8')) as { cursor: number };
      assert.equal(state.cursor, mirrorEvent(8).start_time);

      // The next pod reads that state: nothing is rebuilt from the listing, and only what is new is sent.
      for (let index = 9; index < 11; index++) frigate.events.push(mirrorEvent(index));
      const second = sim.jobs.runDeployment('lifeboat', 'mirror-watch');
      await waitForKeys(11);
      await second.stop();
      assert.equal(second.pods.length, 1);
      assert.doesNotMatch(second.pods[0]?.log ?? '', /rebuilt|no state file/);
      assert.deepEqual((await bucketKeys()).sort(), Array.from({ length: 11 }, (_, index) => `frigate/snapshots/porch/2025-12-06/${mirrorEvent(index).id}-${compactTime(mirrorEvent(index).start_time)}.jpg`).sort());
    });
  });

  it('runbook frigate-s3-mirror-cluster: checks the bucket, runs the bundled mirror runbook watching in a Deployment, and shows its pod running; the pod mirrors new events', async () => {
    await withMirrorLab(sim, { image: IMAGE, events: 4, cell: [] }, async ({ frigate, workspace: mirrorWorkspace, bucketKeys }) => {
      for (const name of ['frigate-s3-mirror-cluster.runbook.md', 'frigate-s3-mirror.runbook.md']) await copyFile(join(REPO_ROOT, 'runbooks', name), join(mirrorWorkspace, name));
      const params = ['cluster=prod', 'secret=mirror-secrets', `image=${IMAGE}`, 'frigate=home', 'store=snaps', 'prefix=frigate/snapshots'].flatMap((param) => ['--param', param]);
      const ran = await lifeboat(['run', 'frigate-s3-mirror-cluster.runbook.md', ...params, '--json'], { cwd: mirrorWorkspace, env: { LIFEBOAT_SECRET_S3: S3RVER_CREDENTIALS.secretAccessKey } });
      assert.equal(ran.code, 0, ran.stderr);
      const steps = ran.stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; status: string; result: Record<string, unknown> });
      assert.deepEqual(steps.map((step) => [step.action, step.status]), [['s3.check', 'succeeded'], ['schedule.k8s.install', 'succeeded'], ['schedule.k8s.status', 'succeeded']]);
      assert.deepEqual(steps[1]?.result.command, [IMAGE_PROGRAM, 'run', 'frigate-s3-mirror.runbook.md', '--param', 'frigate=home', '--param', 'store=snaps', '--param', 'prefix=frigate/snapshots', '--param', 'watch=true']);
      assert.deepEqual((steps[2]?.result as unknown as K8sStatusResult).deployments.map((deployment) => [deployment.name, deployment.state]), [['frigate-s3-mirror', 'running']]);

      const pod = sim.jobs.runDeployment('lifeboat', 'frigate-s3-mirror');
      try {
        for (let tries = 0; tries < 300 && (await bucketKeys()).length < 4; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
        frigate.events.push(mirrorEvent(4));
        for (let tries = 0; tries < 300 && (await bucketKeys()).length < 5; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        await pod.stop();
      }
      assert.equal((await bucketKeys()).length, 5, pod.pods.at(-1)?.log);
      assert.deepEqual(pod.pods.map((run) => run.exitCode), [130]);
    });
  });

  it('the Dockerfile builds the image the CronJob runs: the packed CLI installed as `lifeboat`, its entrypoint, workspace and a numeric non-root user', async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const instruction = (name: string) => [...dockerfile.matchAll(new RegExp(`^${name} (.+)$`, 'gm'))].map((match) => match[1] ?? '');
    assert.deepEqual(instruction('FROM'), ['node:20-slim']);
    assert.deepEqual(JSON.parse(instruction('ENTRYPOINT')[0] ?? ''), [IMAGE_PROGRAM], 'the CronJob\'s command starts with the image\'s entrypoint');
    assert.deepEqual(instruction('WORKDIR'), [POD_WORKSPACE]);
    assert.match(instruction('USER')[0] ?? '', /^[1-9]\d*:[1-9]\d*$/, 'runAsNonRoot needs a numeric user');
    for (const tool of ['tar', 'gzip', 'openssh-client', 'restic', 'rclone', 'postgresql-client']) assert.match(dockerfile, new RegExp(`apt-get install [^\\n]* ${tool}( |$)`, 'm'), tool);
    const packageJson = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.ok(Object.hasOwn(packageJson.bin, IMAGE_PROGRAM), 'npm install -g puts the package\'s bin on the PATH under that name');
    const [copied] = instruction('COPY');
    const glob = new RegExp(`^${(copied ?? '').split(' ')[0]?.replace('.', '\\.').replace('*', '[^/]+')}$`);
    const packed = (await readdir(installed)).filter((file) => file.endsWith('.tgz'));
    assert.equal(packed.length, 1);
    assert.match(packed[0] ?? '', glob, 'the COPY takes the tarball `npm pack` makes');
    assert.match(await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8'), new RegExp(`^!${(copied ?? '').split(' ')[0]?.replace('.', '\\.').replace('*', '\\*')}$`, 'm'), 'the build context keeps the tarball');
    const { stdout } = await run(join(installed, 'usr', 'bin', IMAGE_PROGRAM), ['--version']);
    assert.match(stdout, /^lifeboat \d+\.\d+\.\d+/);
  });
});
