import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { RcloneError, type Rclone, type RcloneTransferResult } from '../../clients/rclone';
import { defineAction, type ActionContext, type ActionPlan, type PlannedOperation } from '../../core/actions/spec';
import { cancellationOr, throwIfAborted } from '../../core/errors';
import { formatBytes, formatCount } from '../../core/render';
import { parentOf, parseRclonePath, rcloneArgument, rcloneFor, remoteType, type RclonePath } from './remotes';
import { makeFolders } from '../../core/atomicFiles';

/**
 * Backends on which an object appears only once its upload is complete (a multipart or resumable
 * upload is committed at its end): rclone can write there directly. Everywhere else (this machine,
 * sftp, smb, a crypt or alias over one of them …) rclone 1.60 writes under the final name as it goes,
 * so a copy is staged under a hidden name and moved into place when it is complete.
 */
const ATOMIC_UPLOAD_BACKENDS = new Set(['s3', 'drive', 'b2', 'google cloud storage', 'azureblob', 'swift', 'dropbox', 'onedrive', 'box']);

/** Hidden folders a copy is staged in; never a name a copy publishes. */
const STAGING_PREFIX = '.lifeboat-partial-';

export const rcloneCopyParams = z
  .object({
    source: z.string().min(1).describe('What to copy: a folder or file on this machine (relative to the workspace) or `remote:path`.'),
    destination: z.string().min(1).describe('The folder to copy into: `remote:path` (e.g. `gdrive:BadrBackups`) or a folder on this machine.'),
    checksum: z.boolean().default(false).describe('Decide what changed by checksum rather than by size and modification time.'),
  })
  .strict();

export type RcloneCopyParams = z.output<typeof rcloneCopyParams>;

export interface RcloneCopyResult extends RcloneTransferResult {
  source: string;
  destination: string;
  /** Written under a hidden staging name first, then moved into place. */
  staged: boolean;
}

function locations(params: RcloneCopyParams, ctx: ActionContext): { source: RclonePath; destination: RclonePath } {
  return { source: parseRclonePath(params.source, 'source', ctx.workspaceDir), destination: parseRclonePath(params.destination, 'destination', ctx.workspaceDir) };
}

async function planCopy(params: RcloneCopyParams, ctx: ActionContext): Promise<ActionPlan> {
  const { source, destination } = locations(params, ctx);
  const rclone = await rcloneFor(ctx, [source, destination]);
  const from = rcloneArgument(source);
  const to = rcloneArgument(destination);
  // A one-way check names what a copy writes: files missing on the destination (all of them when it does not exist yet) and changed ones.
  const compared = await rclone.check(from, to, { oneWay: true, signal: ctx.signal });
  const added = compared.differences.filter((difference) => difference.kind === 'missing-on-destination').length;
  const replaced = compared.differences.filter((difference) => difference.kind === 'differ').length;
  const operations: PlannedOperation[] = [{ kind: 'read', target: from, items: added + replaced + compared.matching }];
  if (added > 0) operations.push({ kind: 'create', target: to, items: added, detail: 'new files' });
  if (replaced > 0) operations.push({ kind: 'overwrite', target: to, items: replaced, detail: `changed files: ${compared.differences.filter((difference) => difference.kind === 'differ').slice(0, 5).map((difference) => difference.path).join(', ')}` });
  return {
    summary: `Copy ${formatCount(added + replaced, 'file')} from ${from} to ${to} (${added} new, ${replaced} changed, ${compared.matching} already there)`,
    operations,
    destructive: replaced > 0,
  };
}

/** How a copy reaches its destination: directly, or staged beside it and moved into place. */
async function stagingFor(rclone: Rclone, destination: RclonePath, ctx: ActionContext): Promise<'direct' | 'local' | RclonePath> {
  if (destination.kind === 'local') return 'local';
  const type = await remoteType(ctx, rclone, destination.remote);
  if (type && ATOMIC_UPLOAD_BACKENDS.has(type)) return 'direct';
  const beside = parentOf(destination);
  // rclone 1.60 refuses to move between a folder and one inside it, so the staging folder is a sibling.
  if (!beside) throw new Error(`\`destination\`: ${rcloneArgument(destination)} is the root of a ${type ?? 'remote'} backend, which writes files under their final names as they arrive; name a folder on it to copy into`);
  return { ...beside.parent, path: path.posix.join(beside.parent.path, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}-${beside.name}`) };
}

/** Moves every staged file to its final name (a rename on one file system: a file appears whole or not at all). */
async function publishLocal(staging: string, destination: string, signal: AbortSignal): Promise<void> {
  for (const entry of await readdir(staging, { withFileTypes: true })) {
    throwIfAborted(signal);
    const from = path.join(staging, entry.name);
    const to = path.join(destination, entry.name);
    if (entry.isDirectory()) {
      await makeFolders(to);
      await publishLocal(from, to, signal);
    } else {
      await rename(from, to);
    }
  }
}

async function runCopy(params: RcloneCopyParams, ctx: ActionContext): Promise<RcloneCopyResult> {
  const { source, destination } = locations(params, ctx);
  const rclone = await rcloneFor(ctx, [source, destination]);
  const from = rcloneArgument(source);
  const to = rcloneArgument(destination);
  const transfer = { progress: ctx.progress, checksum: params.checksum, signal: ctx.signal };
  const staging = await stagingFor(rclone, destination, ctx);
  if (staging === 'direct') return { source: from, destination: to, staged: false, ...(await rclone.copy(from, to, transfer)) };

  const stagingPath = staging === 'local' ? path.join(destination.path, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`) : rcloneArgument(staging);
  try {
    const copied = await rclone.copy(from, stagingPath, { ...transfer, compareDest: to });
    // With nothing new or changed, rclone made no staging folder.
    if (copied.transfers > 0) {
      ctx.progress.report({ message: `moving ${formatCount(copied.transfers, 'file')} into place` });
      if (staging === 'local') await publishLocal(stagingPath, to, ctx.signal);
      else await rclone.move(stagingPath, to, { signal: ctx.signal, checksum: params.checksum });
    }
    return { source: from, destination: to, staged: true, ...copied };
  } catch (error) {
    throw cancellationOr(error, ctx.signal);
  } finally {
    // Whatever was not moved into place goes, cancelled or not; the staging folder never stays.
    if (staging === 'local') await rm(stagingPath, { recursive: true, force: true });
    else await rclone.purge(stagingPath).catch((error: unknown) => {
      if (!(error instanceof RcloneError && error.kind === 'not-found')) ctx.log.warn(`could not remove the staging folder ${stagingPath}: ${String(error)}`);
    });
  }
}

export const rcloneCopy = defineAction({
  id: 'rclone.copy',
  title: 'Copy files with rclone',
  description:
    'Copies new and changed files from a folder or file to a folder, on this machine or on any rclone remote (Google Drive, S3, SFTP …, from rclone.conf or `rcloneRemotes:`). Never deletes on the destination; a cancelled or failed copy leaves no partial file under a final name.',
  params: rcloneCopyParams,
  destructive: true,
  plan: planCopy,
  run: runCopy,
  render(result: RcloneCopyResult) {
    const unchanged = result.checks > 0 ? `, ${formatCount(result.checks, 'file')} already there` : '';
    return `Copied ${formatCount(result.transfers, 'file')} (${formatBytes(result.bytes)}) from ${result.source} to ${result.destination} in ${result.elapsedSeconds.toFixed(1)} s${unchanged}.`;
  },
});
