/**
 * What restic prints, read tolerantly for 0.14 (Debian 12) and newer releases (restic
 * doc/075_scripting.rst): snapshots, ls nodes, backup/restore status and summary lines, forget groups,
 * and its failures mapped to kinds a person can act on.
 */
import { isJsonObject, numberField, objectsField, parseJsonObjectLine, stringField, stringsField, type JsonObject } from './toolJson';

export interface ResticSnapshotSummary {
  filesNew?: number;
  filesChanged?: number;
  filesUnmodified?: number;
  dataAdded?: number;
  totalFilesProcessed?: number;
  totalBytesProcessed?: number;
  backupStart?: string;
  backupEnd?: string;
}

export interface ResticSnapshot {
  id: string;
  shortId: string;
  /** ISO 8601, as restic prints it. */
  time: string;
  hostname: string;
  username?: string;
  paths: string[];
  tags: string[];
  parent?: string;
  tree?: string;
  programVersion?: string;
  /** Only for snapshots made by restic 0.17 and later. */
  summary?: ResticSnapshotSummary;
}

export interface ResticNode {
  name: string;
  /** file, dir, symlink, … */
  type: string;
  path: string;
  size?: number;
  mode?: number;
  permissions?: string;
  mtime?: string;
  uid?: number;
  gid?: number;
}

export interface ResticBackupSummary {
  snapshotId?: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataAdded: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  totalDurationSeconds: number;
}

export interface ResticForgetGroup {
  host?: string;
  paths: string[];
  tags: string[];
  keep: ResticSnapshot[];
  remove: ResticSnapshot[];
}

/** A line of `diff --json`: `+` added, `-` removed, `M` content changed, `T` type changed, `U` metadata changed. */
export interface ResticChange {
  path: string;
  modifier: string;
}

export interface ResticDiffCounts {
  files: number;
  dirs: number;
  bytes: number;
}

export interface ResticDiffStatistics {
  changedFiles: number;
  added: ResticDiffCounts;
  removed: ResticDiffCounts;
}

export type ResticFailureKind = 'wrong-password' | 'repository-missing' | 'repository-exists' | 'locked' | 'snapshot-missing' | 'failed';

export class ResticError extends Error {
  constructor(
    message: string,
    readonly kind: ResticFailureKind,
    /** restic's exit code; 0 when the request was refused before restic ran. */
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'ResticError';
  }
}

/** The type of a JSON line: `message_type` since 0.17, `struct_type` before (ls). */
export function messageType(line: JsonObject): string | undefined {
  return stringField(line, 'message_type') ?? stringField(line, 'struct_type');
}

export function parseSnapshot(raw: unknown): ResticSnapshot | undefined {
  if (!isJsonObject(raw)) return undefined;
  const id = stringField(raw, 'id');
  if (!id) return undefined;
  const summary = isJsonObject(raw.summary) ? raw.summary : undefined;
  return {
    id,
    shortId: stringField(raw, 'short_id') ?? id.slice(0, 8),
    time: stringField(raw, 'time') ?? '',
    hostname: stringField(raw, 'hostname') ?? '',
    username: stringField(raw, 'username'),
    paths: stringsField(raw, 'paths'),
    tags: stringsField(raw, 'tags'),
    parent: stringField(raw, 'parent'),
    tree: stringField(raw, 'tree'),
    programVersion: stringField(raw, 'program_version'),
    summary: summary && {
      filesNew: numberField(summary, 'files_new'),
      filesChanged: numberField(summary, 'files_changed'),
      filesUnmodified: numberField(summary, 'files_unmodified'),
      dataAdded: numberField(summary, 'data_added'),
      totalFilesProcessed: numberField(summary, 'total_files_processed'),
      totalBytesProcessed: numberField(summary, 'total_bytes_processed'),
      backupStart: stringField(summary, 'backup_start'),
      backupEnd: stringField(summary, 'backup_end'),
    },
  };
}

/** `snapshots --json`: an array of snapshots (or, with `--group-by`, of groups holding them). */
export function parseSnapshots(value: unknown): ResticSnapshot[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry) => {
    if (isJsonObject(entry) && Array.isArray(entry.snapshots)) return entry.snapshots.map(parseSnapshot).filter((snapshot) => snapshot !== undefined);
    const snapshot = parseSnapshot(entry);
    return snapshot ? [snapshot] : [];
  });
}

export function parseNode(line: JsonObject): ResticNode | undefined {
  const name = stringField(line, 'name');
  const path = stringField(line, 'path');
  if (name === undefined || path === undefined) return undefined;
  return {
    name,
    type: stringField(line, 'type') ?? 'unknown',
    path,
    size: numberField(line, 'size'),
    mode: numberField(line, 'mode'),
    permissions: stringField(line, 'permissions'),
    mtime: stringField(line, 'mtime'),
    uid: numberField(line, 'uid'),
    gid: numberField(line, 'gid'),
  };
}

export function parseBackupSummary(line: JsonObject): ResticBackupSummary {
  const count = (name: string) => numberField(line, name) ?? 0;
  return {
    snapshotId: stringField(line, 'snapshot_id'),
    filesNew: count('files_new'),
    filesChanged: count('files_changed'),
    filesUnmodified: count('files_unmodified'),
    dirsNew: count('dirs_new'),
    dirsChanged: count('dirs_changed'),
    dirsUnmodified: count('dirs_unmodified'),
    dataAdded: count('data_added'),
    totalFilesProcessed: count('total_files_processed'),
    totalBytesProcessed: count('total_bytes_processed'),
    totalDurationSeconds: count('total_duration'),
  };
}

export function parseForgetGroups(value: unknown): ResticForgetGroup[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isJsonObject).map((group) => ({
    host: stringField(group, 'host'),
    paths: stringsField(group, 'paths'),
    tags: stringsField(group, 'tags'),
    keep: objectsField(group, 'keep').map(parseSnapshot).filter((snapshot) => snapshot !== undefined),
    remove: objectsField(group, 'remove').map(parseSnapshot).filter((snapshot) => snapshot !== undefined),
  }));
}

export function parseDiffStatistics(line: JsonObject): ResticDiffStatistics {
  const counts = (name: string): ResticDiffCounts => {
    const raw = isJsonObject(line[name]) ? line[name] : {};
    return { files: numberField(raw, 'files') ?? 0, dirs: numberField(raw, 'dirs') ?? 0, bytes: numberField(raw, 'bytes') ?? 0 };
  };
  return { changedFiles: numberField(line, 'changed_files') ?? 0, added: counts('added'), removed: counts('removed') };
}

/** `restic 0.14.0 compiled with …` or `{"message_type":"version","version":"0.17.3",…}`. */
export function parseVersion(output: string): [number, number, number] | undefined {
  const fromJson = parseJsonObjectLine(output.split('\n')[0] ?? '');
  const text = (fromJson && stringField(fromJson, 'version')) ?? output;
  const match = /(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/**
 * Since 0.17 restic says what failed in its exit code; 0.14 says it only in its last words on stderr.
 * Since 0.18 a JSON `exit_error` line on stderr carries the message.
 */
export function resticFailure(exitCode: number, stderr: string, what: string): ResticError {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  const exitError = lines.map(parseJsonObjectLine).find((line) => line && messageType(line) === 'exit_error');
  const said = (exitError && stringField(exitError, 'message')) || lines.filter((line) => !line.startsWith('{')).slice(-4).join('\n');
  const kind: ResticFailureKind =
    exitCode === 12 || /wrong password|no key found/i.test(said)
      ? 'wrong-password'
      : exitCode === 10 || /Is there a repository at the following location|unable to open config file|repository does not exist/i.test(said)
        ? 'repository-missing'
        : exitCode === 11 || /repository is already locked|unable to create lock/i.test(said)
          ? 'locked'
          : /config file already exists/i.test(said)
            ? 'repository-exists'
            : /no matching ID found|no snapshot found|invalid id/i.test(said)
              ? 'snapshot-missing'
              : 'failed';
  const explanation: Record<ResticFailureKind, string> = {
    'wrong-password': 'the password does not open this repository',
    'repository-missing': 'there is no repository there (run restic init to create one)',
    'repository-exists': 'a repository already exists there',
    locked: 'the repository is locked by another restic process (if none is running, `restic unlock` removes a stale lock)',
    'snapshot-missing': 'no such snapshot',
    failed: `exit code ${exitCode}`,
  };
  const detail = said && kind === 'failed' ? `:\n${said}` : said && kind !== 'wrong-password' ? ` (${said.split('\n')[0]?.replace(/^Fatal: /, '')}${kind === 'locked' ? lockDetail(stderr) : ''})` : '';
  return new ResticError(`${what} failed: ${explanation[kind]}${detail}`, kind, exitCode);
}

/** The lock's age and its file, as restic names them on the lines after "already locked by …". */
function lockDetail(stderr: string): string {
  const created = /lock was created at ([^\n]+)/.exec(stderr)?.[1]?.trim();
  const storageId = /storage ID ([0-9a-f]+)/.exec(stderr)?.[1];
  return `${created ? `; created at ${created}` : ''}${storageId ? `; lock file locks/${storageId}` : ''}`;
}
