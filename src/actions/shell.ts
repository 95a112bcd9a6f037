import { execa } from 'execa';
import { z } from 'zod';
import { defineAction } from '../core/actions/spec';
import { CancelledError } from '../core/errors';
import { formatDuration, markdownTable } from '../core/render';
import { paramsAsEnvironment } from '../core/runbook/params';
import { killProcessGroup } from '../clients/process';
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
    env: z.record(z.string(), z.string()).default({}).describe('Extra environment variables.'),
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
 * never spliced into the script. The step runs in its own process group, so cancelling it stops
 * everything it started, not only the shell.
 */
export const shellAction = defineAction({
  id: 'shell',
  title: 'Run a shell script',
  description: 'Runs a bash or sh script in the workspace, streaming its output.',
  params: shellParams,
  destructive: false,
  async plan(params, ctx) {
    const lines = params.script.split('\n').filter((line) => line.trim() !== '').length;
    return {
      summary: `would run a ${params.interpreter} script of ${lines} line${lines === 1 ? '' : 's'} (not run in a dry run)`,
      operations: [{ kind: 'run', target: params.interpreter, detail: `in ${resolveUserPath(params.cwd ?? '.', ctx.workspaceDir)}` }],
      destructive: false,
    };
  },
  async run(params, ctx) {
    const args = params.interpreter === 'bash' ? ['--noprofile', '--norc', '-eo', 'pipefail', '-c', params.script] : ['-e', '-c', params.script];
    const started = performance.now();
    const child = execa(params.interpreter, args, {
      cwd: resolveUserPath(params.cwd ?? '.', ctx.workspaceDir),
      env: { ...paramsAsEnvironment(ctx.runbookParams), ...params.env },
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
  },
  render(result: ShellResult) {
    return markdownTable(['exit code', 'duration', 'stdout lines'], [[result.exitCode, formatDuration(result.durationMs), result.stdout.split('\n').filter(Boolean).length]]);
  },
});
