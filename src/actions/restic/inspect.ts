import * as z from 'zod';
import type { ResticNode } from '../../clients/restic';
import { defineAction } from '../../core/actions/spec';
import { formatBytes, markdownTable, printable } from '../../core/render';
import { listFolder, snapshotsNewestFirst, snapshotTotals } from './listing';
import { openRepository, ranBy, repositoryParam, snapshotParam } from './repository';

const text = z.string().min(1).refine((value) => !value.includes('\0'), 'cannot hold a NUL byte');

const snapshotsParams = z
  .object({
    repository: repositoryParam,
    host: text.optional().describe('Only snapshots made on this host (the hostname restic recorded).'),
    tags: z.array(text.refine((value) => !value.includes(','), 'a restic tag cannot hold a comma (restic reads it as two tags)')).default([]).describe('Only snapshots carrying all of these tags.'),
    paths: z.array(text).default([]).describe('Only snapshots of exactly these paths.'),
  })
  .strict();

export interface ListedSnapshot {
  id: string;
  shortId: string;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
  /** Recorded by restic 0.17 and later only. */
  files?: number;
  bytes?: number;
}

export interface SnapshotsResult {
  repository: string;
  /** Which restic ran, and where. */
  restic: string;
  /** Newest first. */
  snapshots: ListedSnapshot[];
  /** The newest snapshot's id, when there is one. */
  latest?: string;
}

export const resticSnapshots = defineAction({
  id: 'restic.snapshots',
  title: 'List restic snapshots',
  description: 'Lists the snapshots of a restic repository, newest first, filtered by host, tags and paths; with their size and file count where the repository records them (snapshots made by restic 0.17+).',
  params: snapshotsParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `would list the snapshots of restic repository ${params.repository}`, operations: [{ kind: 'read', target: params.repository }], destructive: false };
  },
  async run(params, ctx): Promise<SnapshotsResult> {
    const repository = await openRepository(ctx, params.repository);
    const snapshots = await snapshotsNewestFirst(repository, { host: params.host, tags: params.tags, paths: params.paths }, ctx.signal);
    const listed = snapshots.map((snapshot) => ({ id: snapshot.id, shortId: snapshot.shortId, time: snapshot.time, hostname: snapshot.hostname, paths: snapshot.paths, tags: snapshot.tags, ...snapshotTotals(snapshot) }));
    return { repository: params.repository, restic: await ranBy(repository, ctx.signal), snapshots: listed, ...(listed[0] ? { latest: listed[0].id } : {}) };
  },
  render(result) {
    if (result.snapshots.length === 0) return `No snapshots in ${result.repository} (${result.restic}).`;
    const rows = result.snapshots.map((snapshot) => [snapshot.shortId, snapshot.time, printable(snapshot.hostname), snapshot.paths.map(printable).join(', '), snapshot.tags.map(printable).join(', '), snapshot.files ?? '', snapshot.bytes === undefined ? '' : formatBytes(snapshot.bytes)]);
    return `${result.snapshots.length} snapshot(s) in ${result.repository} (${result.restic}):\n\n${markdownTable(['id', 'time', 'host', 'paths', 'tags', 'files', 'size'], rows)}`;
  },
});

const lsParams = z
  .object({
    repository: repositoryParam,
    snapshot: snapshotParam,
    path: text.default('/').describe('The folder inside the snapshot to list, one level deep (a file is listed alone).'),
    offset: z.number().int().min(0).default(0).describe('Where the page starts among the folder\'s entries.'),
    limit: z.number().int().min(1).max(10_000).default(1000).describe('How many entries one page holds.'),
  })
  .strict();

export interface LsEntry {
  name: string;
  path: string;
  type: string;
  size?: number;
  mtime?: string;
}

export interface LsResult {
  repository: string;
  restic: string;
  snapshot: string;
  path: string;
  entries: LsEntry[];
  /** Entries in the folder in all. */
  total: number;
  /** The offset of the next page, when there is one. */
  next?: number;
}

function entryOf(node: ResticNode): LsEntry {
  return { name: node.name, path: node.path, type: node.type, ...(node.size === undefined ? {} : { size: node.size }), ...(node.mtime === undefined ? {} : { mtime: node.mtime }) };
}

export const resticLs = defineAction({
  id: 'restic.ls',
  title: 'List a folder of a restic snapshot',
  description: 'Lists one folder of a snapshot, one level deep and a page at a time: restic reads only the folders on the way there, so deep trees list fast.',
  params: lsParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    return { summary: `would list ${params.path} of snapshot ${params.snapshot} in ${params.repository}`, operations: [{ kind: 'read', target: `${params.repository} ${params.snapshot}:${params.path}` }], destructive: false };
  },
  async run(params, ctx): Promise<LsResult> {
    const repository = await openRepository(ctx, params.repository);
    const listing = await listFolder(repository, params.snapshot, params.path, ctx.signal);
    const end = Math.min(listing.entries.length, params.offset + params.limit);
    return {
      repository: params.repository,
      restic: await ranBy(repository, ctx.signal),
      snapshot: listing.snapshot.id,
      path: listing.path,
      entries: listing.entries.slice(params.offset, end).map(entryOf),
      total: listing.entries.length,
      ...(end < listing.entries.length ? { next: end } : {}),
    };
  },
  render(result) {
    const rows = result.entries.map((entry) => [entry.type === 'dir' ? `${printable(entry.name)}/` : printable(entry.name), entry.type, entry.size === undefined ? '' : formatBytes(entry.size), entry.mtime ?? '']);
    const more = result.next === undefined ? '' : `\n\n${result.total - result.next} more: list again with offset ${result.next}.`;
    return `${printable(result.path)} in snapshot ${result.snapshot.slice(0, 8)} (${result.total} entries, ${result.restic}):\n\n${markdownTable(['name', 'type', 'size', 'modified'], rows)}${more}`;
  },
});
