import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatDuration, formatLocalDateTime, markdownTable } from '../render';
import { localDate, RUNS_DIR } from './records';

/**
 * The run history of a workspace, read back from `.lifeboat/runs/*.jsonl`: records grouped into
 * runs, newest first. The files are append-only logs that people and other tools may touch, so a
 * line that is not a record is counted and skipped, never fatal.
 */

export type RunOutcome = 'succeeded' | 'failed' | 'cancelled' | 'planned';

export interface RunStepRecord {
  /** ISO time the step ended. */
  time: string;
  cell: number;
  step?: string;
  action: string;
  /** As recorded: succeeded, failed, cancelled, planned or refused. */
  status: string;
  durationMs: number;
  /** The parameters as recorded, secrets already masked. */
  params: unknown;
  error?: string;
}

export interface RunSummary {
  id: string;
  runbook: string;
  startedAt: string;
  user: string;
  host: string;
  outcome: RunOutcome;
  /** From the start of the run to the end of its last recorded step. */
  durationMs: number;
  /** In the order they ran. */
  steps: RunStepRecord[];
}

export interface RunHistory {
  runs: RunSummary[];
  /** Lines that were not run records (torn writes, hand edits); they are left out. */
  skippedLines: number;
}

export const DEFAULT_RUN_LIMIT = 50;

const RUN_FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;

interface ParsedRecord extends RunStepRecord {
  run?: string;
  runStartedAt?: string;
  runbook: string;
  user: string;
  host: string;
}

/** The run files of a workspace, wherever it is: this machine's folder, or another host's over SSH. */
export interface RunFileSource {
  /** The names in the workspace's runs folder; none when it does not exist yet. */
  list(): Promise<string[]>;
  read(name: string): Promise<string>;
}

/** The runs folder of a workspace on this machine. */
function localRunFiles(workspaceDir: string): RunFileSource {
  const dir = join(workspaceDir, RUNS_DIR);
  return {
    async list() {
      try {
        return await readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    },
    read: (name) => readFile(join(dir, name), 'utf8'),
  };
}

/** The newest `limit` runs of a workspace; an empty history when nothing was recorded yet. */
export async function readRunHistory(workspace: string | RunFileSource, { limit = DEFAULT_RUN_LIMIT }: { limit?: number } = {}): Promise<RunHistory> {
  const source = typeof workspace === 'string' ? localRunFiles(workspace) : workspace;
  const days = (await source.list()).filter((file) => RUN_FILE.test(file)).sort().reverse();
  const runs = new Map<string, RunSummary>();
  let skippedLines = 0;
  let newestFirst: RunSummary[] = [];
  for (const file of days) {
    const text = await source.read(file);
    text.split('\n').forEach((line, index) => {
      if (line.trim() === '') return;
      const record = parseRecord(line);
      if (!record) {
        skippedLines++;
        return;
      }
      addRecord(runs, record, `${file}:${index + 1}`);
    });
    newestFirst = [...runs.values()].sort(byStartDescending);
    // A run's records are in the files of the days from its start on, all read by now: once the
    // limit-th run started on this file's day or later, every run kept is complete.
    const last = newestFirst[limit - 1];
    const day = RUN_FILE.exec(file)?.[1] ?? '';
    if (last && localDate(new Date(last.startedAt)) >= day) break;
  }
  const kept = newestFirst.slice(0, limit);
  for (const run of kept) finish(run);
  return { runs: kept, skippedLines };
}

function parseRecord(line: string): ParsedRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const { time, runbook, cell, action, status, durationMs } = record;
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) return undefined;
  if (typeof runbook !== 'string' || typeof cell !== 'number' || typeof action !== 'string' || typeof status !== 'string' || typeof durationMs !== 'number') return undefined;
  const parsed: ParsedRecord = {
    time,
    runbook,
    cell,
    action,
    status,
    durationMs,
    params: record.params,
    user: typeof record.user === 'string' ? record.user : '',
    host: typeof record.host === 'string' ? record.host : '',
  };
  if (typeof record.step === 'string') parsed.step = record.step;
  if (typeof record.error === 'string') parsed.error = record.error;
  if (typeof record.run === 'string' && typeof record.runStartedAt === 'string' && !Number.isNaN(Date.parse(record.runStartedAt))) {
    parsed.run = record.run;
    parsed.runStartedAt = record.runStartedAt;
  }
  return parsed;
}

/** Records written before runs had ids each stand for a run of their own. */
function addRecord(runs: Map<string, RunSummary>, record: ParsedRecord, where: string): void {
  const id = record.run ?? `record:${where}`;
  let run = runs.get(id);
  if (!run) {
    const startedAt = record.runStartedAt ?? new Date(Date.parse(record.time) - record.durationMs).toISOString();
    run = { id, runbook: record.runbook, startedAt, user: record.user, host: record.host, outcome: 'succeeded', durationMs: 0, steps: [] };
    runs.set(id, run);
  }
  const step: RunStepRecord = { time: record.time, cell: record.cell, action: record.action, status: record.status, durationMs: record.durationMs, params: record.params };
  if (record.step !== undefined) step.step = record.step;
  if (record.error !== undefined) step.error = record.error;
  run.steps.push(step);
}

function byStartDescending(a: RunSummary, b: RunSummary): number {
  return a.startedAt === b.startedAt ? b.id.localeCompare(a.id) : a.startedAt < b.startedAt ? 1 : -1;
}

function finish(run: RunSummary): void {
  run.steps.sort((a, b) => (a.time === b.time ? a.cell - b.cell : a.time < b.time ? -1 : 1));
  run.outcome = outcomeOf(run.steps);
  const ended = Math.max(...run.steps.map((step) => Date.parse(step.time)));
  run.durationMs = Math.max(0, ended - Date.parse(run.startedAt));
}

function outcomeOf(steps: readonly RunStepRecord[]): RunOutcome {
  if (steps.some((step) => step.status === 'failed' || step.status === 'refused')) return 'failed';
  if (steps.some((step) => step.status === 'cancelled')) return 'cancelled';
  if (steps.every((step) => step.status === 'planned')) return 'planned';
  return 'succeeded';
}

/** A run as a Markdown document a person reads: when, who, each step with its parameters and error. */
export function renderRunMarkdown(run: RunSummary): string {
  const lines = [
    `# ${run.runbook}: ${run.outcome}`,
    '',
    `Started ${formatLocalDateTime(new Date(run.startedAt))} by ${run.user || 'unknown'}${run.host ? `@${run.host}` : ''}, ${formatDuration(run.durationMs)} in all. Run \`${run.id}\`.`,
    '',
    markdownTable(
      ['Cell', 'Step', 'Action', 'Status', 'Duration'],
      run.steps.map((step) => [step.cell, step.step ?? '', step.action, step.status, formatDuration(step.durationMs)]),
    ),
  ];
  for (const step of run.steps) {
    lines.push('', `## Cell ${step.cell}${step.step ? ` (${step.step})` : ''}: ${step.action}, ${step.status}`, '');
    if (step.params !== undefined) lines.push('Parameters:', '', fenced(JSON.stringify(step.params, null, 2), 'json'));
    if (step.error !== undefined) lines.push('', 'Error:', '', fenced(step.error, 'text'));
  }
  return `${lines.join('\n')}\n`;
}

/** A code fence longer than any run of backticks in the text, so the text cannot end it early. */
function fenced(text: string, language: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${text}\n${fence}`;
}
