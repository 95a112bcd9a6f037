/**
 * Where dumps are kept: a local folder, a folder on an SSH host, or an S3 prefix (a location of
 * lifeboat.yaml, or a local `folder`). A dump streams straight through: into a hidden temporary file
 * that gets its final name only once the dump is complete (on S3, a multipart upload that only
 * exists once completed), and out of the file it is kept in. Nothing is staged on this machine's disk.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as z from 'zod';
import type { S3Store } from '../../clients/s3';
import { sshConnectionFor, type SshConnection } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';
import { FileExistsError, fsyncDirectory, makeFolders, publishWithoutOverwrite, temporarySibling, unlinkIfPresent } from '../../core/atomicFiles';
import { errorMessage } from '../../core/errors';
import { HostFolder, resolveUserPath } from '../paths';
import { s3StoreFor } from '../s3Stores';

/** A cleanup after a failure or cancel gets this long before it is given up (the temporary name stays hidden). */
const CLEANUP_TIMEOUT_MS = 30_000;

/**
 * A dump's file name: one name in the folder, not hidden (hidden names are the temporary files of
 * dumps under way), no control characters (they would garble listings).
 */
export const dumpFileName = z
  .string()
  .min(1)
  // Room for the temporary name's prefix and suffix within the 255 bytes a file name may have.
  .refine((name) => Buffer.byteLength(name) <= 200, 'a file name of at most 200 bytes')
  .refine((name) => !name.includes('/'), 'a file name, without `/`')
  .refine((name) => !name.startsWith('.'), 'names starting with `.` are kept for dumps being written')
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'a file name without control characters');

export const dumpLocationParams = {
  location: z.string().min(1).optional().describe('A location of `locations:` in lifeboat.yaml: a local `path`, a `host` and `path`, or a `store` and `prefix`. Give this, or `folder`.'),
  folder: z.string().min(1).optional().describe('A local folder (relative to the workspace, `~` allowed), instead of `location`.'),
};

export interface DumpLocationFields {
  location?: string | undefined;
  folder?: string | undefined;
}

export function checkLocationChoice(params: DumpLocationFields, issues: z.RefinementCtx): void {
  if ((params.location === undefined) === (params.folder === undefined)) {
    issues.addIssue({ code: 'custom', path: ['location'], message: 'give either `location` (a location of lifeboat.yaml) or `folder` (a local folder), not both or neither' });
  }
}

export interface DumpLocation {
  readonly description: string;
  /** Where a dump of this name is seen: a path, `host:path` or `s3://bucket/key`. */
  finalLocation(name: string): string;
  /** The dump's size, or undefined when there is none of that name. */
  size(name: string, signal: AbortSignal): Promise<number | undefined>;
  /**
   * Streams `input` into a hidden temporary file and gives it its final name when `input` ends
   * (an input that fails or a cancel removes the temporary file and publishes nothing). Fails when
   * the name exists.
   */
  write(name: string, input: Readable, signal: AbortSignal): Promise<void>;
  /**
   * The dump's bytes, streamed into `output` (which is not ended). `head`: the reader stops early
   * (the table of contents), so no bulk transport is worth starting.
   */
  read(name: string, output: Writable, signal: AbortSignal, extent?: 'head' | 'whole'): Promise<void>;
}

class LocalDumpFolder implements DumpLocation {
  constructor(private readonly folder: string) {}

  get description(): string {
    return this.folder;
  }

  finalLocation(name: string): string {
    return path.join(this.folder, name);
  }

  async size(name: string): Promise<number | undefined> {
    const found = await stat(this.finalLocation(name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return found?.isFile() ? found.size : undefined;
  }

  async write(name: string, input: Readable, signal: AbortSignal): Promise<void> {
    const final = this.finalLocation(name);
    if ((await this.size(name)) !== undefined) throw new FileExistsError(final);
    await makeFolders(this.folder);
    const temporary = temporarySibling(final);
    try {
      await pipeline(input, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }), { signal });
      const handle = await open(temporary, 'r');
      await handle.sync().finally(() => handle.close());
      await publishWithoutOverwrite(temporary, final);
      await fsyncDirectory(this.folder);
    } finally {
      await unlinkIfPresent(temporary);
    }
  }

  async read(name: string, output: Writable, signal: AbortSignal): Promise<void> {
    await pipeline(createReadStream(this.finalLocation(name)), output, { signal, end: false });
  }
}

class SshDumpFolder extends HostFolder implements DumpLocation {
  constructor(
    private readonly connection: SshConnection,
    hostName: string,
    folder: string,
  ) {
    super(hostName, folder);
  }

  async size(name: string, signal: AbortSignal): Promise<number | undefined> {
    const result = await this.connection.run(['sh', '-c', '[ -f "$1" ] || exit 0; exec wc -c < "$1"', 'sh', this.remotePath(name)], { signal });
    const text = (result.stdout ?? '').trim();
    return text === '' ? undefined : Number(text);
  }

  /**
   * `cat` into the temporary name through the system ssh (the bulk path), then `ln` to the final
   * name, which fails rather than replace a dump of that name.
   */
  async write(name: string, input: Readable, signal: AbortSignal): Promise<void> {
    const final = this.remotePath(name);
    const temporary = path.posix.join(this.folder, path.basename(temporarySibling(name)));
    let published = false;
    try {
      await this.connection.runBulk(['sh', '-c', 'mkdir -p -- "$1" && exec cat > "$2"', 'sh', this.folder, temporary], { stdin: input, signal });
      signal.throwIfAborted();
      // `ln` onto a folder would put the link inside it: anything of that name is refused first.
      const linked = await this.connection.exec(['sh', '-c', '{ [ -e "$2" ] || [ -L "$2" ]; } && { echo "$2: File exists" >&2; exit 1; }; ln -- "$1" "$2" && rm -f -- "$1"', 'sh', temporary, final], { signal });
      if (linked.exitCode !== 0) {
        if (/exists/i.test(linked.stderrTail)) throw new FileExistsError(this.finalLocation(name));
        throw new Error(`the dump could not be given its name ${this.finalLocation(name)}: ${linked.stderrTail.trim() || `exit code ${linked.exitCode ?? 'unknown'}`}`);
      }
      published = true;
    } finally {
      // Without the cancelled signal: the temporary file goes even when the run was stopped.
      if (!published) await this.connection.run(['rm', '-f', '--', temporary], { timeoutMs: CLEANUP_TIMEOUT_MS }).catch(() => undefined);
    }
  }

  async read(name: string, output: Writable, signal: AbortSignal, extent: 'head' | 'whole' = 'whole'): Promise<void> {
    const command = ['cat', '--', this.remotePath(name)];
    await (extent === 'head' ? this.connection.run(command, { stdout: output, signal }) : this.connection.runBulk(command, { stdout: output, signal }));
  }
}

class S3DumpPrefix implements DumpLocation {
  constructor(
    private readonly store: S3Store,
    private readonly storeName: string,
    private readonly prefix: string,
  ) {}

  get description(): string {
    return `${this.storeName}:${this.prefix}`;
  }

  finalLocation(name: string): string {
    return `s3://${this.store.bucket}/${this.prefix}${name}`;
  }

  async size(name: string, signal: AbortSignal): Promise<number | undefined> {
    return (await this.store.head(this.prefix + name, signal))?.size;
  }

  /** A multipart upload: the object appears only when the upload is completed, and a failed or cancelled one is aborted. */
  async write(name: string, input: Readable, signal: AbortSignal): Promise<void> {
    if ((await this.size(name, signal)) !== undefined) throw new FileExistsError(this.finalLocation(name));
    await this.store.putStream(this.prefix + name, input, { signal, contentType: 'application/octet-stream' });
  }

  async read(name: string, output: Writable, signal: AbortSignal): Promise<void> {
    const { body } = await this.store.getStream(this.prefix + name, { signal });
    await pipeline(body, output, { signal, end: false });
  }
}

/** The location a call names; an error names the field and what is wrong with it. */
export async function openDumpLocation(params: DumpLocationFields, ctx: ActionContext): Promise<DumpLocation> {
  if (params.folder !== undefined) return new LocalDumpFolder(resolveUserPath(params.folder, ctx.workspaceDir));
  const name = params.location ?? '';
  const entry = ctx.inventory.locations?.[name];
  if (!entry) {
    const known = Object.keys(ctx.inventory.locations ?? {});
    throw new Error(`\`location\`: no location '${name}' under \`locations:\` in lifeboat.yaml${known.length > 0 ? `; there are: ${known.join(', ')}` : ''}`);
  }
  if ('store' in entry) {
    const prefix = entry.prefix === '' || entry.prefix.endsWith('/') ? entry.prefix : `${entry.prefix}/`;
    return new S3DumpPrefix(await s3StoreFor(ctx, entry.store), entry.store, prefix);
  }
  if ('host' in entry) {
    if (!path.posix.isAbsolute(entry.path)) throw new Error(`\`locations.${name}.path\` must be an absolute folder on host '${entry.host}', not '${entry.path}'`);
    const connection = await sshConnectionFor(ctx.clients, ctx.inventory, entry.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
    return new SshDumpFolder(connection, entry.host, path.posix.normalize(entry.path));
  }
  return new LocalDumpFolder(resolveUserPath(entry.path, ctx.workspaceDir));
}

/** The size of a dump that must exist, else an error naming the field and the location. */
export async function requireDump(location: DumpLocation, name: string, signal: AbortSignal): Promise<number> {
  const size = await location.size(name, signal).catch((error: unknown) => {
    throw new Error(`cannot look for ${location.finalLocation(name)}: ${errorMessage(error)}`);
  });
  if (size === undefined) throw new Error(`\`file\`: there is no dump ${name} in ${location.description}`);
  return size;
}
