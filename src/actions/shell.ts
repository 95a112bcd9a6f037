import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { defineAction, type ActionContext } from '../core/actions/spec';
import { CancelledError } from '../core/errors';
import { formatDuration, markdownTable } from '../core/render';
import { paramsAsEnvironment } from '../core/runbook/params';
import { killProcessGroup } from '../clients/process';
import { quoteShellArgument } from '../clients/ssh/quote';
import { resolveUserPath } from './paths';

/** How much of each stream a result keeps for `${steps.<id>.stdout}`; the live output has all of it. */
const KEPT_OUTPUT_CHARS = 1024 * 1024;
/** Time a step has to exit after SIGTERM before its process group gets SIGKILL. */
const KILL_GRACE_MS = 3000;

const shellParams = z
  .object({
    script: z.string().describe('The script to run.'),
    interpreter: z.enum(['bash', 'sh']).default('bash').describe('bash runs with -eo pipefail, sh with -e: the step fails at the first failing command.'),
    cwd: z.string().optional().describe('Working directory; relative to the workspace. Defaults to the workspace.'),
    env: z.record(z.string(), z.string().refine((value) => !value.includes('\0'), 'an environment variable cannot hold a NUL byte')).default({}).describe('Extra environment variables.'),
    timeoutSeconds: z.number().positive().optional().describe('Stop the step after this many seconds.'),
  })
  .strict();

export interface ShellResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** True when stdout or stderr was longer than what the result keeps. */
  truncated: boolean;
  durationMs: number;
}

/**
 * Runs a shell cell. Runbook parameters arrive as `LIFEBOAT_PARAM_<NAME>` environment variables,
 * and a `${params.x}` or `${steps.<id>.<field>}` in the script is rewritten by the runner to such a
 * variable: no value is ever part of the script's text. The script is read from a private file, not
 * passed as an argument, so its length is not bound by the per-argument limit (128 KiB on Linux).
 * The step runs in its own process group, so cancelling it stops everything it started.
 */
export const shellAction = defineAction({
  id: 'shell',
  title: 'Run a shell script',
  description: 'Runs a bash or sh script in the workspace, streaming its output.',
  params: shellParams,
  destructive: false,
  scriptFields: ['script'],
  async plan(params, ctx) {
    const lines = params.script.split('\n').filter((line) => line.trim() !== '').length;
    return {
      summary: `would run a ${params.interpreter} script of ${lines} line${lines === 1 ? '' : 's'} (not run in a dry run)`,
      operations: [{ kind: 'run', target: params.interpreter, detail: `in ${resolveUserPath(params.cwd ?? '.', ctx.workspaceDir)}` }],
      destructive: false,
    };
  },
  async run(params, ctx) {
    const env = { ...paramsAsEnvironment(ctx.runbookParams), ...params.env, ...ctx.scriptVariables };
    const unfit = Object.keys(env).find((name) => env[name]?.includes('\0'));
    if (unfit) throw new Error(`${unfit} holds a NUL byte, which no environment variable can carry: the script does not run`);
    const scriptDir = await mkdtemp(join(tmpdir(), 'lifeboat-script-'));
    try {
      const scriptFile = join(scriptDir, 'script');
      await writeFile(scriptFile, params.script, { mode: 0o600 });
      return await runScript(params, scriptFile, env, ctx);
    } finally {
      await rm(scriptDir, { recursive: true, force: true });
    }
  },
  render(result: ShellResult) {
    return markdownTable(['exit code', 'duration', 'stdout lines'], [[result.exitCode, formatDuration(result.durationMs), result.stdout.split('\n').filter(Boolean).length]]);
  },
});

/** Runs the script file and streams its output; stops the whole process group on cancel or timeout. */
async function runScript(params: z.output<typeof shellParams>, scriptFile: string, env: Record<string, string>, ctx: ActionContext): Promise<ShellResult> {
  // Sourced from a one-line `-c`, so `$0` stays the shell's name and `$#` stays 0, as for any `-c` script.
  const source = `. ${quoteShellArgument(scriptFile)}`;
  const args = params.interpreter === 'bash' ? ['--noprofile', '--norc', '-eo', 'pipefail', '-c', source] : ['-e', '-c', source];
  const started = performance.now();
  // Loaded on first use: most commands run no shell cell, and execa costs every start some 10 ms.
  const { execa } = await import('execa');
  const child = execa(params.interpreter, args, {
    cwd: resolveUserPath(params.cwd ?? '.', ctx.workspaceDir),
    env,
    stdin: 'ignore',
    detached: true,
    reject: false,
    stripFinalNewline: false,
    buffer: false,
  });
  const kept = { stdout: '', stderr: '', truncated: false };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.setEncoding('utf8');
    child[stream]?.on('data', (chunk: string) => {
      ctx.output.write(stream, chunk);
      kept[stream] += chunk;
      if (kept[stream].length > KEPT_OUTPUT_CHARS) {
        kept[stream] = kept[stream].slice(-KEPT_OUTPUT_CHARS);
        kept.truncated = true;
      }
    });
  }

  let stopReason: 'cancelled' | 'timeout' | undefined;
  const stop = (reason: 'cancelled' | 'timeout') => {
    stopReason ??= reason;
    killProcessGroup(child.pid, 'SIGTERM');
    setTimeout(() => killProcessGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  const onAbort = () => stop('cancelled');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  if (ctx.signal.aborted) onAbort();
  const timer = params.timeoutSeconds ? setTimeout(() => stop('timeout'), params.timeoutSeconds * 1000) : undefined;
  try {
    const outcome = await child;
    if (stopReason === 'cancelled') throw new CancelledError();
    if (stopReason === 'timeout') throw new Error(`timed out after ${params.timeoutSeconds} s`);
    if (outcome.exitCode === undefined && !outcome.signal) throw new Error(`the ${params.interpreter} script could not start: ${outcome.shortMessage}`);
    const exitCode = outcome.exitCode ?? -1;
    if (exitCode !== 0) {
      const tail = kept.stderr.trim().split('\n').slice(-5).join('\n');
      const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${exitCode}`;
      throw new Error(`the ${params.interpreter} script ${how}${tail ? `:\n${tail}` : ''}`);
    }
    return { exitCode, stdout: kept.stdout, stderr: kept.stderr, truncated: kept.truncated, durationMs: Math.round(performance.now() - started) };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  }
}
