import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { CancelledError, describeSystemError } from '../../core/errors';
import { formatBytes } from '../../core/render';
import { isTerminal, phaseOf, veleroObjectName, veleroTargetParams, VeleroCluster } from './resources';
import { veleroDownloadUrl } from './restoreContents';

const backupLogsParams = z
  .object({
    ...veleroTargetParams,
    backup: veleroObjectName.describe('The Velero backup whose log to read.'),
    tailLines: z.number().int().positive().default(200).describe('How many of the last lines the result keeps; the whole log is streamed to the output.'),
    timeoutSeconds: z.number().positive().default(60).describe('How long to wait for Velero to hand out the download URL.'),
  })
  .strict();

export interface BackupLogsResult {
  cluster: string;
  backup: string;
  lines: number;
  warnings: number;
  errors: number;
  /** Uncompressed size of the log. */
  bytes: number;
  tail: string[];
}

/** The host of a signed URL: what a message may name (the query holds the signature). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(not a URL)';
  }
}

/**
 * Velero's log of a backup, as `velero backup logs` reads it: a DownloadRequest for the `BackupLog`,
 * then the gzipped file at the signed URL Velero answers with. That URL points at the object store
 * as the cluster sees it, which this machine may not reach.
 */
export const veleroBackupLogs = defineAction({
  id: 'velero.backup.logs',
  title: 'Show Velero Backup Logs',
  description: "Reads a Velero backup's log through a DownloadRequest and its signed object-store URL, streaming it to the output; says so, naming the URL's host, when that URL cannot be reached from here.",
  params: backupLogsParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `Read the log of Velero backup ${params.backup} in cluster ${params.cluster}`, operations: [{ kind: 'read', target: `Backup ${params.veleroNamespace}/${params.backup} in cluster ${params.cluster}`, detail: 'through a DownloadRequest (BackupLog)' }], destructive: false };
  },
  async run(params, ctx): Promise<BackupLogsResult> {
    const velero = await VeleroCluster.connect(ctx, params);
    const backup = await velero.find('backup', params.backup);
    if (!isTerminal('backup', backup)) {
      throw new Error(`the log of Velero backup ${params.backup} in cluster ${params.cluster} is not available until it has finished (phase ${phaseOf(backup) ?? 'New'})`);
    }
    const timeoutMs = params.timeoutSeconds * 1000;
    const url = String(await veleroDownloadUrl(velero, 'BackupLog', params.backup, { what: `the log of backup ${params.backup}`, timeoutMs, signal: ctx.signal }));
    const host = hostOf(url);
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]) });
    } catch (error) {
      if (ctx.signal.aborted) throw new CancelledError();
      const cause = (error as { cause?: unknown }).cause ?? error;
      throw new Error(
        `the log of Velero backup ${params.backup} is at a signed URL on ${host}, which cannot be reached from this machine (${describeSystemError(cause)}): that is the object store as cluster ${params.cluster} sees it; a \`publicUrl\` in the BackupStorageLocation's config that this machine reaches lets Lifeboat read it`,
      );
    }
    if (!response.ok || !response.body) {
      throw new Error(`the object store at ${host} answered ${response.status} ${response.statusText} for the log of Velero backup ${params.backup}${response.status === 404 ? ' (the log file is not in the bucket)' : ''}`);
    }
    const result: BackupLogsResult = { cluster: params.cluster, backup: params.backup, lines: 0, warnings: 0, errors: 0, bytes: 0, tail: [] };
    let partial = '';
    const take = (line: string) => {
      result.lines++;
      if (/\blevel=warn(?:ing)?\b/.test(line)) result.warnings++;
      else if (/\blevel=(?:error|fatal)\b/.test(line)) result.errors++;
      result.tail.push(line);
      if (result.tail.length > params.tailLines) result.tail.shift();
    };
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createGunzip(), async (chunks: AsyncIterable<Buffer>) => {
        for await (const chunk of chunks) {
          const text = chunk.toString('utf8');
          result.bytes += chunk.length;
          ctx.output.write('stdout', text);
          const lines = (partial + text).split('\n');
          partial = lines.pop() ?? '';
          lines.forEach(take);
        }
      }, { signal: ctx.signal });
    } catch (error) {
      if (ctx.signal.aborted) throw new CancelledError();
      throw new Error(`the log of Velero backup ${params.backup} from ${host} could not be read: ${describeSystemError(error)}`);
    }
    if (partial !== '') take(partial);
    return result;
  },
  render(result: BackupLogsResult) {
    const head = `Log of Velero backup ${result.backup} in cluster ${result.cluster}: ${result.lines} lines (${formatBytes(result.bytes)}), ${result.warnings} warnings, ${result.errors} errors.`;
    const shown = result.tail.length < result.lines ? `The last ${result.tail.length} lines:` : 'The whole log:';
    return `${head}\n\n${shown}\n\n\`\`\`text\n${result.tail.join('\n').replace(/```/g, "'''")}\n\`\`\``;
  },
});
