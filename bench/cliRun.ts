/**
 * Lifeboat's side of a benchmark as a user runs it: the shipped CLI (`dist/cli.js run`, as cron
 * starts it) in a process of its own, on a one-step runbook in a workspace with its `lifeboat.yaml`.
 * A module preloaded into that process reports its peak RSS and CPU when it exits.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface CliExitReport {
  maxRssKiB: number;
  nodeCpuSeconds: number;
  /** The programs it ran and waited for, such as the system `ssh`. */
  childrenCpuSeconds: number;
}

const RUNBOOK = 'bench.runbook.md';
const EXIT_REPORT = 'report.js';

/** Linux `/proc/self/stat`: utime+stime of the process at 11, of its waited-for children at 13, in ticks of 1/100 s. */
const EXIT_REPORT_SOURCE = [
  "const { readFileSync, writeSync } = require('node:fs');",
  'process.on("exit", () => {',
  "  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ').map(Number);",
  '  const seconds = (first) => (fields[first] + fields[first + 1]) / 100;',
  '  writeSync(1, `\\n${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, nodeCpuSeconds: seconds(11), childrenCpuSeconds: seconds(13) })}\\n`);',
  '});',
  '',
].join('\n');

/** Writes `folder` as a workspace: the inventory, a runbook of one action cell, and the exit report. */
export async function writeCliWorkspace(folder: string, inventory: object, action: { id: string; params: Record<string, unknown> }): Promise<void> {
  const cell = ['```lifeboat {id=bench}', `action: ${action.id}`, ...Object.entries(action.params).map(([key, value]) => `${key}: ${JSON.stringify(value)}`), '```'];
  await mkdir(folder, { recursive: true });
  // JSON is YAML.
  await writeFile(path.join(folder, 'lifeboat.yaml'), JSON.stringify(inventory, null, 2));
  await writeFile(path.join(folder, RUNBOOK), ['---', `title: ${action.id} benchmark`, '---', '', ...cell, ''].join('\n'));
  await writeFile(path.join(folder, EXIT_REPORT), EXIT_REPORT_SOURCE);
}

/** Runs a process without blocking this one, where the simulators live and must keep serving. */
export function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
    let output = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors = (errors + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}: ${errors.trim()}`))));
  });
}

export interface CliRun<Result> {
  /** Wall time from spawning the process to its exit. */
  ms: number;
  /** The step's own duration, as the runner measured it. */
  stepMs: number;
  result: Result;
  report: CliExitReport;
}

/** Runs the workspace's runbook with `--json --yes` and reads the step's result and the exit report. */
export async function runCli<Result>(workspace: string, env: NodeJS.ProcessEnv = process.env): Promise<CliRun<Result>> {
  const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
  const started = performance.now();
  // Node's own flags carry over, so `node --cpu-prof out/bench/<name>.js` profiles the CLI too.
  const output = await runProcess(process.execPath, [...process.execArgv, '--require', path.join(workspace, EXIT_REPORT), cli, 'run', path.join(workspace, RUNBOOK), '--json', '--yes'], env, workspace);
  const ms = performance.now() - started;
  const lines = output.trim().split('\n');
  const step = JSON.parse(lines.find((line) => line.startsWith('{"cell"')) ?? '{}') as { result?: Result; durationMs?: number };
  if (step.result === undefined || step.durationMs === undefined) throw new Error(`the CLI printed no step result:\n${output}`);
  return { ms, stepMs: step.durationMs, result: step.result, report: JSON.parse(lines.at(-1) ?? '{}') as CliExitReport };
}

/** CPU seconds of this process and, apart, of the children it has waited for (Linux `/proc`, clock ticks of 1/100 s). */
export async function processCpuSeconds(): Promise<{ own: number; children: number }> {
  const fields = ((await readFile('/proc/self/stat', 'utf8')).split(') ')[1] ?? '').split(' ').map(Number);
  const ticks = (first: number) => ((fields[first] ?? 0) + (fields[first + 1] ?? 0)) / 100;
  return { own: ticks(11), children: ticks(13) };
}
