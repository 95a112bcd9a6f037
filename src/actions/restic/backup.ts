import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, formatDuration, printable } from '../../core/render';
import { openRepository, ranBy, repositoryEntry, repositoryParam } from './repository';

const argument = z.string().min(1).refine((value) => !value.includes('\0'), 'cannot hold a NUL byte');

/** restic reads a comma in `--tag` as between two tags. */
const tag = argument.refine((value) => !value.includes(','), 'a restic tag cannot hold a comma (restic reads it as two tags)');

const backupParams = z
  .object({
    repository: repositoryParam,
    paths: z.array(argument).min(1).describe('Files and folders to back up; on the repository\'s `host` when restic runs there.'),
    excludes: z.array(argument).default([]).describe('restic exclude patterns (`--exclude`), e.g. `*.tmp` or `/srv/cache`.'),
    tags: z.array(tag).default([]).describe('Tags for the snapshot.'),
    hostname: argument.optional().describe('The hostname recorded in the snapshot; the machine restic runs on when left out.'),
  })
  .strict();

export interface ResticBackupActionResult {
  repository: string;
  restic: string;
  snapshot?: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  bytesProcessed: number;
  bytesAdded: number;
  durationSeconds: number;
  /** Exit code 3: the snapshot was made, but these could not be read. */
  partial: boolean;
  warnings: string[];
}

export const resticBackup = defineAction({
  id: 'restic.backup',
  title: 'Back up with restic',
  description: 'Backs up paths into a restic repository (excludes, tags), reporting progress from `backup --json`. On a repository with a `host`, restic runs there and the data goes from that host to the repository. A snapshot made with unreadable files is a warning that names them.',
  params: backupParams,
  destructive: false,
  async plan(params, ctx) {
    const where = repositoryEntry(ctx.inventory, params.repository).host;
    return {
      summary: `would back up ${params.paths.length} path(s)${where ? ` on host ${where}` : ''} into restic repository ${params.repository} as a new snapshot`,
      operations: [
        ...params.paths.map((path) => ({ kind: 'read' as const, target: where ? `${where}:${path}` : path, ...(params.excludes.length > 0 ? { detail: `excluding ${params.excludes.join(', ')}` } : {}) })),
        { kind: 'create' as const, target: `snapshot in ${params.repository}`, ...(params.tags.length > 0 ? { detail: `tags ${params.tags.join(', ')}` } : {}) },
      ],
      destructive: false,
    };
  },
  async run(params, ctx): Promise<ResticBackupActionResult> {
    const repository = await openRepository(ctx, params.repository);
    const restic = await ranBy(repository, ctx.signal);
    const result = await repository.backup(params.paths, { tags: params.tags, excludes: params.excludes, host: params.hostname, progress: ctx.progress, signal: ctx.signal });
    for (const warning of result.warnings) ctx.log.warn(`restic backup: ${printable(warning)}`);
    const { summary } = result;
    return {
      repository: params.repository,
      restic,
      ...(summary.snapshotId ? { snapshot: summary.snapshotId } : {}),
      filesNew: summary.filesNew,
      filesChanged: summary.filesChanged,
      filesUnmodified: summary.filesUnmodified,
      bytesProcessed: summary.totalBytesProcessed,
      bytesAdded: summary.dataAdded,
      durationSeconds: summary.totalDurationSeconds,
      partial: result.partial,
      warnings: result.warnings,
    };
  },
  render(result) {
    const lines = [
      `Snapshot ${result.snapshot?.slice(0, 8) ?? '(none)'} in ${result.repository} (${result.restic}): ${result.filesNew} new, ${result.filesChanged} changed, ${result.filesUnmodified} unchanged files; ${formatBytes(result.bytesProcessed)} read, ${formatBytes(result.bytesAdded)} added, in ${formatDuration(result.durationSeconds * 1000)}.`,
    ];
    if (result.partial) lines.push(`\n**Warning:** some files could not be read (the snapshot was made without them):\n${result.warnings.map((warning) => `- ${printable(warning)}`).join('\n')}`);
    return lines.join('\n');
  },
});
