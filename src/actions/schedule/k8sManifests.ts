import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { parseDocument, stringify, type Document } from 'yaml';
import type { V1ConfigMap, V1CronJob, V1Deployment, V1PodSpec } from '../../clients/kubeWorkloads';
import { secretVariable } from '../../core/actions/context';
import { readSteps } from '../../core/runbook/steps';
import type { RunbookDocument } from '../../core/runbook/model';
import { secretName } from '../../core/secrets';
import { INVENTORY_FILE } from '../../core/paths';

/**
 * The Kubernetes objects of a runbook run by the cluster: a ConfigMap holding the runbook and an
 * inventory in which its cluster is the one the pod runs in, and the workload that runs `lifeboat run`
 * on them in the Lifeboat image (Dockerfile): a CronJob whose Jobs run it on a schedule, one run at a
 * time, or a Deployment whose one pod runs it without end (a runbook that watches), restarted by the
 * cluster when it stops.
 */

/** The image's program, its ENTRYPOINT (Dockerfile): installed on the PATH from the CLI's package. */
export const IMAGE_PROGRAM = 'lifeboat';
/** The image's WORKDIR, where the Job's pod has the runbook and writes its run records. */
export const POD_WORKSPACE = '/workspace';
/** Labels every object of a scheduled runbook carries, for `schedule.k8s.status` to find them all. */
export const SCHEDULED_RUNBOOK_LABELS = { 'app.kubernetes.io/name': 'lifeboat', 'app.kubernetes.io/component': 'scheduled-runbook' } as const;
/** The annotation naming the runbook (relative to the workspace) a CronJob or Deployment runs. */
export const RUNBOOK_ANNOTATION = 'lifeboat/runbook';
/**
 * On a Deployment's pod template: the SHA-256 of the runbook and lifeboat.yaml it runs. A running pod
 * never sees a changed ConfigMap (its files are subPath mounts), so a change of either changes the
 * template, and the cluster replaces the pod.
 */
export const CONTENT_HASH_ANNOTATION = 'lifeboat/content-sha256';
/** Where the pod keeps its run records and state (the snapshot mirror's among them): a PersistentVolumeClaim when one is given. */
export const POD_STATE_FOLDER = posix.join(POD_WORKSPACE, '.lifeboat');

export type ScheduledKind = 'CronJob' | 'Deployment';

export interface ScheduledRunbook {
  kind: ScheduledKind;
  name: string;
  namespace: string;
  /** The CronJob's; a Deployment has none. */
  schedule?: string;
  timeZone?: string;
  image: string;
  /** Relative to the workspace. */
  runbook: string;
  runbookText: string;
  /** The workspace's lifeboat.yaml with the cluster made the pod's own. */
  inventoryText: string;
  params: Readonly<Record<string, string | number | boolean>>;
  yes: boolean;
  /** The Kubernetes Secret the runbook's secrets come from. */
  secret?: string;
  secrets: SecretsNeeded;
  serviceAccount?: string;
  /** Mounted at POD_STATE_FOLDER; an emptyDir (gone with the pod) when not given. */
  persistentVolumeClaim?: string;
  successfulJobsHistoryLimit: number;
  failedJobsHistoryLimit: number;
  timeoutMinutes: number;
}

/** The secrets (by `secret:NAME` name) a scheduled run reads: `steps` the runbook's own cells and parameters name, `inventory` those of lifeboat.yaml's entries, which it may use. */
export interface SecretsNeeded {
  steps: string[];
  inventory: string[];
}

/** The key a ConfigMap holds the runbook under: its file name, which Kubernetes accepts as a key. */
export function runbookKey(runbook: string): string {
  const key = posix.basename(runbook);
  if (!/^[-._a-zA-Z0-9]+$/.test(key) || key === INVENTORY_FILE) {
    throw new Error(`runbook: the file name ${JSON.stringify(key)} cannot be a ConfigMap key (letters, digits, '-', '_' and '.'; not ${INVENTORY_FILE}): rename the runbook`);
  }
  return key;
}

/** A CronJob name from the runbook's file name (`nightly-backup.runbook.md` → `nightly-backup`), when it is one. */
export function defaultScheduleName(runbook: string): string | undefined {
  const stem = posix.basename(runbook).replace(/\.runbook\.md$|\.md$/, '').toLowerCase();
  return /^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/.test(stem) ? stem : undefined;
}

/** The workspace's inventory for the pod: the same file (comments and all) with `clusters.<cluster>` reached in-cluster. */
export function inClusterInventory(text: string | undefined, cluster: string): string {
  const document: Document = parseDocument(text ?? '');
  if (document.errors.length > 0) throw new Error(`${INVENTORY_FILE}: ${document.errors[0]?.message ?? 'not valid YAML'}`);
  if (document.contents === null) document.contents = document.createNode({});
  document.setIn(['clusters', cluster], document.createNode({ inCluster: true }));
  return document.toString();
}

/** Every `secret:NAME` a value holds, at any depth. */
function secretNamesIn(value: unknown, found: Set<string>): Set<string> {
  const name = secretName(value);
  if (name !== undefined) found.add(name);
  else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) secretNamesIn(item, found);
  return found;
}

/** The secrets a scheduled run of the runbook reads, and the environment variable each arrives in; names two variables would share are refused. */
export function secretsNeeded(document: RunbookDocument, params: Readonly<Record<string, unknown>>, inventory: unknown): SecretsNeeded {
  const fromSteps = new Set<string>();
  for (const step of readSteps(document).steps) secretNamesIn(step.params, fromSteps);
  secretNamesIn(document.frontmatter?.params, fromSteps);
  secretNamesIn(params, fromSteps);
  const fromInventory = [...secretNamesIn(inventory, new Set())].filter((name) => !fromSteps.has(name));
  const all = [...fromSteps, ...fromInventory];
  const byVariable = new Map<string, string>();
  for (const name of all) {
    const other = byVariable.get(secretVariable(name));
    if (other !== undefined) throw new Error(`secrets '${other}' and '${name}' would both be ${secretVariable(name)}: rename one of them`);
    byVariable.set(secretVariable(name), name);
  }
  return { steps: [...fromSteps].sort(), inventory: fromInventory.sort() };
}

/** The `lifeboat run` command of the Job's container, as an argument list (never a shell string). */
export function runCommand(spec: ScheduledRunbook): string[] {
  const params = Object.entries(spec.params).flatMap(([name, value]) => ['--param', `${name}=${String(value)}`]);
  return [IMAGE_PROGRAM, 'run', runbookKey(spec.runbook), ...params, ...(spec.yes ? ['--yes'] : [])];
}

/**
 * The `lifeboat run` command `runCommand` wrote, read back: the runbook's key and the parameters the
 * pod runs it with. Undefined for any other command (a manifest changed by hand), whose parameters
 * cannot be told.
 */
export function readRunCommand(command: readonly string[]): { runbookKey: string; params: Record<string, string> } | undefined {
  const [program, verb, key, ...rest] = command;
  if (program !== IMAGE_PROGRAM || verb !== 'run' || key === undefined) return undefined;
  const pairs = rest.at(-1) === '--yes' ? rest.slice(0, -1) : rest;
  if (pairs.length % 2 !== 0) return undefined;
  const params: Record<string, string> = {};
  for (let index = 0; index < pairs.length; index += 2) {
    const assignment = pairs[index + 1] ?? '';
    const equals = assignment.indexOf('=');
    const name = assignment.slice(0, equals);
    // The CLI refuses a parameter given twice: that pod runs nothing.
    if (pairs[index] !== '--param' || equals < 1 || Object.hasOwn(params, name)) return undefined;
    params[name] = assignment.slice(equals + 1);
  }
  return { runbookKey: key, params };
}

/** The labels of every object of the scheduled runbook named `name`. */
function labelsOf(name: string): Record<string, string> {
  return { ...SCHEDULED_RUNBOOK_LABELS, 'app.kubernetes.io/instance': name };
}

/** The label selector of every object schedule.k8s.install makes, or of those of the one named `name`. */
export function scheduledRunbookSelector(name?: string): string {
  return Object.entries(name === undefined ? SCHEDULED_RUNBOOK_LABELS : labelsOf(name))
    .map(([label, value]) => `${label}=${value}`)
    .join(',');
}

export function configMapName(scheduleName: string): string {
  return `${scheduleName}-runbook`;
}

export function runbookConfigMap(spec: ScheduledRunbook): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: configMapName(spec.name), namespace: spec.namespace, labels: labelsOf(spec.name) },
    data: { [INVENTORY_FILE]: spec.inventoryText, [runbookKey(spec.runbook)]: spec.runbookText },
  };
}

/** The pod that runs the runbook once (`Never`, a Job's) or for as long as it runs (`Always`, a Deployment's). */
function runbookPod(spec: ScheduledRunbook, restartPolicy: 'Never' | 'Always'): V1PodSpec {
  const key = runbookKey(spec.runbook);
  // A secret of the runbook's own steps must be there for the pod to start; one only an inventory entry names may be missing.
  const env = [...spec.secrets.steps.map((name) => [name, false] as const), ...spec.secrets.inventory.map((name) => [name, true] as const)].map(([name, optional]) => ({
    name: secretVariable(name),
    valueFrom: { secretKeyRef: { name: spec.secret ?? '', key: name, optional } },
  }));
  return {
    restartPolicy,
    ...(spec.serviceAccount ? { serviceAccountName: spec.serviceAccount } : {}),
    securityContext: { runAsNonRoot: true },
    containers: [
      {
        name: 'lifeboat',
        image: spec.image,
        command: runCommand(spec),
        workingDir: POD_WORKSPACE,
        ...(env.length > 0 ? { env } : {}),
        securityContext: { allowPrivilegeEscalation: false },
        volumeMounts: [
          { name: 'workspace', mountPath: POD_WORKSPACE },
          ...(spec.persistentVolumeClaim ? [{ name: 'state', mountPath: POD_STATE_FOLDER }] : []),
          { name: 'runbook', mountPath: posix.join(POD_WORKSPACE, INVENTORY_FILE), subPath: INVENTORY_FILE, readOnly: true },
          { name: 'runbook', mountPath: posix.join(POD_WORKSPACE, key), subPath: key, readOnly: true },
        ],
      },
    ],
    // The workspace is writable for the run records; the runbook and inventory are the ConfigMap's files in it.
    volumes: [
      { name: 'workspace', emptyDir: {} },
      ...(spec.persistentVolumeClaim ? [{ name: 'state', persistentVolumeClaim: { claimName: spec.persistentVolumeClaim } }] : []),
      { name: 'runbook', configMap: { name: configMapName(spec.name) } },
    ],
  };
}

export function runbookCronJob(spec: ScheduledRunbook): V1CronJob {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: spec.name, namespace: spec.namespace, labels: labelsOf(spec.name), annotations: { [RUNBOOK_ANNOTATION]: spec.runbook } },
    spec: {
      schedule: spec.schedule ?? '',
      ...(spec.timeZone ? { timeZone: spec.timeZone } : {}),
      // A run that is still going when the next is due is left to finish; the next one is skipped.
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: spec.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: spec.failedJobsHistoryLimit,
      jobTemplate: {
        metadata: { labels: labelsOf(spec.name) },
        spec: {
          // A failed run is reported, not repeated: its steps may have done half their work.
          backoffLimit: 0,
          // A run that hangs would hold every later run back (Forbid): it is stopped and fails.
          activeDeadlineSeconds: spec.timeoutMinutes * 60,
          template: { metadata: { labels: labelsOf(spec.name) }, spec: runbookPod(spec, 'Never') },
        },
      },
    },
  };
}

export function runbookDeployment(spec: ScheduledRunbook): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: spec.name, namespace: spec.namespace, labels: labelsOf(spec.name), annotations: { [RUNBOOK_ANNOTATION]: spec.runbook } },
    spec: {
      replicas: 1,
      // The old pod is gone before the new one starts: a rollout never runs the runbook twice at once.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: labelsOf(spec.name) },
      template: {
        metadata: { labels: labelsOf(spec.name), annotations: { [CONTENT_HASH_ANNOTATION]: createHash('sha256').update(spec.inventoryText).update('\0').update(spec.runbookText).digest('hex') } },
        spec: runbookPod(spec, 'Always'),
      },
    },
  };
}

/** The GitOps file: the ConfigMap and the workload as two YAML documents. */
export function manifestsFile(spec: ScheduledRunbook): string {
  return [runbookConfigMap(spec), spec.kind === 'Deployment' ? runbookDeployment(spec) : runbookCronJob(spec)].map((manifest) => `---\n${stringify(manifest, { lineWidth: 0 })}`).join('');
}
