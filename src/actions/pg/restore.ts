import * as z from 'zod';
import { defineAction, type ActionContext, type PlannedOperation } from '../../core/actions/spec';
import { ThrottledProgress } from '../../core/progress';
import { formatBytes, formatCount, formatDuration, printable } from '../../core/render';
import { streamBetween } from '../frigate/recordings';
import { checkPodChoice, databasePodParams, DatabasePod, dbnameArgument } from './database';
import { checkLocationChoice, dumpFileName, dumpLocationParams, openDumpLocation, requireDump, type DumpLocation } from './dumpLocation';
import { describeKinds, readTableOfContents, type TableOfContents } from './tableOfContents';

const restoreParams = z
  .object({
    ...databasePodParams,
    ...dumpLocationParams,
    file: dumpFileName.describe('The dump to restore: a custom-format dump (`pg.dump` writes them) in the location or folder.'),
    noOwner: z.boolean().default(false).describe('Leave out the dump\'s ownership (`--no-owner`): restored objects belong to the connecting role, for a database whose roles differ from the dumped one.'),
  })
  .strict()
  .superRefine((params, issues) => {
    checkPodChoice(params, issues);
    checkLocationChoice(params, issues);
  });

type RestoreParams = z.output<typeof restoreParams>;

export interface PgRestoreResult {
  database: string;
  pod: string;
  /** The dump restored: a path, `host:path` or `s3://bucket/key`. */
  source: string;
  bytes: number;
  toc: TableOfContents;
  /** Tables in the database after the restore. */
  tables: number;
  durationMs: number;
}

/** Tables listed one by one in a plan; beyond this, a count. */
const PLANNED_TABLES = 50;

/**
 * Drops what the dump holds before recreating it (`--clean --if-exists`), in one transaction: a
 * restore that fails part-way, or is cancelled, leaves the database as it was.
 */
function restoreCommand(params: RestoreParams): string[] {
  return ['pg_restore', '--clean', '--if-exists', '--single-transaction', ...(params.noOwner ? ['--no-owner'] : []), dbnameArgument(params.database)];
}

interface Prepared {
  pod: DatabasePod;
  location: DumpLocation;
  bytes: number;
  toc: TableOfContents;
  database: { bytes: number; tables: number };
}

/** Checks both ends before anything is changed: the dump is read (its table of contents) and the database is there. */
async function prepare(params: RestoreParams, ctx: ActionContext): Promise<Prepared> {
  const [pod, location] = await Promise.all([DatabasePod.open(params, ctx), openDumpLocation(params, ctx)]);
  const bytes = await requireDump(location, params.file, ctx.signal);
  const [toc, database] = await Promise.all([readTableOfContents(location, params.file, pod, ctx.signal), pod.survey(ctx.signal)]);
  return { pod, location, bytes, toc, database };
}

function origin(toc: TableOfContents): string {
  const parts = [toc.database === undefined ? undefined : `of database '${printable(toc.database)}'`, toc.createdAt === undefined ? undefined : `taken ${toc.createdAt}`].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

export const pgRestore = defineAction({
  id: 'pg.restore',
  title: 'Restore PostgreSQL Database from Dump',
  description:
    'Restores a custom-format dump into a database in its pod: streams it from a local folder, an SSH host or an S3 prefix into `pg_restore --clean --if-exists --single-transaction`, which drops and recreates what the dump holds, all or nothing. The plan lists the dump\'s table of contents.',
  params: restoreParams,
  destructive: true,
  async plan(params, ctx) {
    const { pod, location, bytes, toc, database } = await prepare(params, ctx);
    const tables: PlannedOperation[] = toc.tables.slice(0, PLANNED_TABLES).map((table) => ({ kind: 'overwrite', target: `table ${printable(table)}`, detail: 'dropped and recreated from the dump' }));
    if (toc.tables.length > PLANNED_TABLES) tables.push({ kind: 'overwrite', target: `${toc.tables.length - PLANNED_TABLES} more tables`, detail: 'dropped and recreated from the dump' });
    return {
      summary: `Replace what dump ${location.finalLocation(params.file)}${origin(toc)} holds in ${pod.where} (now ${formatCount(database.tables, 'table')}, ${formatBytes(database.bytes)}): ${describeKinds(toc)}`,
      operations: [
        { kind: 'read', target: location.finalLocation(params.file), bytes, items: toc.entries, detail: `table of contents: ${describeKinds(toc)}` },
        { kind: 'overwrite', target: pod.where, items: toc.tables.length, detail: 'pg_restore --clean --if-exists --single-transaction: what the dump holds is dropped and recreated, all or nothing' },
        ...tables,
      ],
      destructive: true,
    };
  },
  async run(params, ctx): Promise<PgRestoreResult> {
    const started = performance.now();
    const { pod, location, bytes, toc } = await prepare(params, ctx);
    const progress = new ThrottledProgress(ctx.progress);
    progress.flush({ message: `Restoring ${location.finalLocation(params.file)} into ${pod.where}`, bytes: 0, totalBytes: bytes });
    ctx.log.info(`restoring ${location.finalLocation(params.file)}${origin(toc)} into ${pod.where}: ${describeKinds(toc)}`);
    await streamBetween({
      signal: ctx.signal,
      onBytes: (transferred) => progress.update({ bytes: transferred }),
      source: (output, signal) => location.read(params.file, output, signal),
      sink: (input, signal) => pod.kube.exec({ ...pod.ref, command: restoreCommand(params), stdin: input, signal }).catch((error: unknown) => Promise.reject(pod.explain('pg_restore', error))),
    });
    progress.flush({ bytes });
    const after = await pod.survey(ctx.signal);
    return {
      database: params.database,
      pod: `${pod.ref.namespace}/${pod.ref.pod}`,
      source: location.finalLocation(params.file),
      bytes,
      toc,
      tables: after.tables,
      durationMs: Math.round(performance.now() - started),
    };
  },
  render(result: PgRestoreResult) {
    return `Restored ${result.source}${origin(result.toc)} into database '${printable(result.database)}' in pod ${result.pod}: ${describeKinds(result.toc)} (${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}); the database now has ${formatCount(result.tables, 'table')}.`;
  },
});
