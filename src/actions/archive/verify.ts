import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { defineAction, type ActionContext, type ActionPlan } from '../../core/actions/spec';
import { cancellationOr, errorMessage, isCancellationError } from '../../core/errors';
import { formatBytes, formatDuration, markdownTable, printable } from '../../core/render';
import { readSidecar } from './checksum';
import { archivePrefix, hasPrefix, isArchiveFileName } from './naming';
import { resolveUserPath } from '../paths';
import { ThrottledProgress } from '../../core/progress';
import { readArchive } from './readArchive';
import { updateVerifiedState } from './verifiedState';

export const archiveVerifyParams = z
  .object({
    path: z.string().min(1).describe('An archive file, or a folder: then every *.tar.gz and *.tgz archive in it is verified.'),
    prefix: archivePrefix
      .optional()
      .describe('With a folder: only archives whose name starts with this prefix (e.g. `frigate-faces`).'),
  })
  .strict();

export type ArchiveVerifyParams = z.output<typeof archiveVerifyParams>;

export type ChecksumState = 'match' | 'mismatch' | 'missing';

export interface ArchiveVerification {
  path: string;
  name: string;
  bytes: number;
  /** Entries read before the end or the first error. */
  entries: number;
  /** gzip and tar both read cleanly to the end-of-archive marker. */
  readable: boolean;
  checksum: ChecksumState;
  sha256: string;
  /** Readable and not contradicted by its sidecar. A missing sidecar alone (legacy archives) is not a failure. */
  ok: boolean;
  error?: string;
}

export interface ArchiveVerifyResult {
  location: string;
  archives: ArchiveVerification[];
  ok: boolean;
  durationMs: number;
}

/**
 * Thrown when any archive fails, carrying the full result: the message names the bad archives and
 * holds the per-archive table (for people and logs), `result` holds the data (for callers that
 * show or record it; `error instanceof ArchiveVerificationError` or `'result' in error`).
 */
export class ArchiveVerificationError extends Error {
  constructor(readonly result: ArchiveVerifyResult) {
    const failed = result.archives.filter((archive) => !archive.ok);
    super(
      `${failed.length} of ${result.archives.length} archive(s) failed verification: ${failed.map((archive) => `${printable(archive.name)} (${failureReason(archive)})`).join(', ')}\n\n${verificationTable(result)}`,
    );
    this.name = 'ArchiveVerificationError';
  }
}

/** Errors can quote an entry's name or a sidecar's content, so they are escaped like names. */
function failureReason(archive: ArchiveVerification): string {
  if (!archive.readable) return `not readable: ${printable(archive.error ?? 'unknown error')}`;
  if (archive.checksum === 'mismatch') return printable(archive.error ?? 'checksum mismatch');
  return 'ok';
}

/** Reads one archive once: sha256 of the file, gunzip and tar parse to the end, sidecar comparison. */
async function verifyArchiveFile(filePath: string, signal: AbortSignal, onBytesRead?: (bytes: number) => void): Promise<ArchiveVerification> {
  const name = path.basename(filePath);
  const { size: bytes } = await stat(filePath);
  let expected: string | undefined;
  let sidecarError: string | undefined;
  try {
    expected = await readSidecar(filePath);
  } catch (error) {
    sidecarError = errorMessage(error);
  }
  let entries = 0;
  let readable = true;
  let readError: string | undefined;
  let sha256 = '';
  try {
    const read = await readArchive(filePath, {
      signal,
      // Counted here rather than taken from the result, so an archive that breaks halfway still shows how far it got.
      onEntry: (entry) => {
        entries++;
        entry.resume();
      },
      onUnsupportedEntry: () => {
        entries++;
      },
      onBytesRead,
    });
    sha256 = read.sha256;
  } catch (error) {
    if (signal.aborted || isCancellationError(error)) throw error;
    readable = false;
    readError = errorMessage(error);
  }
  // An unreadable archive was not hashed to the end, so its digest cannot be compared.
  const checksum: ChecksumState = sidecarError !== undefined ? 'mismatch' : expected === undefined ? 'missing' : readable && expected === sha256 ? 'match' : 'mismatch';
  const checksumError = sidecarError ?? (checksum === 'mismatch' && readable ? `checksum mismatch: sidecar says ${expected}, file is ${sha256}` : undefined);
  const verification: ArchiveVerification = { path: filePath, name, bytes, entries, readable, checksum, sha256, ok: readable && checksum !== 'mismatch' };
  const error = readError ?? checksumError;
  if (error !== undefined) verification.error = error;
  return verification;
}

async function findArchives(params: ArchiveVerifyParams, ctx: ActionContext): Promise<{ location: string; files: { path: string; bytes: number }[] }> {
  const location = resolveUserPath(params.path, ctx.workspaceDir);
  const stats = await stat(location).catch(() => undefined);
  if (!stats) throw new Error(`${printable(location)} does not exist`);
  if (stats.isFile()) return { location, files: [{ path: location, bytes: stats.size }] };
  const files: { path: string; bytes: number }[] = [];
  for (const name of (await readdir(location)).sort()) {
    if (!isArchiveFileName(name) || !hasPrefix(name, params.prefix)) continue;
    const filePath = path.join(location, name);
    const fileStats = await stat(filePath).catch(() => undefined);
    if (fileStats?.isFile()) files.push({ path: filePath, bytes: fileStats.size });
  }
  if (files.length === 0) {
    // Nothing to verify where backups are expected is itself a finding, not a success.
    throw new Error(`no archives (*.tar.gz, *.tgz)${params.prefix ? ` with prefix ${params.prefix}` : ''} found in ${printable(location)}`);
  }
  return { location, files };
}

async function planVerify(params: ArchiveVerifyParams, ctx: ActionContext): Promise<ActionPlan> {
  const { files } = await findArchives(params, ctx);
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  return {
    summary: `Verify ${files.length} archive(s) (${formatBytes(total)}) and record the outcome in .lifeboat-verified.json`,
    operations: files.map((file) => ({ kind: 'verify', target: printable(file.path), bytes: file.bytes })),
    destructive: false,
  };
}

async function runVerify(params: ArchiveVerifyParams, ctx: ActionContext): Promise<ArchiveVerifyResult> {
  const started = performance.now();
  const { location, files } = await findArchives(params, ctx);
  const totalBytes = files.reduce((sum, file) => sum + file.bytes, 0);
  const progress = new ThrottledProgress(ctx.progress);
  const archives: ArchiveVerification[] = [];
  let bytesBefore = 0;
  for (const file of files) {
    let verification: ArchiveVerification;
    try {
      verification = await verifyArchiveFile(file.path, ctx.signal, (read) =>
        progress.update({ message: `Verifying ${printable(path.basename(file.path))}`, items: archives.length, totalItems: files.length, bytes: bytesBefore + read, totalBytes }),
      );
    } catch (error) {
      throw cancellationOr(error, ctx.signal);
    }
    archives.push(verification);
    bytesBefore += file.bytes;
    progress.flush({ items: archives.length, bytes: bytesBefore });
    if (verification.ok) ctx.log.info(`${printable(verification.name)}: ok (${verification.entries} entries, checksum ${verification.checksum})`);
    else ctx.log.error(`${printable(verification.name)}: ${failureReason(verification)}`);
    await recordOutcome(verification, ctx);
  }
  const result: ArchiveVerifyResult = { location, archives, ok: archives.every((archive) => archive.ok), durationMs: Math.round(performance.now() - started) };
  if (!result.ok) throw new ArchiveVerificationError(result);
  return result;
}

async function recordOutcome(verification: ArchiveVerification, ctx: ActionContext): Promise<void> {
  try {
    await updateVerifiedState(path.dirname(verification.path), {
      [verification.name]: { verifiedAt: new Date().toISOString(), ok: verification.ok, sha256: verification.sha256, bytes: verification.bytes },
    });
  } catch (error) {
    ctx.log.warn(`could not record the verification of ${printable(verification.name)}: ${printable(errorMessage(error))}`);
  }
}

function verificationTable(result: ArchiveVerifyResult): string {
  const rows = result.archives.map((archive) => [
    printable(archive.name),
    formatBytes(archive.bytes),
    archive.entries,
    archive.readable ? 'yes' : 'no',
    archive.checksum,
    archive.ok ? 'ok' : `FAILED: ${failureReason(archive)}`,
  ]);
  return markdownTable(['Archive', 'Size', 'Entries', 'Readable', 'Checksum', 'Result'], rows);
}

function renderVerify(result: ArchiveVerifyResult): string {
  const failed = result.archives.filter((archive) => !archive.ok).length;
  const headline = failed === 0 ? `All ${result.archives.length} archive(s) verified in ${formatDuration(result.durationMs)}.` : `${failed} of ${result.archives.length} archive(s) FAILED verification.`;
  return `${headline}\n\n${verificationTable(result)}`;
}

export const archiveVerify = defineAction({
  id: 'archive.verify',
  title: 'Verify archives',
  description: 'Reads archives end to end (gzip, tar, sha256 against the .sha256 file) and records the outcome for archive.list. Fails if any archive is bad.',
  params: archiveVerifyParams,
  destructive: false,
  plan: planVerify,
  run: runVerify,
  render: renderVerify,
});
