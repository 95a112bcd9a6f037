/**
 * A custom-format dump's table of contents, as `pg_restore --list` prints it in the database pod:
 * read from the head of the dump, streamed in from where it is kept, without reading the rest.
 */
import { PassThrough } from 'node:stream';
import { CancelledError, errorMessage, isCancellationError } from '../../core/errors';
import { PodCommandError } from '../../clients/kube';
import { saidBy, type DatabasePod } from './database';
import type { DumpLocation } from './dumpLocation';

export interface TableOfContents {
  /** The database the dump was taken from. */
  database?: string;
  /** When, as pg_dump wrote it (`2026-12-06 13:54:58 UTC`). */
  createdAt?: string;
  serverVersion?: string;
  entries: number;
  /** Entries per kind (`TABLE`, `TABLE DATA`, `INDEX`, …), most frequent first. */
  kinds: { kind: string; count: number }[];
  /** `schema.table` of every table, as listed. */
  tables: string[];
}

/**
 * pg_dump's entry descriptions of more than one word; any other description is one word. Longer ones
 * first, so `MATERIALIZED VIEW DATA` is not taken for `MATERIALIZED VIEW`.
 */
const MULTI_WORD_KINDS = [
  'PUBLICATION TABLES IN SCHEMA',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'MATERIALIZED VIEW DATA',
  'FOREIGN DATA WRAPPER',
  'TEXT SEARCH TEMPLATE',
  'PROCEDURAL LANGUAGE',
  'DATABASE PROPERTIES',
  'TEXT SEARCH PARSER',
  'SEQUENCE OWNED BY',
  'MATERIALIZED VIEW',
  'PUBLICATION TABLE',
  'CHECK CONSTRAINT',
  'OPERATOR FAMILY',
  'STATISTICS DATA',
  'OPERATOR CLASS',
  'FOREIGN SERVER',
  'SECURITY LABEL',
  'BLOB METADATA',
  'ACCESS METHOD',
  'EVENT TRIGGER',
  'FOREIGN TABLE',
  'FK CONSTRAINT',
  'SEQUENCE SET',
  'INDEX ATTACH',
  'LARGE OBJECT',
  'ROW SECURITY',
  'TABLE ATTACH',
  'USER MAPPING',
  'DEFAULT ACL',
  'SHELL TYPE',
  'TABLE DATA',
];

const ENTRY = /^\d+; \d+ \d+ (.*)$/;

export function parseTableOfContents(listing: string): TableOfContents {
  const toc: TableOfContents = { entries: 0, kinds: [], tables: [] };
  const kinds = new Map<string, number>();
  for (const line of listing.split('\n')) {
    const header = /^;\s+(dbname|Dumped from database version): (.*)$/.exec(line) ?? /^; (Archive created at) (.*)$/.exec(line);
    if (header) {
      const [, field, value = ''] = header;
      if (field === 'dbname') toc.database = value;
      else if (field === 'Archive created at') toc.createdAt = value;
      else toc.serverVersion = value;
      continue;
    }
    const entry = ENTRY.exec(line)?.[1];
    if (entry === undefined) continue;
    const kind = MULTI_WORD_KINDS.find((candidate) => entry.startsWith(`${candidate} `)) ?? entry.slice(0, entry.indexOf(' '));
    toc.entries++;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    if (kind === 'TABLE') {
      // `<schema> <table> <owner>`: names with spaces make the split a guess, which only shows in the listing.
      const words = entry.slice(kind.length + 1).split(' ');
      toc.tables.push(words.length >= 3 ? `${words[0] ?? ''}.${words.slice(1, -1).join(' ')}` : words.join('.'));
    }
  }
  toc.kinds = [...kinds].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
  return toc;
}

/** `12 TABLE, 12 TABLE DATA, 3 INDEX`. */
export function describeKinds(toc: TableOfContents): string {
  return toc.kinds.map(({ kind, count }) => `${count} ${kind}`).join(', ') || 'no entries';
}

/**
 * Streams the dump into `pg_restore --list` in the pod, which reads only the head; the rest is not
 * read. A dump that cannot be read, or is no custom-format dump, fails naming it.
 */
export async function readTableOfContents(location: DumpLocation, name: string, pod: DatabasePod, signal: AbortSignal): Promise<TableOfContents> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const input = new PassThrough({ highWaterMark: 1024 * 1024 });
  const reading = location.read(name, input, stop.signal, 'head').then(
    () => void input.end(),
    (error: unknown) => {
      input.end();
      return error;
    },
  );
  try {
    const listing = await pod.kube.execText({ ...pod.ref, command: ['pg_restore', '--list'], stdin: input, signal });
    return parseTableOfContents(listing);
  } catch (error) {
    stop.abort();
    const readFailure = await reading;
    if (signal.aborted) throw new CancelledError();
    if (readFailure !== undefined && !isCancellationError(readFailure)) throw new Error(`cannot read ${location.finalLocation(name)}: ${errorMessage(readFailure)}`);
    if (error instanceof PodCommandError) throw new Error(`\`file\`: ${location.finalLocation(name)} is not a PostgreSQL custom-format dump that pg_restore in ${pod.description} can read: ${saidBy(error)}`);
    throw pod.explain('pg_restore', error);
  } finally {
    // pg_restore stops reading after the table of contents: the rest of the dump is not fetched.
    stop.abort();
    input.destroy();
    signal.removeEventListener('abort', onAbort);
    await reading;
  }
}
