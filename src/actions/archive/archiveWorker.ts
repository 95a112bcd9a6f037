import { serveWorkerJob } from '../../core/workerJob';
import { packArchive, synchronousFileAccess, type ArchiveWriteRequest, type ArchiveWriteResult } from './packArchive';

/**
 * The worker thread writeArchive starts for pigz: it packs one archive (packArchive), reading the
 * files with synchronous calls (see workerJob.ts).
 */

/** What the worker is given: the request without what cannot cross threads. */
export type ArchiveJob = Omit<ArchiveWriteRequest, 'signal' | 'onProgress' | 'onWarning'>;

export interface ArchiveProgress {
  tarBytes: number;
  entries: number;
}

serveWorkerJob<ArchiveJob, ArchiveProgress, ArchiveWriteResult>((job, context) =>
  packArchive(
    {
      ...job,
      signal: context.signal,
      onProgress: (tarBytes, entries) => context.progress({ tarBytes, entries }),
      onWarning: (message) => context.warning(message),
    },
    synchronousFileAccess,
  ),
);
