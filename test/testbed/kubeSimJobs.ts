/**
 * The simulated cluster's batch/v1 CronJobs and Jobs, and the core ConfigMaps and Secrets their pods
 * read (Kubernetes API reference v1.31; kubernetes-api.md "Batch"). What the API server does on a
 * write (defaults, `stringData` folded into `data`, resourceVersion checks on a replace, deleting a
 * CronJob's Jobs with it), what the CronJob controller does when a CronJob is due (`runCronJob`: a
 * Job named `<cronjob>-<minutes since the epoch>` from its jobTemplate, owned by it, skipped under
 * `Forbid` while one is active, history limits applied once it ends), and what the Job controller and
 * the kubelet do (each Job's pod run until it succeeds or its backoffLimit is spent). Deployments
 * (apps/v1) written through the API are kept whole in the namespace's objects (kubeSimWorkloads.ts);
 * `runDeployment` is the Deployment controller and the kubelet for one of them: its one pod, started
 * again whenever it ends (restartPolicy Always), replaced when its template changes (Recreate).
 *
 * A Job's pod runs as a process of this machine, as a Windows HostProcess container does: its volumes
 * are mounted under its sandbox folder, which the process finds in CONTAINER_SANDBOX_MOUNT_POINT, with
 * the service account's token, CA certificate and namespace among them; KUBERNETES_SERVICE_HOST/PORT
 * name this simulator. Its working directory is the container's `workingDir` in the sandbox. An image
 * is what a test registers with `addImage`: which programs it holds and which of this machine's
 * commands each one is.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { asStored, checkedCore, dataOf, pick, replacing, withCronJobDefaults, withJobDefaults } from './kubeSimBatchApi';
import { StatusError, type ObjectStore, type SimObject, type SimResource } from './kubeSimObjects';
import { WorkloadStore } from './kubeSimWorkloads';

type Json = Record<string, unknown>;

const CRON_JOBS: SimResource = { group: 'batch', version: 'v1', plural: 'cronjobs', kind: 'CronJob' };
const JOBS: SimResource = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job' };
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const BATCH_PATH = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/(cronjobs|jobs)(?:\/([^/]+))?$/;
/** The list of a batch kind across every namespace (`kubectl get cronjobs -A`). */
const BATCH_EVERY_NAMESPACE_PATH = /^\/apis\/batch\/v1\/(cronjobs|jobs)$/;
const CORE_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/(configmaps|secrets)(?:\/([^/]+))?$/;
const DEPLOYMENT_PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments(?:\/([^/]+))?$/;
/** The kubelet waits 10 s before starting a container that ended again, doubling up to 5 min; here a moment. */
const RESTART_DELAY_MS = 50;

/** The programs an image holds: each program name, and the command of this machine it runs. */
export interface SimImage {
  programs: Record<string, readonly string[]>;
  /** The image's ENTRYPOINT, used when a container gives no `command`. */
  entrypoint?: readonly string[];
}

/** How a Job's pod ended, or why it never started (a `waiting` reason such as CreateContainerConfigError). */
export interface SimPodRun {
  name: string;
  phase: 'Succeeded' | 'Failed' | 'Pending';
  exitCode?: number;
  waiting?: { reason: string; message: string };
  /** What the container wrote, stdout and stderr together. */
  log: string;
  /** The pod's filesystem. */
  sandbox: string;
  /** The environment the container got. */
  env: Record<string, string>;
}

/** A Deployment's pod as the kubelet keeps it: started again whenever it ends, until stopped. */
export interface SimDeploymentRun {
  /** Every run of its container that has ended, in order. */
  readonly pods: SimPodRun[];
  /** Deletes the pod as scaling the Deployment to zero does (SIGTERM to its processes); resolves once it has ended. */
  stop(): Promise<void>;
}

export interface SimulatorEndpoint {
  dir: string;
  token: string;
  certificate: { cert: string };
  url(): string;
  /** A pod's container started: the API lists it and execs into it (its filesystem is `root`) until `podEnded`. */
  podStarted(pod: { namespace: string; name: string; labels: Record<string, string>; containers: string[]; root: string; env: Record<string, string> }): void;
  /** Its container ended: a Job's pod stays listed with its phase; a Deployment's is deleted, as its ReplicaSet deletes it. */
  podEnded(namespace: string, name: string, phase: 'Succeeded' | 'Failed' | undefined): void;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class JobController {
  private readonly images = new Map<string, SimImage>();
  private readonly core = new Map<string, Json>();
  /** Every pod run of a Job (`namespace/job`), in order. */
  readonly pods = new Map<string, SimPodRun[]>();
  private readonly finished = new Map<string, Promise<SimObject>>();
  /** The pod running of each Deployment `runDeployment` started (`namespace/name`): stopping it starts the next. */
  private readonly deploymentPods = new Map<string, AbortController>();
  private readonly deploymentRuns = new Set<SimDeploymentRun>();

  constructor(
    private readonly objects: ObjectStore,
    private readonly endpoint: SimulatorEndpoint,
  ) {}

  addImage(reference: string, image: SimImage): void {
    this.images.set(reference, image);
  }

  /** A Secret as `kubectl create secret generic --from-literal … | kubectl apply -f -` makes it: created, or replaced whole. */
  addSecret(namespace: string, name: string, values: Record<string, string>): void {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', stringData: values };
    if (this.core.has(`secrets/${namespace}/${name}`)) this.replaceCore('secrets', namespace, name, secret);
    else this.create('secrets', namespace, secret);
  }

  /**
   * The requests for these kinds: batch CronJobs and Jobs (creating a Job starts it), core ConfigMaps
   * and Secrets. Undefined when another part of the simulator answers (a ConfigMap this store does not
   * hold, from a Velero restore, or a list of them).
   */
  route(method: string, pathname: string, body: unknown, selector: (labels: Record<string, string>) => boolean = () => true): { code: number; body: unknown } | undefined {
    const core = CORE_PATH.exec(pathname);
    if (core) {
      const [, namespace = '', plural = '', name] = core;
      if (method === 'POST' && !name) return { code: 201, body: this.create(plural, namespace, body) };
      if (method === 'PUT' && name) return { code: 200, body: this.replaceCore(plural, namespace, name, body) };
      if (method === 'GET' && name) {
        const found = this.core.get(`${plural}/${namespace}/${name}`);
        if (found) return { code: 200, body: found };
        if (plural === 'secrets') throw new StatusError(404, 'NotFound', `secrets "${name}" not found`, { name, kind: 'secrets' });
      }
      return undefined;
    }
    const deployment = DEPLOYMENT_PATH.exec(pathname);
    if (deployment) {
      // Reads are the namespace objects' (kubeSimWorkloads.ts), where a Deployment written here is kept.
      const [, namespace = '', name] = deployment;
      if (method === 'POST' && !name) return { code: 201, body: this.writeDeployment(namespace, undefined, body) };
      if (method === 'PUT' && name) return { code: 200, body: this.writeDeployment(namespace, name, body) };
      return undefined;
    }
    const everyNamespace = BATCH_EVERY_NAMESPACE_PATH.exec(pathname);
    if (everyNamespace) {
      if (method !== 'GET') throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      return { code: 200, body: this.objects.list(everyNamespace[1] === 'jobs' ? JOBS : CRON_JOBS, undefined, selector) };
    }
    const batch = BATCH_PATH.exec(pathname);
    if (!batch) return undefined;
    const [, namespace = '', plural = '', name] = batch;
    const resource = plural === 'jobs' ? JOBS : CRON_JOBS;
    if (method === 'GET') return { code: 200, body: name ? this.objects.get(resource, namespace, name) : this.objects.list(resource, namespace, selector) };
    if (plural === 'jobs' && method === 'DELETE' && name) return { code: 200, body: this.objects.delete(JOBS, namespace, name) };
    if (plural === 'jobs' && method === 'POST' && !name) return { code: 201, body: this.createJob(namespace, body) };
    if (plural === 'cronjobs' && method === 'POST' && !name) return { code: 201, body: this.objects.create(CRON_JOBS, namespace, withCronJobDefaults(body)) };
    if (plural === 'cronjobs' && method === 'PUT' && name) return { code: 200, body: this.replaceCronJob(namespace, name, body) };
    if (plural === 'cronjobs' && method === 'DELETE' && name) {
      const cronJob = this.objects.get(CRON_JOBS, namespace, name);
      // The garbage collector deletes the Jobs a CronJob owns with it (propagation Background).
      for (const job of this.ownedJobs(cronJob)) this.objects.delete(JOBS, namespace, job.metadata.name);
      return { code: 200, body: this.objects.delete(CRON_JOBS, namespace, name) };
    }
    throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

  /**
   * What the CronJob controller does when the CronJob is due: a Job from its jobTemplate, unless it is
   * suspended or `Forbid` finds one still active (then undefined). Resolves once the Job has ended, or
   * its pod cannot start.
   */
  async runCronJob(namespace: string, name: string, scheduledAt = new Date()): Promise<SimObject | undefined> {
    const cronJob = this.objects.get(CRON_JOBS, namespace, name);
    const spec = (cronJob.spec ?? {}) as Json;
    const active = ((cronJob.status?.active ?? []) as Json[]).length;
    if (spec.suspend === true || (spec.concurrencyPolicy === 'Forbid' && active > 0)) return undefined;
    const scheduled = new Date(Math.floor(scheduledAt.getTime() / 60_000) * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    // The controller names a scheduled Job after the CronJob and the scheduled time in minutes since the epoch.
    const job = this.jobFromCronJob(cronJob, `${name}-${Math.floor(scheduledAt.getTime() / 60_000)}`, { 'batch.kubernetes.io/cronjob-scheduled-timestamp': scheduled });
    const reference = { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, namespace, uid: job.metadata.uid, resourceVersion: job.metadata.resourceVersion };
    this.objects.patch(CRON_JOBS, namespace, name, { status: { active: [...((cronJob.status?.active ?? []) as Json[]), reference], lastScheduleTime: scheduled } });
    return this.whenFinished(namespace, job.metadata.name);
  }

  /** `kubectl create job NAME --from=cronjob/CRONJOB`: a Job from the jobTemplate, owned by the CronJob but not in its `active` list. */
  createJobFromCronJob(namespace: string, cronJobName: string, jobName: string): Promise<SimObject> {
    const job = this.jobFromCronJob(this.objects.get(CRON_JOBS, namespace, cronJobName), jobName, { 'cronjob.kubernetes.io/instantiate': 'manual' });
    return this.whenFinished(namespace, job.metadata.name);
  }

  private jobFromCronJob(cronJob: SimObject, jobName: string, annotations: Record<string, string>): SimObject {
    const template = ((cronJob.spec ?? {}).jobTemplate ?? {}) as Json;
    const templateMetadata = (template.metadata ?? {}) as Json;
    return this.createJob(cronJob.metadata.namespace, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: jobName,
        labels: { ...((templateMetadata.labels ?? {}) as Json) },
        annotations: { ...((templateMetadata.annotations ?? {}) as Json), ...annotations },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob.metadata.name, uid: cronJob.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: structuredClone(template.spec ?? {}),
    });
  }

  /** The Job once it has ended (or its pod cannot start). */
  whenFinished(namespace: string, job: string): Promise<SimObject> {
    const finished = this.finished.get(`${namespace}/${job}`);
    if (!finished) throw new Error(`no simulated Job ${namespace}/${job}`);
    return finished;
  }

  private create(plural: string, namespace: string, body: unknown): Json {
    const object = checkedCore(plural, body);
    const name = String((object.metadata as Json).name ?? '');
    const key = `${plural}/${namespace}/${name}`;
    if (this.core.has(key)) throw new StatusError(409, 'AlreadyExists', `${plural} "${name}" already exists`, { name, kind: plural });
    const stored = asStored(object, namespace, { uid: randomBytes(16).toString('hex'), creationTimestamp: now(), resourceVersion: '1' });
    this.core.set(key, stored);
    return stored;
  }

  private replaceCore(plural: string, namespace: string, name: string, body: unknown): Json {
    const key = `${plural}/${namespace}/${name}`;
    const current = this.core.get(key);
    if (!current) throw new StatusError(404, 'NotFound', `${plural} "${name}" not found`, { name, kind: plural });
    const object = checkedCore(plural, body);
    const currentMetadata = current.metadata as Json;
    const version = (object.metadata as Json).resourceVersion;
    if (version !== undefined && version !== currentMetadata.resourceVersion) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const replaced = asStored(object, namespace, { uid: currentMetadata.uid, creationTimestamp: currentMetadata.creationTimestamp, resourceVersion: String(Number(currentMetadata.resourceVersion) + 1) });
    this.core.set(key, replaced);
    return replaced;
  }

  /** A replace (PUT) as a merge patch that removes what the new object leaves out; the status stays the controller's. */
  private replaceCronJob(namespace: string, name: string, body: unknown): SimObject {
    const current = this.objects.get(CRON_JOBS, namespace, name);
    const desired = withCronJobDefaults(body) as unknown as SimObject;
    const version = desired.metadata?.resourceVersion;
    if (version !== undefined && version !== current.metadata.resourceVersion) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on cronjobs.batch "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const keep = ['name', 'namespace', 'uid', 'generation', 'resourceVersion', 'creationTimestamp'];
    const metadata = Object.fromEntries(Object.entries(desired.metadata ?? {}).filter(([key]) => !keep.includes(key)));
    return this.objects.patch(CRON_JOBS, namespace, name, {
      metadata: replacing(pick(current.metadata, ['labels', 'annotations']), pick(metadata, ['labels', 'annotations'])),
      spec: replacing(current.spec ?? {}, desired.spec ?? {}),
    });
  }

  private createJob(namespace: string, body: unknown): SimObject {
    const job = this.objects.create(JOBS, namespace, withJobDefaults(body));
    // The API server labels the pod template with the Job's uid and name, and selects its pods by them.
    const labels = { 'batch.kubernetes.io/controller-uid': String(job.metadata.uid), 'batch.kubernetes.io/job-name': job.metadata.name, 'controller-uid': String(job.metadata.uid), 'job-name': job.metadata.name };
    const template = ((job.spec ?? {}).template ?? {}) as Json;
    const templateLabels = { ...(((template.metadata ?? {}) as Json).labels as Json | undefined), ...labels };
    const patched = this.objects.patch(JOBS, namespace, job.metadata.name, {
      metadata: { labels: Object.keys(job.metadata.labels ?? {}).length > 0 ? job.metadata.labels : templateLabels },
      spec: { selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': String(job.metadata.uid) } }, template: { metadata: { labels: templateLabels } } },
      status: { startTime: now(), active: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {} },
    });
    this.finished.set(`${namespace}/${job.metadata.name}`, this.runJob(patched));
    return patched;
  }

  /**
   * The Job controller: pods one after another until one succeeds or backoffLimit failures are spent;
   * past activeDeadlineSeconds the running pod is stopped (SIGTERM) and the Job fails.
   */
  private async runJob(job: SimObject): Promise<SimObject> {
    const { namespace, name } = job.metadata;
    const backoffLimit = Number((job.spec ?? {}).backoffLimit ?? 6);
    const deadlineSeconds = (job.spec ?? {}).activeDeadlineSeconds;
    const deadline = typeof deadlineSeconds === 'number' ? Date.now() + deadlineSeconds * 1000 : undefined;
    const runs: SimPodRun[] = [];
    this.pods.set(`${namespace}/${name}`, runs);
    for (let failed = 0; ; ) {
      const run = await this.runPod(job, runs.length, { deadline });
      runs.push(run);
      if (run.phase === 'Pending') return this.objects.get(JOBS, namespace, name);
      const time = now();
      if (run.phase === 'Failed' && deadline !== undefined && Date.now() >= deadline) {
        const reason = { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastProbeTime: time, lastTransitionTime: time, status: 'True' };
        return this.endJob(job, { active: 0, ready: 0, failed: failed + 1, conditions: [{ type: 'FailureTarget', ...reason }, { type: 'Failed', ...reason }] });
      }
      if (run.phase === 'Succeeded') {
        const reason = { reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: time, lastTransitionTime: time, status: 'True' };
        return this.endJob(job, { active: 0, ready: 0, succeeded: 1, ...(failed > 0 ? { failed } : {}), completionTime: time, conditions: [{ type: 'SuccessCriteriaMet', ...reason }, { type: 'Complete', ...reason }] });
      }
      failed += 1;
      if (failed > backoffLimit) {
        const reason = { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: time, lastTransitionTime: time, status: 'True' };
        return this.endJob(job, { active: 0, ready: 0, failed, conditions: [{ type: 'FailureTarget', ...reason }, { type: 'Failed', ...reason }] });
      }
      this.objects.patch(JOBS, namespace, name, { status: { failed } });
    }
  }

  /** Records the Job's end, and on its CronJob: no longer active, the last success, and the history limits. */
  private endJob(job: SimObject, status: Json): SimObject {
    const { namespace, name } = job.metadata;
    const ended = this.objects.patch(JOBS, namespace, name, { status });
    const owner = (job.metadata.ownerReferences as Json[] | undefined)?.find((reference) => reference.kind === 'CronJob' && reference.controller === true);
    if (!owner) return ended;
    let cronJob: SimObject;
    try {
      cronJob = this.objects.get(CRON_JOBS, namespace, String(owner.name));
    } catch {
      return ended;
    }
    const active = ((cronJob.status?.active ?? []) as Json[]).filter((reference) => reference.uid !== job.metadata.uid);
    this.objects.patch(CRON_JOBS, namespace, cronJob.metadata.name, { status: { active: active.length > 0 ? active : null, ...(status.completionTime ? { lastSuccessfulTime: status.completionTime } : {}) } });
    const spec = (cronJob.spec ?? {}) as Json;
    const finishedOf = (type: string) =>
      this.ownedJobs(cronJob)
        .filter((candidate) => ((candidate.status?.conditions ?? []) as Json[]).some((condition) => condition.type === type && condition.status === 'True'))
        // Newest first, by start time and then by name, as the controller's byJobStartTime orders them.
        .sort((a, b) => String(b.status?.startTime).localeCompare(String(a.status?.startTime)) || b.metadata.name.localeCompare(a.metadata.name));
    for (const old of finishedOf('Complete').slice(Number(spec.successfulJobsHistoryLimit ?? 3))) this.objects.delete(JOBS, namespace, old.metadata.name);
    for (const old of finishedOf('Failed').slice(Number(spec.failedJobsHistoryLimit ?? 1))) this.objects.delete(JOBS, namespace, old.metadata.name);
    return ended;
  }

  private ownedJobs(cronJob: SimObject): SimObject[] {
    const jobs = this.objects.list(JOBS, cronJob.metadata.namespace, () => true).items as SimObject[];
    return jobs.filter((job) => (job.metadata.ownerReferences as Json[] | undefined)?.some((reference) => reference.uid === cronJob.metadata.uid));
  }

  /**
   * A Deployment created or replaced (`replacing` its name): checked as the API server checks one,
   * stored with the server's metadata and the status its controller reaches. A replaced one whose pod
   * template changed has its running pod stopped, and the next one starts from the new template.
   */
  private writeDeployment(namespace: string, replacing: string | undefined, body: unknown): Json {
    const object = (body ?? {}) as Json;
    const metadata = (object.metadata ?? {}) as Json;
    const spec = (object.spec ?? {}) as Json;
    const template = (spec.template ?? {}) as Json;
    const podSpec = (template.spec ?? {}) as Json;
    const name = replacing ?? String(metadata.name ?? '');
    const invalid = (message: string) => new StatusError(422, 'Invalid', `Deployment.apps "${name}" is invalid: ${message}`, { name, kind: 'Deployment' });
    if (object.apiVersion !== 'apps/v1' || object.kind !== 'Deployment') throw new StatusError(400, 'BadRequest', `the body is not an apps/v1 Deployment`);
    if (((podSpec.containers ?? []) as Json[]).length === 0) throw invalid('spec.template.spec.containers: Required value');
    if ((podSpec.restartPolicy ?? 'Always') !== 'Always') throw invalid(`spec.template.spec.restartPolicy: Unsupported value: "${String(podSpec.restartPolicy)}": supported values: "Always"`);
    const selector = (((spec.selector ?? {}) as Json).matchLabels ?? {}) as Record<string, string>;
    const templateLabels = (((template.metadata ?? {}) as Json).labels ?? {}) as Record<string, string>;
    if (Object.keys(selector).length === 0 || Object.entries(selector).some(([key, value]) => templateLabels[key] !== value)) {
      throw invalid('spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`');
    }
    const current = this.objects.workloads.get('apps/v1', 'Deployment', namespace, name);
    if (!replacing && current) throw new StatusError(409, 'AlreadyExists', `deployments.apps "${name}" already exists`, { name, kind: 'deployments' });
    if (replacing && !current) throw new StatusError(404, 'NotFound', `deployments.apps "${name}" not found`, { name, kind: 'deployments' });
    const currentMetadata = (current?.metadata ?? {}) as Json;
    if (current && metadata.resourceVersion !== undefined && metadata.resourceVersion !== currentMetadata.resourceVersion) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const stored = {
      ...object,
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        ...metadata,
        name,
        namespace,
        uid: currentMetadata.uid ?? randomBytes(16).toString('hex'),
        creationTimestamp: currentMetadata.creationTimestamp ?? now(),
        resourceVersion: String(Number(currentMetadata.resourceVersion ?? 0) + 1),
        generation: Number(currentMetadata.generation ?? 0) + 1,
      },
      spec: { replicas: 1, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }, revisionHistoryLimit: 10, ...spec, template: { ...template, spec: { restartPolicy: 'Always', ...podSpec } } },
      status: WorkloadStore.settledStatus('Deployment', this.objects.workloads.heldBack.has(`Deployment ${namespace}/${name}`)),
    };
    this.objects.workloads.store(stored);
    // Only a changed pod template rolls the Deployment out.
    if (current && JSON.stringify((current.spec as Json | undefined)?.template) !== JSON.stringify(stored.spec.template)) this.deploymentPods.get(`${namespace}/${name}`)?.abort();
    return stored;
  }

  /**
   * What the Deployment controller and the kubelet do for a Deployment of one replica: its pod runs,
   * and is started again whenever it ends, from the Deployment as it is then, until `stop`.
   */
  runDeployment(namespace: string, name: string): SimDeploymentRun {
    const key = `${namespace}/${name}`;
    const pods: SimPodRun[] = [];
    let stopped = false;
    const running = (async () => {
      for (let attempt = 0; !stopped; attempt++) {
        const deployment = this.objects.workloads.get('apps/v1', 'Deployment', namespace, name);
        if (!deployment) throw new Error(`no simulated Deployment ${key}`);
        const pod = new AbortController();
        this.deploymentPods.set(key, pod);
        const run = await this.runPod(deployment as unknown as SimObject, attempt, { signal: pod.signal });
        pods.push(run);
        if (run.phase === 'Pending') return;
        if (!stopped) await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
      }
    })();
    const handle: SimDeploymentRun = {
      pods,
      stop: async () => {
        stopped = true;
        this.deploymentPods.get(key)?.abort();
        await running;
        this.deploymentPods.delete(key);
        this.deploymentRuns.delete(handle);
      },
    };
    this.deploymentRuns.add(handle);
    return handle;
  }

  /** Stops every Deployment's pod, as the simulator does when it stops. */
  async stopDeployments(): Promise<void> {
    await Promise.all([...this.deploymentRuns].map((run) => run.stop()));
  }

  /** The kubelet: the pod's volumes and environment, then its one container's process. */
  private async runPod(job: SimObject, attempt: number, stop: { deadline?: number; signal?: AbortSignal }): Promise<SimPodRun> {
    const { namespace } = job.metadata;
    const podSpec = ((((job.spec ?? {}).template ?? {}) as Json).spec ?? {}) as Json;
    const container = ((podSpec.containers ?? []) as Json[])[0] ?? {};
    const name = `${job.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const sandbox = mkdtempSync(join(this.endpoint.dir, `job-pod-${attempt}-`));
    const pending = (reason: string, message: string): SimPodRun => ({ name, phase: 'Pending', waiting: { reason, message }, log: '', sandbox, env: {} });
    const image = this.images.get(String(container.image ?? ''));
    if (!image) return pending('ErrImagePull', `failed to pull image "${String(container.image)}": not found`);
    const env: Record<string, string> = {};
    for (const entry of (container.env ?? []) as Json[]) {
      const value = this.envValue(namespace, entry);
      if (typeof value === 'object') return pending('CreateContainerConfigError', value.error);
      if (value !== undefined) env[String(entry.name)] = value;
    }
    for (const source of (container.envFrom ?? []) as Json[]) {
      const from = (source.secretRef ?? source.configMapRef) as Json | undefined;
      const object = from && this.core.get(`${source.secretRef ? 'secrets' : 'configmaps'}/${namespace}/${String(from.name)}`);
      if (!object && from?.optional !== true) return pending('CreateContainerConfigError', `${source.secretRef ? 'secret' : 'configmap'} "${String(from?.name)}" not found`);
      for (const [key, value] of Object.entries(object ? dataOf(object) : {})) env[`${String(source.prefix ?? '')}${key}`] = value;
    }
    const volumes = new Map(((podSpec.volumes ?? []) as Json[]).map((volume) => [String(volume.name), volume]));
    for (const mount of (container.volumeMounts ?? []) as Json[]) {
      const failure = this.mount(namespace, sandbox, volumes.get(String(mount.name)), mount);
      if (failure) return pending('ContainerCreating', failure);
    }
    if (podSpec.automountServiceAccountToken !== false) {
      const folder = join(sandbox, SERVICE_ACCOUNT_DIR);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'token'), this.endpoint.token);
      writeFileSync(join(folder, 'ca.crt'), this.endpoint.certificate.cert);
      writeFileSync(join(folder, 'namespace'), namespace);
    }
    const command = ((container.command ?? image.entrypoint ?? []) as string[]).concat((container.args ?? []) as string[]);
    const [program = '', ...args] = command;
    const host = image.programs[program];
    if (!host) return { name, phase: 'Failed', exitCode: 128, log: `exec: "${program}": executable file not found in $PATH`, sandbox, env };
    const workingDir = join(sandbox, String(container.workingDir ?? '/'));
    mkdirSync(workingDir, { recursive: true });
    mkdirSync(join(sandbox, 'home'), { recursive: true });
    const url = new URL(this.endpoint.url());
    const processEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: join(sandbox, 'home'),
      LC_ALL: 'C.UTF-8',
      KUBERNETES_SERVICE_HOST: url.hostname,
      KUBERNETES_SERVICE_PORT: url.port,
      CONTAINER_SANDBOX_MOUNT_POINT: sandbox,
      ...env,
    };
    const [executable = '', ...prefix] = host;
    const labels = ((((job.spec ?? {}).template ?? {}) as Json).metadata as Json | undefined)?.labels as Record<string, string> | undefined;
    this.endpoint.podStarted({ namespace, name, labels: labels ?? {}, containers: [String(container.name ?? 'main')], root: sandbox, env });
    const { exitCode, log } = await run(executable, [...prefix, ...args], { cwd: workingDir, env: processEnv, ...stop });
    const phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    this.endpoint.podEnded(namespace, name, job.kind === 'Deployment' ? undefined : phase);
    return { name, phase, exitCode, log, sandbox, env };
  }

  /** An `env` entry's value; an error when the Secret or ConfigMap key it reads is missing and not optional. */
  private envValue(namespace: string, entry: Json): string | undefined | { error: string } {
    if (entry.value !== undefined) return String(entry.value);
    const from = (entry.valueFrom ?? {}) as Json;
    const reference = (from.secretKeyRef ?? from.configMapKeyRef) as Json | undefined;
    if (!reference) return undefined;
    const kind = from.secretKeyRef ? 'secret' : 'configmap';
    const object = this.core.get(`${kind === 'secret' ? 'secrets' : 'configmaps'}/${namespace}/${String(reference.name)}`);
    const value = object ? dataOf(object)[String(reference.key)] : undefined;
    if (value !== undefined || reference.optional === true) return value;
    return { error: object ? `couldn't find key ${String(reference.key)} in ${kind === 'secret' ? 'Secret' : 'ConfigMap'} ${namespace}/${String(reference.name)}` : `${kind} "${String(reference.name)}" not found` };
  }

  /** Puts a volume (or one file of it, with subPath) at the mount path in the sandbox; a failure reason when it cannot. */
  private mount(namespace: string, sandbox: string, volume: Json | undefined, mount: Json): string | undefined {
    if (!volume) return `volume "${String(mount.name)}" is not in the pod`;
    const target = join(sandbox, String(mount.mountPath));
    if (volume.emptyDir !== undefined) {
      mkdirSync(target, { recursive: true });
      return undefined;
    }
    const claim = volume.persistentVolumeClaim as Json | undefined;
    if (claim) {
      // A claim's volume outlives every pod that mounts it: one folder of the simulator's per claim.
      const claimName = String(claim.claimName);
      if (!this.objects.workloads.get('v1', 'PersistentVolumeClaim', namespace, claimName)) return `persistentvolumeclaim "${claimName}" not found`;
      const volumeFolder = join(this.endpoint.dir, 'volumes', namespace, claimName);
      mkdirSync(volumeFolder, { recursive: true });
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(volumeFolder, target);
      return undefined;
    }
    const source = (volume.configMap ?? volume.secret) as Json | undefined;
    if (!source) return `volume "${String(mount.name)}" is of a kind the simulator does not mount`;
    const plural = volume.configMap ? 'configmaps' : 'secrets';
    const objectName = String(source.name ?? source.secretName);
    const object = this.core.get(`${plural}/${namespace}/${objectName}`);
    if (!object) return `MountVolume.SetUp failed for volume "${String(mount.name)}" : ${plural === 'configmaps' ? 'configmap' : 'secret'} "${objectName}" not found`;
    const files = dataOf(object);
    const write = (file: string, content: string) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      if (mount.readOnly === true) chmodSync(file, 0o444);
    };
    if (typeof mount.subPath === 'string' && mount.subPath !== '') {
      const content = files[mount.subPath];
      if (content === undefined) mkdirSync(target, { recursive: true });
      else write(target, content);
      return undefined;
    }
    for (const [key, content] of Object.entries(files)) write(join(target, key), content);
    return undefined;
  }
}

/** The container's processes, a process group of their own; all stopped with SIGTERM at the deadline or when the pod is deleted, as the kubelet stops a container. */
function run(executable: string, args: string[], options: { cwd: string; env: Record<string, string>; deadline?: number; signal?: AbortSignal }): Promise<{ exitCode: number; log: string }> {
  return new Promise((resolve) => {
    let log = '';
    const child = spawn(executable, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const stop = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      } catch (error) {
        // The group ended on its own just before its deadline.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    };
    const timer = options.deadline === undefined ? undefined : setTimeout(stop, Math.max(0, options.deadline - Date.now()));
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    child.on('error', (error) => resolve({ exitCode: 127, log: `${log}${error.message}\n` }));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      resolve({ exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), log });
    });
  });
}
