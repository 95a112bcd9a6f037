import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { remoteCommand, type ExecResult, type SshConnection } from '../../clients/ssh';

/**
 * The crontab lines Lifeboat owns. Each runs `lifeboat run` on one runbook, appends its output to a
 * log file and then a line with the exit code and time, and ends with a marker comment that names
 * the runbook, so the line is found again, replaced in place, and every other line left as it was.
 */

const MARKER = ' # lifeboat:';
/** Debian cron's limit on the command part of a line: longer ones are cut. */
const MAX_COMMAND_CHARS = 999;
/** The environment cron gives a job: a status check that passes here passes under cron too. */
export const CRON_PATH = '/usr/bin:/bin';

/** Runs the CLI on the host the way cron will: with cron's PATH, so a CLI found only through a login shell's PATH fails here, not at 03:00. */
export function runLifeboatAsCron(connection: SshConnection, lifeboat: readonly string[], args: readonly string[], signal: AbortSignal): Promise<ExecResult> {
  return connection.exec(['env', `PATH=${CRON_PATH}`, ...lifeboat, ...args], { signal });
}
/** What the scheduled command appends to the log once the run is over. */
export const RUN_ENDED = 'lifeboat run ended with exit code';
const RUN_ENDED_LINE = new RegExp(`^${RUN_ENDED} (\\d+) at (\\S+)$`);

export interface ScheduledRunSpec {
  schedule: string;
  /** The CLI as an argument list: `['lifeboat']`, `['node', '/opt/lifeboat/dist/cli.js']`. */
  lifeboat: readonly string[];
  workspace: string;
  /** Relative to the workspace. */
  runbook: string;
  params: Readonly<Record<string, string | number | boolean>>;
  secretsFile?: string;
  yes: boolean;
  logFile: string;
}

/** The path a line's marker names: the runbook inside its workspace. */
export function runbookPathOf(workspace: string, runbook: string): string {
  return posix.join(workspace, runbook);
}

/** The runbook parameters of a schedule as the CLI takes them. */
export function paramArguments(spec: ScheduledRunSpec): string[] {
  return Object.entries(spec.params).flatMap(([name, value]) => ['--param', `${name}=${String(value)}`]);
}

/** The `lifeboat run` command of a schedule, as an argument list. */
function runArguments(spec: ScheduledRunSpec): string[] {
  return [...spec.lifeboat, 'run', runbookPathOf(spec.workspace, spec.runbook), ...paramArguments(spec), ...(spec.secretsFile ? ['--secrets', spec.secretsFile] : []), ...(spec.yes ? ['--yes'] : [])];
}

/** The five time fields of a crontab line (or one `@` keyword), each written only with what cron reads there. */
const CRONTAB_SCHEDULE = /^(@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)|[\w*,/-]+( +[\w*,/-]+){4})$/;

/**
 * The whole crontab line, `%` and `\` escaped for cron; every value is quoted for the shell cron
 * starts. A value cron cannot carry in one line is refused before any line is written.
 */
export function cronLine(spec: ScheduledRunSpec): string {
  const schedule = spec.schedule.trim().replace(/\s+/g, ' ');
  if (!CRONTAB_SCHEDULE.test(schedule)) throw new Error(`schedule: ${JSON.stringify(spec.schedule)} is not five crontab time fields or an @ keyword`);
  const unfit = Object.entries(lineValues(spec)).find(([, value]) => /[\r\n\0]/.test(value));
  if (unfit) throw new Error(`${unfit[0]}: cannot be written in a crontab line: it holds a line break or a NUL byte`);
  const log = remoteCommand([spec.logFile]);
  const command = `${remoteCommand(runArguments(spec))} >> ${log} 2>&1; echo "${RUN_ENDED} $? at $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> ${log}${MARKER}${runbookPathOf(spec.workspace, spec.runbook)}`;
  const escaped = escapeForCron(command);
  if (escaped.length > MAX_COMMAND_CHARS) throw new Error(`the crontab command would be ${escaped.length} characters; cron cuts commands at ${MAX_COMMAND_CHARS}: shorten the paths or parameters`);
  return `${schedule} ${escaped}`;
}

/** Every value a line is built from, by the parameter that holds it. */
function lineValues(spec: ScheduledRunSpec): Record<string, string> {
  return {
    workspace: spec.workspace,
    runbook: spec.runbook,
    logFile: spec.logFile,
    ...(spec.secretsFile === undefined ? {} : { secretsFile: spec.secretsFile }),
    ...Object.fromEntries(spec.lifeboat.map((item, index) => [`lifeboat.${index}`, item])),
    ...Object.fromEntries(Object.entries(spec.params).flatMap(([name, value]) => [[`params.${name}`, `${name}=${String(value)}`]])),
  };
}

/** Cron ends a command at an unescaped `%` and un-escapes `\%` and `\\`; this makes it read back the text as written. */
function escapeForCron(command: string): string {
  return command.replace(/[\\%]/g, (character) => `\\${character}`);
}

/** The command cron hands to `/bin/sh -c` for a line's command text, as Debian cron translates it. */
export function commandCronRuns(escaped: string): string {
  let command = '';
  for (let index = 0; index < escaped.length; index++) {
    const character = escaped[index] as string;
    const next = escaped[index + 1];
    if (character === '\\' && (next === '%' || next === '\\')) {
      command += next;
      index++;
    } else if (character === '%') {
      break;
    } else {
      command += character;
    }
  }
  return command;
}

export interface LifeboatCronLine {
  /** The line as it is in the crontab. */
  line: string;
  /** The runbook path the marker names. */
  runbookPath: string;
  schedule: string;
  /** The log file, read back from the command; undefined when the line was edited past recognition. */
  logFile?: string;
}

const SCHEDULE_FIELDS = /^(@\w+|\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s+(.*)$/;

/** A crontab line Lifeboat wrote, or undefined for any other line (comments, variables, other jobs). */
export function parseLifeboatLine(line: string): LifeboatCronLine | undefined {
  if (line.trimStart().startsWith('#')) return undefined;
  const fields = SCHEDULE_FIELDS.exec(line);
  if (!line.includes(MARKER) || !fields) return undefined;
  const command = commandCronRuns(fields[2] as string);
  const commandMarker = command.lastIndexOf(MARKER);
  const parsed: LifeboatCronLine = { line, runbookPath: command.slice(commandMarker + MARKER.length), schedule: fields[1] as string };
  // The log file is the last word before the marker: where the exit line goes.
  const log = / >> ((?:'[^']*'|\\'|[^\s'\\])+)$/.exec(command.slice(0, commandMarker));
  if (log) parsed.logFile = unquoteShellWord(log[1] as string);
  return parsed;
}

/** The reverse of `quoteShellArgument` for the words it writes: bare, or single-quoted with `'\''`. */
function unquoteShellWord(word: string): string {
  return word.replace(/'([^']*)'|\\(.)/g, (_match, quoted: string | undefined, escaped: string | undefined) => quoted ?? escaped ?? '');
}

/** The log's record of each scheduled run: when it ended and how. */
export function runsInLog(text: string): { endedAt: Date; exitCode: number }[] {
  return text.split('\n').flatMap((line) => {
    const match = RUN_ENDED_LINE.exec(line.trim());
    const endedAt = match ? new Date(match[2] as string) : undefined;
    return match && endedAt && !Number.isNaN(endedAt.getTime()) ? [{ endedAt, exitCode: Number(match[1]) }] : [];
  });
}

/** The crontab with one runbook's line put in: replaced where it was, else appended; nothing else changes. */
export function withLine(crontab: string, runbookPath: string, line: string): { text: string; previous?: string } {
  const lines = crontab === '' ? [] : crontab.replace(/\n$/, '').split('\n');
  const index = lines.findIndex((candidate) => parseLifeboatLine(candidate)?.runbookPath === runbookPath);
  const previous = index >= 0 ? lines[index] : undefined;
  if (index >= 0) lines[index] = line;
  else lines.push(line);
  // cron refuses a crontab whose last line has no line break.
  return { text: `${lines.join('\n')}\n`, ...(previous === undefined ? {} : { previous }) };
}

/** The user's crontab on the host; empty when there is none yet. */
export async function readCrontab(connection: SshConnection, signal: AbortSignal): Promise<string> {
  const result = await connection.exec(['crontab', '-l'], { signal });
  if (result.exitCode === 0) return result.stdout ?? '';
  if (/no crontab for/i.test(result.stderrTail)) return '';
  if (result.exitCode === 127) throw new Error(`${connection.label}: there is no \`crontab\` program (install the cron package there)`);
  throw new Error(`${connection.label}: \`crontab -l\` exited with code ${result.exitCode ?? 'unknown'}: ${result.stderrTail.trim()}`);
}

/** Replaces the user's crontab; `crontab` itself checks it and swaps it in whole. */
export async function writeCrontab(connection: SshConnection, text: string, signal: AbortSignal): Promise<void> {
  await connection.run(['crontab', '-'], { stdin: Readable.from([Buffer.from(text)]), signal });
}
