import * as vscode from 'vscode';
import { loadRuntime } from './lazy';
import type { NotebookRunner } from './notebookRunner';
import { isRunbookNotebook, NOTEBOOK_TYPE, RUNBOOK_NOTEBOOK_TYPES, RunbookSerializer } from './notebookSerializer';
import { declaredParameters, ParameterStore } from './parameterStore';
import { summarizeParameters } from './parameterSummary';
import type { Services } from './services';

/** What `lifeboat.setParameters` accepts from other commands: values to store without asking. */
interface SetParametersRequest {
  notebook?: vscode.Uri;
  values?: Record<string, unknown>;
}

/** The runbook notebook: serializer, controller, parameters, cell status bar and toolbar actions. */
export function registerNotebook(services: Services): vscode.Disposable[] {
  const parameters = new ParameterStore(services.context.workspaceState);
  const controllers = new Map(
    RUNBOOK_NOTEBOOK_TYPES.map((type) => {
      const controller = vscode.notebooks.createNotebookController(`${type}-controller`, type, 'Lifeboat');
      controller.supportedLanguages = ['yaml', 'shellscript'];
      controller.supportsExecutionOrder = true;
      controller.description = 'Runs runbook steps as typed actions';
      controller.executeHandler = (cells, notebook) => notebookRunner().execute(cells, notebook);
      return [type, controller] as const;
    }),
  );
  const controllerFor = (notebook: vscode.NotebookDocument): vscode.NotebookController => {
    const controller = controllers.get(notebook.notebookType as (typeof RUNBOOK_NOTEBOOK_TYPES)[number]);
    if (!controller) throw new Error(`${notebook.uri.toString()} is not a runbook notebook`);
    return controller;
  };
  const selectedFor = new Set<string>();
  // Each runbook notebook type has only this controller: preferring it shows "Lifeboat" as the kernel before the first run.
  const prefer = (notebook: vscode.NotebookDocument) => {
    if (isRunbookNotebook(notebook)) controllerFor(notebook).updateNotebookAffinity(notebook, vscode.NotebookControllerAffinity.Preferred);
  };
  vscode.workspace.notebookDocuments.forEach(prefer);
  const statusChanged = new vscode.EventEmitter<void>();

  let runner: NotebookRunner | undefined;
  const notebookRunner = () => (runner ??= new (loadRuntime().NotebookRunner)(services, controllerFor, parameters, () => statusChanged.fire()));

  const parameterStatus = vscode.window.createStatusBarItem('lifeboat.parameters', vscode.StatusBarAlignment.Left, 50);
  parameterStatus.name = 'Lifeboat Runbook Parameters';
  parameterStatus.command = 'lifeboat.setParameters';
  const showParameters = () => {
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    const declared = notebook && isRunbookNotebook(notebook) ? declaredParameters(notebook) : [];
    if (!notebook || declared.length === 0) {
      parameterStatus.hide();
      return;
    }
    const { text, tooltip } = summarizeParameters(declared, parameters.get(notebook.uri));
    parameterStatus.text = `$(symbol-parameter) ${text}`;
    parameterStatus.tooltip = tooltip;
    parameterStatus.show();
  };
  showParameters();

  const targetNotebook = (uri: unknown): vscode.NotebookDocument | undefined => {
    const notebook = uri instanceof vscode.Uri ? vscode.workspace.notebookDocuments.find((candidate) => candidate.uri.toString() === uri.toString()) : vscode.window.activeNotebookEditor?.notebook;
    if (notebook && isRunbookNotebook(notebook)) return notebook;
    services.showError('Open a runbook notebook first.');
    return undefined;
  };

  return [
    ...RUNBOOK_NOTEBOOK_TYPES.map((type) => vscode.workspace.registerNotebookSerializer(type, new RunbookSerializer(), { transientOutputs: true })),
    ...controllers.values(),
    vscode.workspace.onDidOpenNotebookDocument(prefer),
    ...[...controllers.values()].map((controller) =>
      controller.onDidChangeSelectedNotebooks(({ notebook, selected }) => {
        if (selected) selectedFor.add(notebook.uri.toString());
        else selectedFor.delete(notebook.uri.toString());
      }),
    ),
    { dispose: () => runner?.dispose() },
    parameters,
    parameterStatus,
    statusChanged,
    vscode.window.onDidChangeActiveNotebookEditor(showParameters),
    parameters.onDidChange(showParameters),
    ...RUNBOOK_NOTEBOOK_TYPES.map((type) =>
      vscode.notebooks.registerNotebookCellStatusBarItemProvider(type, {
        onDidChangeCellStatusBarItems: statusChanged.event,
        provideCellStatusBarItems: (cell) => loadRuntime().cellStatusItems(cell, services.registry(), runner?.lastRun(cell)),
      }),
    ),
    vscode.commands.registerCommand('lifeboat.dryRun', async (uri?: unknown) => {
      const notebook = targetNotebook(uri);
      if (!notebook) return;
      // A controller can only create executions in notebooks where it is the selected kernel.
      if (!selectedFor.has(notebook.uri.toString())) await vscode.commands.executeCommand('notebook.selectKernel', { id: controllerFor(notebook).id, extension: services.context.extension.id });
      await notebookRunner().execute(notebook.getCells(), notebook, { dryRun: true });
    }),
    vscode.commands.registerCommand('lifeboat.setParameters', async (request?: unknown) => {
      const { notebook: uri, values } = (request instanceof vscode.Uri ? { notebook: request } : (request ?? {})) as SetParametersRequest;
      const notebook = targetNotebook(uri);
      if (!notebook) return;
      if (values) {
        const secret = new Set(declaredParameters(notebook).filter((parameter) => parameter.secret).map((parameter) => parameter.name));
        await parameters.update(notebook.uri, values, secret);
        return;
      }
      try {
        await loadRuntime().editParameters(parameters, notebook);
      } catch (error) {
        services.showError(`Cannot set the parameters of ${vscode.workspace.asRelativePath(notebook.uri)}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
    vscode.commands.registerCommand('lifeboat.openAsRunbook', async (uri?: unknown) => {
      const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
      if (!target) {
        services.showError('Pick a Markdown file to open as a runbook.');
        return;
      }
      await vscode.commands.executeCommand('vscode.openWith', target, NOTEBOOK_TYPE);
    }),
  ];
}
