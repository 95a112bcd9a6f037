import * as z from 'zod';
import type { RcloneEntry } from '../../clients/rclone';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, formatCount, markdownTable, printable } from '../../core/render';
import { parseRclonePath, rcloneArgument, rcloneFor } from './remotes';

/** Rows a rendered listing shows; the result holds every entry. */
const RENDERED_ROWS = 100;

export const rcloneListParams = z
  .object({
    path: z.string().min(1).describe('What to list: `remote:path` (e.g. `gdrive:BadrBackups`, or `gdrive:` for the top) or a folder on this machine.'),
    recursive: z.boolean().default(false).describe('List every file below, not only the folder itself.'),
    hashes: z.boolean().default(false).describe('Also read the checksums the backend keeps (MD5, SHA-1 …).'),
  })
  .strict();

export type RcloneListParams = z.output<typeof rcloneListParams>;

export interface RcloneListResult {
  path: string;
  entries: RcloneEntry[];
  files: number;
  folders: number;
  /** Of the files listed. */
  bytes: number;
}

export const rcloneList = defineAction({
  id: 'rclone.list',
  title: 'List files with rclone',
  description: 'Lists a folder on any rclone remote (from rclone.conf or `rcloneRemotes:`) or on this machine, with sizes, modification times and, if asked, checksums.',
  params: rcloneListParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    return { summary: `List ${rcloneArgument(parseRclonePath(params.path, 'path', ctx.workspaceDir))}`, operations: [], destructive: false };
  },
  async run(params, ctx): Promise<RcloneListResult> {
    const location = parseRclonePath(params.path, 'path', ctx.workspaceDir);
    const rclone = await rcloneFor(ctx, [location]);
    const entries = await rclone.lsjson(rcloneArgument(location), { recursive: params.recursive, hashes: params.hashes, signal: ctx.signal });
    const files = entries.filter((entry) => !entry.isDir);
    return { path: rcloneArgument(location), entries, files: files.length, folders: entries.length - files.length, bytes: files.reduce((sum, entry) => sum + entry.size, 0) };
  },
  render(result: RcloneListResult) {
    const heading = `${result.path}: ${formatCount(result.files, 'file')} (${formatBytes(result.bytes)}), ${formatCount(result.folders, 'folder')}`;
    if (result.entries.length === 0) return heading;
    const rows = result.entries.slice(0, RENDERED_ROWS).map((entry) => [printable(entry.path) + (entry.isDir ? '/' : ''), entry.isDir ? '' : formatBytes(entry.size), entry.modTime ?? '', Object.entries(entry.hashes).map(([name, value]) => `${name}:${value}`).join(' ')]);
    const more = result.entries.length > RENDERED_ROWS ? `\n\n… and ${result.entries.length - RENDERED_ROWS} more.` : '';
    return `${heading}\n\n${markdownTable(['path', 'size', 'modified', 'hashes'], rows)}${more}`;
  },
});
