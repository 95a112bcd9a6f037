import { createHash } from 'node:crypto';
import * as z from 'zod';
import { FileExistsError } from '../../core/atomicFiles';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { ThrottledProgress } from '../../core/progress';
import { formatBytes, formatCount, formatDuration } from '../../core/render';
import { streamBetween } from '../frigate/recordings';
import { checkPodChoice, databasePodParams, DatabasePod, dbnameArgument } from './database';
import { checkLocationChoice, dumpFileName, dumpLocationParams, openDumpLocation, type DumpLocation } from './dumpLocation';

const dumpParams = z
  .object({
    ...databasePodParams,
    ...dumpLocationParams,
    file: dumpFileName.optional().describe('The dump\'s file name; `<database>-<YYYYMMDDhhmmss>.dump` (UTC) when left out. An existing file is never replaced.'),
    compression: z
      .int()
      .min(0)
      .max(9)
      .default(1)
      .describe("pg_dump's zlib level (`--compress`): 1, the default, compresses several times faster than pg_dump's own default of 6, for a slightly larger dump; 0 leaves the dump uncompressed."),
  })
  .strict()
  .superRefine((params, issues) => {
    checkPodChoice(params, issues);
    checkLocationChoice(params, issues);
  });

type DumpParams = z.output<typeof dumpParams>;

export interface PgDumpResult {
  database: string;
  pod: string;
  /** Where the dump is: a path, `host:path` or `s3://bucket/key`. */
  location: string;
  file: string;
  bytes: number;
  /** The database's size on disk and its tables, before the dump. */
  databaseBytes: number;
  tables: number;
  durationMs: number;
}

/**
 * `<database>-<YYYYMMDDhhmmss>.dump`. A name with characters other than letters, digits, `_` and `-`
 * has those as `_` and a hash of the real name appended, so two databases never share a dump's name.
 */
export function defaultDumpName(database: string, now: Date): string {
  const safe = database.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[-_]+/, '');
  const name = safe === database ? safe : `${safe || 'database'}-${createHash('sha256').update(database).digest('hex').slice(0, 8)}`;
  return `${name}-${now.toISOString().replace(/\.\d+Z$/, '').replace(/\D/g, '')}.dump`;
}

/**
 * The custom format: compressed, and restored selectively by pg_restore. pg_dump compresses in one
 * thread as it reads, which bounds the whole stream: its level decides how fast a dump goes.
 */
function dumpCommand(params: DumpParams): string[] {
  return ['pg_dump', '--format=custom', `--compress=${params.compression}`, dbnameArgument(params.database)];
}

async function prepare(params: DumpParams, ctx: ActionContext): Promise<{ pod: DatabasePod; location: DumpLocation; file: string; database: { bytes: number; tables: number } }> {
  const [pod, location] = await Promise.all([DatabasePod.open(params, ctx), openDumpLocation(params, ctx)]);
  const file = params.file ?? defaultDumpName(params.database, new Date());
  const [database, existing] = await Promise.all([pod.survey(ctx.signal), location.size(file, ctx.signal)]);
  if (existing !== undefined) throw new Error(`\`file\`: ${location.finalLocation(file)} already exists (${formatBytes(existing)}); pg.dump never replaces a dump`);
  return { pod, location, file, database };
}

export const pgDump = defineAction({
  id: 'pg.dump',
  title: 'Dump PostgreSQL Database',
  description:
    'Dumps a PostgreSQL database with `pg_dump --format=custom` in its pod (a CloudNativePG Cluster\'s primary, or a pod by name) and streams the dump to a local folder, an SSH host or an S3 prefix, never staging it on this machine: it is written under a hidden temporary name and gets its name only once complete.',
  params: dumpParams,
  destructive: false,
  async plan(params, ctx) {
    const { pod, location, file, database } = await prepare(params, ctx);
    return {
      summary: `Dump ${pod.where} (${formatCount(database.tables, 'table')}, ${formatBytes(database.bytes)} on disk) to ${location.finalLocation(file)}`,
      operations: [
        { kind: 'read', target: pod.where, bytes: database.bytes, items: database.tables, detail: dumpCommand(params).slice(0, -1).join(' ') },
        { kind: 'create', target: location.finalLocation(file), detail: 'written under a hidden temporary name, named when complete' },
      ],
      destructive: false,
    };
  },
  async run(params, ctx): Promise<PgDumpResult> {
    const started = performance.now();
    const { pod, location, file, database } = await prepare(params, ctx);
    const progress = new ThrottledProgress(ctx.progress);
    progress.flush({ message: `Dumping ${pod.where}`, bytes: 0 });
    let bytes = 0;
    ctx.log.info(`dumping ${pod.where} to ${location.finalLocation(file)}`);
    await streamBetween({
      signal: ctx.signal,
      onBytes: (transferred) => {
        bytes = transferred;
        progress.update({ bytes });
      },
      source: (output, signal) => pod.kube.exec({ ...pod.ref, command: dumpCommand(params), stdout: output, signal }).catch((error: unknown) => Promise.reject(pod.explain('pg_dump', error))),
      sink: (input, signal) =>
        location.write(file, input, signal).catch((error: unknown) => Promise.reject(error instanceof FileExistsError ? new Error(`\`file\`: ${error.message}`) : error)),
    });
    progress.flush({ bytes });
    return {
      database: params.database,
      pod: `${pod.ref.namespace}/${pod.ref.pod}`,
      location: location.finalLocation(file),
      file,
      bytes,
      databaseBytes: database.bytes,
      tables: database.tables,
      durationMs: Math.round(performance.now() - started),
    };
  },
  render(result: PgDumpResult) {
    return `Dumped database '${result.database}' (${formatCount(result.tables, 'table')}, ${formatBytes(result.databaseBytes)} on disk) from pod ${result.pod} to ${result.location}: ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}.`;
  },
});
