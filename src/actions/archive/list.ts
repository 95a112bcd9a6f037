import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { mapConcurrent } from '../../core/concurrency';
import { defineAction, type ActionContext, type ActionPlan } from '../../core/actions/spec';
import { formatAge, formatBytes, formatLocalDateTime, markdownTable, printable } from '../../core/render';
import { sidecarPath } from './checksum';
import { archivePrefix, hasPrefix, isArchiveFileName, timestampFromName } from './naming';
import { resolveUserPath } from '../paths';
import { readVerifiedState, recordApplies } from './verifiedState';

/** The `archive` value that selects the newest archive. */
const LATEST = 'latest';

export const archiveListParams = z
  .object({
    location: z.string().min(1).describe('Folder holding the archives.'),
    prefix: archivePrefix
      .optional()
      .describe('Only archives whose name starts with this prefix (e.g. `frigate-faces`).'),
    archive: z
      .string()
      .refine((value) => value === LATEST || (isArchiveFileName(value) && path.basename(value) === value), {
        message: `must be \`${LATEST}\` or the file name of an archive in the folder (*.tar.gz, *.tgz, no folder part)`,
      })
      .optional()
      .describe(`Picks one archive as \`selected\` in the result: \`${LATEST}\` for the newest listed, or an archive's file name. Fails when there is no such archive.`),
  })
  .strict();

export type ArchiveListParams = z.output<typeof archiveListParams>;

export type VerifiedStatus = 'ok' | 'failed' | 'never';

export interface ListedArchive {
  name: string;
  path: string;
  bytes: number;
  /** ISO time of the backup: from the name when it carries one (YYYYMMDD[-HHMMSS], local time), else the file's mtime. */
  date: string;
  dateSource: 'name' | 'mtime';
  checksumFile: boolean;
  verified: VerifiedStatus;
  verifiedAt?: string;
  /** The digest the last verification computed. */
  sha256?: string;
}

export interface ArchiveListResult {
  location: string;
  archives: ListedArchive[];
  /** The archive the `archive` parameter picked; absent without one. */
  selected?: ListedArchive;
}

const STATS_AT_ONCE = 32;

/** Cheap by design: names, sizes and the recorded verification state; no archive is opened. */
async function listArchives(params: ArchiveListParams, ctx: ActionContext): Promise<ArchiveListResult> {
  const location = resolveUserPath(params.location, ctx.workspaceDir);
  let names: string[];
  try {
    names = await readdir(location);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`archive folder ${printable(location)} does not exist`);
    throw error;
  }
  const present = new Set(names);
  const verifiedState = await readVerifiedState(location);
  const candidates = names.filter((name) => isArchiveFileName(name) && hasPrefix(name, params.prefix));
  // A folder of thousands of archives: the stats go several at a time, not one after another.
  const listed = await mapConcurrent(
    candidates,
    STATS_AT_ONCE,
    async (name): Promise<ListedArchive | undefined> => {
      const filePath = path.join(location, name);
      const stats = await stat(filePath).catch(() => undefined);
      if (!stats?.isFile()) return undefined;
      const nameDate = timestampFromName(name);
      const record = verifiedState[name];
      const applies = recordApplies(record, stats.size);
      const archive: ListedArchive = {
        name,
        path: filePath,
        bytes: stats.size,
        date: (nameDate ?? stats.mtime).toISOString(),
        dateSource: nameDate ? 'name' : 'mtime',
        checksumFile: present.has(path.basename(sidecarPath(filePath))),
        verified: applies ? (record.ok ? 'ok' : 'failed') : 'never',
      };
      if (applies) {
        archive.verifiedAt = record.verifiedAt;
        if (record.sha256 !== undefined) archive.sha256 = record.sha256;
      }
      return archive;
    },
    ctx.signal,
  );
  const archives = listed.filter((archive): archive is ListedArchive => archive !== undefined);
  archives.sort((a, b) => (a.date === b.date ? b.name.localeCompare(a.name) : a.date < b.date ? 1 : -1));
  const result: ArchiveListResult = { location, archives };
  if (params.archive !== undefined) result.selected = selectArchive(params.archive, archives, { location, prefix: params.prefix, present });
  return result;
}

/** The archive `archive` names among those listed; an error says why there is none. */
function selectArchive(wanted: string, archives: readonly ListedArchive[], where: { location: string; prefix: string | undefined; present: ReadonlySet<string> }): ListedArchive {
  const withPrefix = where.prefix === undefined ? '' : ` with prefix ${where.prefix}`;
  const location = printable(where.location);
  if (wanted === LATEST) {
    const newest = archives[0];
    if (!newest) throw new Error(`no archive to select: ${location} holds no archives${withPrefix}`);
    return newest;
  }
  const found = archives.find((archive) => archive.name === wanted);
  if (found) return found;
  if (where.present.has(wanted) && !hasPrefix(wanted, where.prefix)) {
    throw new Error(`archive ${printable(wanted)} in ${location} does not have the prefix ${where.prefix}; pass the prefix it was made with`);
  }
  const newest = archives.slice(0, 3).map((archive) => printable(archive.name));
  const hint = newest.length > 0 ? `; the newest${withPrefix} are ${newest.join(', ')}` : `; it holds no archives${withPrefix}`;
  throw new Error(`archive ${printable(wanted)} is not in ${location}${hint}`);
}

async function planList(params: ArchiveListParams, ctx: ActionContext): Promise<ActionPlan> {
  const location = resolveUserPath(params.location, ctx.workspaceDir);
  return { summary: `List archives in ${printable(location)}`, operations: [{ kind: 'read', target: printable(location) }], destructive: false };
}

function renderList(result: ArchiveListResult): string {
  if (result.archives.length === 0) return `No archives in \`${printable(result.location)}\`.`;
  const selected = result.selected ? `\n\nSelected: \`${printable(result.selected.name)}\`.` : '';
  const now = new Date();
  const rows = result.archives.map((archive) => [
    printable(archive.name),
    formatLocalDateTime(new Date(archive.date)) + (archive.dateSource === 'mtime' ? ' (mtime)' : ''),
    formatAge(new Date(archive.date), now),
    formatBytes(archive.bytes),
    archive.checksumFile ? 'yes' : 'no',
    archive.verified === 'never' ? 'never' : `${archive.verified} (${archive.verifiedAt ? formatAge(new Date(archive.verifiedAt), now) : '?'})`,
  ]);
  return `${result.archives.length} archive(s) in \`${printable(result.location)}\`, newest first:\n\n${markdownTable(['Archive', 'Date', 'Age', 'Size', 'SHA-256 file', 'Verified'], rows)}${selected}`;
}

export const archiveList = defineAction({
  id: 'archive.list',
  title: 'List archives',
  description: 'Lists the archives in a folder, newest first, with size, date, checksum file and last verification.',
  params: archiveListParams,
  destructive: false,
  // Reads names and sizes only, so a dry run lists for real and later steps see actual archives.
  readOnly: true,
  plan: planList,
  run: listArchives,
  render: renderList,
});
