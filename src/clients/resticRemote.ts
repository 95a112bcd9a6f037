/**
 * restic run on another host over SSH, the way Backrest runs it there: the data goes from that host to
 * the repository, never through this machine. The command is an argument list; the password and the
 * backend credentials go through the command's stdin into its environment, so they are neither in
 * the remote command line (which `ps` shows to every user there) nor in any script text.
 */
import { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ResticRunner } from './restic';
import type { SshConnection } from './ssh';

/**
 * Reads `NAME=value` lines from stdin up to an empty line, exports each, then runs its arguments. The
 * values are data read by `read`, never parsed as script; restic's own password sources are cleared
 * first so an administrator's RESTIC_PASSWORD_FILE cannot stand in for ours. A stop (SIGTERM, which is
 * what a cancelled command gets) reaches restic as SIGINT, the one signal on which restic removes its
 * lock before it exits.
 */
const ENVIRONMENT_FROM_STDIN = [
  'unset RESTIC_PASSWORD_FILE RESTIC_PASSWORD_COMMAND',
  'while IFS= read -r assignment && [ -n "$assignment" ]; do export "$assignment" || exit 125; done',
  '"$@" &',
  'child=$!',
  `trap 'kill -INT "$child" 2>/dev/null' TERM INT HUP`,
  'wait "$child"; status=$?',
  // A wait a trapped signal interrupts returns above 128 while restic is still cleaning up.
  'while [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
  'exit "$status"',
].join('\n');

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Lines of a byte stream, handed on as they complete; the last one on `end()`. */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  write(chunk: Buffer | string): void {
    const text = this.pending + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const lines = text.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.onLine(line.replace(/\r$/, ''));
  }

  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest !== '') this.onLine(rest);
  }
}

/** The environment as the lines `ENVIRONMENT_FROM_STDIN` reads. */
export function environmentLines(env: Readonly<Record<string, string>>): string {
  return `${Object.entries(env)
    .map(([name, value]) => {
      if (!VARIABLE_NAME.test(name)) throw new Error(`'${name}' is not an environment variable name`);
      if (/[\n\0]/.test(value)) throw new Error(`the value of ${name} holds a line break or NUL byte, which cannot be handed to restic on another host`);
      return `${name}=${value}\n`;
    })
    .join('')}\n`;
}

/** The argument list that runs `binary args…` there with `env` in its environment, read from stdin. */
export function remoteResticArgv(binary: string, args: readonly string[], cwd?: string): string[] {
  // `cd` is a program argument too (`sh -c 'cd -- "$1" && shift && …'` would be script text built around it).
  const withCwd = cwd === undefined ? [] : ['env', '-C', cwd];
  return ['sh', '-c', ENVIRONMENT_FROM_STDIN, 'lifeboat-restic', ...withCwd, binary, ...args];
}

/** Runs restic on the host of `connection`. A connection lost while restic runs fails with that, not with an exit code. */
export function resticOverSsh(connection: SshConnection, hostName: string): ResticRunner {
  return {
    where: `on host ${hostName}`,
    async run(invocation) {
      let stdout = '';
      const stdoutLines = new LineSplitter(invocation.onStdoutLine ?? ((line) => (stdout += `${line}\n`)));
      const stderrLines = new LineSplitter((line) => invocation.onStderrLine?.(line));
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          stdoutLines.write(chunk);
          done();
        },
        final(done) {
          stdoutLines.end();
          done();
        },
      });
      const result = await connection.exec(remoteResticArgv(invocation.binary, invocation.args, invocation.cwd), {
        stdin: Readable.from([environmentLines(invocation.env)]),
        stdout: sink,
        onStderr: (chunk) => stderrLines.write(chunk),
        signal: invocation.signal,
      });
      stderrLines.end();
      if (result.exitCode === null) {
        const how = result.exitSignal ? `was killed by SIG${result.exitSignal}` : 'lost its connection before restic ended';
        throw new Error(`restic on host ${hostName} (${connection.label}) ${how}; a lock it held stays in the repository until \`restic unlock\`${result.stderrTail.trim() ? `:\n${result.stderrTail.trim()}` : ''}`);
      }
      if (result.exitCode === 127 && /not found/.test(result.stderrTail)) throw new Error(`'${invocation.binary}' was not found on host ${hostName}: install restic there`);
      return { exitCode: result.exitCode, stdout, stderrTail: result.stderrTail, cancelled: false };
    },
  };
}
