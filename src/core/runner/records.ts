import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Redactor } from '../redact';
import { makeFolders } from '../atomicFiles';

export const RUNS_DIR = join('.lifeboat', 'runs');

/** One executed (or planned, refused, cancelled) step, as kept in `.lifeboat/runs/<date>.jsonl`. */
export interface RunRecord {
  time: string;
  user: string;
  host: string;
  /** The run this step belonged to: every step of one run carries the same id. */
  run: string;
  /** ISO time the run started, the same on every record of the run. */
  runStartedAt: string;
  runbook: string;
  cell: number;
  step?: string;
  action: string;
  params: unknown;
  status: string;
  durationMs: number;
  error?: string;
}

/**
 * Appends run records, with every known secret masked, to the workspace's run history. One
 * recorder is one run: create a new one for each run, so the history can group its steps.
 */
export class RunRecorder {
  readonly runId = randomUUID();

  constructor(
    private readonly workspaceDir: string,
    private readonly redactor: Redactor,
    readonly startedAt = new Date(),
  ) {}

  async append(record: Omit<RunRecord, 'time' | 'user' | 'host' | 'run' | 'runStartedAt'>, now = new Date()): Promise<void> {
    // The step's part is masked value by value, then serialised: a substitution in JSON text could
    // break the line. Times and ids are Lifeboat's own, and stay as they are so the run groups its steps.
    const full: RunRecord = { time: now.toISOString(), user: currentUser(), host: hostname(), run: this.runId, runStartedAt: this.startedAt.toISOString(), ...this.redactor.redactValue(record) };
    const dir = join(this.workspaceDir, RUNS_DIR);
    await makeFolders(dir);
    await appendFile(join(dir, `${localDate(now)}.jsonl`), `${JSON.stringify(full)}\n`, { mode: 0o600 });
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** `YYYY-MM-DD` in local time: the name of a day's run file, so names sort by date. */
export function localDate(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
