import { readFile } from 'node:fs/promises';
import path, { posix } from 'node:path';
import * as z from 'zod';
import { version } from '../../../package.json';
import { remoteCommand } from '../../clients/ssh/quote';
import { applyConfigMap, applyCronJob, applyDeployment, readConfigMap, readCronJob, readDeployment, secretKeys, type AppliedChange, type V1CronJob, type V1Deployment } from '../../clients/kubeWorkloads';
import type { KubeClient } from '../../clients/kube';
import type { ActionContext, PlannedOperation } from '../../core/actions/spec';
import { defineAction } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import { INVENTORY_FILE } from '../../core/paths';
import { markdownTable } from '../../core/render';
import { parseRunbook } from '../../core/runbook/parse';
import { readSteps } from '../../core/runbook/steps';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { prepareGitOpsFile, writeGitOpsFile, type GitOpsFile } from '../gitopsFiles';
import { configMapName, defaultScheduleName, inClusterInventory, manifestsFile, POD_STATE_FOLDER, runbookConfigMap, runbookCronJob, runbookDeployment, runbookKey, runCommand, secretsNeeded, type ScheduledKind, type ScheduledRunbook } from './k8sManifests';
import { cronJobScheduleParam, kubernetesName, namespaceParam, scheduleNameParam, timeZoneParam } from './k8sFields';

const DEFAULT_SCHEDULE = '0 3 * * *';

/** Kubernetes refuses a ConfigMap over 1 MiB. */
const CONFIG_MAP_BYTES = 1024 * 1024;

/** An environment variable or argument cannot hold a NUL byte. */
const argumentText = z.string().refine((value) => !value.includes('\0'), 'cannot be passed as a command argument: it holds a NUL byte');

const installParams = z
  .object({
    cluster: clusterParam.describe('The cluster that runs the runbook: a cluster of `clusters:` in lifeboat.yaml. In the pod, lifeboat.yaml names it `inCluster: true` (the pod\'s service account).'),
    kind: z
      .enum(['CronJob', 'Deployment'])
      .default('CronJob')
      .describe('CronJob: the runbook runs on `schedule`, one run at a time. Deployment: one pod runs it without end, for a runbook whose step keeps going (frigate.snapshots.mirror with `watch: true`), and the cluster starts it again when it stops.'),
    namespace: namespaceParam,
    runbook: z
      .string()
      .min(1)
      .refine((value) => !posix.isAbsolute(value) && !posix.normalize(value).startsWith('..'), 'must be a path inside the workspace, relative to it')
      .transform((value) => posix.normalize(value))
      .describe('The runbook to run, relative to the workspace; it goes into a ConfigMap with the workspace\'s lifeboat.yaml.'),
    name: scheduleNameParam.optional().describe("The CronJob's or Deployment's name; the runbook's file name without .runbook.md unless given."),
    schedule: cronJobScheduleParam.optional().describe(`CronJob: when to run, as a 5-field cron expression (or @daily, @hourly …); nightly at ${DEFAULT_SCHEDULE} unless given.`),
    timeZone: timeZoneParam.optional().describe("CronJob: the IANA time zone of `schedule`; the kube-controller-manager's own (usually UTC) unless given."),
    image: z
      .string()
      .regex(/^[a-z0-9][a-zA-Z0-9._/:@-]*$/, 'an image reference such as registry.example/lifeboat:0.1.0')
      .default(`lifeboat:${version}`)
      .describe('The Lifeboat image the Job runs, built from the Dockerfile (see README "Running runbooks in the cluster").'),
    params: z
      .record(z.string().regex(/^[A-Za-z_][\w-]*$/, 'a runbook parameter name is letters, digits, _ and -'), z.union([argumentText, z.number(), z.boolean()]))
      .default({})
      .describe('Runbook parameters for every run, passed as --param name=value. Never secrets: give those as secret:NAME, read from `secret`.'),
    secret: kubernetesName.optional().describe('The Kubernetes Secret (in `namespace`) holding the runbook\'s secrets, one key per secret:NAME; each arrives as LIFEBOAT_SECRET_<NAME>. Never written by Lifeboat.'),
    serviceAccount: kubernetesName.optional().describe('The service account the pod runs as, with the rights the runbook\'s steps need; the namespace\'s `default` unless given.'),
    persistentVolumeClaim: kubernetesName
      .optional()
      .describe(`A PersistentVolumeClaim (in \`namespace\`, made by you) mounted at ${POD_STATE_FOLDER}: run records and state, such as the snapshot mirror's, outlive the pod. Without it they go with the pod, and the mirror rebuilds its state from the bucket's listing when a pod starts.`),
    yes: z.boolean().default(false).describe('Pass --yes, so steps that delete or overwrite data (such as retention) run unattended instead of being refused.'),
    successfulJobsHistoryLimit: z.number().int().min(0).max(100).default(3).describe('CronJob: how many finished successful Jobs the cluster keeps.'),
    failedJobsHistoryLimit: z.number().int().min(0).max(100).default(3).describe('CronJob: how many failed Jobs the cluster keeps, with their pods\' logs.'),
    timeoutMinutes: z.number().int().positive().default(360).describe('CronJob: how long a run may take before the cluster stops it and it fails (the Job\'s activeDeadlineSeconds); a run still going holds the next ones back.'),
    folder: z.string().min(1).optional().describe('GitOps: the folder (relative to the workspace) of the kustomization.yaml to list the manifests in, for Flux to apply; left out, the objects are applied through the API.'),
  })
  .strict();

type InstallParams = z.output<typeof installParams>;

export interface K8sInstallResult {
  cluster: string;
  kind: ScheduledKind;
  namespace: string;
  name: string;
  /** A CronJob's. */
  schedule?: string;
  runbook: string;
  image: string;
  command: string[];
  mode: 'applied' | 'gitops';
  /** Applied: what happened to each object. */
  configMap?: AppliedChange;
  /** What happened to the CronJob or the Deployment. */
  workload?: AppliedChange;
  /** GitOps: the file written and its kustomization. */
  file?: string;
  kustomization?: string;
  secret?: string;
  /** Keys `secret` must hold, and keys it may hold (secrets of inventory entries the runbook may not use). */
  secretKeys: string[];
  optionalSecretKeys: string[];
  /** Optional keys the Secret does not hold (applied only). */
  missingOptionalKeys?: string[];
}

async function readWorkspaceFile(file: string, what: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && what === INVENTORY_FILE) return undefined;
    throw new Error(`${what}: cannot read ${file}: ${errorMessage(error)}`);
  }
}

/** Everything the objects are made of, read from the workspace and checked, before anything is written. */
async function scheduledRunbook(params: InstallParams, ctx: ActionContext): Promise<ScheduledRunbook> {
  if (!ctx.inventory.clusters?.[params.cluster]) throw new Error(`\`cluster\` names '${params.cluster}', which is not under \`clusters:\` in lifeboat.yaml`);
  const name = params.name ?? defaultScheduleName(params.runbook);
  if (!name) throw new Error(`name: the runbook's file name does not make a ${params.kind} name (lowercase letters, digits and -, at most 52): give \`name\``);
  if (params.kind === 'Deployment' && (params.schedule !== undefined || params.timeZone !== undefined)) {
    throw new Error(`${params.schedule !== undefined ? 'schedule' : 'timeZone'}: a Deployment runs the runbook without end and has no schedule; leave it out, or give kind: CronJob`);
  }
  runbookKey(params.runbook);
  const runbookText = (await readWorkspaceFile(path.join(ctx.workspaceDir, params.runbook), 'runbook')) as string;
  const document = parseRunbook(runbookText);
  const [problem] = readSteps(document, params.runbook).problems;
  if (problem) throw new Error(`runbook: ${params.runbook}${problem.line ? `:${problem.line}` : ''}: ${problem.message}`);
  const inventoryText = inClusterInventory(await readWorkspaceFile(path.join(ctx.workspaceDir, INVENTORY_FILE), INVENTORY_FILE), params.cluster);
  const secrets = secretsNeeded(document, params.params, ctx.inventory);
  if (!params.secret && secrets.steps.length > 0) {
    throw new Error(`secret: the runbook reads ${secrets.steps.map((secret) => `secret:${secret}`).join(', ')}; name the Kubernetes Secret that holds ${secrets.steps.length === 1 ? 'it' : 'them'}`);
  }
  const size = Buffer.byteLength(runbookText) + Buffer.byteLength(inventoryText);
  if (size > CONFIG_MAP_BYTES) throw new Error(`runbook: the runbook and lifeboat.yaml are ${size} bytes; a ConfigMap holds at most ${CONFIG_MAP_BYTES}`);
  return {
    kind: params.kind,
    name,
    namespace: params.namespace,
    ...(params.kind === 'CronJob' ? { schedule: params.schedule ?? DEFAULT_SCHEDULE } : {}),
    ...(params.timeZone ? { timeZone: params.timeZone } : {}),
    image: params.image,
    runbook: params.runbook,
    runbookText,
    inventoryText,
    params: params.params,
    yes: params.yes,
    ...(params.secret ? { secret: params.secret } : {}),
    secrets,
    ...(params.serviceAccount ? { serviceAccount: params.serviceAccount } : {}),
    ...(params.persistentVolumeClaim ? { persistentVolumeClaim: params.persistentVolumeClaim } : {}),
    successfulJobsHistoryLimit: params.successfulJobsHistoryLimit,
    failedJobsHistoryLimit: params.failedJobsHistoryLimit,
    timeoutMinutes: params.timeoutMinutes,
  };
}

function prepareGitOps(params: InstallParams, spec: ScheduledRunbook, ctx: ActionContext, folder: string): Promise<GitOpsFile> {
  return prepareGitOpsFile({ workspaceDir: ctx.workspaceDir, folder, entry: `./lifeboat/${spec.name}-${spec.kind.toLowerCase()}.yaml`, content: manifestsFile(spec), overwrite: true });
}

/** How the plan names the Secret's keys, and how to create it (never with values). */
function secretAdvice(spec: ScheduledRunbook): string {
  if (!spec.secret) return 'The runbook reads no secrets.';
  const keys = spec.secrets.steps.map((key) => `--from-literal=${key}=…`).join(' ');
  const optional = spec.secrets.inventory.length > 0 ? `; it may also read ${spec.secrets.inventory.join(', ')} (secrets of lifeboat.yaml's entries)` : '';
  return `Secret '${spec.secret}' must hold the keys ${spec.secrets.steps.join(', ') || '(none)'}${optional}. Create it yourself, e.g. kubectl -n ${spec.namespace} create secret generic ${spec.secret} ${keys}`;
}

/** In apply mode, the Secret must hold every key the runbook's own steps read; the missing optional ones are reported. */
async function checkSecret(spec: ScheduledRunbook, keys: string[] | undefined): Promise<string[]> {
  if (!spec.secret) return [];
  if (!keys) throw new Error(`secret: there is no Secret '${spec.secret}' in namespace ${spec.namespace}. ${secretAdvice(spec)}`);
  const missing = spec.secrets.steps.filter((key) => !keys.includes(key));
  if (missing.length > 0) throw new Error(`secret: Secret '${spec.secret}' in namespace ${spec.namespace} has no key ${missing.join(', ')}, which the runbook reads`);
  return spec.secrets.inventory.filter((key) => !keys.includes(key));
}

/** The kind's own words for what it runs: `0 3 * * * Europe/Berlin` for a CronJob, `without end` for a Deployment. */
function whenItRuns(spec: ScheduledRunbook): string {
  return spec.kind === 'Deployment' ? 'without end, one pod, restarted when it stops' : `${spec.schedule ?? ''}${spec.timeZone ? ` ${spec.timeZone}` : ''}`;
}

function workloadDetail(spec: ScheduledRunbook): string {
  const state = spec.persistentVolumeClaim ? `, ${POD_STATE_FOLDER} on PersistentVolumeClaim ${spec.persistentVolumeClaim}` : '';
  return spec.kind === 'Deployment' ? `1 replica, strategy Recreate, image ${spec.image}${state}` : `schedule ${whenItRuns(spec)}, concurrencyPolicy Forbid, image ${spec.image}${state}`;
}

/**
 * The CronJob or Deployment of that name there now, if any; one of the other kind is refused, as both
 * would run the runbook.
 */
async function existingWorkload(client: KubeClient, spec: ScheduledRunbook): Promise<V1CronJob | V1Deployment | undefined> {
  const [cronJob, deployment] = await Promise.all([readCronJob(client, spec.namespace, spec.name), readDeployment(client, spec.namespace, spec.name)]);
  const other = spec.kind === 'Deployment' ? cronJob && 'CronJob' : deployment && 'Deployment';
  if (other) {
    throw new Error(
      `name: ${other} ${spec.namespace}/${spec.name} already runs a runbook there; both would run it. Give another \`name\`, or delete the ${other} first (kubectl -n ${spec.namespace} delete ${other.toLowerCase()} ${spec.name})`,
    );
  }
  return spec.kind === 'Deployment' ? deployment : cronJob;
}

export const scheduleK8sInstall = defineAction({
  id: 'schedule.k8s.install',
  title: 'Run a runbook in a Kubernetes cluster, as a CronJob or a Deployment',
  description:
    "Puts a runbook and the workspace's lifeboat.yaml (its cluster reached in-cluster, with the pod's service account) into a ConfigMap, and a CronJob that runs `lifeboat run` on it in the Lifeboat image, one run at a time (concurrencyPolicy Forbid) with history limits, or a Deployment whose one pod runs it without end; secrets come from a Kubernetes Secret as LIFEBOAT_SECRET_<NAME>, state may live on a PersistentVolumeClaim. Applied through the API, or written as a GitOps file listed in a kustomization.yaml.",
  params: installParams,
  destructive: false,
  async plan(params, ctx) {
    const spec = await scheduledRunbook(params, ctx);
    const shown = `${spec.kind} ${spec.namespace}/${spec.name}`;
    const summary = `${params.folder ? 'Write' : 'Apply'} ${shown} (${whenItRuns(spec)}) on cluster '${params.cluster}' running: ${runCommand(spec).join(' ')}\n${secretAdvice(spec)}`;
    if (params.folder) {
      const prepared = await prepareGitOps(params, spec, ctx, params.folder);
      const relative = (file: string) => path.relative(ctx.workspaceDir, file);
      const operations: PlannedOperation[] = [
        { kind: prepared.previous === undefined ? 'create' : 'overwrite', target: relative(prepared.file), detail: `\n${prepared.content}` },
        ...(prepared.listed ? [] : [{ kind: 'overwrite' as const, target: relative(prepared.kustomization), detail: `adds \`- ${prepared.entry}\` to resources:` }]),
      ];
      return { summary, operations, destructive: false };
    }
    const client = await kubeClientFor(ctx, params.cluster);
    const configMap = await readConfigMap(client, spec.namespace, configMapName(spec.name));
    const workload = await existingWorkload(client, spec);
    const operations: PlannedOperation[] = [
      ...(spec.secret ? [{ kind: 'read' as const, target: `Secret ${spec.namespace}/${spec.secret}`, detail: `keys ${[...spec.secrets.steps, ...spec.secrets.inventory].join(', ')}` }] : []),
      { kind: configMap ? 'overwrite' : 'create', target: `ConfigMap ${spec.namespace}/${configMapName(spec.name)}`, detail: `${INVENTORY_FILE}, ${runbookKey(spec.runbook)}` },
      { kind: workload ? 'overwrite' : 'create', target: shown, detail: `${workloadDetail(spec)}${workload && spec.kind === 'Deployment' ? '; a changed pod template stops the running pod and starts a new one' : ''}` },
    ];
    return { summary, operations, destructive: false };
  },
  async run(params, ctx): Promise<K8sInstallResult> {
    const spec = await scheduledRunbook(params, ctx);
    const base = {
      cluster: params.cluster,
      kind: spec.kind,
      namespace: spec.namespace,
      name: spec.name,
      ...(spec.schedule ? { schedule: spec.schedule } : {}),
      runbook: spec.runbook,
      image: spec.image,
      command: runCommand(spec),
      ...(spec.secret ? { secret: spec.secret } : {}),
      secretKeys: spec.secrets.steps,
      optionalSecretKeys: spec.secrets.inventory,
    };
    if (params.folder) {
      const prepared = await prepareGitOps(params, spec, ctx, params.folder);
      await writeGitOpsFile(prepared, ctx.workspaceDir);
      return { ...base, mode: 'gitops', file: path.relative(ctx.workspaceDir, prepared.file), kustomization: path.relative(ctx.workspaceDir, prepared.kustomization) };
    }
    const client = await kubeClientFor(ctx, params.cluster);
    const missingOptionalKeys = await checkSecret(spec, spec.secret ? await secretKeys(client, spec.namespace, spec.secret) : undefined);
    await existingWorkload(client, spec);
    const configMap = await applyConfigMap(client, runbookConfigMap(spec));
    const workload = spec.kind === 'Deployment' ? await applyDeployment(client, runbookDeployment(spec)) : await applyCronJob(client, runbookCronJob(spec));
    ctx.log.info(`${spec.kind} ${spec.namespace}/${spec.name} ${workload} on ${client.description}`);
    return { ...base, mode: 'applied', configMap, workload, missingOptionalKeys };
  },
  render(result: K8sInstallResult) {
    const where = result.mode === 'gitops' ? `written to ${result.file ?? ''} (listed in ${result.kustomization ?? ''}); commit and push it for Flux to apply` : `${result.kind} ${result.workload ?? ''}, ConfigMap ${result.configMap ?? ''}`;
    const table = markdownTable(['cluster', result.kind, 'runs', 'runbook', 'image'], [[result.cluster, `${result.namespace}/${result.name}`, result.schedule ?? 'without end', result.runbook, result.image]]);
    const keys = result.secret ? `\n\nSecret '${result.secret}' keys: ${result.secretKeys.join(', ') || 'none'}${result.optionalSecretKeys.length > 0 ? `; optional: ${result.optionalSecretKeys.join(', ')}` : ''}${result.missingOptionalKeys && result.missingOptionalKeys.length > 0 ? ` (not in the Secret: ${result.missingOptionalKeys.join(', ')})` : ''}` : '';
    return `${table}\n\n${where}.${keys}\n\n\`\`\`\n${remoteCommand(result.command)}\n\`\`\``;
  },
});
