/**
 * Runs command-line tools (restic, rclone) as child processes: an environment built explicitly,
 * output read line by line as it arrives, and cancellation that stops the tool and everything it
 * started.
 */
import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Time a tool has to exit after its interrupt signal before its process group gets SIGKILL. */
const KILL_GRACE_MS = 5000;
/** How much of stderr an error message may quote. */
const STDERR_TAIL_CHARS = 8192;

export function killProcessGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

export interface ToolInvocation {
  command: string;
  args: readonly string[];
  /** The child's whole environment: nothing is inherited beyond what this holds. */
  env: Readonly<Record<string, string>>;
  cwd?: string;
  signal?: AbortSignal;
  /** Called with each line of stdout as it arrives; without it stdout is collected into the outcome. */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** restic and rclone both release locks and clean up on SIGINT; SIGKILL follows after a grace period. */
  interruptSignal?: NodeJS.Signals;
  /** The tool's whole stdin (a config holding credentials, which its arguments must not: any user can read those); none by default. */
  input?: string;
  /**
   * Work nobody waits for (a read ahead): the tool does not keep this process from exiting. When this
   * process exits first, the tool's output pipe closes and the tool ends on its next write.
   */
  background?: boolean;
}

export interface ToolOutcome {
  exitCode: number;
  /** Collected stdout, empty when `onStdoutLine` took the lines. */
  stdout: string;
  /** The end of stderr, for error messages. */
  stderrTail: string;
  /** The run was stopped through `signal`. */
  cancelled: boolean;
}

export class ToolMissingError extends Error {
  constructor(readonly command: string) {
    super(`'${command}' was not found: install it (for example \`apt-get install ${command}\`) or set its path`);
    this.name = 'ToolMissingError';
  }
}

/** The executable `name` in a folder of `path`, if any. */
export async function findOnPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

export interface CapturedRun {
  /** null when it did not exit by itself: not started, or stopped by a signal. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Stopped because it took longer than it was given. */
  timedOut: boolean;
}

/**
 * Runs a short command to its end, stdin closed, and keeps what it printed: a question asked on the way
 * to work that waits for the answer (curl's version before the downloads, `ssh -G` before a
 * connection). By Node's execFile, whose start costs a few milliseconds, where execa's first one
 * costs 15–25.
 */
export function runCaptured(command: string, args: readonly string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<CapturedRun> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: options.timeoutMs, env: options.env ?? process.env }, (error, stdout, stderr) => {
      const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      // Killed with no code of its own: the timeout. Output past execFile's maxBuffer kills it too, with that error's code.
      resolve({ exitCode, stdout, stderr, timedOut: error?.killed === true && error.code == null });
    });
    child.stdin?.end();
  });
}

export async function runTool(invocation: ToolInvocation): Promise<ToolOutcome> {
  // Node's spawn, not execa: a tool started on the way to work that waits for it (the downloads of a
  // backup) starts 10–15 ms sooner.
  const child = spawn(invocation.command, [...invocation.args], {
    env: invocation.env,
    cwd: invocation.cwd,
    stdio: [invocation.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    // Its own process group, so cancelling reaches what the tool started (restic's ssh, for one).
    detached: true,
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  if (invocation.input !== undefined) {
    // A tool that exits without reading all of it closes the pipe: how it ended is what counts.
    child.stdin?.on('error', () => {});
    child.stdin?.end(invocation.input);
  }
  if (invocation.background) {
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as (Readable & { unref?: () => void }) | null)?.unref?.();
  }
  let stdout = '';
  let stderrTail = '';
  const stdoutDone = readLines(child.stdout, invocation.onStdoutLine ?? ((line) => (stdout += `${line}\n`)));
  const stderrDone = readLines(child.stderr, (line) => {
    stderrTail = `${stderrTail}${line}\n`.slice(-STDERR_TAIL_CHARS);
    invocation.onStderrLine?.(line);
  });

  let cancelled = false;
  const onAbort = () => {
    cancelled = true;
    killProcessGroup(child.pid, invocation.interruptSignal ?? 'SIGINT');
    setTimeout(() => killProcessGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  invocation.signal?.addEventListener('abort', onAbort, { once: true });
  if (invocation.signal?.aborted) onAbort();
  try {
    const [result] = await Promise.all([ended, stdoutDone, stderrDone]);
    if ('error' in result) {
      if (result.error.code === 'ENOENT') throw new ToolMissingError(invocation.command);
      throw new Error(`could not start '${invocation.command}': ${result.error.message}`, { cause: result.error });
    }
    return { exitCode: result.code ?? (result.signal ? 128 : -1), stdout, stderrTail, cancelled };
  } finally {
    invocation.signal?.removeEventListener('abort', onAbort);
  }
}

async function readLines(stream: Readable | null, onLine: (line: string) => void): Promise<void> {
  if (!stream) return;
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) onLine(line);
}

/**
 * The parent's environment without the variables that would change what a tool does behind our back
 * (`remove`: exact names, or prefixes ending in `*`), plus `set`.
 */
export function toolEnvironment(remove: readonly string[], set: Readonly<Record<string, string | undefined>>, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const prefixes = remove.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined || remove.includes(name) || prefixes.some((prefix) => name.startsWith(prefix))) continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(set)) if (value !== undefined) env[name] = value;
  return env;
}
