import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { PlannedOperation } from '../../core/actions/spec';
import { errorMessage, isCancellationError } from '../../core/errors';
import { printable } from '../../core/render';
import { ArchiveLayout } from './archiveLayout';
import { readSidecar } from './checksum';
import { judgeEntry, LinkEscapeCheck, quoteEntryPath, type RestoreEntry } from './entrySafety';
import { readArchive } from './readArchive';
import { spaceProblems, SpaceTally, targetFileSystem, type SpaceEstimate } from './restoreSpace';
import { diskUsage, findAbandonedStaging, stagingTreePathBytes } from './restoreStaging';

/**
 * The first pass of a restore, which writes nothing: read the whole archive once (sha256 against
 * the sidecar, every header judged, every path placed), compare each entry with what is in the
 * target, and the declared sizes with the free space there. Plan and run both use it, so the dry
 * run refuses exactly what the run would refuse.
 */

export interface RestoreScanRequest {
  archivePath: string;
  /** Absolute; may not exist yet. */
  target: string;
  strip: number;
  /** Refuse an archive whose files hold more than this many bytes. */
  maxBytes?: number;
  signal: AbortSignal;
  /** Collect one planned operation per file (for the plan); the run only needs counts. */
  collectOperations: boolean;
  onBytesRead?: (bytes: number) => void;
}

export interface RestoreScan {
  sha256: string;
  /** Checked against the .sha256 file, or no file was there. */
  checksum: 'match' | 'missing';
  /** Entries that would be written (files, links, folders), after strip. */
  entries: number;
  /** Files and links (not folders) that would be written. */
  files: number;
  /** Bytes of file contents. */
  bytes: number;
  created: number;
  overwritten: number;
  /** The first few paths that already exist in the target. */
  overwrittenExamples: string[];
  operations: PlannedOperation[];
  space: SpaceEstimate;
}

/** The archive must not be restored; `problems` names every offending entry (up to a limit). */
export class RestoreRefusedError extends Error {
  constructor(
    readonly archivePath: string,
    readonly problems: readonly string[],
    readonly problemCount = problems.length,
  ) {
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN);
    const more = problemCount > shown.length ? `\n  … and ${problemCount - shown.length} more` : '';
    super(`refusing to restore ${printable(archivePath)}; nothing was written:\n  ${shown.join('\n  ')}${more}`);
    this.name = 'RestoreRefusedError';
  }
}

const MAX_PROBLEMS_SHOWN = 20;
/** A hostile archive can hold millions of bad entries; keeping their descriptions is pointless. */
const MAX_PROBLEMS_KEPT = 1000;
const OVERWRITE_EXAMPLES = 5;

export async function scanForRestore(request: RestoreScanRequest): Promise<RestoreScan> {
  let expected: string | undefined;
  try {
    expected = await readSidecar(request.archivePath);
  } catch (error) {
    throw new RestoreRefusedError(request.archivePath, [printable(errorMessage(error))]);
  }
  const problems: string[] = [];
  let problemCount = 0;
  const refuse = (problem: string) => {
    problemCount++;
    if (problems.length < MAX_PROBLEMS_KEPT) problems.push(problem);
  };
  const links = new LinkEscapeCheck();
  const probe = await TargetProbe.open(request.target);
  const fileSystem = await targetFileSystem(request.target);
  const layout = new ArchiveLayout(stagingTreePathBytes(request.target));
  const space = new SpaceTally(fileSystem.blockSize);
  // Stops reading an archive that is refused already and would only cost memory and time further.
  const enough = new AbortController();
  const scan: RestoreScan = {
    sha256: '',
    checksum: expected === undefined ? 'missing' : 'match',
    entries: 0,
    files: 0,
    bytes: 0,
    created: 0,
    overwritten: 0,
    overwrittenExamples: [],
    operations: [],
    space,
  };

  const read = await readArchive(request.archivePath, {
    signal: AbortSignal.any([request.signal, enough.signal]),
    onBytesRead: request.onBytesRead,
    onUnsupportedEntry: (entry) => refuse(`${quoteEntryPath(entry.path)}: unsupported entry type ${printable(String(entry.header.type ?? '?'))}`),
    onEntry: async (entry) => {
      entry.resume();
      const verdict = judgeEntry(entry, request.strip);
      if ('problem' in verdict) {
        refuse(verdict.problem);
        return;
      }
      if ('skip' in verdict) return;
      const unwritable = layout.place(verdict.restore);
      if (unwritable !== undefined) {
        refuse(unwritable);
        if (layout.full) enough.abort();
        return;
      }
      links.add(verdict.restore);
      space.add(verdict.restore);
      await classify(verdict.restore, probe, request, scan, refuse);
    },
  }).catch((error: unknown) => {
    if (request.signal.aborted) throw error;
    if (enough.signal.aborted) return undefined;
    if (isCancellationError(error)) throw error;
    throw new RestoreRefusedError(request.archivePath, [`the archive is not readable: ${printable(errorMessage(error))}`]);
  });
  if (read === undefined) throw new RestoreRefusedError(request.archivePath, problems, problemCount);
  scan.sha256 = read.sha256;
  for (const problem of links.problems()) refuse(problem);
  let reclaimableBytes = 0;
  for (const { folder } of await findAbandonedStaging(request.target)) reclaimableBytes += await diskUsage(folder);
  for (const problem of await spaceProblems(request.target, fileSystem, space, { maxBytes: request.maxBytes, reclaimableBytes })) refuse(problem);
  if (expected !== undefined && expected !== read.sha256) {
    problemCount++;
    problems.unshift(`checksum mismatch: ${printable(path.basename(request.archivePath))}.sha256 says ${expected}, the archive is ${read.sha256}`);
  }
  if (problemCount > 0) throw new RestoreRefusedError(request.archivePath, problems, problemCount);
  return scan;
}

async function classify(entry: RestoreEntry, probe: TargetProbe, request: RestoreScanRequest, scan: RestoreScan, refuse: (problem: string) => void): Promise<void> {
  const state = await probe.inspect(entry);
  if (typeof state === 'object') {
    refuse(`${quoteEntryPath(entry.path)}: ${state.conflict}`);
    return;
  }
  scan.entries++;
  if (entry.kind === 'directory') return;
  scan.files++;
  scan.bytes += entry.kind === 'file' ? entry.size : 0;
  if (state === 'overwrite') {
    scan.overwritten++;
    if (scan.overwrittenExamples.length < OVERWRITE_EXAMPLES) scan.overwrittenExamples.push(entry.path);
  } else {
    scan.created++;
  }
  if (request.collectOperations) {
    const operation: PlannedOperation = { kind: state === 'overwrite' ? 'overwrite' : 'create', target: printable(path.join(request.target, ...entry.parts)) };
    if (entry.kind === 'file') operation.bytes = entry.size;
    else operation.detail = `${entry.kind === 'symlink' ? 'symbolic' : 'hard'} link to ${quoteEntryPath(entry.linkpath ?? '')}`;
    scan.operations.push(operation);
  }
}

type PathState = 'missing' | 'directory' | 'symlink' | 'other';

/**
 * What the target already holds at an entry's path, with folder lookups cached so a large archive
 * costs about one lstat per entry. Writing below an existing symbolic link is refused: the link
 * could lead anywhere.
 */
class TargetProbe {
  readonly #folders = new Map<string, PathState>();

  private constructor(
    private readonly root: string,
    private readonly rootExists: boolean,
  ) {}

  static async open(root: string): Promise<TargetProbe> {
    const state = await pathState(root);
    if (state === 'other') throw new Error(`restore target ${printable(root)} exists and is not a folder`);
    return new TargetProbe(root, state !== 'missing');
  }

  async inspect(entry: RestoreEntry): Promise<'create' | 'overwrite' | 'existing-directory' | { conflict: string }> {
    if (!this.rootExists) return 'create';
    for (let depth = 1; depth < entry.parts.length; depth++) {
      const folder = entry.parts.slice(0, depth).join('/');
      const state = await this.#folderState(folder);
      if (state === 'missing') return 'create';
      if (state === 'symlink') return { conflict: `the target has a symbolic link at ${quoteEntryPath(folder)}, which this entry would be written through` };
      if (state === 'other') return { conflict: `the target has a file at ${quoteEntryPath(folder)} where this entry needs a folder` };
    }
    const state = await pathState(path.join(this.root, ...entry.parts));
    if (entry.kind === 'directory') this.#folders.set(entry.path, state);
    if (state === 'missing') return 'create';
    if (entry.kind === 'directory') {
      if (state === 'directory') return 'existing-directory';
      return { conflict: `the target has a ${state === 'symlink' ? 'symbolic link' : 'file'} where the archive has a folder` };
    }
    if (state === 'directory') return { conflict: 'the target has a folder where the archive has a file' };
    return 'overwrite';
  }

  async #folderState(folder: string): Promise<PathState> {
    let state = this.#folders.get(folder);
    if (state === undefined) {
      state = await pathState(path.join(this.root, folder));
      this.#folders.set(folder, state);
    }
    return state;
  }
}

async function pathState(target: string): Promise<PathState> {
  try {
    const stats = await lstat(target);
    return stats.isDirectory() ? 'directory' : stats.isSymbolicLink() ? 'symlink' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}
