import * as z from 'zod';
import type { ResticRepository, ResticSnapshot } from '../../clients/restic';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { printable } from '../../core/render';
import { snapshotsNewestFirst } from './listing';
import { openRepository, ranBy, repositoryParam } from './repository';

const keep = z.number().int().positive().optional();
const text = z.string().min(1).refine((value) => !value.includes('\0'), 'cannot hold a NUL byte');

const forgetParams = z
  .object({
    repository: repositoryParam,
    keepLast: keep.describe('Keep the newest N snapshots.'),
    keepHourly: keep.describe('Keep the newest snapshot of each of the last N hours that have one.'),
    keepDaily: keep.describe('Keep the newest snapshot of each of the last N days that have one.'),
    keepWeekly: keep.describe('Keep the newest snapshot of each of the last N weeks that have one.'),
    keepMonthly: keep.describe('Keep the newest snapshot of each of the last N months that have one.'),
    keepYearly: keep.describe('Keep the newest snapshot of each of the last N years that have one.'),
    snapshots: z.array(z.string().regex(/^[0-9a-f]{4,64}$/, 'expected a snapshot id')).default([]).describe('Forget exactly these snapshots instead of applying a policy.'),
    host: text.optional().describe('Only snapshots of this host.'),
    tags: z.array(text.refine((value) => !value.includes(','), 'a restic tag cannot hold a comma (restic reads it as two tags)')).default([]).describe('Only snapshots carrying these tags.'),
    prune: z.boolean().default(false).describe('Then remove the data no snapshot uses any more (`restic prune`).'),
  })
  .strict()
  .refine((params) => params.snapshots.length > 0 || [params.keepLast, params.keepHourly, params.keepDaily, params.keepWeekly, params.keepMonthly, params.keepYearly].some((value) => value !== undefined), {
    message: 'name the snapshots to forget, or a policy that keeps some (keepLast, keepDaily, …)',
    path: ['keepLast'],
  });

type ForgetParams = z.output<typeof forgetParams>;

interface ForgetSelection {
  remove: ResticSnapshot[];
  keep: number;
}

/**
 * The snapshots that go: restic's own `forget --dry-run` for a policy, or the ids named. The newest
 * snapshot of the repository (of the host and tags chosen) never goes.
 */
async function select(repository: ResticRepository, params: ForgetParams, signal: AbortSignal): Promise<ForgetSelection> {
  const filter = { host: params.host, tags: params.tags };
  const all = await snapshotsNewestFirst(repository, filter, signal);
  let remove: ResticSnapshot[];
  if (params.snapshots.length > 0) {
    remove = params.snapshots.map((id) => {
      const matching = all.filter((snapshot) => snapshot.id.startsWith(id));
      if (matching.length !== 1) throw new Error(matching.length === 0 ? `no snapshot ${id} in ${repository.label}` : `snapshot id ${id} is ambiguous in ${repository.label}: give more digits`);
      return matching[0] as ResticSnapshot;
    });
  } else {
    const planned = await repository.forget({ policy: { keepLast: params.keepLast, keepHourly: params.keepHourly, keepDaily: params.keepDaily, keepWeekly: params.keepWeekly, keepMonthly: params.keepMonthly, keepYearly: params.keepYearly } }, { ...filter, dryRun: true, signal });
    remove = planned.removed;
  }
  const newest = all[0];
  if (newest && remove.some((snapshot) => snapshot.id === newest.id)) throw new Error(`refusing to forget snapshot ${newest.shortId}: it is the newest${params.host ? ` of host ${params.host}` : ''} in ${params.repository}, the restore point reached for first`);
  return { remove, keep: all.length - remove.length };
}

export interface ResticForgetActionResult {
  repository: string;
  restic: string;
  forgotten: { id: string; time: string; hostname: string; paths: string[] }[];
  kept: number;
  pruned: boolean;
  pruneReport?: string;
}

async function prepare(params: ForgetParams, ctx: ActionContext) {
  const repository = await openRepository(ctx, params.repository);
  return { repository, selection: await select(repository, params, ctx.signal) };
}

export const resticForget = defineAction({
  id: 'restic.forget',
  title: 'Forget restic snapshots',
  description: 'Forgets snapshots by a retention policy (keep last/hourly/daily/weekly/monthly/yearly, per host and paths as restic groups them) or by id, optionally pruning their data. The plan lists exactly the snapshots that go; the newest one never does.',
  params: forgetParams,
  destructive: true,
  async plan(params, ctx) {
    const { repository, selection } = await prepare(params, ctx);
    return {
      summary: `forget ${selection.remove.length} snapshot(s) of ${params.repository}, keeping ${selection.keep}${params.prune ? ', then prune their data' : ''} (${await ranBy(repository, ctx.signal)})`,
      operations: selection.remove.map((snapshot) => ({ kind: 'delete' as const, target: `snapshot ${snapshot.shortId}`, detail: `${snapshot.time} ${printable(snapshot.hostname)} ${snapshot.paths.map(printable).join(', ')}` })),
      destructive: selection.remove.length > 0,
    };
  },
  async run(params, ctx): Promise<ResticForgetActionResult> {
    // What goes is what the policy selects now, checked again (a snapshot made since the plan is newest now); then exactly those go, by id.
    const { repository, selection } = await prepare(params, ctx);
    const restic = await ranBy(repository, ctx.signal);
    const forgotten = selection.remove.map((snapshot) => ({ id: snapshot.id, time: snapshot.time, hostname: snapshot.hostname, paths: snapshot.paths }));
    if (selection.remove.length === 0) return { repository: params.repository, restic, forgotten, kept: selection.keep, pruned: false };
    const result = await repository.forget({ ids: selection.remove.map((snapshot) => snapshot.id) }, { prune: params.prune, signal: ctx.signal });
    return { repository: params.repository, restic, forgotten, kept: selection.keep, pruned: params.prune, ...(params.prune ? { pruneReport: result.pruneReport } : {}) };
  },
  render(result) {
    const list = result.forgotten.map((snapshot) => `- ${snapshot.id.slice(0, 8)} ${snapshot.time} ${printable(snapshot.hostname)} ${snapshot.paths.map(printable).join(', ')}`).join('\n');
    return `Forgot ${result.forgotten.length} snapshot(s) of ${result.repository}, kept ${result.kept} (${result.restic})${result.pruned ? ', and pruned their data' : ''}.${list ? `\n\n${list}` : ''}`;
  },
});

const pruneParams = z
  .object({
    repository: repositoryParam,
    maxUnused: z.string().regex(/^(unlimited|\d+(\.\d+)?%|\d+[kKmMgGtT]?)$/, 'expected a size (500M), a percentage (5%) or unlimited').optional().describe('Unused space to tolerate rather than repack (restic\'s default 5%).'),
  })
  .strict();

export const resticPrune = defineAction({
  id: 'restic.prune',
  title: 'Prune a restic repository',
  description: 'Removes data that no snapshot uses any more. The plan is restic\'s own `prune --dry-run` report.',
  params: pruneParams,
  destructive: true,
  async plan(params, ctx) {
    const repository = await openRepository(ctx, params.repository);
    const { report } = await repository.prune({ dryRun: true, maxUnused: params.maxUnused, signal: ctx.signal });
    return {
      summary: `prune ${params.repository} (${await ranBy(repository, ctx.signal)}):\n\n${report}`,
      operations: [{ kind: 'delete', target: `unused data in ${params.repository}`, detail: 'as restic reports above' }],
      destructive: true,
    };
  },
  async run(params, ctx) {
    const repository = await openRepository(ctx, params.repository);
    const { report } = await repository.prune({ maxUnused: params.maxUnused, signal: ctx.signal });
    return { repository: params.repository, restic: await ranBy(repository, ctx.signal), report };
  },
  render(result: { repository: string; restic: string; report: string }) {
    return `Pruned ${result.repository} (${result.restic}):\n\n\`\`\`text\n${result.report}\n\`\`\``;
  },
});
