import * as vscode from 'vscode';
import type { ActionPlan } from '../core/actions/spec';
import { formatBytes } from '../core/render';

/** A modal shows plain text; past this many operations it says how many more there are. */
const SHOWN_OPERATIONS = 15;

/** A modal that names what will be changed and lists the plan; only "Run" lets the step go ahead. */
export async function confirmDestructive(what: string, plan: ActionPlan): Promise<boolean> {
  const targets = plan.operations.filter((operation) => operation.kind === 'overwrite' || operation.kind === 'delete');
  const first = targets[0]?.target ?? '';
  const named = targets.length === 0 ? '' : targets.length === 1 ? ` ${first}` : ` ${targets.length} files or folders, starting with ${first}`;
  const choice = await vscode.window.showWarningMessage(`${what} will overwrite or delete${named}.`, { modal: true, detail: planAsText(plan) }, 'Run');
  return choice === 'Run';
}

/** The plan as the lines of a modal's detail: summary, then one operation a line. */
export function planAsText(plan: ActionPlan): string {
  return [plan.summary, '', planOperationsAsText(plan)].join('\n');
}

/** The plan's operations, one a line: the detail of a modal whose message is already the plan's summary. */
export function planOperationsAsText(plan: ActionPlan): string {
  const lines = plan.operations.slice(0, SHOWN_OPERATIONS).map((operation) => {
    const size = operation.bytes === undefined ? '' : ` (${formatBytes(operation.bytes)})`;
    return `${operation.kind.padEnd(9)} ${operation.target}${size}${operation.detail ? ` — ${operation.detail}` : ''}`;
  });
  const more = plan.operations.length - SHOWN_OPERATIONS;
  if (more > 0) lines.push(`… and ${more} more`);
  return lines.join('\n');
}
