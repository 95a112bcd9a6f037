import * as z from 'zod';
import { jobsOfCronJob, listCronJobs, listDeployments, readCronJob, readDeployment, type V1CronJob, type V1Deployment, type V1Job } from '../../clients/kubeWorkloads';
import { parseCronExpression, previousDueTime } from '../../core/cron';
import { defineAction } from '../../core/actions/spec';
import { formatAge, formatLocalDateTime, markdownTable } from '../../core/render';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { namespaceParam, scheduleNameParam } from './k8sFields';
import { RUNBOOK_ANNOTATION, scheduledRunbookSelector } from './k8sManifests';
import type { ScheduleState } from './status';

const statusParams = z
  .object({
    cluster: clusterParam,
    namespace: namespaceParam,
    name: scheduleNameParam.optional().describe('The CronJob or Deployment to report on; left out, every one schedule.k8s.install made in the namespace.'),
    graceMinutes: z.number().min(0).default(60).describe('How long a run may take after it was due before its schedule counts as stale.'),
  })
  .strict();

export interface JobSummary {
  name: string;
  outcome: 'succeeded' | 'failed' | 'running';
  startedAt?: string;
  /** When it succeeded (completionTime) or failed (its Failed condition). */
  endedAt?: string;
  /** Why it failed, from its Failed condition. */
  reason?: string;
}

export interface CronJobStatus {
  name: string;
  runbook?: string;
  installed: boolean;
  schedule?: string;
  timeZone?: string;
  suspended: boolean;
  lastScheduleTime?: string;
  /** The CronJob's record of its last successful Job's completion, kept when the Job itself is gone (history limit). */
  lastSuccessfulTime?: string;
  /** The newest successful Job the cluster still keeps. */
  lastSuccessfulJob?: JobSummary;
  lastJob?: JobSummary;
  activeJobs: string[];
  dueSince?: string;
  stale: boolean;
  state: ScheduleState | 'running' | 'suspended';
}

/** A runbook run without end by a Deployment, as `kubectl get deployment` shows it. */
export interface DeploymentStatus {
  name: string;
  runbook?: string;
  readyReplicas: number;
  replicas: number;
  /** Its pod runs and is ready; else the Available condition's message says why not. */
  state: 'running' | 'not ready';
  reason?: string;
}

export interface K8sStatusResult {
  cluster: string;
  namespace: string;
  checkedAt: string;
  cronJobs: CronJobStatus[];
  deployments: DeploymentStatus[];
}

function iso(time: Date | string | undefined): string | undefined {
  return time === undefined ? undefined : new Date(time).toISOString();
}

/** A Job's outcome from its conditions, as `kubectl get jobs` reads them: Complete or Failed when True, else still running. */
function summarize(job: V1Job): JobSummary {
  const condition = (type: string) => job.status?.conditions?.find((candidate) => candidate.type === type && candidate.status === 'True');
  const complete = condition('Complete');
  const failed = condition('Failed');
  const startedAt = iso(job.status?.startTime ?? job.metadata?.creationTimestamp);
  const summary: JobSummary = { name: job.metadata?.name ?? '', outcome: complete ? 'succeeded' : failed ? 'failed' : 'running', ...(startedAt ? { startedAt } : {}) };
  const endedAt = iso(complete ? (job.status?.completionTime ?? complete.lastTransitionTime) : failed?.lastTransitionTime);
  if (endedAt) summary.endedAt = endedAt;
  if (failed) summary.reason = [failed.reason, failed.message].filter(Boolean).join(': ');
  return summary;
}

function newestFirst(jobs: V1Job[]): V1Job[] {
  const started = (job: V1Job) => new Date(job.status?.startTime ?? job.metadata?.creationTimestamp ?? 0).getTime();
  return [...jobs].sort((a, b) => started(b) - started(a));
}

function statusOf(cronJob: V1CronJob, jobs: V1Job[], now: Date, graceMinutes: number): CronJobStatus {
  const summaries = newestFirst(jobs).map(summarize);
  const [lastJob] = summaries;
  const lastSuccessfulJob = summaries.find((job) => job.outcome === 'succeeded');
  const schedule = cronJob.spec?.schedule ?? '';
  const timeZone = cronJob.spec?.timeZone;
  const runbook = cronJob.metadata?.annotations?.[RUNBOOK_ANNOTATION];
  const lastSuccessfulTime = iso(cronJob.status?.lastSuccessfulTime) ?? lastSuccessfulJob?.endedAt;
  const lastScheduleTime = iso(cronJob.status?.lastScheduleTime);
  const status: CronJobStatus = {
    name: cronJob.metadata?.name ?? '',
    ...(runbook ? { runbook } : {}),
    installed: true,
    schedule,
    ...(timeZone ? { timeZone } : {}),
    suspended: cronJob.spec?.suspend === true,
    ...(lastScheduleTime ? { lastScheduleTime } : {}),
    ...(lastSuccessfulTime ? { lastSuccessfulTime } : {}),
    ...(lastSuccessfulJob ? { lastSuccessfulJob } : {}),
    ...(lastJob ? { lastJob } : {}),
    activeJobs: (cronJob.status?.active ?? []).map((reference) => reference.name ?? ''),
    stale: false,
    state: 'ok',
  };
  // The CronJob controller reads its schedule in `timeZone`, else in its own zone, UTC on every usual control plane.
  const parsed = { ...parseCronExpression(schedule, 'velero'), timeZone: timeZone ?? 'UTC' };
  const due = previousDueTime(parsed, new Date(now.getTime() - graceMinutes * 60_000));
  if (due) status.dueSince = due.toISOString();
  status.stale = due !== undefined && (!lastSuccessfulTime || new Date(lastSuccessfulTime) < due);
  const lastOutcome = lastJob?.outcome;
  status.state = status.suspended
    ? 'suspended'
    : lastOutcome === 'running'
      ? 'running'
      : lastOutcome === 'failed'
        ? 'failed'
        : !lastJob && !lastSuccessfulTime
          ? 'never ran'
          : status.stale
            ? 'stale'
            : 'ok';
  return status;
}

function deploymentStatusOf(deployment: V1Deployment): DeploymentStatus {
  const runbook = deployment.metadata?.annotations?.[RUNBOOK_ANNOTATION];
  const readyReplicas = deployment.status?.readyReplicas ?? 0;
  const replicas = deployment.spec?.replicas ?? 1;
  const available = deployment.status?.conditions?.find((condition) => condition.type === 'Available');
  const ready = readyReplicas >= replicas && replicas > 0 && available?.status === 'True';
  return {
    name: deployment.metadata?.name ?? '',
    ...(runbook ? { runbook } : {}),
    readyReplicas,
    replicas,
    state: ready ? 'running' : 'not ready',
    ...(!ready && available ? { reason: [available.reason, available.message].filter(Boolean).join(': ') } : {}),
  };
}

export const scheduleK8sStatus = defineAction({
  id: 'schedule.k8s.status',
  title: 'Check runbooks scheduled in a cluster',
  description:
    "Reports a runbook CronJob or Deployment (or every one schedule.k8s.install made in the namespace): a CronJob's last successful Job and that Job's age, the last Job's outcome (a failed one with its reason), running Jobs, and whether the last success is older than the schedule allows; a Deployment's ready pod, or why it has none.",
  params: statusParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    const what = params.name ? `${params.namespace}/${params.name}` : `every runbook CronJob and Deployment in namespace ${params.namespace}`;
    return { summary: `Check ${what} on cluster '${params.cluster}'`, operations: [{ kind: 'read', target: params.cluster, detail: 'CronJobs and their Jobs, Deployments' }], destructive: false };
  },
  async run(params, ctx): Promise<K8sStatusResult> {
    const now = new Date();
    const client = await kubeClientFor(ctx, params.cluster);
    const selector = scheduledRunbookSelector();
    const cronJobs: CronJobStatus[] = [];
    const deployments: DeploymentStatus[] = [];
    const byName = (a: { metadata?: { name?: string } }, b: { metadata?: { name?: string } }) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
    if (params.name) {
      const [cronJob, deployment] = await Promise.all([readCronJob(client, params.namespace, params.name), readDeployment(client, params.namespace, params.name)]);
      if (cronJob) cronJobs.push(statusOf(cronJob, await jobsOfCronJob(client, cronJob), now, params.graceMinutes));
      if (deployment) deployments.push(deploymentStatusOf(deployment));
      if (!cronJob && !deployment) cronJobs.push({ name: params.name, installed: false, suspended: false, activeJobs: [], stale: false, state: 'not installed' });
    } else {
      const [listedCronJobs, listedDeployments] = await Promise.all([listCronJobs(client, params.namespace, selector), listDeployments(client, params.namespace, selector)]);
      for (const cronJob of listedCronJobs.sort(byName)) cronJobs.push(statusOf(cronJob, await jobsOfCronJob(client, cronJob), now, params.graceMinutes));
      deployments.push(...listedDeployments.sort(byName).map(deploymentStatusOf));
    }
    return { cluster: params.cluster, namespace: params.namespace, checkedAt: now.toISOString(), cronJobs, deployments };
  },
  render(result: K8sStatusResult) {
    if (result.cronJobs.length === 0 && result.deployments.length === 0) return `No runbook CronJob or Deployment in namespace ${result.namespace} on cluster '${result.cluster}'.`;
    const when = (time: string | undefined) => (time ? formatLocalDateTime(new Date(time)) : '');
    const deployments =
      result.deployments.length === 0
        ? ''
        : markdownTable(
            ['Deployment', 'runbook', 'state', 'ready', 'why not ready'],
            result.deployments.map((status) => [status.name, status.runbook ?? '', status.state, `${status.readyReplicas}/${status.replicas}`, status.reason ?? '']),
          );
    if (result.cronJobs.length === 0) return deployments;
    const cronJobs = markdownTable(
      ['CronJob', 'runbook', 'state', 'schedule', 'last success', 'age', 'last successful Job', 'last Job', 'outcome'],
      result.cronJobs.map((status) => [
        status.name,
        status.runbook ?? '',
        status.state,
        status.schedule ? `${status.schedule}${status.timeZone ? ` (${status.timeZone})` : ''}` : '',
        when(status.lastSuccessfulTime),
        status.lastSuccessfulTime ? formatAge(new Date(status.lastSuccessfulTime), new Date(result.checkedAt)) : '',
        status.lastSuccessfulJob?.name ?? '',
        status.lastJob?.name ?? '',
        status.lastJob ? `${status.lastJob.outcome}${status.lastJob.reason ? ` (${status.lastJob.reason})` : ''}` : 'never ran',
      ]),
    );
    return deployments ? `${cronJobs}\n\n${deployments}` : cronJobs;
  },
});
