import { relative } from 'node:path';
import { renderPlan } from '../core/actions/plan';
import type { ActionRegistry } from '../core/actions/registry';
import type { ActionPlan, Inventory } from '../core/actions/spec';
import { formatProblem } from '../core/errors';
import { Redactor } from '../core/redact';
import { formatDuration } from '../core/render';
import { parseRunbook } from '../core/runbook/parse';
import type { RunbookDocument } from '../core/runbook/model';
import { resolveParams } from '../core/runbook/params';
import type { Step } from '../core/runbook/steps';
import { RunRecorder } from '../core/runner/records';
import type { StepReport } from '../core/runner/session';
import { RunSession } from '../core/runner/session';
import { checkRunbook } from '../core/runner/validate';
import { loadWorkspace } from '../core/workspace';
import { displayPath, EXIT, parseCommandLine, readParamArguments, readRunbookFile, runbookOptions, UsageError } from './args';
import { cliSecrets } from './secrets';
import { keepHeapSteady } from './heap';
import { Terminal } from './terminal';

const STATUS_MARK: Record<StepReport['status'], string> = {
  succeeded: '✔',
  planned: '○',
  failed: '✖',
  refused: '✖',
  cancelled: '■',
};

/** The options of `lifeboat run`, which `lifeboat do` shares. */
export const runOptions = {
  ...runbookOptions,
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  secrets: { type: 'string' },
} as const;

export interface RunRequest {
  document: RunbookDocument;
  /** How messages name the runbook. */
  shown: string;
  /** The runbook's own file, when it has one: the run record names it relative to the workspace. */
  file?: string;
  /** The workspace and its inventory, read once the runbook is known to be valid. */
  workspace: () => Promise<{ workspaceDir: string; inventory: Inventory }>;
  values: { param?: string[]; 'dry-run'?: boolean; yes?: boolean; json?: boolean; verbose?: boolean; secrets?: string };
  /** Parameter values bound before the command line's own `--param`s, which win. */
  bound?: Readonly<Record<string, string>>;
}

/** `lifeboat run`: validate everything, then run step by step, recording each step in the workspace. */
export async function runCommand(args: readonly string[], registry: ActionRegistry): Promise<number> {
  const { values, positionals } = parseCommandLine(args, runOptions);
  if (positionals.length !== 1) throw new UsageError(`lifeboat run: expected one runbook, got ${positionals.length}`);
  const file = positionals[0] as string;
  const document = parseRunbook(await readRunbookFile(file));
  return runDocument({ document, shown: displayPath(file), file, workspace: () => loadWorkspace(file, values.inventory), values }, registry);
}

/** Checks the runbook, then runs it in its workspace as `lifeboat run` does (records, confirmation, exit codes). */
export async function runDocument(request: RunRequest, registry: ActionRegistry): Promise<number> {
  const { document, shown, values } = request;
  const supplied = { ...request.bound, ...readParamArguments(values.param) };
  const { steps, definitions, problems } = checkRunbook(document, { file: shown, registry, params: supplied });
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
    return EXIT.invalid;
  }
  const { workspaceDir, inventory } = await request.workspace();

  const terminal = new Terminal(process.stderr, values.verbose);
  const json = values.json === true;
  const redactor = new Redactor((message) => terminal.line(`lifeboat: warning: ${message}`));
  const secrets = await cliSecrets(values.secrets, (value, name) => redactor.add(value, `secret '${name}'`));
  const abort = new AbortController();
  const stopOnSignal = () => {
    if (abort.signal.aborted) process.exit(EXIT.cancelled);
    terminal.line('Stopping the running step… (press Ctrl-C again to quit at once)');
    abort.abort();
  };
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);

  const label = (step: Step) => `[cell ${step.cellNumber}] ${step.title}`;
  const session = new RunSession({
    registry,
    runbook: (request.file === undefined ? '' : relative(workspaceDir, request.file)) || shown,
    workspaceDir,
    definitions,
    params: resolveParams(definitions, supplied).values,
    secrets,
    inventory,
    redactor,
    recorder: new RunRecorder(workspaceDir, redactor),
    observe: (step) => ({
      progress: terminal.progress(label(step)),
      output: terminal.output(json ? process.stderr : process.stdout),
      log: terminal.logger(label(step)),
    }),
    confirm: (step, plan) => confirmDestructive(terminal, step, plan, values.yes === true),
  });

  try {
    const { status } = await session.runAll(steps, {
      signal: abort.signal,
      dryRun: values['dry-run'],
      onStepStart: (step) => {
        terminal.line(`▶ ${label(step)}${values['dry-run'] || step.dryRun ? ' (dry run)' : ''}`);
        keepHeapSteady(registry.get(step.actionId)?.steadyHeap === true);
      },
      onStepEnd: (report) => {
        keepHeapSteady(false);
        printReport(terminal, report, json);
      },
    });
    if (steps.length === 0) terminal.line(`${shown} has no steps to run`);
    return status === 'succeeded' ? EXIT.ok : status === 'cancelled' ? EXIT.cancelled : EXIT.stepFailed;
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
}

async function confirmDestructive(terminal: Terminal, step: Step, plan: ActionPlan, yes: boolean): Promise<boolean> {
  terminal.line(renderPlan(plan));
  if (yes) return true;
  if (!process.stdin.isTTY) {
    terminal.line(`Refusing cell ${step.cellNumber} (${step.actionId}): it overwrites or deletes data; pass --yes to allow it when not running interactively.`);
    return false;
  }
  return terminal.ask(`Cell ${step.cellNumber} (${step.actionId}) will change existing data as planned above. Go ahead?`);
}

function printReport(terminal: Terminal, report: StepReport, json: boolean): void {
  const { step } = report;
  terminal.line(`${STATUS_MARK[report.status]} [cell ${step.cellNumber}] ${step.title}: ${report.status} in ${formatDuration(report.durationMs)}`);
  if (report.error && report.status !== 'cancelled') terminal.line(report.error);
  if (json) {
    const line = {
      cell: step.cellNumber,
      id: step.id ?? null,
      kind: step.kind,
      action: step.actionId,
      status: report.status,
      result: report.result ?? null,
      error: report.error ?? null,
      durationMs: report.durationMs,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  } else if (report.markdown) {
    terminal.write(process.stdout, `${report.markdown}\n\n`);
  }
}
