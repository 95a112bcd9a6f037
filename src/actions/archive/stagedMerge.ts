import { lstat, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, throwIfAborted, writingTo } from '../../core/errors';
import { printable } from '../../core/render';

/**
 * Moves an extracted tree from staging into the target with renames only (same file system), and
 * undoes every move if anything fails or the run is cancelled, so the target ends either fully
 * restored or as it was. New folders move in whole (one rename); existing folders are merged;
 * a file being overwritten is first moved aside into the staging area and moved back on undo.
 * Folders that already exist keep their own mode and times.
 */

type Move =
  | { kind: 'created'; placed: string; staged: string }
  | { kind: 'replaced'; placed: string; staged: string; setAside: string; newPlaced: boolean };

export interface MergeRequest {
  stagingTree: string;
  target: string;
  /** Folder (same file system) that receives the files being replaced until the merge is done. */
  setAsideFolder: string;
  signal: AbortSignal;
  onMoved?: (moves: number) => void;
}

export async function mergeIntoTarget(request: MergeRequest): Promise<void> {
  const moves: Move[] = [];
  try {
    await mergeFolder(request.stagingTree, request.target, request, moves);
  } catch (error) {
    const undoProblems = await undo(moves);
    if (undoProblems.length > 0) {
      throw new Error(`${errorMessage(error)}; undoing the partial restore also failed, check ${printable(request.target)}: ${undoProblems.join('; ')}`, { cause: error });
    }
    throw error;
  }
}

async function mergeFolder(stagedFolder: string, targetFolder: string, request: MergeRequest, moves: Move[]): Promise<void> {
  for (const name of (await readdir(stagedFolder)).sort()) {
    throwIfAborted(request.signal);
    const staged = path.join(stagedFolder, name);
    const placed = path.join(targetFolder, name);
    const stagedStats = await lstat(staged);
    const placedStats = await lstat(placed).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!placedStats) {
      await writingTo(placed, () => rename(staged, placed));
      moves.push({ kind: 'created', placed, staged });
    } else if (stagedStats.isDirectory() && placedStats.isDirectory()) {
      await mergeFolder(staged, placed, request, moves);
      continue;
    } else if (!stagedStats.isDirectory() && !placedStats.isDirectory()) {
      const move: Move = { kind: 'replaced', placed, staged, setAside: path.join(request.setAsideFolder, String(moves.length)), newPlaced: false };
      await writingTo(placed, () => rename(placed, move.setAside));
      moves.push(move);
      await writingTo(placed, () => rename(staged, placed));
      move.newPlaced = true;
    } else {
      // The first pass refuses these; the target changed since.
      throw new Error(`${printable(placed)} changed during the restore: a file and a folder meet there`);
    }
    request.onMoved?.(moves.length);
  }
}

/** Reverses the moves newest first; returns what could not be put back. */
async function undo(moves: readonly Move[]): Promise<string[]> {
  const problems: string[] = [];
  for (const move of [...moves].reverse()) {
    try {
      if (move.kind === 'created') {
        await rename(move.placed, move.staged);
      } else {
        if (move.newPlaced) await rename(move.placed, move.staged);
        await rename(move.setAside, move.placed);
      }
    } catch (error) {
      problems.push(`${printable(move.placed)}: ${errorMessage(error)}`);
    }
  }
  return problems;
}
