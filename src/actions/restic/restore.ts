import { posix } from 'node:path';
import * as z from 'zod';
import { sshConnectionFor } from '../../clients/ssh';
import type { ActionContext, PlannedOperation } from '../../core/actions/spec';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, printable } from '../../core/render';
import { resolveUserPath } from '../paths';
import { snapshotPath } from './listing';
import { openRepository, ranBy, repositoryEntry, repositoryParam, snapshotParam } from './repository';
import { literalPattern, localFolders, originalTarget, planRestore, remoteFolders, type TargetFolderReader } from './restorePlan';

/** How many files a plan names one by one; the rest are counted. */
const LISTED_FILES = 1000;

const restoreParams = z
  .object({
    repository: repositoryParam,
    snapshot: snapshotParam,
    paths: z
      .array(z.string().min(1).transform((path, issue) => {
        try {
          return snapshotPath(path);
        } catch (error) {
          issue.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }))
      .default([])
      // `/` is the whole snapshot, as no path at all.
      .transform((paths) => (paths.includes('/') ? [] : paths))
      .describe('Files and folders inside the snapshot to restore (`/home/anna/photos`); the whole snapshot when left out or `/`.'),
    target: z
      .string()
      .refine((value) => !value.includes('\0'), 'cannot hold a NUL byte')
      .optional()
      .describe('Folder to restore into: each file lands at its snapshot path below it. Left out or empty, files go back where they were backed up from (overwriting what is there).'),
  })
  .strict();

type RestoreParams = z.output<typeof restoreParams>;

export interface ResticRestoreActionResult {
  repository: string;
  restic: string;
  snapshot: string;
  target: string;
  paths: string[];
  /** Counted by restic 0.16 and later. */
  filesRestored?: number;
  bytesRestored?: number;
}

/** Where restic writes, and how the plan reads the target there (this machine, or the repository's host). */
async function restoreTarget(params: RestoreParams, ctx: ActionContext, original: () => Promise<string>): Promise<{ target: string; folders: TargetFolderReader; host?: string }> {
  const host = repositoryEntry(ctx.inventory, params.repository).host;
  const given = params.target === '' ? undefined : params.target;
  if (!host) return { target: given === undefined ? await original() : resolveUserPath(given, ctx.workspaceDir), folders: localFolders() };
  if (given !== undefined && !posix.isAbsolute(given)) throw new Error(`target '${printable(given)}' is on host ${host}, where restic runs: give an absolute path`);
  const connection = await sshConnectionFor(ctx.clients, ctx.inventory, host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
  return { target: given ?? (await original()), folders: remoteFolders(connection), host };
}

const includes = (params: RestoreParams) => params.paths.map(literalPattern);

export const resticRestore = defineAction({
  id: 'restic.restore',
  title: 'Restore from a restic snapshot',
  description:
    'Restores a snapshot (an id or `latest`), or single files and folders of it, into the original location or another folder; on a repository with a `host`, restic restores there. The plan lists every file that would be created or overwritten: from `restore --dry-run` where the installed restic has it (0.17+), else from the snapshot\'s listing and the target\'s folders.',
  params: restoreParams,
  destructive: true,
  async plan(params, ctx) {
    const repository = await openRepository(ctx, params.repository);
    const { target, folders, host } = await restoreTarget(params, ctx, () => originalTarget(repository, params.snapshot, ctx.signal));
    const planned = await planRestore(repository, { snapshot: params.snapshot, target, paths: params.paths, include: includes(params) }, folders, ctx.signal);
    const where = host ? `${host}:${target}` : target;
    const operations: PlannedOperation[] = planned.files.slice(0, LISTED_FILES).map((file) => ({
      kind: file.action === 'overwrite' ? 'overwrite' : file.action === 'create' ? 'create' : 'read',
      target: printable(file.target),
      ...(file.size === undefined || file.type !== 'file' ? {} : { bytes: file.size }),
      detail: file.action === 'unchanged' ? 'unchanged, skipped' : file.type,
    }));
    const unlisted = planned.files.length - operations.length;
    if (unlisted > 0) operations.push({ kind: 'create', target: `${unlisted} more under ${printable(where)}`, items: unlisted, detail: 'not listed one by one' });
    const what = params.paths.length > 0 ? params.paths.map(printable).join(', ') : 'the whole snapshot';
    return {
      summary: `restore ${what} of snapshot ${params.snapshot} from ${params.repository} into ${printable(where)} (${await ranBy(repository, ctx.signal)}, planned from ${planned.source}): ${planned.created} to create, ${planned.overwritten} to overwrite${planned.unchanged ? `, ${planned.unchanged} unchanged` : ''}, ${formatBytes(planned.bytes)}`,
      operations,
      destructive: planned.overwritten > 0,
    };
  },
  async run(params, ctx): Promise<ResticRestoreActionResult> {
    const repository = await openRepository(ctx, params.repository);
    const { target } = await restoreTarget(params, ctx, () => originalTarget(repository, params.snapshot, ctx.signal));
    // Which restic runs is asked beside the restore, not before it.
    const [restored, restic] = await Promise.all([repository.restore(params.snapshot, target, { include: includes(params), progress: ctx.progress, signal: ctx.signal }), ranBy(repository, ctx.signal)]);
    return {
      repository: params.repository,
      restic,
      snapshot: params.snapshot,
      target,
      paths: params.paths,
      ...(restored.filesRestored === undefined ? {} : { filesRestored: restored.filesRestored }),
      ...(restored.bytesRestored === undefined ? {} : { bytesRestored: restored.bytesRestored }),
    };
  },
  render(result) {
    const counts = result.filesRestored === undefined ? '' : `: ${result.filesRestored} files, ${formatBytes(result.bytesRestored ?? 0)}`;
    const what = result.paths.length > 0 ? result.paths.map(printable).join(', ') : 'the whole snapshot';
    return `Restored ${what} of snapshot ${result.snapshot} from ${result.repository} into ${printable(result.target)} (${result.restic})${counts}.`;
  },
});
