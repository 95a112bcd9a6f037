import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { errorMessage, isCancellationError } from '../../core/errors';
import { packArchive, synchronousFileAccess, type ArchiveWriteRequest, type ArchiveWriteResult } from './packArchive';

/**
 * The worker thread writeArchive starts for pigz: it packs one archive (packArchive), reading the
 * files with synchronous calls, and reports back. Its source is bundled into whatever imports
 * `source` from `./archiveWorker?worker-source` (see esbuild.config.mjs), so it runs wherever that
 * bundle runs, with no file of its own to find.
 */

/** What the worker is given: the request without what cannot cross threads. */
export type ArchiveJob = Omit<ArchiveWriteRequest, 'signal' | 'onProgress' | 'onWarning'>;

export type FromArchiveWorker =
  | { kind: 'progress'; tarBytes: number; entries: number }
  | { kind: 'warning'; message: string }
  | { kind: 'done'; result: ArchiveWriteResult }
  | { kind: 'failed'; message: string; code?: string; cancelled: boolean };

export interface ToArchiveWorker {
  kind: 'cancel';
}

/** Progress is called for every entry and every block read: a message for each would cost more than the packing. */
const PROGRESS_INTERVAL_MS = 50;

async function packForParent(port: MessagePort, job: ArchiveJob): Promise<void> {
  const cancel = new AbortController();
  const onMessage = (message: ToArchiveWorker) => {
    if (message.kind === 'cancel') cancel.abort();
  };
  port.on('message', onMessage);
  let reportedAt = Number.NEGATIVE_INFINITY;
  const send = (message: FromArchiveWorker) => port.postMessage(message);
  try {
    const request: ArchiveWriteRequest = {
      ...job,
      signal: cancel.signal,
      onProgress: (tarBytes, entries) => {
        const now = performance.now();
        if (now - reportedAt < PROGRESS_INTERVAL_MS) return;
        reportedAt = now;
        send({ kind: 'progress', tarBytes, entries });
      },
      onWarning: (message) => send({ kind: 'warning', message }),
    };
    const result = await packArchive(request, synchronousFileAccess);
    send({ kind: 'done', result });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    send({ kind: 'failed', message: errorMessage(error), ...(typeof code === 'string' ? { code } : {}), cancelled: isCancellationError(error) });
  } finally {
    // Nothing else keeps the thread alive: it ends once the last message is sent.
    port.off('message', onMessage);
  }
}

if (parentPort) void packForParent(parentPort, workerData as ArchiveJob);
