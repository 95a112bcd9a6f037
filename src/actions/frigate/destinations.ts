import { mkdtemp, open, readdir } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import type { S3Store } from '../../clients/s3';
import { makeRemoteFolders, removeRemoteFile, SftpError, sshConnectionFor, type ExecResult, type SftpSession, type SshConnection } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';
import { errorMessage, throwIfAborted } from '../../core/errors';
import { folderLockStore, type LockStore } from '../../core/locks';
import { formatAge } from '../../core/render';
import { FileExistsError, fsyncDirectory, lstatIfPresent, makeFolders, pathExists, publishWithoutOverwrite, removeIfPresent, temporarySibling, unlinkIfPresent, writeFileAtomically } from '../../core/atomicFiles';
import { formatSidecar, sidecarPath } from '../archive/checksum';
import { compileNameMatcher, DEFAULT_NAME_PATTERN, hasPrefix, isArchiveFileName } from '../archive/naming';
import { deleteArchives, findRetentionCandidates, selectForDeletion } from '../archive/retention';
import { readVerifiedState, recordApplies, updateVerifiedState } from '../archive/verifiedState';
import { hostFolderLockStore, s3PrefixLockStore } from '../locationLocks';
import { HostFolder, resolveUserPath } from '../paths';
import { s3StoreFor } from '../s3Stores';

/** An archive older than the newest `keep`, to be deleted with its checksum file. */
export interface ExpiredArchive {
  name: string;
  /** A path, or `s3://bucket/key`. */
  location: string;
  bytes: number;
}

/**
 * Where face archives go: a local folder, a folder on an SSH host, or an S3 prefix. An archive is
 * first staged and verified (written to a staging file and read back from it, or checked here as it
 * streams to the host), and only then published under its final name with its `.sha256`.
 */
export interface ArchiveDestination {
  readonly description: string;
  /** Where the final archive is seen (a path or an `s3://` URL). */
  finalLocation(name: string): string;
  /**
   * Where an archive of this name is staged, and whatever receives it at the destination made ready
   * (a command waiting on the host); nothing is written there until `begin`.
   */
  staging(name: string, signal: AbortSignal): Promise<Staging>;
  exists(name: string, signal: AbortSignal): Promise<boolean>;
  /** Makes the verified archive its `staging` staged visible under its final name, with its checksum file. */
  publish(staging: Staging, name: string, verified: { sha256: string; bytes: number }, signal: AbortSignal): Promise<void>;
  /** Removes a published archive again (a cancel after publishing, before the run counted it). */
  unpublish(name: string): Promise<void>;
  /** Archives of this prefix beyond the newest `keep` (the new one always counts as kept). */
  expired(prefix: string, keep: number, newName: string, signal: AbortSignal): Promise<ExpiredArchive[]>;
  remove(archives: readonly ExpiredArchive[], signal: AbortSignal): Promise<void>;
  /** Archive files there whose name starts with this prefix (any naming, the old script's too). */
  listArchives(prefix: string, signal: AbortSignal): Promise<StoredArchive[]>;
  /** A local file of the archive (and its `.sha256` beside it when there is one), and how to let it go. */
  fetch(name: string, signal: AbortSignal): Promise<{ path: string; discard: () => Promise<void> }>;
  /** The archive's first `bytes` bytes (all of it when shorter), without fetching the rest. */
  readHead(name: string, bytes: number, signal: AbortSignal): Promise<Buffer>;
  /** What is known of the archive's verification without reading it. */
  verification(archive: StoredArchive, signal: AbortSignal): Promise<ArchiveVerification>;
  /** Where the lock of the location is kept, which a run takes before it changes anything there. */
  lockStore(signal: AbortSignal): LockStore;
}

interface StagingParts {
  /**
   * The archive may be written before `begin` (the plan a run follows starts it): into a private
   * local file, or held here for the host; what receives it at the destination gets it after.
   */
  writableBeforeBegin: boolean;
  /** Lets writing reach the destination (creates its folder, the upload's temporary file); nothing is written there before. */
  begin: () => Promise<void>;
  discard: () => Promise<void>;
}

/** An archive written to a local file, verified by reading it back from there, then published from it. */
export interface FileStaging extends StagingParts {
  path: string;
}

/**
 * An archive streamed to the destination as it is written, checked here as it goes (gzip and tar);
 * the destination checks the copy it received against the sha256 of what was written before it
 * publishes it. No local file: it would only be read back to check the same bytes.
 */
export interface StreamStaging extends StagingParts {
  /** Receives the archive's bytes as they are written, and is ended with them. */
  stream: Writable;
}

/** Where an archive is written before it is verified, and how to remove what is left of it. */
export type Staging = FileStaging | StreamStaging;

export interface StoredArchive {
  name: string;
  bytes: number;
}

/**
 * `ok` when the archive was verified (a local folder records each verification; remote archives
 * get their `.sha256` only after the uploaded copy was checked), `failed` when its last
 * verification failed, `never` otherwise.
 */
export interface ArchiveVerification {
  state: 'ok' | 'failed' | 'never';
  detail: string;
}

const UPLOAD_CHECKED: ArchiveVerification = { state: 'ok', detail: 'checksum checked after upload (.sha256 present)' };
const NO_CHECKSUM: ArchiveVerification = { state: 'never', detail: 'no .sha256 beside it' };

/**
 * Retention for a remote folder, by the same rule as a local one (`selectForDeletion`): only names
 * of the backup naming pattern count, newest by the time in their name, the new archive always kept.
 * Remote listings carry no usable modification time, so ties fall to the name.
 */
function expiredAmong(files: readonly StoredArchive[], prefix: string, keep: number, newName: string, locate: (name: string) => string): ExpiredArchive[] {
  const matchName = compileNameMatcher(DEFAULT_NAME_PATTERN, prefix);
  const candidates = files.flatMap((file) => {
    const timestampKey = matchName(file.name);
    return timestampKey === undefined ? [] : [{ name: file.name, path: locate(file.name), bytes: file.bytes, timestampKey, mtimeMs: 0 }];
  });
  return selectForDeletion(candidates, keep, newName).map((candidate) => ({ name: candidate.name, location: candidate.path, bytes: candidate.bytes }));
}

class LocalFolder implements ArchiveDestination {
  constructor(private readonly folder: string) {}

  get description(): string {
    return this.folder;
  }

  finalLocation(name: string): string {
    return path.join(this.folder, name);
  }

  lockStore(): LockStore {
    return folderLockStore(this.folder);
  }

  async staging(name: string): Promise<FileStaging> {
    const staged = temporarySibling(this.finalLocation(name));
    return { path: staged, writableBeforeBegin: false, begin: async () => void (await makeFolders(this.folder)), discard: () => removeIfPresent(staged) };
  }

  exists(name: string): Promise<boolean> {
    return pathExists(this.finalLocation(name));
  }

  async publish(staging: FileStaging, name: string, verified: { sha256: string; bytes: number }): Promise<void> {
    const finalPath = this.finalLocation(name);
    await publishWithoutOverwrite(staging.path, finalPath);
    // The name was free, so a sidecar already there describes nothing that still exists.
    await writeFileAtomically(sidecarPath(finalPath), formatSidecar(verified.sha256, name), { overwrite: true });
    await fsyncDirectory(this.folder);
    await updateVerifiedState(this.folder, { [name]: { verifiedAt: new Date().toISOString(), ok: true, sha256: verified.sha256, bytes: verified.bytes } });
  }

  async unpublish(name: string): Promise<void> {
    await unlinkIfPresent(this.finalLocation(name));
    await unlinkIfPresent(sidecarPath(this.finalLocation(name)));
  }

  async expired(prefix: string, keep: number, newName: string): Promise<ExpiredArchive[]> {
    const candidates = await findRetentionCandidates(this.folder, DEFAULT_NAME_PATTERN, prefix);
    return selectForDeletion(candidates, keep, newName).map((candidate) => ({ name: candidate.name, location: candidate.path, bytes: candidate.bytes }));
  }

  async remove(archives: readonly ExpiredArchive[]): Promise<void> {
    await deleteArchives(this.folder, archives.map((archive) => ({ name: archive.name, path: archive.location })));
  }

  async listArchives(prefix: string): Promise<StoredArchive[]> {
    const names = await readdir(this.folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new Error(`the backup folder ${this.folder} does not exist`);
      throw error;
    });
    const archives: StoredArchive[] = [];
    for (const name of names) {
      if (!isArchiveFileName(name) || !hasPrefix(name, prefix)) continue;
      const stats = await lstatIfPresent(this.finalLocation(name));
      if (stats?.isFile()) archives.push({ name, bytes: stats.size });
    }
    return archives;
  }

  async fetch(name: string) {
    return { path: this.finalLocation(name), discard: async () => {} };
  }

  async readHead(name: string, bytes: number): Promise<Buffer> {
    const file = await open(this.finalLocation(name), 'r');
    try {
      const head = Buffer.alloc(bytes);
      const { bytesRead } = await file.read(head, 0, bytes, 0);
      return head.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  async verification(archive: StoredArchive): Promise<ArchiveVerification> {
    const record = (await readVerifiedState(this.folder))[archive.name];
    if (!recordApplies(record, archive.bytes)) return { state: 'never', detail: 'never verified' };
    return { state: record.ok ? 'ok' : 'failed', detail: `${record.ok ? 'verified' : 'verification failed'} ${formatAge(new Date(record.verifiedAt))}` };
  }
}

class S3Prefix implements ArchiveDestination {
  constructor(
    private readonly store: S3Store,
    private readonly storeName: string,
    /** Empty, or ending in `/`. */
    private readonly prefix: string,
  ) {}

  get description(): string {
    return `s3://${this.store.bucket}/${this.prefix} (store '${this.storeName}')`;
  }

  finalLocation(name: string): string {
    return `s3://${this.store.bucket}/${this.prefix}${name}`;
  }

  lockStore(signal: AbortSignal): LockStore {
    return s3PrefixLockStore(this.store, this.prefix, this.description, signal);
  }

  async staging(name: string): Promise<FileStaging> {
    const folder = await mkdtemp(path.join(tmpdir(), 'lifeboat-faces-'));
    return { path: path.join(folder, name), writableBeforeBegin: true, begin: async () => {}, discard: () => removeIfPresent(folder) };
  }

  async exists(name: string, signal: AbortSignal): Promise<boolean> {
    return (await this.store.head(`${this.prefix}${name}`, signal)) !== undefined;
  }

  async publish(staging: FileStaging, name: string, verified: { sha256: string; bytes: number }, signal: AbortSignal): Promise<void> {
    const key = `${this.prefix}${name}`;
    if (await this.exists(name, signal)) throw new FileExistsError(this.finalLocation(name));
    const uploaded = await this.store.putFile(key, staging.path, { signal, sha256: true, contentType: 'application/gzip' });
    if (uploaded.sha256 !== verified.sha256 || uploaded.bytes !== verified.bytes) {
      await this.store.delete(key).catch(() => undefined);
      throw new Error(`the upload of ${name} to ${this.description} sent ${uploaded.bytes} bytes with sha256 ${uploaded.sha256}, not the verified ${verified.bytes} bytes with sha256 ${verified.sha256}`);
    }
    const stored = await this.store.head(key, signal);
    if (stored?.size !== verified.bytes) throw new Error(`${this.finalLocation(name)} holds ${stored?.size ?? 'no'} bytes after the upload, not ${verified.bytes}`);
    await this.store.putBytes(sidecarPath(key), formatSidecar(verified.sha256, name), { signal, contentType: 'text/plain' });
  }

  async unpublish(name: string): Promise<void> {
    const key = `${this.prefix}${name}`;
    await this.store.delete(key);
    await this.store.delete(sidecarPath(key));
  }

  async expired(prefix: string, keep: number, newName: string, signal: AbortSignal): Promise<ExpiredArchive[]> {
    const files: StoredArchive[] = [];
    for await (const object of this.store.listObjects({ prefix: this.prefix, signal })) {
      const name = object.key.slice(this.prefix.length);
      if (!name.includes('/')) files.push({ name, bytes: object.size });
    }
    return expiredAmong(files, prefix, keep, newName, (name) => this.finalLocation(name));
  }

  async remove(archives: readonly ExpiredArchive[], signal: AbortSignal): Promise<void> {
    for (const archive of archives) {
      const key = `${this.prefix}${archive.name}`;
      await this.store.delete(key, signal);
      await this.store.delete(sidecarPath(key), signal);
    }
  }

  async listArchives(prefix: string, signal: AbortSignal): Promise<StoredArchive[]> {
    const archives: StoredArchive[] = [];
    for await (const object of this.store.listObjects({ prefix: this.prefix, signal })) {
      const name = object.key.slice(this.prefix.length);
      if (!name.includes('/') && isArchiveFileName(name) && hasPrefix(name, prefix)) archives.push({ name, bytes: object.size });
    }
    return archives;
  }

  async fetch(name: string, signal: AbortSignal) {
    const folder = await mkdtemp(path.join(tmpdir(), 'lifeboat-faces-'));
    const local = path.join(folder, name);
    try {
      const key = `${this.prefix}${name}`;
      await this.store.downloadFile(key, local, { signal });
      if (await this.store.head(sidecarPath(key), signal)) await this.store.downloadFile(sidecarPath(key), sidecarPath(local), { signal });
    } catch (error) {
      await removeIfPresent(folder);
      throw error;
    }
    return { path: local, discard: () => removeIfPresent(folder) };
  }

  async readHead(name: string, bytes: number, signal: AbortSignal): Promise<Buffer> {
    const { body } = await this.store.getStream(`${this.prefix}${name}`, { signal, range: `bytes=0-${bytes - 1}` });
    return buffer(body);
  }

  async verification(archive: StoredArchive, signal: AbortSignal): Promise<ArchiveVerification> {
    return (await this.store.head(sidecarPath(`${this.prefix}${archive.name}`), signal)) ? UPLOAD_CHECKED : NO_CHECKSUM;
  }
}

/**
 * The check and publication of an upload, started as soon as the host is connected (a command takes
 * a while to start on a host: the user's shell reads its start-up files) and waiting on its input.
 * It answers `armed` once it would remove the temporary file on any end; only then does the upload
 * create that file, over SFTP. Its first line of input, `<bytes> <sha256>`, comes
 * once the archive was verified here: the upload's count and sha256 are checked against it; then the
 * checked upload takes its final name by a hard link (`ln` fails when the name exists: the archive
 * appears whole under its name, and never over another); then the rest of the input becomes its
 * `.sha256`. An input that ends before that line (a refused plan, a failure or a cancel here)
 * publishes nothing, and a dropped connection ends it as its end does: the command then removes the
 * temporary file itself, as nobody may be connected to do it. `$1` temporary name, `$2` final name,
 * `$3` path of the `.sha256`, `$4` its temporary path.
 */
const PUBLISH_SCRIPT = `trap 'rm -f -- "$1"' EXIT
trap 'exit 143' HUP INT TERM
echo armed
read -r bytes sum || exit 1
size=$(wc -c < "$1") && [ "$size" -eq "$bytes" ] || { echo "the host received $size of $bytes bytes" >&2; exit 1; }
got=$(sha256sum < "$1") && got=\${got%% *} && [ "$got" = "$sum" ] || { echo "the uploaded copy has sha256 $got, not the verified $sum" >&2; exit 1; }
ln -- "$1" "$2" && cat > "$4" && mv -f -- "$4" "$3"`;

/** Resolves once `output` has said `line`; fails when it ends first. */
function firstLine(output: PassThrough, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    output.setEncoding('utf8');
    output.on('data', (text: string) => {
      seen += text;
      if (seen.split('\n').includes(line)) resolve();
    });
    output.on('end', () => reject(new Error(`the command on the host ended before it said '${line}'`)));
  });
}

/** What a failed remote command said, else how it ended. */
function howItEnded(result: ExecResult): string {
  return result.stderrTail.trim() || (result.exitSignal ? `killed by ${result.exitSignal}` : `exit code ${result.exitCode ?? 'unknown'}`);
}

/** An upload under way to a host, and the command waiting to check and publish it. */
interface HostUpload {
  /** Settles once the host has every byte, or the upload failed. */
  uploading: Promise<void>;
  publishing: Promise<ExecResult>;
  /** The publishing command's input: the verified size and sha256, then the `.sha256`. */
  verdict: PassThrough;
}

/**
 * Archive bytes kept here while the host's command waits for the run to begin: an archive up to this
 * size can be written whole before then, a larger one waits for the host.
 */
const AHEAD_OF_HOST_BYTES = 16 * 1024 * 1024;

/** An archive streaming to a host, and the upload that takes it there. */
interface HostStaging extends StreamStaging {
  upload: HostUpload;
}

/**
 * A folder on an SSH host: archives stream up over SFTP while they are written, and are checked there
 * with `sha256sum` before they get their final name. Listings and deletions are SFTP requests too:
 * unlike a command, they start no shell on the host (whose start-up files may take a while).
 */
class SshFolder extends HostFolder implements ArchiveDestination {
  private listing: Promise<StoredArchive[]> | undefined;

  constructor(
    /** Its failure is the failure of whatever needs the host first. */
    private readonly connection: Promise<SshConnection>,
    hostName: string,
    folder: string,
  ) {
    super(hostName, folder);
  }

  private sftp(): Promise<SftpSession> {
    return this.connection.then((connection) => connection.sftp());
  }

  lockStore(): LockStore {
    return hostFolderLockStore(() => this.sftp(), this.folder, this.description);
  }

  /**
   * The archive streamed to a temporary name on the host as it is written: by the time it is checked
   * here, it is on the host, and the command that publishes it is already running.
   */
  async staging(name: string, signal: AbortSignal): Promise<HostStaging> {
    const partial = path.posix.join(this.folder, path.posix.basename(temporarySibling(name)));
    const sidecar = sidecarPath(this.remotePath(name));
    const toHost = new PassThrough({ highWaterMark: AHEAD_OF_HOST_BYTES });
    // The archive's writer sees the upload's own failure (a dropped connection, a full disk), not the end of a stream.
    const stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => (toHost.write(chunk) ? callback() : toHost.once('drain', () => callback())),
      final: (callback) => toHost.end(callback),
    });
    const verdict = new PassThrough();
    const answers = new PassThrough();
    const armed = firstLine(answers, 'armed');
    armed.catch(() => undefined);
    const failed = (cause: string) => new Error(`the upload of ${name} to ${this.description} broke off or was refused: ${cause}`);
    let begun = false;
    let discarded = false;
    let file: Writable | undefined;
    let markBegun = () => {};
    const begins = new Promise<void>((resolve) => (markBegun = resolve));
    const upload: HostUpload = {
      verdict,
      publishing: this.connection.then((connection) => connection.exec(['sh', '-c', PUBLISH_SCRIPT, 'sh', partial, this.remotePath(name), sidecar, `${sidecar}.tmp`], { stdin: verdict, stdout: answers, signal })),
      uploading: begins
        .then(() => Promise.all([this.sftp(), armed]))
        .then(async ([sftp]) => {
          await makeRemoteFolders(sftp, this.folder);
          // Discarded meanwhile: the publisher may already have given up, and must find no file after.
          if (discarded) throw new Error('the backup stopped before the upload began');
          file = sftp.createFile(partial);
          return pipeline(toHost, file, { signal });
        })
        .catch((error: unknown) => {
          throw signal.aborted ? error : failed(errorMessage(error));
        }),
    };
    upload.publishing.catch(() => undefined);
    // The writer of the archive listens for the stream's error; once it is gone, a late one must not end the process.
    stream.on('error', () => undefined);
    // The host no longer receiving fails the writing of the archive at once.
    upload.uploading.catch((error: unknown) => stream.destroy(error as Error));
    const discard = async () => {
      discarded = true;
      if (file) {
        if (!stream.writableFinished) toHost.destroy();
        // Closed before the publisher gives up and removes it, so no write of it lands after.
        await upload.uploading.catch(() => undefined);
        if (!file.closed) await once(file, 'close');
      }
      verdict.end();
      const publisher = await upload.publishing.catch(() => undefined);
      if (begun && publisher?.exitCode !== 0) await this.sftp().then((sftp) => removeRemoteFile(sftp, partial)).catch(() => undefined);
    };
    const begin = async () => {
      begun = true;
      markBegun();
    };
    return { stream, upload, writableBeforeBegin: true, begin, discard };
  }

  /** Regular files in the folder with their sizes; none when the folder does not exist. Calls at the same time share one listing. */
  private files(signal: AbortSignal): Promise<StoredArchive[]> {
    this.listing ??= this.list(signal).finally(() => (this.listing = undefined));
    return this.listing;
  }

  private async list(signal: AbortSignal): Promise<StoredArchive[]> {
    const sftp = await this.sftp();
    throwIfAborted(signal);
    const entries = await sftp.readdir(this.folder).catch((error: unknown) => {
      if (error instanceof SftpError && error.noSuchFile) return [];
      throw error;
    });
    return entries.filter((entry) => entry.isFile).map((entry) => ({ name: entry.name, bytes: entry.size }));
  }

  async exists(name: string, signal: AbortSignal): Promise<boolean> {
    return (await this.files(signal)).some((file) => file.name === name);
  }

  async publish({ upload }: HostStaging, name: string, verified: { sha256: string; bytes: number }, signal: AbortSignal): Promise<void> {
    await upload.uploading;
    throwIfAborted(signal);
    upload.verdict.end(`${verified.bytes} ${verified.sha256}\n${formatSidecar(verified.sha256, name)}`);
    const published = await upload.publishing;
    if (published.exitCode !== 0) throw new Error(`${name} could not be checked and published on ${this.description}: ${howItEnded(published)}`);
  }

  async unpublish(name: string): Promise<void> {
    const sftp = await this.sftp();
    await Promise.all([removeRemoteFile(sftp, this.remotePath(name)), removeRemoteFile(sftp, sidecarPath(this.remotePath(name)))]);
  }

  async expired(prefix: string, keep: number, newName: string, signal: AbortSignal): Promise<ExpiredArchive[]> {
    return expiredAmong(await this.files(signal), prefix, keep, newName, (name) => this.finalLocation(name));
  }

  async remove(archives: readonly ExpiredArchive[], signal: AbortSignal): Promise<void> {
    if (archives.length === 0) return;
    const sftp = await this.sftp();
    throwIfAborted(signal);
    await Promise.all(archives.flatMap((archive) => [this.remotePath(archive.name), sidecarPath(this.remotePath(archive.name))]).map((file) => removeRemoteFile(sftp, file)));
  }

  async listArchives(prefix: string, signal: AbortSignal): Promise<StoredArchive[]> {
    return (await this.files(signal)).filter((file) => isArchiveFileName(file.name) && hasPrefix(file.name, prefix));
  }

  async fetch(name: string, signal: AbortSignal) {
    const folder = await mkdtemp(path.join(tmpdir(), 'lifeboat-faces-'));
    const local = path.join(folder, name);
    try {
      const sftp = await this.sftp();
      await sftp.download(this.remotePath(name), local);
      if (await this.exists(`${name}.sha256`, signal)) await sftp.download(sidecarPath(this.remotePath(name)), sidecarPath(local));
    } catch (error) {
      await removeIfPresent(folder);
      throw error;
    }
    return { path: local, discard: () => removeIfPresent(folder) };
  }

  async readHead(name: string, bytes: number, signal: AbortSignal): Promise<Buffer> {
    const stdout = new PassThrough();
    const head = buffer(stdout);
    await (await this.connection).run(['head', '-c', String(bytes), this.remotePath(name)], { signal, stdout });
    return head;
  }

  async verification(archive: StoredArchive, signal: AbortSignal): Promise<ArchiveVerification> {
    return (await this.exists(`${archive.name}.sha256`, signal)) ? UPLOAD_CHECKED : NO_CHECKSUM;
  }
}

/**
 * A local folder (given in the field `folderField`) or a location of the inventory (`location`);
 * exactly one of the two is given.
 */
export async function openArchiveLocation(
  where: { folder: string | undefined; folderField: string; location: string | undefined },
  ctx: ActionContext,
): Promise<{ destination: ArchiveDestination; keep: number | undefined }> {
  if ((where.folder === undefined) === (where.location === undefined)) {
    throw new Error(`give either \`${where.folderField}\` (a folder) or \`location\` (a location of lifeboat.yaml), not both or neither`);
  }
  if (where.folder !== undefined) return { destination: new LocalFolder(resolveUserPath(where.folder, ctx.workspaceDir)), keep: undefined };
  const name = where.location as string;
  const entry = ctx.inventory.locations?.[name];
  if (!entry) throw new Error(`no location '${name}' under \`locations:\` in lifeboat.yaml`);
  if ('store' in entry) {
    const store = await s3StoreFor(ctx, entry.store);
    const prefix = entry.prefix === '' || entry.prefix.endsWith('/') ? entry.prefix : `${entry.prefix}/`;
    return { destination: new S3Prefix(store, entry.store, prefix), keep: entry.keep };
  }
  if ('host' in entry) {
    // Not waited for here: an archive can be staged on this machine while the connection is made.
    const connection = sshConnectionFor(ctx.clients, ctx.inventory, entry.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
    connection.catch(() => undefined);
    return { destination: new SshFolder(connection, entry.host, entry.path), keep: entry.keep };
  }
  return { destination: new LocalFolder(resolveUserPath(entry.path, ctx.workspaceDir)), keep: entry.keep };
}
