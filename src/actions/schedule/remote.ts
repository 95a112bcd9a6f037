import { posix } from 'node:path';
import type { SshConnection } from '../../clients/ssh';
import { INVENTORY_FILE } from '../../core/paths';
import type { RunFileSource } from '../../core/runner/history';
import { RUNS_DIR } from '../../core/runner/records';
import { RUN_ENDED, runsInLog } from './crontab';

/** A Lifeboat workspace on an SSH host, read the way the CLI there writes it. */

export async function remoteFileExists(connection: SshConnection, path: string, signal: AbortSignal): Promise<boolean> {
  return (await connection.exec(['test', '-f', path], { signal })).exitCode === 0;
}

export function inventoryFileOf(workspace: string): string {
  return posix.join(workspace, INVENTORY_FILE);
}

/** The workspace the CLI on the host picks for a runbook: the nearest folder up holding lifeboat.yaml, else the runbook's own. */
export async function workspaceOfRunbook(connection: SshConnection, runbookPath: string, signal: AbortSignal): Promise<string> {
  const start = posix.dirname(runbookPath);
  for (let dir = start; ; dir = posix.dirname(dir)) {
    if (await remoteFileExists(connection, inventoryFileOf(dir), signal)) return dir;
    if (posix.dirname(dir) === dir) return start;
  }
}

/** The run records of a workspace on the host, for `readRunHistory`. */
export function remoteRunFiles(connection: SshConnection, workspace: string, signal: AbortSignal): RunFileSource {
  const dir = posix.join(workspace, RUNS_DIR);
  return {
    async list() {
      const listing = await connection.exec(['ls', '-1A', '--', dir], { signal });
      if (listing.exitCode === 0) return (listing.stdout ?? '').split('\n').filter(Boolean);
      if ((await connection.exec(['test', '-e', dir], { signal })).exitCode !== 0) return [];
      throw new Error(`${connection.label}: cannot list ${dir}: ${listing.stderrTail.trim()}`);
    },
    async read(name) {
      return (await connection.run(['cat', '--', posix.join(dir, name)], { signal })).stdout ?? '';
    },
  };
}

/** The runs a scheduled command's log records; none when the log does not exist yet. */
export async function runsInRemoteLog(connection: SshConnection, logFile: string, signal: AbortSignal): Promise<ReturnType<typeof runsInLog>> {
  // Only the exit lines: a log of months of nightly runs is large, they are a few bytes a night.
  const found = await connection.exec(['grep', '-a', '-e', `^${RUN_ENDED} `, '--', logFile], { signal });
  return found.exitCode === 0 ? runsInLog(found.stdout ?? '') : [];
}

/** The host's offset from UTC now, in minutes: cron reads its expressions on the host's wall clock. */
export async function hostUtcOffsetMinutes(connection: SshConnection, signal: AbortSignal): Promise<number> {
  const printed = ((await connection.run(['date', '+%z'], { signal })).stdout ?? '').trim();
  const match = /^([+-])(\d\d)(\d\d)$/.exec(printed);
  if (!match) throw new Error(`${connection.label}: \`date +%z\` printed '${printed}', not a UTC offset`);
  return (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
}
