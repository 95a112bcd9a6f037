import { relative } from 'node:path';
import * as vscode from 'vscode';
import type { Logger, OutputSink, ProgressReporter, ProgressUpdate } from '../core/actions/spec';
import { formatProblem } from '../core/errors';
import type { Problem } from '../core/errors';
import { describeProgress } from '../core/render';
import { isRequired, readParamDefinitions, resolveParams } from '../core/runbook/params';
import type { ParamDefinitions } from '../core/runbook/params';
import { RunRecorder } from '../core/runner/records';
import type { StepReport } from '../core/runner/session';
import { RunSession } from '../core/runner/session';
import { checkRunbook } from '../core/runner/validate';
import { loadWorkspace, loadWorkspaceAt } from '../core/workspace';
import { confirmDestructive } from './confirm';
import { runbookOfNotebook } from './notebookSerializer';
import type { ParameterStore } from './parameterStore';
import { promptRunbookParameter } from './prompts';
import { approveHostKey } from './hostKeys';
import { runRedactor, workspaceSecrets } from './secrets';
import type { Services } from './services';
import { taggedLogger } from './services';

/** The mime type of an output's second item: the step's typed result as JSON, for tools and tests. */
export const RESULT_MIME = 'application/vnd.lifeboat.result+json';

/** Live output is sent to the notebook at most this often: enough to look live, cheap for chatty steps. */
const OUTPUT_FLUSH_MS = 100;
const PROGRESS_REFRESH_MS = 250;

export interface LastRun {
  status: StepReport['status'];
  endedAt: Date;
  durationMs: number;
}

/**
 * Runs notebook cells as runbook steps through the same RunSession as the CLI: parameters asked for
 * when missing, everything validated before the first step, one cell execution per step with live
 * output and progress, Run All stopping at the first failure.
 */
export class NotebookRunner implements vscode.Disposable {
  private executionOrder = 0;
  /** One run at a time per notebook; a second request waits for the first. */
  private readonly queues = new Map<string, Promise<void>>();
  /** Step results by notebook, so a cell run alone can use what earlier cells produced. */
  private readonly results = new Map<string, Readonly<Record<string, unknown>>>();
  private readonly lastRuns = new Map<string, LastRun>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly services: Services,
    /** The controller of the notebook's type: runbooks and Markdown files opened as runbooks have one each. */
    private readonly controllerFor: (notebook: vscode.NotebookDocument) => vscode.NotebookController,
    private readonly parameters: ParameterStore,
    /** Called after each step, so the cell status bars can show the new last run. */
    private readonly onDidRunStep: () => void,
  ) {
    this.subscriptions = [
      // New parameter values make earlier results stale: later cells must not mix two sets of values.
      parameters.onDidChange((uri) => this.results.delete(uri.toString())),
      vscode.workspace.onDidCloseNotebookDocument((notebook) => this.results.delete(notebook.uri.toString())),
    ];
  }

  lastRun(cell: vscode.NotebookCell): LastRun | undefined {
    return this.lastRuns.get(cell.document.uri.toString());
  }

  execute(cells: readonly vscode.NotebookCell[], notebook: vscode.NotebookDocument, options: { dryRun?: boolean } = {}): Promise<void> {
    const key = notebook.uri.toString();
    const run = (this.queues.get(key) ?? Promise.resolve()).then(() => this.run(cells, notebook, options));
    const queued = run.catch((error: unknown) => this.services.showError(`Lifeboat could not run ${vscode.workspace.asRelativePath(notebook.uri)}: ${error instanceof Error ? error.message : String(error)}`));
    this.queues.set(key, queued);
    return queued;
  }

  private async run(cells: readonly vscode.NotebookCell[], notebook: vscode.NotebookDocument, { dryRun = false }: { dryRun?: boolean }): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.services.showError('Lifeboat runs nothing in an untrusted workspace: runbooks run commands and change backups. Trust the workspace to run it.');
      return;
    }
    if (notebook.uri.scheme !== 'file') {
      this.services.showError(`Save ${notebook.uri.path} to a folder first: a runbook runs against the folder it is in.`);
      return;
    }
    const registry = this.services.registry();
    const document = runbookOfNotebook(notebook);
    const file = vscode.workspace.asRelativePath(notebook.uri);
    // The definitions alone: the whole runbook is checked once, with the values.
    const { definitions } = readParamDefinitions(document.frontmatter, file);
    const supplied = await this.askForMissingParameters(notebook, definitions);
    if (!supplied) return;

    const selected = new Set(cells.map((cell) => cell.index));
    const checked = checkRunbook(document, { file, registry, params: supplied });
    const steps = checked.steps.filter((step) => selected.has(step.cellIndex));
    // Problems of cells that are not run now do not stop this run; the runbook's own problems do.
    const problems = checked.problems.filter((problem) => problem.cell === undefined || selected.has(problem.cell - 1));
    if (problems.length > 0) {
      await this.reportProblems(notebook, cells, problems);
      return;
    }
    if (steps.length === 0) return;

    // A runbook from outside the workspace (a bundled one) runs against the workspace folder: its
    // relative paths, inventory and run history are the workspace's, never the extension's folder.
    const hostFolder = vscode.workspace.getWorkspaceFolder(notebook.uri) ? undefined : vscode.workspace.workspaceFolders?.find((folder) => folder.uri.scheme === 'file');
    const { workspaceDir, inventory } = hostFolder ? await loadWorkspaceAt(hostFolder.uri.fsPath) : await loadWorkspace(notebook.uri.fsPath);
    const redactor = runRedactor(this.services);
    const views = new Map<number, CellOutputView>();
    const session = new RunSession({
      registry,
      runbook: hostFolder ? notebook.uri.fsPath : relative(workspaceDir, notebook.uri.fsPath),
      workspaceDir,
      definitions: checked.definitions,
      params: resolveParams(checked.definitions, supplied).values,
      secrets: workspaceSecrets(this.services.context.secrets, (value, name) => redactor.add(value, `secret '${name}'`)),
      inventory,
      redactor,
      recorder: new RunRecorder(workspaceDir, redactor),
      approveHostKey,
      earlierResults: this.results.get(notebook.uri.toString()),
      confirm: (step, plan) => confirmDestructive(`Cell ${step.cellNumber} (${step.actionId})`, plan),
      observe: (step) => {
        const view = views.get(step.cellIndex);
        if (!view) throw new Error(`cell ${step.cellNumber} has no execution`);
        return view.observers(this.services.log, `${file} cell ${step.cellNumber}`);
      },
    });

    try {
      for (const step of steps) {
        const cell = notebook.cellAt(step.cellIndex);
        const execution = this.controllerFor(notebook).createNotebookCellExecution(cell);
        execution.executionOrder = ++this.executionOrder;
        const abort = new AbortController();
        const cancellation = execution.token.onCancellationRequested(() => abort.abort());
        execution.start(Date.now());
        const view = new CellOutputView(execution);
        views.set(step.cellIndex, view);
        let report: StepReport;
        try {
          await execution.clearOutput();
          report = await session.runStep(step, { signal: abort.signal, dryRun });
          await view.finish(report);
        } finally {
          cancellation.dispose();
        }
        const succeeded = report.status === 'succeeded' || report.status === 'planned';
        // A cancelled step ends with no verdict: VS Code shows it neither as passed nor as failed.
        execution.end(report.status === 'cancelled' ? undefined : succeeded, Date.now());
        this.lastRuns.set(cell.document.uri.toString(), { status: report.status, endedAt: new Date(), durationMs: report.durationMs });
        this.onDidRunStep();
        this.services.recordedRun();
        this.results.set(notebook.uri.toString(), { ...session.stepResults });
        if (report.status === 'failed' || report.status === 'refused') this.services.log.error(`${file} cell ${step.cellNumber} (${step.actionId}) ${report.status}: ${report.error ?? ''}`);
        if (!succeeded) break;
      }
    } finally {
      await session.close();
    }
  }

  /** The stored values, after asking for every required parameter that has none; undefined if the person cancels. */
  private async askForMissingParameters(notebook: vscode.NotebookDocument, definitions: ParamDefinitions): Promise<Record<string, unknown> | undefined> {
    const stored = this.parameters.get(notebook.uri);
    const supplied: Record<string, unknown> = {};
    for (const name of Object.keys(definitions)) if (stored[name] !== undefined) supplied[name] = stored[name];
    const asked: Record<string, unknown> = {};
    for (const [name, definition] of Object.entries(definitions)) {
      if (supplied[name] !== undefined || definition.default !== undefined || !isRequired(definition)) continue;
      const value = await promptRunbookParameter(name, definition, undefined);
      if (value === undefined) return undefined;
      asked[name] = value;
    }
    if (Object.keys(asked).length > 0) await this.parameters.update(notebook.uri, asked, secretNames(definitions));
    return { ...supplied, ...asked };
  }

  /** Validation problems go to the cells they concern (the first selected cell for the runbook's own) and to the log. */
  private async reportProblems(notebook: vscode.NotebookDocument, cells: readonly vscode.NotebookCell[], problems: readonly Problem[]): Promise<void> {
    const byCell = new Map<number, Problem[]>();
    const fallback = cells.find((cell) => cell.kind === vscode.NotebookCellKind.Code)?.index ?? cells[0]?.index ?? 0;
    for (const problem of problems) {
      const index = problem.cell === undefined ? fallback : problem.cell - 1;
      byCell.set(index, [...(byCell.get(index) ?? []), problem]);
    }
    for (const [index, cellProblems] of byCell) {
      const execution = this.controllerFor(notebook).createNotebookCellExecution(notebook.cellAt(index));
      execution.start(Date.now());
      const message = cellProblems.map(formatProblem).join('\n');
      await execution.replaceOutput(errorOutput('Not run: the runbook has problems', message));
      execution.end(false, Date.now());
    }
    this.services.showError(`${problems.length} problem(s) stop this run: ${formatProblem(problems[0] as Problem)}`);
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

export function secretNames(definitions: ParamDefinitions): Set<string> {
  return new Set(Object.entries(definitions).filter(([, definition]) => definition.secret === true).map(([name]) => name));
}

function errorOutput(name: string, message: string): vscode.NotebookCellOutput {
  return new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.error({ name, message })]);
}

/** What a person reads in a cell while and after its step runs. */
class CellOutputView {
  /** Output operations are asynchronous: one chain keeps them in order. */
  private pending: Thenable<void> = Promise.resolve();
  private stream: { kind: 'stdout' | 'stderr'; output: vscode.NotebookCellOutput } | undefined;
  private buffered: { kind: 'stdout' | 'stderr'; text: string }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private progressOutput: vscode.NotebookCellOutput | undefined;
  private progressState: ProgressUpdate = {};
  private lastProgress = 0;

  constructor(private readonly execution: vscode.NotebookCellExecution) {}

  observers(log: vscode.LogOutputChannel, tag: string): { progress: ProgressReporter; output: OutputSink; log: Logger } {
    return {
      progress: { report: (update) => this.progress(update) },
      output: { write: (stream, chunk) => this.write(stream, chunk) },
      log: taggedLogger(log, tag),
    };
  }

  private enqueue(operation: () => Thenable<void>): void {
    this.pending = this.pending.then(operation, operation);
  }

  private write(kind: 'stdout' | 'stderr', text: string): void {
    this.buffered.push({ kind, text });
    this.flushTimer ??= setTimeout(() => this.flush(), OUTPUT_FLUSH_MS);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const chunks = this.buffered;
    this.buffered = [];
    for (const chunk of mergeAdjacent(chunks)) {
      const item = chunk.kind === 'stdout' ? vscode.NotebookCellOutputItem.stdout(chunk.text) : vscode.NotebookCellOutputItem.stderr(chunk.text);
      if (this.stream?.kind === chunk.kind) {
        const output = this.stream.output;
        this.enqueue(() => this.execution.appendOutputItems(item, output));
      } else {
        const output = new vscode.NotebookCellOutput([item]);
        this.stream = { kind: chunk.kind, output };
        this.enqueue(() => this.execution.appendOutput(output));
      }
    }
  }

  private progress(update: ProgressUpdate): void {
    this.progressState = { ...this.progressState, ...update };
    const now = Date.now();
    if (now - this.lastProgress < PROGRESS_REFRESH_MS) return;
    this.lastProgress = now;
    const item = vscode.NotebookCellOutputItem.text(describeProgress(this.progressState));
    if (this.progressOutput) {
      const output = this.progressOutput;
      this.enqueue(() => this.execution.replaceOutputItems(item, output));
    } else {
      const output = new vscode.NotebookCellOutput([item]);
      this.progressOutput = output;
      this.stream = undefined;
      this.enqueue(() => this.execution.appendOutput(output));
    }
  }

  /** Puts the outcome (the result table and its JSON, the plan, or the error) where the progress line was, or after the output. */
  async finish(report: StepReport): Promise<void> {
    this.flush();
    const outcome = outcomeOutput(report);
    const progress = this.progressOutput;
    if (outcome && progress) this.enqueue(() => this.execution.replaceOutputItems(outcome.items, progress));
    else if (outcome) this.enqueue(() => this.execution.appendOutput(outcome));
    await this.pending;
  }
}

function outcomeOutput(report: StepReport): vscode.NotebookCellOutput | undefined {
  switch (report.status) {
    case 'succeeded':
      if (report.step.kind === 'shell') return undefined;
      return new vscode.NotebookCellOutput([
        vscode.NotebookCellOutputItem.text(report.markdown ?? '', 'text/markdown'),
        vscode.NotebookCellOutputItem.text(JSON.stringify(report.result ?? null, null, 2), RESULT_MIME),
      ]);
    case 'planned':
      return new vscode.NotebookCellOutput([
        vscode.NotebookCellOutputItem.text(`**Dry run: nothing was changed.**\n\n${report.markdown ?? ''}`, 'text/markdown'),
        vscode.NotebookCellOutputItem.text(JSON.stringify(report.result ?? null, null, 2), RESULT_MIME),
      ]);
    case 'cancelled':
      return new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.text('Cancelled: the step was stopped before it finished.')]);
    case 'refused':
      return new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.text(`**Not run: the change was not confirmed.**\n\n${report.markdown ?? ''}`, 'text/markdown')]);
    case 'failed':
      return errorOutput(`Cell ${report.step.cellNumber} (${report.step.actionId}) failed`, report.error ?? 'failed');
  }
}

function mergeAdjacent(chunks: readonly { kind: 'stdout' | 'stderr'; text: string }[]): { kind: 'stdout' | 'stderr'; text: string }[] {
  const merged: { kind: 'stdout' | 'stderr'; text: string }[] = [];
  for (const chunk of chunks) {
    const last = merged[merged.length - 1];
    if (last?.kind === chunk.kind) last.text += chunk.text;
    else merged.push({ ...chunk });
  }
  return merged;
}
