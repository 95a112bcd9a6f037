import { formatBytes, markdownTable } from '../render';
import type { ActionPlan } from './spec';

export function renderPlan(plan: ActionPlan): string {
  const heading = `**Plan**${plan.destructive ? ' (destructive)' : ''}: ${plan.summary}`;
  if (plan.operations.length === 0) return heading;
  const rows = plan.operations.map((operation) => [
    operation.kind,
    operation.target,
    operation.items ?? '',
    operation.bytes === undefined ? '' : formatBytes(operation.bytes),
    operation.detail ?? '',
  ]);
  return `${heading}\n\n${markdownTable(['operation', 'target', 'items', 'size', 'detail'], rows)}`;
}
