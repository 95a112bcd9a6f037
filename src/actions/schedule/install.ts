import { posix } from 'node:path';
import * as z from 'zod';
import { remoteCommand, sshConnectionFor, type SshConnection } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';
import { defineAction } from '../../core/actions/spec';
import { markdownTable } from '../../core/render';
import { CRON_PATH, cronLine, runLifeboatAsCron, paramArguments, readCrontab, runbookPathOf, withLine, writeCrontab, type ScheduledRunSpec } from './crontab';
import { inventoryFileOf, remoteFileExists } from './remote';
import { cronExpressionParam, crontabText, defaultLogFile, logFileParam, runbookParam, scheduleHostParam, workspaceParam } from './fields';

const installParams = z
  .object({
    host: scheduleHostParam,
    workspace: workspaceParam,
    runbook: runbookParam,
    schedule: cronExpressionParam.default('0 3 * * *').describe('When to run, as a 5-field cron expression in the host\'s local time (or @daily, @hourly …); nightly at 03:00 unless given.'),
    logFile: logFileParam,
    lifeboat: z.array(crontabText.min(1)).min(1).default(['lifeboat']).describe('The Lifeboat CLI on the host as an argument list, e.g. [node, /opt/lifeboat/dist/cli.js]; cron finds it with PATH=/usr/bin:/bin.'),
    params: z
      .record(z.string().regex(/^[A-Za-z_][\w-]*$/, 'a runbook parameter name is letters, digits, _ and -'), z.union([crontabText, z.number(), z.boolean()]))
      .default({})
      .describe('Runbook parameters for every run, passed as --param name=value. Never secrets: those go in the secrets file.'),
    secretsFile: crontabText
      .refine((value) => posix.isAbsolute(value), 'must be an absolute path on the host')
      .optional()
      .describe('The YAML secrets file (mode 0600) on the host, passed as --secrets; its path goes into the crontab, never a secret.'),
    yes: z.boolean().default(false).describe('Pass --yes, so steps that delete or overwrite data (such as retention) run unattended instead of being refused.'),
  })
  .strict();

type InstallParams = z.output<typeof installParams>;

export interface CronInstallResult {
  host: string;
  runbook: string;
  schedule: string;
  logFile: string;
  /** `installed` (a new line), `replaced` (the runbook's line changed) or `unchanged` (already installed). */
  change: 'installed' | 'replaced' | 'unchanged';
  line: string;
  previousLine?: string;
  /** What `lifeboat --version` printed on the host. */
  lifeboatVersion: string;
}

function scheduledRun(params: InstallParams): ScheduledRunSpec {
  return {
    schedule: params.schedule,
    lifeboat: params.lifeboat,
    workspace: params.workspace,
    runbook: params.runbook,
    params: params.params,
    ...(params.secretsFile ? { secretsFile: params.secretsFile } : {}),
    yes: params.yes,
    logFile: params.logFile ?? defaultLogFile(params.workspace, params.runbook),
  };
}

async function connect(params: InstallParams, ctx: ActionContext): Promise<SshConnection> {
  return sshConnectionFor(ctx.clients, ctx.inventory, params.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
}

/** Checks on the host that the scheduled command can work before the crontab changes; returns the CLI's version. */
async function preflight(connection: SshConnection, spec: ScheduledRunSpec, signal: AbortSignal): Promise<string> {
  const inventoryFile = inventoryFileOf(spec.workspace);
  if (!(await remoteFileExists(connection, inventoryFile, signal))) {
    throw new Error(`workspace: ${connection.label} has no ${inventoryFile}; the workspace is the folder holding the runbooks' lifeboat.yaml`);
  }
  const shown = remoteCommand(spec.lifeboat);
  const version = await runLifeboatAsCron(connection, spec.lifeboat, ['--version'], signal);
  if (version.exitCode !== 0) {
    throw new Error(`lifeboat: \`${shown} --version\` does not run on ${connection.label} with cron's PATH (${CRON_PATH}): exit code ${version.exitCode ?? 'unknown'}${describeStderr(version.stderrTail)}`);
  }
  const runbookPath = runbookPathOf(spec.workspace, spec.runbook);
  const check = await runLifeboatAsCron(connection, spec.lifeboat, ['check', runbookPath, ...paramArguments(spec)], signal);
  if (check.exitCode !== 0) throw new Error(`runbook: ${runbookPath} does not pass \`lifeboat check\` on ${connection.label}${describeStderr(check.stderrTail)}`);
  return (version.stdout ?? '').trim();
}

function describeStderr(stderr: string): string {
  const tail = stderr.trim();
  return tail ? `:\n${tail}` : '';
}

export const scheduleCronInstall = defineAction({
  id: 'schedule.cron.install',
  title: 'Schedule a runbook with cron',
  description: 'Puts one crontab line on an SSH host that runs `lifeboat run` on a runbook at the given times, with its output in a log file; re-installing the same line changes nothing, a changed one replaces only that line.',
  params: installParams,
  destructive: false,
  async plan(params, ctx) {
    const spec = scheduledRun(params);
    const line = cronLine(spec);
    const connection = await connect(params, ctx);
    const { previous } = withLine(await readCrontab(connection, ctx.signal), runbookPathOf(spec.workspace, spec.runbook), line);
    const crontab = `crontab of ${connection.label}`;
    if (previous === line) return { summary: `${spec.runbook} is already scheduled on ${params.host}: nothing to change\n  ${line}`, operations: [{ kind: 'read', target: crontab }], destructive: false };
    return {
      summary: previous === undefined ? `would add to the ${crontab}:\n  ${line}` : `would replace in the ${crontab}:\n  before: ${previous}\n  after:  ${line}`,
      operations: [
        { kind: 'run', target: params.host, detail: `${remoteCommand([...spec.lifeboat, 'check', runbookPathOf(spec.workspace, spec.runbook), ...paramArguments(spec)])} (with PATH=${CRON_PATH})` },
        { kind: previous === undefined ? 'create' : 'overwrite', target: crontab, detail: line },
      ],
      destructive: false,
    };
  },
  async run(params, ctx): Promise<CronInstallResult> {
    const spec = scheduledRun(params);
    const line = cronLine(spec);
    const connection = await connect(params, ctx);
    const lifeboatVersion = await preflight(connection, spec, ctx.signal);
    const { text, previous } = withLine(await readCrontab(connection, ctx.signal), runbookPathOf(spec.workspace, spec.runbook), line);
    const base = { host: params.host, runbook: spec.runbook, schedule: spec.schedule, logFile: spec.logFile, line, lifeboatVersion };
    if (previous === line) return { ...base, change: 'unchanged' };
    await connection.run(['mkdir', '-p', '--', posix.dirname(spec.logFile)], { signal: ctx.signal });
    await writeCrontab(connection, text, ctx.signal);
    ctx.log.info(`${previous === undefined ? 'added' : 'replaced'} the crontab line of ${spec.runbook} on ${connection.label}`);
    return previous === undefined ? { ...base, change: 'installed' } : { ...base, change: 'replaced', previousLine: previous };
  },
  render(result: CronInstallResult) {
    const change = result.change === 'unchanged' ? 'already installed' : result.change;
    return `${markdownTable(['host', 'runbook', 'schedule', 'change', 'log file', 'lifeboat'], [[result.host, result.runbook, result.schedule, change, result.logFile, result.lifeboatVersion]])}\n\n\`\`\`cron\n${result.line}\n\`\`\``;
  },
});
