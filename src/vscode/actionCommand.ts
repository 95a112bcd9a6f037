import * as vscode from 'vscode';
import type { ActionRegistry } from '../core/actions/registry';
import type { ActionSpec, ProgressUpdate } from '../core/actions/spec';
import { describeProgress, formatDuration } from '../core/render';
import type { Step } from '../core/runbook/steps';
import { RunRecorder } from '../core/runner/records';
import type { StepReport, StepStatus } from '../core/runner/session';
import { RunSession } from '../core/runner/session';
import { loadWorkspaceAt } from '../core/workspace';
import { confirmDestructive } from './confirm';
import { promptActionParams } from './prompts';
import { approveHostKey } from './hostKeys';
import { runRedactor, workspaceSecrets } from './secrets';
import type { Services } from './services';
import { taggedLogger } from './services';

/** What `lifeboat.runAction` accepts: anything left out is asked for. */
export interface RunActionRequest {
  action?: string;
  params?: Record<string, unknown>;
  /** The name the notification and the run history use; the action's title by default. */
  title?: string;
}

/** What `lifeboat.runAction` resolves to; undefined when the person cancelled a prompt. */
export interface RunActionOutcome {
  status: StepStatus;
  result?: unknown;
  error?: string;
}

/** One step of a palette command that runs an action several times, e.g. once per backup location. */
export interface LabelledStep {
  /** Names the step in the progress notification and the details (a location's name). */
  label: string;
  params: Record<string, unknown>;
}

export interface LabelledOutcome extends RunActionOutcome {
  label: string;
}

/** What a run of several steps resolves to: each step's outcome, and succeeded only when all did. */
export interface RunStepsOutcome {
  status: StepStatus;
  steps: LabelledOutcome[];
}

/** How a command words a succeeded run's notification instead of "done in …" (a check's verdict); *Show Details* shows the rendered result. */
export type Conclusion = (result: unknown) => { message: string; warning: boolean };

/**
 * A palette command's whole life: prompts built from the action's schema, then one step through the
 * same RunSession as notebook cells (validation, destructive confirmation, redaction, run records),
 * in a progress notification with cancel, ending with a message that offers the details.
 */
export async function runActionCommand(services: Services, request: RunActionRequest = {}, conclude?: Conclusion): Promise<RunActionOutcome | undefined> {
  const workspaceDir = workspaceToRunIn(services);
  if (workspaceDir === undefined) return undefined;
  const registry = services.registry();
  const action = request.action === undefined ? await pickAction(registry) : registry.get(request.action);
  if (!action) {
    if (request.action !== undefined) services.showError(`Lifeboat has no action '${request.action}'.`);
    return undefined;
  }
  const params = await promptActionParams(action, request.params ?? {});
  if (!params) return undefined;
  const title = request.title ?? action.title;
  const [report] = await runRecordedSteps(services, workspaceDir, action, title, [{ label: title, params }]);
  if (!report) return undefined;
  const outcome: RunActionOutcome = { status: report.status, result: report.result, error: report.error };
  if (report.status === 'succeeded') {
    services.log.info(`${title}: succeeded in ${formatDuration(report.durationMs)}`);
    const concluded = conclude?.(report.result) ?? { message: `${title}: done in ${formatDuration(report.durationMs)}.`, warning: false };
    const show = concluded.warning ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(concluded.message, 'Show Details').then((choice) => {
      if (choice) void services.showMarkdown(title, report.markdown ?? '');
    });
  } else if (report.status === 'cancelled') {
    void vscode.window.showInformationMessage(`${title} was cancelled; nothing more was changed.`);
  } else {
    services.showError(`${title} ${report.status === 'refused' ? 'was not confirmed' : 'failed'}: ${report.error ?? ''}`);
  }
  return outcome;
}

/**
 * One action run once per step (a backup to each of several locations) as one run in the history:
 * a failed step does not stop the others, since each is a copy of its own; a cancel stops them all.
 */
export async function runActionSteps(services: Services, request: { action: string; title: string; steps: readonly LabelledStep[] }): Promise<RunStepsOutcome | undefined> {
  const workspaceDir = workspaceToRunIn(services);
  if (workspaceDir === undefined) return undefined;
  const { title } = request;
  const action = services.registry().get(request.action);
  if (!action) {
    services.showError(`Lifeboat has no action '${request.action}'.`);
    return undefined;
  }
  const reports = await runRecordedSteps(services, workspaceDir, action, title, request.steps);
  const steps = reports.map((report, index): LabelledOutcome => ({ label: request.steps[index]?.label ?? '', status: report.status, result: report.result, error: report.error }));
  const failed = steps.filter((step) => step.status !== 'succeeded');
  const status = failed.find((step) => step.status === 'cancelled')?.status ?? failed[0]?.status ?? 'succeeded';
  const took = formatDuration(reports.reduce((sum, report) => sum + report.durationMs, 0));
  if (status === 'cancelled') {
    void vscode.window.showInformationMessage(`${title} was cancelled; nothing more was changed.`);
  } else if (failed.length > 0) {
    const succeeded = steps.filter((step) => step.status === 'succeeded').map((step) => step.label);
    services.showError(`${title} failed for ${failed.map((step) => `${step.label} (${step.error ?? step.status})`).join('; ')}${succeeded.length > 0 ? `; it succeeded for ${succeeded.join(', ')}` : ''}.`);
  } else {
    services.log.info(`${title}: succeeded for ${steps.map((step) => step.label).join(', ')} in ${took}`);
    const details = reports.map((report, index) => `## ${request.steps[index]?.label ?? ''}\n\n${report.markdown ?? ''}`).join('\n\n');
    void vscode.window.showInformationMessage(`${title}: done for ${steps.map((step) => step.label).join(', ')} in ${took}.`, 'Show Details').then((choice) => {
      if (choice) void services.showMarkdown(title, details);
    });
  }
  return { status, steps };
}

/** The workspace folder a palette command runs in and records its runs in; undefined after saying why there is none. */
function workspaceToRunIn(services: Services): string | undefined {
  if (!vscode.workspace.isTrusted) {
    services.showError('Lifeboat runs nothing in an untrusted workspace: its actions read and change backups. Trust the workspace to run it.');
    return undefined;
  }
  const workspaceFolder = vscode.workspace.workspaceFolders?.[0];
  if (!workspaceFolder || workspaceFolder.uri.scheme !== 'file') {
    services.showError('Open a folder first: Lifeboat resolves paths and keeps its run history in the workspace folder.');
    return undefined;
  }
  return workspaceFolder.uri.fsPath;
}

/**
 * The steps, one after the other, through one RunSession (validation, destructive confirmation,
 * redaction, one run in the run history) in one progress notification with cancel. A cancel ends
 * the run: the steps not started are left out.
 */
async function runRecordedSteps(services: Services, workspaceDir: string, action: ActionSpec, title: string, steps: readonly LabelledStep[]): Promise<StepReport[]> {
  const redactor = runRedactor(services);
  let progressState: ProgressUpdate = {};
  let reportProgress: (update: ProgressUpdate) => void = () => undefined;
  const session = new RunSession({
    registry: services.registry(),
    runbook: `command "${title}"`,
    workspaceDir,
    definitions: {},
    params: {},
    secrets: workspaceSecrets(services.context.secrets, (value, name) => redactor.add(value, `secret '${name}'`)),
    inventory: (await loadWorkspaceAt(workspaceDir)).inventory,
    redactor,
    recorder: new RunRecorder(workspaceDir, redactor),
    approveHostKey,
    confirm: (_step, plan) => confirmDestructive(title, plan),
    observe: () => ({
      progress: { report: (update) => reportProgress(update) },
      output: { write: (_stream, chunk) => services.log.info(`[${title}] ${chunk.trimEnd()}`) },
      log: taggedLogger(services.log, title),
    }),
  });

  const reports = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const abort = new AbortController();
    const cancellation = token.onCancellationRequested(() => abort.abort());
    const done: StepReport[] = [];
    // Of the whole run: with several steps, each fills its share of the bar.
    let shownPercent = 0;
    try {
      for (const [index, { label, params }] of steps.entries()) {
        const prefix = steps.length > 1 ? `${label} (${index + 1}/${steps.length}): ` : '';
        progressState = {};
        if (prefix) progress.report({ message: prefix.slice(0, -2) });
        reportProgress = (update) => {
          progressState = { ...progressState, ...update };
          const percent = percentDone(progressState);
          const overall = percent === undefined ? undefined : (index * 100 + percent) / steps.length;
          progress.report({ message: `${prefix}${describeProgress({ ...progressState, totalBytes: undefined })}`, increment: overall === undefined ? undefined : overall - shownPercent });
          if (overall !== undefined) shownPercent = overall;
        };
        // Of several steps, each is named in the run history by its label (the location).
        const step: Step = { cellIndex: index, cellNumber: index + 1, line: undefined, kind: 'action', actionId: action.id, id: steps.length > 1 ? label : undefined, title: label, params, dryRun: false, lineOf: () => undefined };
        done.push(await session.runStep(step, { signal: abort.signal }));
        services.recordedRun();
        if (abort.signal.aborted) break;
      }
      return done;
    } finally {
      cancellation.dispose();
      await session.close();
    }
  });
  return reports;
}

async function pickAction(registry: ActionRegistry): Promise<ActionSpec | undefined> {
  // `shell` runs a cell's script; as a palette command it would be a worse terminal.
  const items = registry
    .list()
    .filter((action) => action.id !== 'shell')
    .map((action) => ({ label: action.title, description: action.id, detail: action.description, action }));
  return (await vscode.window.showQuickPick(items, { title: 'Run a Lifeboat action', matchOnDescription: true, matchOnDetail: true }))?.action;
}

function percentDone(update: ProgressUpdate): number | undefined {
  if (update.totalBytes) return Math.min(100, (100 * (update.bytes ?? 0)) / update.totalBytes);
  if (update.totalItems) return Math.min(100, (100 * (update.items ?? 0)) / update.totalItems);
  return undefined;
}
