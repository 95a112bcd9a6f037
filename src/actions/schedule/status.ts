import { posix } from 'node:path';
import * as z from 'zod';
import { sshConnectionFor, type SshConnection } from '../../clients/ssh';
import { parseCronExpression, previousDueTime } from '../../core/cron';
import { defineAction } from '../../core/actions/spec';
import { formatAge, formatLocalDateTime, markdownTable } from '../../core/render';
import { readRunHistory } from '../../core/runner/history';
import { parseLifeboatLine, readCrontab, runbookPathOf, type LifeboatCronLine } from './crontab';
import { defaultLogFile, logFileParam, runbookParam, scheduleHostParam, workspaceParam } from './fields';
import { hostUtcOffsetMinutes, remoteRunFiles, runsInRemoteLog, workspaceOfRunbook } from './remote';

/** Enough runs of a busy workspace to reach back past a week of nightly runs of every runbook. */
const HISTORY_RUNS = 500;

const statusParams = z
  .object({
    host: scheduleHostParam,
    workspace: workspaceParam.optional().describe('The Lifeboat workspace on the host holding the runbook; left out with `runbook`.'),
    runbook: runbookParam.optional().describe('The runbook to report on, relative to `workspace`; left out, every Lifeboat line of the crontab is reported.'),
    logFile: logFileParam.describe('The log file of the runbook\'s scheduled runs, when the crontab line is not there to name it.'),
    graceMinutes: z.number().min(0).default(60).describe('How long a run may take after it was due before its schedule counts as stale.'),
  })
  .strict()
  .refine((params) => (params.runbook === undefined) === (params.workspace === undefined), { message: 'give runbook and workspace together, or neither to report every scheduled runbook', path: ['runbook'] });

export type ScheduleState = 'ok' | 'stale' | 'failed' | 'never ran' | 'not installed';

export interface ScheduledRunStatus {
  /** The runbook's path on the host. */
  runbook: string;
  installed: boolean;
  schedule?: string;
  logFile?: string;
  lastRun?: { endedAt: string; outcome: 'succeeded' | 'failed' | 'cancelled'; from: 'run records' | 'log' };
  lastSuccess?: string;
  /** The latest time the schedule was due, allowing for `graceMinutes`: the last success must be newer. */
  dueSince?: string;
  stale: boolean;
  state: ScheduleState;
}

export interface CronStatusResult {
  host: string;
  checkedAt: string;
  schedules: ScheduledRunStatus[];
}

interface RunEnd {
  endedAt: Date;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  from: 'run records' | 'log';
}

interface Subject {
  runbookPath: string;
  workspace: string;
  line?: LifeboatCronLine;
}

/** How the runs of one runbook ended, from the workspace's run records and the schedule's log together. */
async function runEnds(connection: SshConnection, subject: Subject, logFile: string, signal: AbortSignal): Promise<RunEnd[]> {
  const recorded = posix.relative(subject.workspace, subject.runbookPath);
  const { runs } = await readRunHistory(remoteRunFiles(connection, subject.workspace, signal), { limit: HISTORY_RUNS });
  const fromRecords = runs
    .filter((run) => run.runbook === recorded && run.outcome !== 'planned')
    .map((run): RunEnd => ({ endedAt: new Date(Date.parse(run.startedAt) + run.durationMs), outcome: run.outcome as RunEnd['outcome'], from: 'run records' }));
  // The log also has runs that never got to a step: a runbook that failed its check, a CLI that would not start.
  const fromLog = (await runsInRemoteLog(connection, logFile, signal)).map(({ endedAt, exitCode }): RunEnd => ({ endedAt, outcome: exitCode === 0 ? 'succeeded' : exitCode === 130 ? 'cancelled' : 'failed', from: 'log' }));
  return [...fromRecords, ...fromLog].sort((a, b) => b.endedAt.getTime() - a.endedAt.getTime());
}

interface StatusClock {
  now: Date;
  graceMinutes: number;
  hostUtcOffsetMinutes: number;
}

async function statusOf(connection: SshConnection, subject: Subject, logFileGiven: string | undefined, clock: StatusClock, signal: AbortSignal): Promise<ScheduledRunStatus> {
  const logFile = logFileGiven ?? subject.line?.logFile ?? defaultLogFile(subject.workspace, posix.relative(subject.workspace, subject.runbookPath));
  const ends = await runEnds(connection, subject, logFile, signal);
  const [lastRun] = ends;
  const lastSuccess = ends.find((end) => end.outcome === 'succeeded');
  const status: ScheduledRunStatus = { runbook: subject.runbookPath, installed: subject.line !== undefined, logFile, stale: false, state: 'not installed' };
  if (lastRun) status.lastRun = { endedAt: lastRun.endedAt.toISOString(), outcome: lastRun.outcome, from: lastRun.from };
  if (lastSuccess) status.lastSuccess = lastSuccess.endedAt.toISOString();
  if (!subject.line) return status;

  status.schedule = subject.line.schedule;
  const due = previousDueTime(parseCronExpression(subject.line.schedule), new Date(clock.now.getTime() - clock.graceMinutes * 60_000), clock.hostUtcOffsetMinutes);
  if (due) status.dueSince = due.toISOString();
  status.stale = due !== undefined && (!lastSuccess || lastSuccess.endedAt < due);
  status.state = !lastRun ? 'never ran' : lastRun.outcome !== 'succeeded' ? 'failed' : status.stale ? 'stale' : 'ok';
  return status;
}

export const scheduleCronStatus = defineAction({
  id: 'schedule.cron.status',
  title: 'Check scheduled runbooks',
  description: "Reports whether a runbook is scheduled in an SSH host's crontab (or every runbook that is), when it last ran and last succeeded, from the run records and the log, and whether that is older than its schedule allows.",
  params: statusParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    const what = params.workspace && params.runbook ? runbookPathOf(params.workspace, params.runbook) : 'every scheduled runbook';
    return { summary: `Check the schedule of ${what} on ${params.host}`, operations: [{ kind: 'read', target: params.host, detail: 'crontab, run records, logs' }], destructive: false };
  },
  async run(params, ctx): Promise<CronStatusResult> {
    const now = new Date();
    const connection = await sshConnectionFor(ctx.clients, ctx.inventory, params.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
    const lines = (await readCrontab(connection, ctx.signal)).split('\n').flatMap((line) => parseLifeboatLine(line) ?? []);
    let subjects: Subject[];
    if (params.workspace && params.runbook) {
      const runbookPath = runbookPathOf(params.workspace, params.runbook);
      const line = lines.find((candidate) => candidate.runbookPath === runbookPath);
      subjects = [{ runbookPath, workspace: params.workspace, ...(line ? { line } : {}) }];
    } else {
      subjects = [];
      for (const line of lines) subjects.push({ runbookPath: line.runbookPath, workspace: await workspaceOfRunbook(connection, line.runbookPath, ctx.signal), line });
    }
    const clock = { now, graceMinutes: params.graceMinutes, hostUtcOffsetMinutes: await hostUtcOffsetMinutes(connection, ctx.signal) };
    const schedules: ScheduledRunStatus[] = [];
    for (const subject of subjects) schedules.push(await statusOf(connection, subject, params.logFile, clock, ctx.signal));
    return { host: params.host, checkedAt: now.toISOString(), schedules };
  },
  render(result: CronStatusResult) {
    if (result.schedules.length === 0) return `No runbook is scheduled on ${result.host}.`;
    const when = (iso: string | undefined) => (iso ? formatLocalDateTime(new Date(iso)) : '');
    return markdownTable(
      ['runbook', 'state', 'schedule', 'last run', 'outcome', 'last success', 'age', 'from'],
      result.schedules.map((status) => [
        status.runbook,
        status.state,
        status.schedule ?? '',
        when(status.lastRun?.endedAt),
        status.lastRun?.outcome ?? 'never ran',
        when(status.lastSuccess),
        status.lastSuccess ? formatAge(new Date(status.lastSuccess), new Date(result.checkedAt)) : '',
        status.lastRun?.from ?? '',
      ]),
    );
  },
});
