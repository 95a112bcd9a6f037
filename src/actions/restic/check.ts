import * as z from 'zod';
import type { ResticChange, ResticDiffStatistics } from '../../clients/restic';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, markdownTable, printable } from '../../core/render';
import { snapshotsNewestFirst } from './listing';
import { openRepository, ranBy, repositoryParam, snapshotParam } from './repository';

/** How many changed paths a diff result keeps; the statistics count all of them. */
const KEPT_CHANGES = 1000;

const checkParams = z
  .object({
    repository: repositoryParam,
    readData: z.boolean().default(false).describe('Read every pack and verify its contents (downloads the whole repository).'),
    readDataSubset: z
      .string()
      .regex(/^(\d+\/\d+|\d+(\.\d+)?%|\d+[kKmMgGtT])$/, 'expected n/t (1/5), a percentage (10%) or a size (500M)')
      .optional()
      .describe('Read only this part of the packs: n/t, x% or a size.'),
  })
  .strict();

export interface ResticCheckActionResult {
  repository: string;
  restic: string;
  ok: boolean;
  report: string;
}

export const resticCheck = defineAction({
  id: 'restic.check',
  title: 'Check a restic repository',
  description: 'Checks a restic repository\'s structure, and optionally reads all or a subset of its data back; errors found are a failed result naming them.',
  params: checkParams,
  destructive: false,
  async plan(params) {
    const reads = params.readData ? 'all data' : params.readDataSubset ? `data subset ${params.readDataSubset}` : 'the structure only';
    return { summary: `would check ${params.repository}, reading ${reads}`, operations: [{ kind: 'verify', target: params.repository, detail: reads }], destructive: false };
  },
  async run(params, ctx): Promise<ResticCheckActionResult> {
    const repository = await openRepository(ctx, params.repository);
    const result = await repository.check({ readData: params.readData, readDataSubset: params.readDataSubset, signal: ctx.signal });
    const checked = { repository: params.repository, restic: await ranBy(repository, ctx.signal), ...result };
    if (!result.ok) throw new Error(`restic check of ${params.repository} found errors:\n${result.report}`);
    return checked;
  },
  render(result) {
    return `${result.repository}: no errors found (${result.restic}).\n\n\`\`\`text\n${result.report}\n\`\`\``;
  },
});

const diffParams = z
  .object({
    repository: repositoryParam,
    snapshot: snapshotParam.describe('The newer snapshot.'),
    against: snapshotParam.optional().describe('The older snapshot; the one before `snapshot` of the same host and paths when left out.'),
  })
  .strict();

export interface ResticDiffActionResult {
  repository: string;
  restic: string;
  from: string;
  to: string;
  statistics: ResticDiffStatistics;
  /** The first changes, in restic's order. */
  changes: ResticChange[];
  truncated: boolean;
}

export const resticDiff = defineAction({
  id: 'restic.diff',
  title: 'Diff two restic snapshots',
  description: 'What a snapshot added, removed and changed against another one, by default the previous snapshot of the same host and paths.',
  params: diffParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `would compare snapshot ${params.snapshot} of ${params.repository} with ${params.against ?? 'the one before it'}`, operations: [{ kind: 'read', target: params.repository }], destructive: false };
  },
  async run(params, ctx): Promise<ResticDiffActionResult> {
    const repository = await openRepository(ctx, params.repository);
    const snapshots = await snapshotsNewestFirst(repository, {}, ctx.signal);
    const find = (id: string) => (id === 'latest' ? snapshots[0] : snapshots.find((snapshot) => snapshot.id.startsWith(id)));
    const to = find(params.snapshot);
    if (!to) throw new Error(`no snapshot ${params.snapshot} in ${params.repository}`);
    const samePaths = (paths: readonly string[]) => paths.length === to.paths.length && paths.every((path) => to.paths.includes(path));
    const from = params.against === undefined ? snapshots.find((snapshot) => snapshot.time < to.time && snapshot.hostname === to.hostname && samePaths(snapshot.paths)) : find(params.against);
    if (!from) throw new Error(params.against === undefined ? `snapshot ${to.shortId} is the first of host ${to.hostname} and its paths: nothing to compare it with` : `no snapshot ${params.against} in ${params.repository}`);
    const changes: ResticChange[] = [];
    let truncated = false;
    const statistics = await repository.diff(from.id, to.id, {
      signal: ctx.signal,
      onChange: (change) => {
        if (changes.length < KEPT_CHANGES) changes.push(change);
        else truncated = true;
      },
    });
    return { repository: params.repository, restic: await ranBy(repository, ctx.signal), from: from.id, to: to.id, statistics, changes, truncated };
  },
  render(result) {
    const { added, removed, changedFiles } = result.statistics;
    const heading = `${result.from.slice(0, 8)} → ${result.to.slice(0, 8)} in ${result.repository} (${result.restic}): ${added.files} files added (${formatBytes(added.bytes)}), ${removed.files} removed (${formatBytes(removed.bytes)}), ${changedFiles} changed.`;
    if (result.changes.length === 0) return heading;
    const rows = result.changes.map((change) => [change.modifier, printable(change.path)]);
    return `${heading}\n\n${markdownTable(['change', 'path'], rows)}${result.truncated ? `\n\nOnly the first ${KEPT_CHANGES} changes are listed.` : ''}`;
  },
});
