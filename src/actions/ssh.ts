import { Writable } from 'node:stream';
import { z } from 'zod';
import { remoteCommand, sshConnectionFor } from '../clients/ssh';
import { defineAction } from '../core/actions/spec';
import { formatDuration, markdownTable } from '../core/render';

/** How much stdout a result keeps for `${steps.<id>.stdout}`; the live output has all of it. */
const KEPT_OUTPUT_CHARS = 1024 * 1024;

const sshRunParams = z
  .object({
    host: z.string().min(1).describe('A host of `hosts:` in lifeboat.yaml, or an alias of ~/.ssh/config.'),
    command: z.array(z.string()).min(1).describe('The program and its arguments, one item each; quoted for the remote shell, never parsed by it.'),
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

/** Runs one command on an SSH host, streaming its output; the connection is reused by later steps. */
export const sshRunAction = defineAction({
  id: 'ssh.run',
  title: 'Run a command over SSH',
  description: 'Runs a command (an argument list) on an SSH host of the inventory, streaming its output; fails unless it exits 0.',
  params: sshRunParams,
  destructive: false,
  async plan(params) {
    return {
      summary: `would run \`${remoteCommand(params.command)}\` on ${params.host} (not run in a dry run)`,
      operations: [{ kind: 'run', target: params.host, detail: remoteCommand(params.command) }],
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
    const result = await connection.run(params.command, {
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
