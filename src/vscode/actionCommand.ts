import * as vscode from 'vscode';
import type { ActionRegistry } from '../core/actions/registry';
import type { ActionSpec, ProgressUpdate } from '../core/actions/spec';
import { Redactor } from '../core/redact';
import { describeProgress, formatDuration } from '../core/render';
import type { Step } from '../core/runbook/steps';
import { RunRecorder } from '../core/runner/records';
import type { StepStatus } from '../core/runner/session';
import { RunSession } from '../core/runner/session';
import { loadWorkspaceAt } from '../core/workspace';
import { confirmDestructive } from './confirm';
import { promptActionParams } from './prompts';
import { approveHostKey } from './hostKeys';
import { workspaceSecrets } from './secrets';
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

/**
 * A palette command's whole life: prompts built from the action's schema, then one step through the
 * same RunSession as notebook cells (validation, destructive confirmation, redaction, run records),
 * in a progress notification with cancel, ending with a message that offers the details.
 */
export async function runActionCommand(services: Services, request: RunActionRequest = {}): Promise<RunActionOutcome | undefined> {
  if (!vscode.workspace.isTrusted) {
    services.showError('Lifeboat runs nothing in an untrusted workspace: its actions read and change backups. Trust the workspace to run it.');
    return undefined;
  }
  const workspaceFolder = vscode.workspace.workspaceFolders?.[0];
  if (!workspaceFolder || workspaceFolder.uri.scheme !== 'file') {
    services.showError('Open a folder first: Lifeboat resolves paths and keeps its run history in the workspace folder.');
    return undefined;
  }
  const registry = services.registry();
  const action = request.action === undefined ? await pickAction(registry) : registry.get(request.action);
  if (!action) {
    if (request.action !== undefined) services.showError(`Lifeboat has no action '${request.action}'.`);
    return undefined;
  }
  const params = await promptActionParams(action, request.params ?? {});
  if (!params) return undefined;
  const title = request.title ?? action.title;

  const workspaceDir = workspaceFolder.uri.fsPath;
  const redactor = new Redactor();
  const step: Step = {
    cellIndex: 0,
    cellNumber: 1,
    line: undefined,
    kind: 'action',
    actionId: action.id,
    id: undefined,
    title,
    params,
    dryRun: false,
    lineOf: () => undefined,
  };
  let progressState: ProgressUpdate = {};
  let reportProgress: (update: ProgressUpdate) => void = () => undefined;
  const session = new RunSession({
    registry,
    runbook: `command "${title}"`,
    workspaceDir,
    definitions: {},
    params: {},
    secrets: workspaceSecrets(services.context.secrets, (value) => redactor.add(value)),
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

  const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const abort = new AbortController();
    const cancellation = token.onCancellationRequested(() => abort.abort());
    let shownPercent = 0;
    reportProgress = (update) => {
      progressState = { ...progressState, ...update };
      const percent = percentDone(progressState);
      progress.report({ message: describeProgress({ ...progressState, totalBytes: undefined }), increment: percent === undefined ? undefined : percent - shownPercent });
      if (percent !== undefined) shownPercent = percent;
    };
    try {
      return await session.runStep(step, { signal: abort.signal });
    } finally {
      cancellation.dispose();
      await session.close();
    }
  });

  services.recordedRun();
  const outcome: RunActionOutcome = { status: report.status, result: report.result, error: report.error };
  if (report.status === 'succeeded') {
    services.log.info(`${title}: succeeded in ${formatDuration(report.durationMs)}`);
    void vscode.window.showInformationMessage(`${title}: done in ${formatDuration(report.durationMs)}.`, 'Show Details').then((choice) => {
      if (choice) void services.showMarkdown(title, report.markdown ?? '');
    });
  } else if (report.status === 'cancelled') {
    void vscode.window.showInformationMessage(`${title} was cancelled; nothing more was changed.`);
  } else {
    services.showError(`${title} ${report.status === 'refused' ? 'was not confirmed' : 'failed'}: ${report.error ?? ''}`);
  }
  return outcome;
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
