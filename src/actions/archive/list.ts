import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { defineAction, type ActionContext, type ActionPlan } from '../../core/actions/spec';
import { formatAge, formatBytes, markdownTable } from '../../core/render';
import { sidecarPath } from './checksum';
import { archivePrefix, hasPrefix, isArchiveFileName, timestampFromName } from './naming';
import { resolveUserPath } from '../paths';
import { readVerifiedState } from './verifiedState';

export const archiveListParams = z
  .object({
    location: z.string().min(1).describe('Folder holding the archives.'),
    prefix: archivePrefix
      .optional()
      .describe('Only archives whose name starts with this prefix (e.g. `frigate-faces`).'),
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
}

export interface ArchiveListResult {
  location: string;
  archives: ListedArchive[];
}

/** Cheap by design: names, sizes and the recorded verification state; no archive is opened. */
async function listArchives(params: ArchiveListParams, ctx: ActionContext): Promise<ArchiveListResult> {
  const location = resolveUserPath(params.location, ctx.workspaceDir);
  let names: string[];
  try {
    names = await readdir(location);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`archive folder ${location} does not exist`);
    throw error;
  }
  const present = new Set(names);
  const verifiedState = await readVerifiedState(location);
  const archives: ListedArchive[] = [];
  for (const name of names) {
    if (!isArchiveFileName(name) || !hasPrefix(name, params.prefix)) continue;
    const filePath = path.join(location, name);
    const stats = await stat(filePath).catch(() => undefined);
    if (!stats?.isFile()) continue;
    const nameDate = timestampFromName(name);
    const record = verifiedState[name];
    // A record made for a file of another size describes an earlier file under this name.
    const applies = record !== undefined && (record.bytes === undefined || record.bytes === stats.size);
    const archive: ListedArchive = {
      name,
      path: filePath,
      bytes: stats.size,
      date: (nameDate ?? stats.mtime).toISOString(),
      dateSource: nameDate ? 'name' : 'mtime',
      checksumFile: present.has(path.basename(sidecarPath(filePath))),
      verified: applies ? (record.ok ? 'ok' : 'failed') : 'never',
    };
    if (applies) archive.verifiedAt = record.verifiedAt;
    archives.push(archive);
  }
  archives.sort((a, b) => (a.date === b.date ? b.name.localeCompare(a.name) : a.date < b.date ? 1 : -1));
  return { location, archives };
}

async function planList(params: ArchiveListParams, ctx: ActionContext): Promise<ActionPlan> {
  const location = resolveUserPath(params.location, ctx.workspaceDir);
  return { summary: `List archives in ${location}`, operations: [{ kind: 'read', target: location }], destructive: false };
}

function renderList(result: ArchiveListResult): string {
  if (result.archives.length === 0) return `No archives in \`${result.location}\`.`;
  const now = new Date();
  const rows = result.archives.map((archive) => [
    archive.name,
    localDateTime(new Date(archive.date)) + (archive.dateSource === 'mtime' ? ' (mtime)' : ''),
    formatAge(new Date(archive.date), now),
    formatBytes(archive.bytes),
    archive.checksumFile ? 'yes' : 'no',
    archive.verified === 'never' ? 'never' : `${archive.verified} (${archive.verifiedAt ? formatAge(new Date(archive.verifiedAt), now) : '?'})`,
  ]);
  return `${result.archives.length} archive(s) in \`${result.location}\`, newest first:\n\n${markdownTable(['Archive', 'Date', 'Age', 'Size', 'SHA-256 file', 'Verified'], rows)}`;
}

/** Local time, as the names carry it: `2026-01-24 06:51`. */
function localDateTime(date: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
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
