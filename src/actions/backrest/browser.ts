/**
 * Backrest installations in the Backups tree, pick lists and `lifeboat ls`: installation → its plans,
 * each with its last snapshot's age and a status that makes a forgotten or failing plan stand out.
 * One expand reads config.json and each repo's snapshots once (restic where Backrest runs it).
 */
import type { BackrestInstanceEntry } from '../../core/inventory/schema';
import type { Browser } from '../../core/browse/model';
import { emptyNode, joinPath, pageOf, type DeclaredNode, type NodeStatus } from '../../core/browse/node';
import { markdownEscape, printable } from '../../core/render';
import { describeHooks } from './describe';
import { backrestSourceOf } from './plans';
import { checkBackrestPlans, type BackrestPlanReport } from './report';

export const BACKREST_ROOT = 'backrest';
/** The runbook "Check Plans…" opens, with the installation bound. */
export const BACKREST_PLAN_CHECK_RUNBOOK = 'backrest-plan-check.runbook.md';

function instanceNode(name: string, entry: BackrestInstanceEntry): DeclaredNode {
  const where = entry.host ? `${entry.host}:${entry.config}` : entry.config;
  return {
    path: joinPath(BACKREST_ROOT, name),
    kind: 'backrest',
    label: name,
    description: where,
    tooltip: `**Backrest ${markdownEscape(name)}**\n\n- config ${markdownEscape(where)}${entry.host ? `\n- restic runs on host ${markdownEscape(entry.host)}` : ''}\n- Expand to list its plans with their last snapshot's age`,
    icon: 'server-process',
    hasChildren: true,
    operations: [
      { kind: 'action', id: 'plans', label: 'Show Plans', action: 'backrest.plans', params: { backrest: name } },
      { kind: 'runbook', id: 'check', label: 'Check Plans…', runbook: BACKREST_PLAN_CHECK_RUNBOOK, params: { backrest: name } },
    ],
    facts: { name, config: entry.config, host: entry.host ?? null },
  };
}

function statusOf(plan: BackrestPlanReport): NodeStatus {
  const reason = printable(plan.reason);
  if (plan.state === 'ok') return { level: 'ok', reason };
  if (plan.state === 'stale' || plan.state === 'no snapshot') return { level: 'warning', reason: `${plan.state}: ${reason}` };
  if (plan.state === 'failed') return { level: 'error', reason };
  return { level: 'unknown', reason: `${plan.state}: ${reason}` };
}

function planNode(instance: string, plan: BackrestPlanReport): DeclaredNode {
  const age = plan.lastSnapshot ? plan.lastSnapshot.age : plan.state === 'failed' ? 'repo not readable' : 'no snapshot';
  const tooltip = [
    `**Plan ${markdownEscape(printable(plan.id))}** of Backrest ${markdownEscape(instance)}`,
    '',
    `- repo ${markdownEscape(printable(plan.repo.id))} (${markdownEscape(printable(plan.repo.uri))})`,
    `- paths ${markdownEscape(plan.paths.map(printable).join(', '))}`,
    ...(plan.excludes.length > 0 ? [`- excludes ${markdownEscape(plan.excludes.map(printable).join(', '))}`] : []),
    `- schedule ${markdownEscape(plan.schedule)}`,
    `- retention ${markdownEscape(plan.retention)}`,
    `- hooks ${markdownEscape(describeHooks(plan.hooks))}`,
    ...(plan.lastSnapshot ? [`- last snapshot ${plan.lastSnapshot.shortId} at ${plan.lastSnapshot.time} (${plan.lastSnapshot.age})`] : []),
    `- ${plan.state}: ${markdownEscape(printable(plan.reason))}`,
  ].join('\n');
  return {
    path: joinPath(BACKREST_ROOT, instance, plan.id),
    kind: 'backrest.plan',
    label: printable(plan.id),
    description: `${age} · ${printable(plan.schedule)}`,
    tooltip,
    icon: plan.state === 'unscheduled' ? 'debug-pause' : 'history',
    status: statusOf(plan),
    hasChildren: false,
    operations: [{ kind: 'action', id: 'plans', label: 'Show Plans', action: 'backrest.plans', params: { backrest: instance } }],
    facts: {
      backrest: instance,
      id: plan.id,
      repo: plan.repo.id,
      uri: plan.repo.uri,
      paths: plan.paths,
      schedule: plan.schedule,
      retention: plan.retention,
      state: plan.state,
      stale: plan.stale ?? null,
      lastSnapshot: plan.lastSnapshot?.id ?? null,
      lastSnapshotTime: plan.lastSnapshot?.time ?? null,
      age: plan.lastSnapshot?.age ?? null,
    },
  };
}

export const backrestBrowser: Browser = {
  root: BACKREST_ROOT,
  roots(session) {
    return Object.entries(session.ctx.inventory.backrest ?? {}).map(([name, entry]) => instanceNode(name, entry));
  },
  async children(path, request, session) {
    const [, instance] = path;
    if (instance === undefined || path.length > 2 || !session.ctx.inventory.backrest?.[instance]) return { nodes: [] };
    const at = joinPath(BACKREST_ROOT, instance);
    const source = backrestSourceOf({ backrest: instance }, session.ctx);
    const result = await session.cached(at, () => checkBackrestPlans(session.ctx, source, { snapshots: true, restic: source.restic, graceMinutes: 60 }));
    if (result.plans.length === 0) return { nodes: [emptyNode(at, 'No plans in config.json')] };
    return pageOf(result.plans, request, (plan) => plan.id, (plan) => planNode(instance, plan));
  },
};
