import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI } from './paths';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `lifeboat` CLI as a user would, with no terminal attached. */
export function lifeboat(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      raiseChildWarnings(args[0] ?? '', stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
    options.onStart?.(child);
  });
}

/**
 * A Node warning the CLI printed on stderr (`(node:123) MaxListenersExceededWarning: …`) is raised again
 * in the test process, where the summary reporter fails the run on it as on the test process's own.
 */
function raiseChildWarnings(command: string, stderr: string): void {
  for (const warning of nodeWarnings(stderr)) process.emitWarning(`lifeboat ${command} printed ${warning}`, 'ChildProcessWarning');
}

/** The warnings Node printed in a process's stderr, as `<name>: <message>`. */
export function nodeWarnings(stderr: string): string[] {
  return [...stderr.matchAll(/^\(node:\d+\) (?:\[[A-Z0-9]+\] )?(\w*Warning): (.*)$/gm)].map((match) => `${match[1] ?? ''}: ${match[2] ?? ''}`);
}

/** Every run record a workspace holds, oldest first. */
export async function readRecords(workspace: string): Promise<Record<string, unknown>[]> {
  const dir = join(workspace, '.lifeboat', 'runs');
  const files = await readdir(dir);
  const lines = (await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')))).join('').trim().split('\n');
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}
