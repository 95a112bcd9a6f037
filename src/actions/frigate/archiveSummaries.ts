import { mapConcurrent } from '../../core/concurrency';
import { errorMessage, isCancellationError } from '../../core/errors';
import { newestFirst } from '../archive/naming';
import type { ArchiveDestination, StoredArchive } from './destinations';
import { describeSummary, FACES_PREFIX, SUMMARY_HEAD_BYTES, summaryFromHead, type FacesSummary } from './facesArchive';

/** Archive heads read at once: each is one small request to the location. */
export const HEAD_READS = 4;

/** What an archive's first KiB say of its contents. */
export type ArchiveContents = { kind: 'summary'; summary: FacesSummary } | { kind: 'no summary' } | { kind: 'unreadable'; reason: string };

export interface SummarizedArchive extends StoredArchive {
  /** From the name; undefined for a name without a date. */
  date: Date | undefined;
  contents: ArchiveContents;
}

/** "Asha 153 · G 380", "old script format", or why the contents are unknown. */
export function describeContents(contents: ArchiveContents): string {
  if (contents.kind === 'summary') return describeSummary(contents.summary);
  if (contents.kind === 'no summary') return 'old script format';
  return `contents unknown: ${contents.reason}`;
}

/** The archive's summary from its first bytes; a head that cannot be read or parsed is reported, not thrown. */
export async function readContents(destination: ArchiveDestination, name: string, signal: AbortSignal): Promise<ArchiveContents> {
  try {
    const summary = summaryFromHead(await destination.readHead(name, SUMMARY_HEAD_BYTES, signal), name);
    return summary ? { kind: 'summary', summary } : { kind: 'no summary' };
  } catch (error) {
    if (isCancellationError(error) || signal.aborted) throw error;
    return { kind: 'unreadable', reason: errorMessage(error) };
  }
}

/**
 * The face archives of a location, newest first, each with its contents read from its head
 * (a few at a time); `onRead` is told after each.
 */
export async function summarizeArchives(destination: ArchiveDestination, signal: AbortSignal, onRead: (done: number, total: number) => void = () => undefined): Promise<SummarizedArchive[]> {
  const archives = newestFirst(await destination.listArchives(FACES_PREFIX, signal));
  let done = 0;
  return mapConcurrent(
    archives,
    HEAD_READS,
    async (archive) => {
      const contents = await readContents(destination, archive.name, signal);
      onRead(++done, archives.length);
      return { ...archive, contents };
    },
    signal,
  );
}
