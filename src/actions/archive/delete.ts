import { readdir } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { throwIfAborted } from '../../core/errors';
import { formatBytes, printable } from '../../core/render';
import { folderLockStore } from '../../core/locks';
import { lockLocation } from '../locationLocks';
import { resolveUserPath } from '../paths';
import { lstatIfPresent, pathExists } from '../../core/atomicFiles';
import { sidecarPath } from './checksum';
import { isArchiveFileName } from './naming';
import { deleteArchives } from './retention';
import { readVerifiedState, recordApplies, VERIFIED_STATE_FILE, type VerifiedState } from './verifiedState';

export const archiveDeleteParams = z
  .object({
    path: z.string().min(1).describe('The archive file to delete (*.tar.gz, *.tgz); its .sha256 file and its verification record go with it.'),
  })
  .strict();

export type ArchiveDeleteParams = z.output<typeof archiveDeleteParams>;

export interface ArchiveDeleteResult {
  archive: string;
  name: string;
  bytes: number;
  /** Every file removed: the archive, then its checksum file when there was one. */
  deleted: string[];
  /** A verification record of the archive was dropped from the folder's state file. */
  forgotVerification: boolean;
}

/** Deleting this archive would leave its folder without any archive known to be good. */
export class LastVerifiedArchiveError extends Error {
  constructor(archivePath: string) {
    super(
      `refusing to delete ${printable(archivePath)}: it is the last verified archive in ${printable(path.dirname(archivePath))}, and Lifeboat never deletes the last good backup; verify another archive there first`,
    );
    this.name = 'LastVerifiedArchiveError';
  }
}

interface Doomed {
  archivePath: string;
  name: string;
  bytes: number;
  directory: string;
  sidecar: string | undefined;
  hasRecord: boolean;
}

/** Checks that the target is an archive file that may go; plan and run both ask, so the refusal holds for either. */
async function inspect(params: ArchiveDeleteParams, ctx: ActionContext): Promise<Doomed> {
  const archivePath = resolveUserPath(params.path, ctx.workspaceDir);
  const name = path.basename(archivePath);
  const shown = printable(archivePath);
  if (!isArchiveFileName(name)) throw new Error(`${shown} is not an archive (*.tar.gz, *.tgz); archive.delete deletes archives only`);
  const stats = await lstatIfPresent(archivePath);
  if (!stats) throw new Error(`archive ${shown} does not exist`);
  if (!stats.isFile()) throw new Error(`${shown} is not a regular file; archive.delete deletes archive files only`);
  const directory = path.dirname(archivePath);
  const state = await readVerifiedState(directory);
  const record = state[name];
  if (recordApplies(record, stats.size) && record.ok && !(await anotherVerifiedArchive(directory, name, state))) {
    throw new LastVerifiedArchiveError(archivePath);
  }
  const sidecar = sidecarPath(archivePath);
  return { archivePath, name, bytes: stats.size, directory, sidecar: (await pathExists(sidecar)) ? sidecar : undefined, hasRecord: record !== undefined };
}

/** Whether an archive other than `name` is in the folder and was verified good as it is now. */
async function anotherVerifiedArchive(directory: string, name: string, state: VerifiedState): Promise<boolean> {
  for (const other of await readdir(directory)) {
    const record = state[other];
    if (other === name || !isArchiveFileName(other) || !record?.ok) continue;
    const stats = await lstatIfPresent(path.join(directory, other));
    if (stats?.isFile() && recordApplies(record, stats.size)) return true;
  }
  return false;
}

async function planDelete(params: ArchiveDeleteParams, ctx: ActionContext): Promise<ActionPlan> {
  const doomed = await inspect(params, ctx);
  const operations: PlannedOperation[] = [{ kind: 'delete', target: printable(doomed.archivePath), bytes: doomed.bytes }];
  if (doomed.sidecar) operations.push({ kind: 'delete', target: printable(doomed.sidecar), detail: 'its checksum file' });
  if (doomed.hasRecord) operations.push({ kind: 'overwrite', target: printable(path.join(doomed.directory, VERIFIED_STATE_FILE)), detail: `drops the verification record of ${printable(doomed.name)}` });
  return {
    summary: `Delete the archive ${printable(doomed.name)} (${formatBytes(doomed.bytes)}) from ${printable(doomed.directory)}${doomed.sidecar ? ' with its checksum file' : ''}`,
    operations,
    destructive: true,
  };
}

async function runDelete(params: ArchiveDeleteParams, ctx: ActionContext): Promise<ArchiveDeleteResult> {
  // Looked at again under the lock: two deletes at once must not each leave the other's archive as the last good one.
  const lock = await lockLocation(folderLockStore(path.dirname(resolveUserPath(params.path, ctx.workspaceDir))), 'archive.delete', ctx);
  try {
    return await deleteInspected(await inspect(params, ctx), ctx);
  } finally {
    await lock.release();
  }
}

async function deleteInspected(doomed: Doomed, ctx: ActionContext): Promise<ArchiveDeleteResult> {
  throwIfAborted(ctx.signal);
  await deleteArchives(doomed.directory, [{ name: doomed.name, path: doomed.archivePath }]);
  const deleted = doomed.sidecar ? [doomed.archivePath, doomed.sidecar] : [doomed.archivePath];
  ctx.log.info(`deleted ${deleted.map(printable).join(' and ')}`);
  return { archive: doomed.archivePath, name: doomed.name, bytes: doomed.bytes, deleted, forgotVerification: doomed.hasRecord };
}

function renderDelete(result: ArchiveDeleteResult): string {
  const files = result.deleted.map((file) => `- \`${printable(file)}\``).join('\n');
  return `Deleted ${printable(result.name)} (${formatBytes(result.bytes)})${result.forgotVerification ? ' and its verification record' : ''}:\n\n${files}`;
}

export const archiveDelete = defineAction({
  id: 'archive.delete',
  title: 'Delete an archive',
  description: 'Deletes one archive with its .sha256 file and its verification record. Refuses to delete the last verified archive of a folder.',
  params: archiveDeleteParams,
  destructive: true,
  plan: planDelete,
  run: runDelete,
  render: renderDelete,
});
