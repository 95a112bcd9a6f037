import * as vscode from 'vscode';
import type { ActionRegistry } from '../core/actions/registry';
import { formatAge, formatDuration } from '../core/render';
import { readSteps } from '../core/runbook/steps';
import type { LastRun } from './notebookRunner';
import { NEW_LAYOUT, runbookCellOf } from './notebookSerializer';

const STATUS_ICON: Record<LastRun['status'], string> = {
  succeeded: '$(pass)',
  planned: '$(beaker)',
  failed: '$(error)',
  refused: '$(circle-slash)',
  cancelled: '$(debug-stop)',
};

/**
 * The badges under a step cell: which action it runs, whether it is only planned or can change data,
 * and when it last ran. Reads the one cell only, so it stays cheap on large runbooks.
 */
export function cellStatusItems(cell: vscode.NotebookCell, registry: ActionRegistry, lastRun: LastRun | undefined): vscode.NotebookCellStatusBarItem[] {
  if (cell.kind !== vscode.NotebookCellKind.Code) return [];
  const runbookCell = runbookCellOf(cell);
  if (runbookCell.kind !== 'action' && runbookCell.kind !== 'shell') return [];
  const step = readSteps({ frontmatter: null, layout: NEW_LAYOUT, cells: [runbookCell] }).steps[0];
  if (!step) return [];
  const action = registry.get(step.actionId);
  const items: vscode.NotebookCellStatusBarItem[] = [];

  const id = new vscode.NotebookCellStatusBarItem(`${step.kind === 'shell' ? '$(terminal)' : '$(symbol-event)'} ${step.actionId}`, vscode.NotebookCellStatusBarAlignment.Left);
  id.tooltip = action ? `${action.title}: ${action.description}` : `Unknown action '${step.actionId}'`;
  items.push(id);
  if (step.dryRun) {
    const dryRun = new vscode.NotebookCellStatusBarItem('$(beaker) dry run', vscode.NotebookCellStatusBarAlignment.Left);
    dryRun.tooltip = 'This step is only planned: running it shows what it would do and changes nothing.';
    items.push(dryRun);
  }
  if (action?.destructive) {
    const destructive = new vscode.NotebookCellStatusBarItem('$(warning) destructive', vscode.NotebookCellStatusBarAlignment.Left);
    destructive.tooltip = 'This action can overwrite or delete data. Before it does, Lifeboat shows the plan and asks.';
    items.push(destructive);
  }
  if (lastRun) {
    const ran = new vscode.NotebookCellStatusBarItem(`${STATUS_ICON[lastRun.status]} ${formatAge(lastRun.endedAt)} · ${formatDuration(lastRun.durationMs)}`, vscode.NotebookCellStatusBarAlignment.Right);
    ran.tooltip = `Last run ${lastRun.status} at ${lastRun.endedAt.toLocaleString()}, took ${formatDuration(lastRun.durationMs)}`;
    items.push(ran);
  }
  return items;
}
