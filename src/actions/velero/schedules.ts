import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import { parseCronExpression, previousDueTime } from '../../core/cron';
import { formatAge, markdownTable } from '../../core/render';
import { listBackups, type BackupSummary } from './backups';
import { phaseOf, SCHEDULE_NAME_LABEL, VeleroCluster, veleroObjectName, veleroTargetParams } from './resources';

export type ScheduleVerdict = 'ok' | 'stale' | 'failed' | 'paused' | 'invalid';

export interface ScheduleSummary {
  name: string;
  cron: string;
  phase?: string;
  paused: boolean;
  /** When Velero last made a backup for it (`status.lastBackup`). */
  lastBackup?: string;
  /** The newest backup carrying its label, with its phase. */
  newestBackup?: { name: string; phase?: string };
  /** The latest time the cron says a backup was due (a grace period before now). */
  lastDue?: string;
  verdict: ScheduleVerdict;
  /** Why, in a sentence. */
  reason: string;
}

/**
 * What a schedule's state says: a backup older than the last due time is stale, a newest backup
 * that failed is failing, and a paused or invalid schedule is named as such. `graceMinutes` gives
 * Velero time to start the backup that is due.
 */
export function judgeSchedule(schedule: KubeObject, backups: readonly BackupSummary[], now: Date, graceMinutes: number): ScheduleSummary {
  const cron = String(schedule.spec?.schedule ?? '');
  const lastBackup = typeof schedule.status?.lastBackup === 'string' ? schedule.status.lastBackup : undefined;
  const newest = backups[0];
  const base = {
    name: schedule.metadata.name,
    cron,
    paused: schedule.spec?.paused === true,
    ...(phaseOf(schedule) ? { phase: phaseOf(schedule) } : {}),
    ...(lastBackup ? { lastBackup } : {}),
    ...(newest ? { newestBackup: { name: newest.name, ...(newest.phase ? { phase: newest.phase } : {}) } } : {}),
  };
  const age = lastBackup ? `last backup ${formatAge(new Date(lastBackup), now)}` : 'no backup yet';
  if (phaseOf(schedule) === 'FailedValidation') {
    const errors = Array.isArray(schedule.status?.validationErrors) ? schedule.status.validationErrors.map(String).join('; ') : '';
    return { ...base, verdict: 'invalid', reason: `Velero refused the schedule${errors ? `: ${errors}` : ''}` };
  }
  if (base.paused) return { ...base, verdict: 'paused', reason: `paused; ${age}` };
  let due: Date | undefined;
  try {
    due = previousDueTime(parseCronExpression(cron, 'velero'), new Date(now.getTime() - graceMinutes * 60_000));
  } catch (error) {
    return { ...base, verdict: 'invalid', reason: errorMessage(error) };
  }
  const withDue = { ...base, ...(due ? { lastDue: due.toISOString() } : {}) };
  if (newest && (newest.phase === 'Failed' || newest.phase === 'PartiallyFailed' || newest.phase === 'FailedValidation')) {
    return { ...withDue, verdict: 'failed', reason: `its newest backup ${newest.name} ended ${newest.phase}; ${age}` };
  }
  const created = Date.parse(schedule.metadata.creationTimestamp ?? '') || 0;
  const last = lastBackup ? Date.parse(lastBackup) : undefined;
  // A schedule made after its last due time has not missed anything yet.
  if (due && due.getTime() > created && (last === undefined || last < due.getTime())) {
    return { ...withDue, verdict: 'stale', reason: `${age}, but a backup was due ${formatAge(due, now)} (${cron})` };
  }
  return { ...withDue, verdict: 'ok', reason: `${age} (${cron})` };
}

const schedulesListParams = z
  .object({
    ...veleroTargetParams,
    schedule: veleroObjectName.optional().describe('Only this Schedule.'),
    graceMinutes: z.number().nonnegative().default(30).describe('How late a due backup may be before its schedule counts as stale.'),
  })
  .strict();

export interface SchedulesListResult {
  cluster: string;
  veleroNamespace: string;
  schedules: ScheduleSummary[];
}

export const veleroSchedulesList = defineAction({
  id: 'velero.schedules.list',
  title: 'List Velero Schedules',
  description: "Lists a cluster's Velero Schedules with their last backup and its age against the cron expression; a schedule whose due backup is missing is flagged stale, one whose newest backup failed is flagged failed.",
  params: schedulesListParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `List the Velero schedules of cluster ${params.cluster}`, operations: [{ kind: 'read', target: `cluster ${params.cluster}, namespace ${params.veleroNamespace}`, detail: 'Schedules and their backups' }], destructive: false };
  },
  async run(params, ctx): Promise<SchedulesListResult> {
    const velero = await VeleroCluster.connect(ctx, params);
    await velero.locations();
    const schedules = params.schedule ? [await velero.find('schedule', params.schedule)] : await velero.list('schedule');
    const backups = await listBackups(velero, SCHEDULE_NAME_LABEL);
    const now = new Date();
    return {
      cluster: params.cluster,
      veleroNamespace: params.veleroNamespace,
      schedules: schedules.map((schedule) => judgeSchedule(schedule, backups.filter((backup) => backup.schedule === schedule.metadata.name), now, params.graceMinutes)),
    };
  },
  render(result: SchedulesListResult) {
    if (result.schedules.length === 0) return `No Velero schedules in cluster ${result.cluster}.`;
    const flagged = result.schedules.filter((schedule) => schedule.verdict !== 'ok');
    const head = flagged.length === 0 ? `All ${result.schedules.length} Velero schedules of cluster ${result.cluster} are on time.` : `${flagged.length} of ${result.schedules.length} Velero schedules of cluster ${result.cluster} need a look: ${flagged.map((schedule) => `${schedule.name} (${schedule.verdict})`).join(', ')}.`;
    const rows = result.schedules.map((schedule) => [schedule.name, schedule.cron, schedule.verdict, schedule.lastBackup ?? '', schedule.newestBackup ? `${schedule.newestBackup.name} (${schedule.newestBackup.phase ?? 'New'})` : '', schedule.reason]);
    return `${head}\n\n${markdownTable(['Schedule', 'Cron', 'Verdict', 'Last backup', 'Newest backup', 'Why'], rows)}`;
  },
});
