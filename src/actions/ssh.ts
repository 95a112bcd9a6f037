import { Writable } from 'node:stream';
import * as z from 'zod';
import { remoteCommand, sshConnectionFor } from '../clients/ssh';
import { readShellInvocation, withEnvironment } from '../clients/ssh/shellInvocation';
import { defineAction } from '../core/actions/spec';
import { formatDuration, markdownTable } from '../core/render';
import { fieldPath, findReferences, InterpolationError } from '../core/runbook/interpolate';

/** How much stdout a result keeps for `${steps.<id>.stdout}`; the live output has all of it. */
const KEPT_OUTPUT_CHARS = 1024 * 1024;

const withoutNul = z.string().refine((value) => !value.includes('\0'), 'a remote command cannot carry a NUL byte');

const sshRunParams = z
  .object({
    host: z.string().min(1).describe('A host of `hosts:` in lifeboat.yaml, or an alias of ~/.ssh/config.'),
    command: z.array(withoutNul).min(1).describe('The program and its arguments, one item each; quoted for the remote shell, never parsed by it. In the script of `sh -c SCRIPT` (bash, dash … too), `${params.x}` is the environment variable LIFEBOAT_PARAM_X.'),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name is letters, digits and _, not starting with a digit'), withoutNul)
      .default({})
      .describe('Environment variables for the command, set by a quoted `env NAME=value …` in front of it; a script reads them as "$NAME".'),
    timeoutSeconds: z.number().positive().optional().describe('Stop the command after this many seconds.'),
  })
  .strict();

export interface SshRunResult {
  host: string;
  exitCode: number;
  stdout: string;
  /** True when stdout was longer than what the result keeps. */
  truncated: boolean;
  durationMs: number;
}

/**
 * The items of `command` that a shell runs as script text. Where a value not yet known stands for the
 * program (or a wrapper before it), nothing tells whether it is a shell: a reference written inside
 * an argument that follows a `-c` option, where a shell would take its script, is refused.
 */
function scriptArguments(params: Readonly<Record<string, unknown>>): string[] {
  const { command } = params;
  if (!Array.isArray(command) || !command.every((item): item is string => typeof item === 'string')) return [];
  const invocation = readShellInvocation(command, (argument) => findReferences(argument).length > 0);
  if (invocation.opaqueAt !== undefined) {
    const opaqueAt = invocation.opaqueAt;
    const embedded = command.findIndex((item, index) => index > opaqueAt && /^-[A-Za-z]*c[A-Za-z]*$/.test(command[index - 1] ?? '') && findReferences(item).length > 0 && !isWholeReference(item));
    if (embedded >= 0) {
      const item = command[embedded] as string;
      throw new InterpolationError(
        fieldPath('command', String(embedded)),
        `the program is \`${command[opaqueAt]}\`, so it cannot be known whether a shell runs this argument as a script: write the program as it is, or pass the value as an argument of its own (or through \`env:\`)`,
        item.indexOf(findReferences(item)[0]?.text ?? '${'),
      );
    }
  }
  return invocation.scriptsAt.map((index) => fieldPath('command', String(index)));
}

function isWholeReference(item: string): boolean {
  const [only] = findReferences(item);
  return only !== undefined && only.text === item;
}

/** The command as plans show it: variables by name, their values left out. */
function shownCommand(command: readonly string[], variables: Readonly<Record<string, string>>): string {
  return remoteCommand(withEnvironment(command, Object.fromEntries(Object.keys(variables).map((name) => [name, '…']))));
}

/** Runs one command on an SSH host, streaming its output; the connection is reused by later steps. */
export const sshRunAction = defineAction({
  id: 'ssh.run',
  title: 'Run a command over SSH',
  description: 'Runs a command (an argument list) on an SSH host of the inventory, streaming its output; fails unless it exits 0.',
  params: sshRunParams,
  destructive: false,
  scriptFields: scriptArguments,
  async plan(params, ctx) {
    const shown = shownCommand(params.command, { ...params.env, ...ctx.scriptVariables });
    return {
      summary: `would run \`${shown}\` on ${params.host} (not run in a dry run)`,
      operations: [{ kind: 'run', target: params.host, detail: shown }],
      destructive: false,
    };
  },
  async run(params, ctx) {
    const started = performance.now();
    const connection = await sshConnectionFor(ctx.clients, ctx.inventory, params.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
    const kept = { text: '', truncated: false };
    const stdout = new Writable({
      decodeStrings: false,
      write(chunk: Buffer | string, _encoding, done) {
        const text = chunk.toString();
        ctx.output.write('stdout', text);
        kept.text += text;
        if (kept.text.length > KEPT_OUTPUT_CHARS) {
          kept.text = kept.text.slice(-KEPT_OUTPUT_CHARS);
          kept.truncated = true;
        }
        done();
      },
    });
    const result = await connection.run(withEnvironment(params.command, { ...params.env, ...ctx.scriptVariables }), {
      stdout,
      onStderr: (chunk) => ctx.output.write('stderr', chunk),
      signal: ctx.signal,
      timeoutMs: params.timeoutSeconds === undefined ? undefined : params.timeoutSeconds * 1000,
    });
    return { host: params.host, exitCode: result.exitCode ?? 0, stdout: kept.text, truncated: kept.truncated, durationMs: Math.round(performance.now() - started) };
  },
  render(result: SshRunResult) {
    return markdownTable(['host', 'exit code', 'duration', 'stdout lines'], [[result.host, result.exitCode, formatDuration(result.durationMs), result.stdout.split('\n').filter(Boolean).length]]);
  },
});
