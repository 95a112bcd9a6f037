import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { RcloneEntry } from '../../clients/rclone';
import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, joinPath, pageOf, type DeclaredNode, type Page, type PageRequest } from '../../core/browse/node';
import { formatAge, formatBytes, markdownEscape, printable } from '../../core/render';
import { knownRemotes, rcloneFor, type KnownRemote, type RclonePath } from './remotes';

export const RCLONE_ROOT = 'rclone';
const REMOTES = 'remotes';
/**
 * Someone is waiting for a listing: a failure that retrying cannot mend (an untrusted certificate)
 * is shown in a second, not after rclone's ten low-level retries with backoff (50 s).
 */
const INTERACTIVE_FLAGS = ['--low-level-retries', '2'];

/** Remotes and folders first, then files, each by name. */
function folderOrder(first: RcloneEntry, second: RcloneEntry): number {
  return Number(second.isDir) - Number(first.isDir) || first.name.localeCompare(second.name);
}

function remotesNode(): DeclaredNode {
  return {
    path: joinPath(RCLONE_ROOT, REMOTES),
    kind: 'rclone.remotes',
    label: 'rclone remotes',
    description: 'rclone.conf and rcloneRemotes:',
    tooltip: 'The remotes of your rclone.conf and those declared under `rcloneRemotes:` in lifeboat.yaml (Google Drive, S3, SFTP …); expand one to browse its folders.',
    icon: 'cloud',
    hasChildren: true,
    facts: {},
  };
}

/** The remotes, listed once for the tree (and for each remote's folders, which need its type). */
function remotesOf(session: BrowseSession): Promise<KnownRemote[]> {
  return session.cached(joinPath(RCLONE_ROOT, REMOTES), () => knownRemotes(session.ctx));
}

async function remoteNodes(at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const remotes = await remotesOf(session);
  if (remotes.length === 0) return { nodes: [emptyNode(at, 'No rclone remotes: create one with `rclone config`, or declare one under `rcloneRemotes:`')], total: 0 };
  return pageOf(remotes, request, (remote) => remote.name, (remote) => ({
    path: childPath(at, remote.name),
    kind: 'rclone.remote',
    label: remote.name,
    description: `${remote.type}${remote.declared ? ' · lifeboat.yaml' : ''}`,
    tooltip: `**rclone remote ${markdownEscape(remote.name)}** (${markdownEscape(remote.type)}), from ${remote.declared ? `\`rcloneRemotes:\` in ${markdownEscape(session.inventoryFile)}` : 'rclone.conf'}`,
    icon: remote.type === 'drive' ? 'cloud' : remote.type === 'local' ? 'folder-library' : 'remote',
    hasChildren: true,
    operations: [{ kind: 'action', id: 'list', label: 'List', action: 'rclone.list', params: { path: `${remote.name}:${remote.type === 'local' ? '/' : ''}` } }],
    facts: { remote: remote.name, type: remote.type, declared: remote.declared },
  }));
}

/** A folder of a remote, a page at a time; its listing is read once and kept for the next pages. */
async function folderNodes(remote: string, folder: readonly string[], at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  // A local remote's own root is the working folder; its tree starts at the file system's root.
  const local = (await remotesOf(session)).find((known) => known.name === remote)?.type === 'local';
  const location: RclonePath = { kind: 'remote', remote, path: `${local ? '/' : ''}${folder.join('/')}` };
  const remotePath = `${remote}:${location.path}`;
  const entries = await session.cached(at, async () => {
    const rclone = await rcloneFor(session.ctx, [location], INTERACTIVE_FLAGS);
    return (await rclone.lsjson(remotePath, { signal: session.ctx.signal })).sort(folderOrder);
  });
  if (entries.length === 0) return { nodes: [emptyNode(at, `${remotePath} is empty`)], total: 0 };
  const now = new Date();
  return pageOf(entries, request, (entry) => entry.name, (entry): DeclaredNode => {
    const entryPath = `${remote}:${location.path === '' || location.path.endsWith('/') ? location.path : `${location.path}/`}${entry.name}`;
    const modified = entry.modTime ? new Date(entry.modTime) : undefined;
    const age = modified && !Number.isNaN(modified.getTime()) ? formatAge(modified, now) : undefined;
    if (entry.isDir) {
      return {
        path: childPath(at, entry.name),
        kind: entry.isBucket ? 'rclone.bucket' : 'rclone.folder',
        label: printable(entry.name),
        tooltip: markdownEscape(printable(entryPath)),
        icon: entry.isBucket ? 'database' : 'folder',
        hasChildren: true,
        operations: [{ kind: 'action', id: 'list', label: 'List', action: 'rclone.list', params: { path: entryPath } }],
        facts: { remote, path: entryPath, folder: true },
      };
    }
    return {
      path: childPath(at, entry.name),
      kind: 'rclone.file',
      label: printable(entry.name),
      description: [formatBytes(entry.size), age].filter(Boolean).join(' · '),
      tooltip: `${markdownEscape(printable(entryPath))}\n\n- ${formatBytes(entry.size)}${entry.modTime ? `\n- modified ${entry.modTime}` : ''}`,
      icon: 'file',
      hasChildren: false,
      operations: [{ kind: 'action', id: 'checksums', label: 'Show Checksums', action: 'rclone.list', params: { path: entryPath, hashes: true } }],
      facts: { remote, path: entryPath, bytes: entry.size, modified: entry.modTime ?? null },
    };
  });
}

async function children(path: readonly string[], request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const [, section, remote, ...folder] = path;
  if (section !== REMOTES) return { nodes: [] };
  const at = joinPath(...path);
  if (remote === undefined) return remoteNodes(at, request, session);
  return folderNodes(remote, folder, at, request, session);
}

/** Where rclone reads its configuration from (rclone's own order), when it is a file. */
function rcloneConfigFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const home = homedir();
  const candidates = env.RCLONE_CONFIG ? [env.RCLONE_CONFIG] : [path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'rclone', 'rclone.conf'), path.join(home, '.rclone.conf')];
  return candidates.find((candidate) => statSync(candidate, { throwIfNoEntry: false })?.isFile());
}

/**
 * rclone's remotes (rclone.conf and `rcloneRemotes:`), their buckets, folders and files, listed as
 * they are opened. Shown when there is a remote to list: one declared, or an rclone.conf.
 */
export const rcloneBrowser: Browser = {
  root: RCLONE_ROOT,
  roots: (session) => (Object.keys(session.ctx.inventory.rcloneRemotes ?? {}).length > 0 || rcloneConfigFile() ? [remotesNode()] : []),
  children,
};
