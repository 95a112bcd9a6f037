import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppsV1Api, BatchV1Api, CoreV1Api, V1Deployment } from '@kubernetes/client-node';
import { KubeClient, KubeError } from '../../src/clients/kube';
import type { KubeObject } from '../../src/clients/kube';
import type { SimObject } from '../testbed/kubeSimObjects';
import { CONTRACT_FIXTURES } from '../support/paths';
import { KubeApiSimulator } from '../testbed/kubeSim';

const CRONJOB = { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob' };
const JOB = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };
const IMAGE = 'registry.example/tools:1';

/** A CronJob whose one container runs `sh -c script` in the test image. */
function cronJob(name: string, script: string, spec: Record<string, unknown> = {}, container: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, labels: { app: name } },
    spec: {
      schedule: '*/5 * * * *',
      ...spec,
      jobTemplate: {
        metadata: { labels: { app: name }, annotations: { note: 'from the template' } },
        spec: { template: { spec: { restartPolicy: 'Never', ...podSpec, containers: [{ name: 'main', image: IMAGE, command: ['sh', '-c', script], ...container }] } } },
      },
    },
  };
}

describe('Kubernetes simulator: batch CronJobs and Jobs, ConfigMaps and Secrets, against kubernetes-api.md', function () {
  this.timeout(30_000);
  const contract = readFileSync(join(CONTRACT_FIXTURES, 'kubernetes-api.md'), 'utf8');
  const section = contract.slice(contract.indexOf('## Batch'));
  const named = new Set([...section.matchAll(/`([^`]+)`/g)].flatMap((match) => (match[1] ?? '').split(/[^A-Za-z0-9]+/)).filter(Boolean));
  let sim: KubeApiSimulator;
  let kube: KubeClient;
  const batch = <Result>(call: (api: BatchV1Api) => Promise<Result>) => kube.request('batch', (sdk, config) => call(config.makeApiClient(sdk.BatchV1Api)));
  const core = <Result>(call: (api: CoreV1Api) => Promise<Result>) => kube.request('core', (sdk, config) => call(config.makeApiClient(sdk.CoreV1Api)));
  const apps = <Result>(call: (api: AppsV1Api) => Promise<Result>) => kube.request('apps', (sdk, config) => call(config.makeApiClient(sdk.AppsV1Api)));
  const create = (body: ReturnType<typeof cronJob>) => sim.jobs.route('POST', '/apis/batch/v1/namespaces/jobs/cronjobs', body);
  const podsOf = (job: SimObject | undefined) => sim.jobs.pods.get(`jobs/${job?.metadata.name ?? ''}`) ?? [];

  before(async () => {
    sim = await KubeApiSimulator.start({ controllerStepMs: 5 });
    kube = await KubeClient.connect({ kubeconfig: await sim.writeKubeconfig() });
    sim.jobs.addImage(IMAGE, { programs: { sh: ['/bin/sh'] } });
  });

  after(async () => {
    await sim?.stop();
  });

  it('folds a Secret\'s stringData into base64 data, checks keys, and refuses a replace of a stale version', async () => {
    await core((api) => api.createNamespacedSecret({ namespace: 'jobs', body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { token: 's3cr3t-value' } } }));
    const secret = await core((api) => api.readNamespacedSecret({ namespace: 'jobs', name: 'creds' }));
    assert.deepEqual([secret.data, secret.stringData, secret.type], [{ token: Buffer.from('s3cr3t-value').toString('base64') }, undefined, 'Opaque']);
    await assert.rejects(core((api) => api.createNamespacedConfigMap({ namespace: 'jobs', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bad' }, data: { 'a b': 'x' } } })), (error: unknown) => error instanceof KubeError && error.failure === 'invalid');
    await core((api) => api.createNamespacedConfigMap({ namespace: 'jobs', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'files' }, data: { 'a.txt': 'one' } } }));
    const stored = await core((api) => api.readNamespacedConfigMap({ namespace: 'jobs', name: 'files' }));
    const replaced = await core((api) => api.replaceNamespacedConfigMap({ namespace: 'jobs', name: 'files', body: { ...stored, data: { 'a.txt': 'two' } } }));
    assert.notEqual(replaced.metadata?.resourceVersion, stored.metadata?.resourceVersion);
    await assert.rejects(core((api) => api.replaceNamespacedConfigMap({ namespace: 'jobs', name: 'files', body: { ...stored, data: { 'a.txt': 'three' } } })), (error: unknown) => error instanceof KubeError && error.failure === 'conflict');
    await assert.rejects(core((api) => api.readNamespacedSecret({ namespace: 'jobs', name: 'nope' })), (error: unknown) => error instanceof KubeError && error.failure === 'not-found');
  });

  it('defaults a CronJob as the API server does, and refuses a time zone in its schedule and a pod that restarts Always', async () => {
    await batch((api) => api.createNamespacedCronJob({ namespace: 'jobs', body: cronJob('defaults', 'true') }));
    const read = (await batch((api) => api.readNamespacedCronJob({ namespace: 'jobs', name: 'defaults' }))).spec;
    assert.deepEqual([read?.concurrencyPolicy, read?.suspend, read?.successfulJobsHistoryLimit, read?.failedJobsHistoryLimit], ['Allow', false, 3, 1]);
    const job = read?.jobTemplate.spec;
    assert.deepEqual([job?.backoffLimit, job?.completions, job?.parallelism, job?.completionMode, job?.suspend], [6, 1, 1, 'NonIndexed', false]);
    await assert.rejects(batch((api) => api.createNamespacedCronJob({ namespace: 'jobs', body: cronJob('zoned', 'true', { schedule: 'CRON_TZ=Europe/Berlin 0 3 * * *' }) })), /cannot use TZ or CRON_TZ in schedule, use timeZone field instead/);
    await assert.rejects(batch((api) => api.createNamespacedCronJob({ namespace: 'jobs', body: cronJob('always', 'true', {}, {}, { restartPolicy: 'Always' }) })), /restartPolicy: Required value: valid values: "OnFailure", "Never"/);
  });

  it('runs a due CronJob as its controller does: the Job named by the minute, owned, labelled, active while it runs, then Complete with lastSuccessfulTime', async () => {
    create(cronJob('nightly', 'sleep 0.3; echo done'));
    const scheduledAt = new Date('2026-12-06T03:00:20Z');
    const running = sim.jobs.runCronJob('jobs', 'nightly', scheduledAt);
    const during = sim.objects.get(CRONJOB, 'jobs', 'nightly');
    const name = `nightly-${Math.floor(scheduledAt.getTime() / 60_000)}`;
    assert.deepEqual((during.status?.active as { name: string }[]).map((reference) => reference.name), [name]);
    assert.equal(during.status?.lastScheduleTime, '2026-12-06T03:00:00Z');
    const job = await running;
    assert.ok(job);
    assert.equal(job.metadata.name, name);
    assert.deepEqual(job.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: during.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(job.metadata.annotations, { note: 'from the template', 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2026-12-06T03:00:00Z' });
    assert.equal(job.metadata.labels?.app, 'nightly');
    const template = (job.spec?.template as { metadata: { labels: Record<string, string> } }).metadata.labels;
    assert.deepEqual([template['batch.kubernetes.io/job-name'], template['job-name'], template['batch.kubernetes.io/controller-uid'], template['controller-uid']], [name, name, job.metadata.uid, job.metadata.uid]);
    assert.deepEqual(job.spec?.selector, { matchLabels: { 'batch.kubernetes.io/controller-uid': job.metadata.uid } });
    const status = job.status as { succeeded: number; active: number; completionTime: string; conditions: { type: string; reason: string; status: string }[] };
    assert.deepEqual([status.succeeded, status.active], [1, 0]);
    assert.deepEqual(status.conditions.map((condition) => [condition.type, condition.status, condition.reason]), [['SuccessCriteriaMet', 'True', 'CompletionsReached'], ['Complete', 'True', 'CompletionsReached']]);
    assert.equal(podsOf(job).at(-1)?.log, 'done\n');
    // A Job's pod stays listed once it has ended, with its phase, until the Job goes.
    assert.deepEqual((await kube.listPods('jobs', `job-name=${name}`)).map((pod) => [pod.name, pod.phase, pod.ready]), [[podsOf(job).at(-1)?.name, 'Succeeded', false]]);
    const after = sim.objects.get(CRONJOB, 'jobs', 'nightly');
    assert.equal(after.status?.active, undefined, 'no Job is active any more');
    assert.equal(after.status?.lastSuccessfulTime, status.completionTime);
    const listed = await batch((api) => api.listNamespacedJob({ namespace: 'jobs', labelSelector: 'app=nightly' }));
    assert.deepEqual(listed.items.map((item) => item.metadata?.name), [name]);
    // Every status field and condition the simulator writes is one the contract names.
    const keys = (value: unknown): string[] => (value && typeof value === 'object' ? Object.entries(value).flatMap(([key, inner]) => [...(Array.isArray(value) ? [] : [key]), ...keys(inner)]) : []);
    const unnamed = [...new Set([...keys(job.status), ...keys(after.status), ...status.conditions.flatMap((condition) => [condition.type, condition.reason])])].filter((key) => !named.has(key));
    assert.deepEqual(unnamed, []);
  });

  it('skips a due run under Forbid while one is active, runs it under Allow, and runs nothing while suspended', async () => {
    create(cronJob('forbid', 'sleep 0.3', { concurrencyPolicy: 'Forbid' }));
    create(cronJob('allow', 'sleep 0.3'));
    create(cronJob('suspended', 'true', { suspend: true }));
    const minute = 60_000;
    const at = Date.parse('2026-12-06T04:00:00Z');
    const forbid = await Promise.all([sim.jobs.runCronJob('jobs', 'forbid', new Date(at)), sim.jobs.runCronJob('jobs', 'forbid', new Date(at + minute))]);
    assert.deepEqual(forbid.map((job) => job !== undefined), [true, false]);
    const allow = await Promise.all([sim.jobs.runCronJob('jobs', 'allow', new Date(at)), sim.jobs.runCronJob('jobs', 'allow', new Date(at + minute))]);
    assert.deepEqual(allow.map((job) => job !== undefined), [true, true]);
    assert.equal(await sim.jobs.runCronJob('jobs', 'suspended'), undefined);
  });

  it('counts failed pods up to backoffLimit, then fails the Job; stops one past its deadline; keeps only the history limits of finished Jobs; a manual Job is not active but its success counts', async () => {
    create(cronJob('flaky', 'echo "no disk" >&2; exit 4', { failedJobsHistoryLimit: 1 }, {}, {}));
    sim.objects.patch(CRONJOB, 'jobs', 'flaky', { spec: { jobTemplate: { spec: { backoffLimit: 2 } } } });
    const at = Date.parse('2026-12-06T05:00:00Z');
    const first = await sim.jobs.runCronJob('jobs', 'flaky', new Date(at));
    assert.equal(podsOf(first).length, 3, 'backoffLimit 2: three pods');
    assert.deepEqual(podsOf(first).map((pod) => [pod.phase, pod.exitCode, pod.log]), Array(3).fill(['Failed', 4, 'no disk\n']));
    const status = first?.status as { failed: number; succeeded?: number; completionTime?: string; conditions: { type: string; reason: string; message: string }[] };
    assert.deepEqual([status.failed, status.succeeded, status.completionTime], [3, undefined, undefined]);
    assert.deepEqual(status.conditions.map((condition) => [condition.type, condition.reason, condition.message]), [
      ['FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'],
      ['Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'],
    ]);
    const second = await sim.jobs.runCronJob('jobs', 'flaky', new Date(at + 60_000));
    const owned = () => (sim.objects.list(JOB, 'jobs', () => true).items as KubeObject[]).filter((job) => job.metadata.labels?.app === 'flaky').map((job) => job.metadata.name);
    assert.deepEqual(owned(), [second?.metadata.name], 'failedJobsHistoryLimit 1 keeps the newest failed Job');

    create(cronJob('manual', 'true'));
    const manual = await sim.jobs.createJobFromCronJob('jobs', 'manual', 'manual-by-hand');
    assert.equal(manual.metadata.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual');
    const cron = sim.objects.get(CRONJOB, 'jobs', 'manual');
    assert.deepEqual([cron.status?.active, cron.status?.lastScheduleTime, cron.status?.lastSuccessfulTime], [undefined, undefined, manual.status?.completionTime]);

    create(cronJob('hangs', 'sleep 30'));
    sim.objects.patch(CRONJOB, 'jobs', 'hangs', { spec: { jobTemplate: { spec: { activeDeadlineSeconds: 1 } } } });
    const started = Date.now();
    const stopped = await sim.jobs.runCronJob('jobs', 'hangs');
    assert.ok(Date.now() - started < 10_000, 'stopped at its deadline, not after its sleep');
    assert.deepEqual((stopped?.status?.conditions as { type: string; reason: string; message: string }[]).map((condition) => [condition.type, condition.reason, condition.message]), [
      ['FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline'],
      ['Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline'],
    ]);
    assert.equal(podsOf(stopped).length, 1, 'no new pod after the deadline');

    await batch((api) => api.deleteNamespacedCronJob({ namespace: 'jobs', name: 'manual' }));
    assert.throws(() => sim.objects.get(JOB, 'jobs', 'manual-by-hand'), /not found/, 'the CronJob\'s Jobs go with it');
  });

  it('starts no container while a Secret key, a ConfigMap or the image is missing; mounts subPath files read-only; gives the pod its service account under CONTAINER_SANDBOX_MOUNT_POINT', async () => {
    const secretEnv = (key: string, optional: boolean) => ({ env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key, optional } } }] });
    create(cronJob('missing-key', 'true', {}, secretEnv('absent', false)));
    const waiting = await sim.jobs.runCronJob('jobs', 'missing-key');
    assert.deepEqual(podsOf(waiting).map((pod) => [pod.phase, pod.waiting?.reason, pod.waiting?.message]), [['Pending', 'CreateContainerConfigError', "couldn't find key absent in Secret jobs/creds"]]);
    assert.equal(waiting?.status?.active, 1, 'the Job stays active');
    create(cronJob('no-image', 'true', {}, { image: 'registry.example/missing:1' }));
    assert.equal(podsOf(await sim.jobs.runCronJob('jobs', 'no-image')).at(-1)?.waiting?.reason, 'ErrImagePull');

    const script = 'printf "%s|%s|%s|" "$TOKEN" "$OPTIONAL" "$(cat "$CONTAINER_SANDBOX_MOUNT_POINT/var/run/secrets/kubernetes.io/serviceaccount/namespace")"; cat conf/a.txt; printf "|%s:%s" "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT"';
    create(
      cronJob(
        'mounted',
        script,
        {},
        {
          workingDir: '/work',
          env: [...secretEnv('token', false).env, { name: 'OPTIONAL', valueFrom: { secretKeyRef: { name: 'creds', key: 'absent', optional: true } } }],
          volumeMounts: [
            { name: 'scratch', mountPath: '/work' },
            { name: 'files', mountPath: '/work/conf/a.txt', subPath: 'a.txt', readOnly: true },
          ],
        },
        { volumes: [{ name: 'scratch', emptyDir: {} }, { name: 'files', configMap: { name: 'files' } }] },
      ),
    );
    const job = await sim.jobs.runCronJob('jobs', 'mounted');
    const pod = podsOf(job).at(-1);
    assert.equal(pod?.log, `s3cr3t-value||jobs|two|127.0.0.1:${new URL(sim.url).port}`);
    assert.equal((await stat(join(pod?.sandbox ?? '', 'work', 'conf', 'a.txt'))).mode & 0o777, 0o444);
    const account = join(pod?.sandbox ?? '', 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount');
    assert.equal(await readFile(join(account, 'token'), 'utf8'), sim.token);
    assert.equal(await readFile(join(account, 'ca.crt'), 'utf8'), sim.certificate.cert);
    assert.equal(pod?.env.CONTAINER_SANDBOX_MOUNT_POINT, undefined, 'the container\'s own env holds only what its spec gives');
  });

  it('keeps a Deployment as the API server does, and runs its one pod as the kubelet does: again whenever it ends, anew when its template changes, its claim\'s volume kept across pods', async () => {
    const deployment = (name: string, script: string, pod: Record<string, unknown> = {}, selector: Record<string, string> = { app: name }): V1Deployment => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [{ name: 'main', image: IMAGE, command: ['sh', '-c', script], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'runs' } }],
            ...pod,
          },
        },
      },
    });
    const invalid = (error: unknown) => error instanceof KubeError && error.failure === 'invalid';
    await assert.rejects(apps((api) => api.createNamespacedDeployment({ namespace: 'apps', body: deployment('never', 'true', { restartPolicy: 'Never' }) })), invalid);
    await assert.rejects(apps((api) => api.createNamespacedDeployment({ namespace: 'apps', body: deployment('elsewhere', 'true', {}, { app: 'other' }) })), invalid);

    // Each run of the container adds a line to a file of the claim's volume, then ends.
    const counting = 'echo run >> "$CONTAINER_SANDBOX_MOUNT_POINT/data/runs"; exit 3';
    const created = await apps((api) => api.createNamespacedDeployment({ namespace: 'apps', body: deployment('counter', counting) }));
    assert.deepEqual([created.spec?.replicas, created.spec?.strategy?.type, created.spec?.revisionHistoryLimit, created.spec?.template.spec?.restartPolicy, created.metadata?.generation], [1, 'RollingUpdate', 10, 'Always', 1]);
    await assert.rejects(apps((api) => api.createNamespacedDeployment({ namespace: 'apps', body: deployment('counter', counting) })), (error: unknown) => error instanceof KubeError && error.failure === 'conflict');
    const read = await apps((api) => api.readNamespacedDeployment({ namespace: 'apps', name: 'counter' }));
    assert.deepEqual([read.status?.readyReplicas, read.status?.conditions?.[0]?.reason], [1, 'MinimumReplicasAvailable']);
    assert.deepEqual((await apps((api) => api.listNamespacedDeployment({ namespace: 'apps' }))).items.map((item) => item.metadata?.name), ['counter']);
    for (const key of [...Object.keys(created.spec ?? {}), created.spec?.strategy?.type ?? '']) assert.ok(named.has(key) || ['selector', 'template'].includes(key), `${key} is in the contract`);

    const missingClaim = sim.jobs.runDeployment('apps', 'counter');
    await missingClaim.stop();
    assert.deepEqual(missingClaim.pods.map((pod) => [pod.phase, pod.waiting?.message]), [['Pending', 'persistentvolumeclaim "runs" not found']]);

    sim.objects.workloads.add('v1', 'PersistentVolumeClaim', 'apps', 'runs');
    const running = sim.jobs.runDeployment('apps', 'counter');
    for (let tries = 0; tries < 200 && running.pods.length < 3; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(running.pods.length >= 3, 'started again after each end');
    assert.deepEqual(running.pods.slice(0, 3).map((pod) => [pod.phase, pod.exitCode]), [['Failed', 3], ['Failed', 3], ['Failed', 3]]);
    // Every pod wrote to the same volume.
    const volume = join(running.pods[0]?.sandbox ?? '', 'data', 'runs');
    assert.ok((await readFile(volume, 'utf8')).split('\n').filter(Boolean).length >= 3);

    // A new template: a stale replace is refused; the current one rolls out, and the running pod gives way to the new one.
    await assert.rejects(apps((api) => api.replaceNamespacedDeployment({ namespace: 'apps', name: 'counter', body: { ...deployment('counter', 'sleep 30'), metadata: { name: 'counter', resourceVersion: '0' } } })), (error: unknown) => error instanceof KubeError && error.failure === 'conflict');
    const current = await apps((api) => api.readNamespacedDeployment({ namespace: 'apps', name: 'counter' }));
    const replaced = await apps((api) => api.replaceNamespacedDeployment({ namespace: 'apps', name: 'counter', body: { ...deployment('counter', 'echo new >> "$CONTAINER_SANDBOX_MOUNT_POINT/data/runs"; sleep 30'), metadata: { name: 'counter', resourceVersion: current.metadata?.resourceVersion } } }));
    assert.equal(replaced.metadata?.generation, (current.metadata?.generation ?? 0) + 1);
    for (let tries = 0; tries < 200 && !(await readFile(volume, 'utf8')).includes('new'); tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    const ended = running.pods.length;
    // The running pod is listed by its template's labels, and a command run in it sees its volumes.
    const [listed, ...others] = await kube.listPods('apps', 'app=counter');
    assert.deepEqual([listed?.phase, listed?.ready, listed?.containers, others], ['Running', true, ['main'], []]);
    assert.match(await kube.execText({ namespace: 'apps', pod: listed?.name ?? '', command: ['cat', '/data/runs'] }), /^(run\n)+new\n$/);
    // Deleted: SIGTERM ends the sleeping container, and no pod follows.
    await running.stop();
    assert.deepEqual([running.pods.length, running.pods.at(-1)?.exitCode], [ended + 1, 143]);
    assert.deepEqual(await kube.listPods('apps', 'app=counter'), [], 'a Deployment\'s pod is deleted with it');
  });
});
