import * as z from 'zod';
import { KubeError, type KubeObject } from '../../clients/kube';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { CancelledError, isCancellationError } from '../../core/errors';
import { ThrottledProgress } from '../../core/progress';
import { formatDuration } from '../../core/render';
import { describeExpiry, describeItems, describePhase, summarizeBackup, type BackupSummary } from './backups';
import { FAILED_PHASES, includedNamespace, isTerminal, phaseOf, SCHEDULE_NAME_LABEL, VELERO_RESOURCES, VeleroCluster, veleroObjectName, veleroTargetParams } from './resources';

/** A Go duration as Velero reads `ttl`: hours, minutes and seconds (`720h`, `72h0m0s`, `90m`). */
const goDuration = z.string().regex(/^(?=\d)(?:\d+h)?(?:\d+m)?(?:\d+s)?$/, 'a duration in hours, minutes and seconds, e.g. 720h or 72h30m');
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, 'a label value (up to 63 letters, digits, -, _ and .)');
/** Kubernetes labels: each key a name with an optional DNS prefix, each value a label value. */
export const labelMap = z.record(z.string(), labelValue).superRefine((labels, issues) => {
  for (const key of Object.keys(labels)) if (!LABEL_KEY.test(key)) issues.addIssue({ code: 'custom', path: [key], message: `'${key}' is not a label key (a name of letters, digits, -, _ and ., with an optional DNS prefix and /)` });
});

const backupCreateParams = z
  .object({
    ...veleroTargetParams,
    name: veleroObjectName.optional().describe('The backup\'s name; `<schedule>-<UTC time>` from a schedule, `<namespace>-<UTC time>` otherwise.'),
    fromSchedule: veleroObjectName.optional().describe("Back up now with this Schedule's template and labels, as `velero backup create --from-schedule` does."),
    namespaces: z.array(includedNamespace).min(1).optional().describe('Namespaces to back up; every namespace when left out.'),
    defaultVolumesToFsBackup: z.boolean().optional().describe("Copy every pod volume's files (kopia, Velero's fs-backup uploader) instead of snapshotting volumes."),
    includeClusterResources: z.boolean().optional().describe('Include cluster-scoped resources; Velero decides when left out.'),
    ttl: goDuration.optional().describe('How long Velero keeps the backup (720h when left out).'),
    labels: labelMap.optional().describe('Labels put on the backup.'),
    storageLocation: veleroObjectName.optional().describe('The BackupStorageLocation to write to; the default location when left out.'),
    wait: z.boolean().default(true).describe('Wait until the backup has finished.'),
    timeoutMinutes: z.number().positive().default(60).describe('How long to wait for the backup to finish.'),
  })
  .strict()
  .superRefine((params, issues) => {
    if (params.fromSchedule === undefined) return;
    const overridden = (['namespaces', 'defaultVolumesToFsBackup', 'includeClusterResources', 'ttl', 'storageLocation'] as const).filter((field) => params[field] !== undefined);
    for (const field of overridden) issues.addIssue({ code: 'custom', path: [field], message: `\`fromSchedule\` takes the schedule's template as it is: leave \`${field}\` out or change the Schedule` });
  });

type BackupCreateParams = z.output<typeof backupCreateParams>;

export interface BackupCreateResult {
  cluster: string;
  veleroNamespace: string;
  backup: BackupSummary;
  /** Every phase the backup went through while waited for, in order. */
  phases: string[];
  waited: boolean;
}

/** `YYYYMMDDhhmmss` in UTC, as Velero names a schedule's backups. */
function compactUtc(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, '').replace(/[-:T]/g, '');
}

function backupName(params: BackupCreateParams, now: Date): string {
  if (params.name) return params.name;
  const base = params.fromSchedule ?? (params.namespaces?.length === 1 ? params.namespaces[0] : 'backup') ?? 'backup';
  return `${base.slice(0, 48)}-${compactUtc(now)}`;
}

/** The Backup object: the flags' fields, or the schedule's template with its labels (Velero's `FromSchedule`). */
async function backupObject(velero: VeleroCluster, params: BackupCreateParams, name: string): Promise<KubeObject> {
  let spec: Record<string, unknown> = {};
  let labels: Record<string, string> = {};
  if (params.fromSchedule) {
    const schedule = await velero.find('schedule', params.fromSchedule);
    const { metadata: templateMetadata, ...template } = (schedule.spec?.template ?? {}) as Record<string, unknown> & { metadata?: { labels?: Record<string, string> } };
    spec = template;
    labels = { ...(templateMetadata?.labels ?? schedule.metadata.labels ?? {}), [SCHEDULE_NAME_LABEL]: params.fromSchedule };
  } else {
    const fields = {
      includedNamespaces: params.namespaces ?? ['*'],
      defaultVolumesToFsBackup: params.defaultVolumesToFsBackup,
      includeClusterResources: params.includeClusterResources,
      ttl: params.ttl,
      storageLocation: params.storageLocation,
    };
    spec = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  }
  return { apiVersion: 'velero.io/v1', kind: 'Backup', metadata: { name, namespace: velero.namespace, labels: { ...labels, ...params.labels } }, spec };
}

function why(backup: BackupSummary): string {
  const reasons = [backup.failureReason, ...backup.validationErrors].filter(Boolean);
  const counts = backup.warnings + backup.errors > 0 ? ` (${backup.warnings} warnings, ${backup.errors} errors)` : '';
  return `${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}${counts}`;
}

/** Follows the backup until it finishes, reporting its queue position and items as they change. */
async function waitForBackup(velero: VeleroCluster, name: string, timeoutMinutes: number, ctx: ActionContext, phases: string[]): Promise<KubeObject> {
  const progress = new ThrottledProgress(ctx.progress);
  const deadline = Date.now() + timeoutMinutes * 60_000;
  let latest: KubeObject | undefined;
  const stillRunning = () => {
    const summary = latest ? summarizeBackup(latest) : undefined;
    const state = summary ? `${describePhase(summary)}${summary.itemsBackedUp === undefined ? '' : `, ${describeItems(summary)}`}` : 'not yet seen';
    return `backup ${name} keeps running in cluster ${velero.cluster} (${state}); nothing was deleted. Follow it with velero.backups.list, or stop it with velero.backup.delete`;
  };
  try {
    return await velero.client.waitForObject(VELERO_RESOURCES.backup, velero.namespace, name, {
      isDone: (object) => isTerminal('backup', object),
      intervalMs: 250,
      timeoutMs: timeoutMinutes * 60_000,
      signal: ctx.signal,
      onUpdate(object) {
        latest = object;
        const summary = summarizeBackup(object);
        const phase = summary.phase ?? 'New';
        if (phases.at(-1) !== phase) phases.push(phase);
        progress.update({
          message: `backup ${name}: ${describePhase(summary)}`,
          ...(summary.itemsBackedUp === undefined ? {} : { items: summary.itemsBackedUp }),
          ...(summary.totalItems === undefined ? {} : { totalItems: summary.totalItems }),
        });
      },
    });
  } catch (error) {
    if (isCancellationError(error) || ctx.signal.aborted) throw new CancelledError(`Stopped waiting: ${stillRunning()}.`);
    if (error instanceof KubeError && Date.now() >= deadline) throw new Error(`Velero did not finish within ${formatDuration(timeoutMinutes * 60_000)}: ${stillRunning()}.`);
    throw error;
  } finally {
    progress.flush();
  }
}

export const veleroBackupCreate = defineAction({
  id: 'velero.backup.create',
  title: 'Create Velero Backup',
  description:
    "Creates a Velero backup of namespaces (or from a Schedule's template) and waits for it, reporting its place in Velero's backup queue and the items backed up. Fails with Velero's reasons when it ends Failed, PartiallyFailed or FailedValidation; cancelling stops waiting and leaves the backup running.",
  params: backupCreateParams,
  destructive: false,
  async plan(params) {
    const name = backupName(params, new Date());
    const what = params.fromSchedule ? `with the template of Schedule ${params.fromSchedule}` : `of ${params.namespaces ? `namespaces ${params.namespaces.join(', ')}` : 'every namespace'}`;
    const detail = [params.defaultVolumesToFsBackup ? 'pod volumes copied by kopia' : '', params.ttl ? `kept ${params.ttl}` : ''].filter(Boolean).join(', ');
    return { summary: `Create Velero backup ${name} ${what} in cluster ${params.cluster}`, operations: [{ kind: 'create', target: `Backup ${params.veleroNamespace}/${name} in cluster ${params.cluster}`, ...(detail ? { detail } : {}) }], destructive: false };
  },
  async run(params, ctx): Promise<BackupCreateResult> {
    const velero = await VeleroCluster.connect(ctx, params);
    await velero.locations();
    const name = backupName(params, new Date());
    const created = await velero.create('backup', await backupObject(velero, params, name));
    const phases: string[] = [phaseOf(created) ?? 'New'];
    if (!params.wait) return { cluster: params.cluster, veleroNamespace: params.veleroNamespace, backup: summarizeBackup(created), phases, waited: false };
    const finished = await waitForBackup(velero, name, params.timeoutMinutes, ctx, phases);
    const backup = summarizeBackup(finished);
    if (FAILED_PHASES.has(backup.phase ?? '')) {
      throw new Error(`Velero backup ${name} in cluster ${params.cluster} ended ${backup.phase}${why(backup)}; its log: velero.backup.logs with backup ${name}`);
    }
    return { cluster: params.cluster, veleroNamespace: params.veleroNamespace, backup, phases, waited: true };
  },
  render(result: BackupCreateResult) {
    const { backup } = result;
    if (!result.waited) return `Velero backup ${backup.name} was created in cluster ${result.cluster}; not waited for.`;
    const expiry = describeExpiry(backup.expiration);
    return [
      `Velero backup ${backup.name} in cluster ${result.cluster}: ${backup.phase ?? 'New'}, ${describeItems(backup) || 'no items counted'}.`,
      '',
      `- Phases: ${result.phases.join(' → ')}`,
      `- Namespaces: ${backup.namespaces.join(', ')}`,
      ...(backup.started ? [`- Started ${backup.started}${backup.completed ? `, completed ${backup.completed}` : ''}`] : []),
      ...(expiry ? [`- Expires ${expiry} (${backup.expiration ?? ''})`] : []),
      `- Warnings: ${backup.warnings}, errors: ${backup.errors}`,
    ].join('\n');
  },
});
