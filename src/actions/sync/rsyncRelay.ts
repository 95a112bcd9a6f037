/**
 * rsync between two hosts with this machine in the middle. The rsync client runs on the source host;
 * the "remote shell" it starts there is a small bridge that hands the rsync protocol to this machine
 * over the source's own SSH session, and this machine hands it on to `rsync --server` on the
 * destination over the destination's SSH session. So rsync's delta transfer, its temporary files
 * renamed into place and its itemized changes are rsync's own, while neither host needs a key for
 * the other or a route to it: both connections are Lifeboat's, with host keys verified here.
 */
import { Readable, Writable, PassThrough } from 'node:stream';
import { CancelledError } from '../../core/errors';
import type { Endpoint } from './endpoint';
import { describeEndpoint } from './endpoint';
import { ChangeCollector, OUT_FORMAT, type SyncChange } from './itemize';
import { describeFailures, settle, type SessionOutcome } from './sessionOutcome';

/**
 * The remote shell rsync starts on the source (`-e`). It writes the server command rsync asked for
 * (count, then the arguments, NUL-terminated) to the session's stdout (fd 4), then joins rsync's
 * pipes to the session: what rsync sends goes out on fd 4, what arrives on fd 3 goes to rsync. It ends
 * when the destination's side ends, as `ssh` would. Constant text: no value is ever part of it.
 */
const BRIDGE_RSH = `sh -c 'printf "%s\\0" "$#" "$@" >&4; exec 5<&0; cat <&5 >&4 & exec cat <&3 5<&-' lifeboat-bridge`;
/** Runs rsync with the session's stdin and stdout kept as fds 3 and 4 for the bridge; rsync's own output goes to stderr. */
const SOURCE_SCRIPT = 'exec 3<&0 4>&1 1>&2; exec "$@"';
/**
 * Runs `rsync --server` on the destination. When it is done it closes its output, so the source's
 * rsync sees the end and finishes, and then reads its input to the end before exiting: the SSH
 * session must not close while the source still has bytes on the way to it.
 */
const DESTINATION_SCRIPT = 'rsync "$@"; status=$?; exec >&- 2>&-; cat >/dev/null; exit "$status"';
/** The host name rsync is given for the destination; the bridge ignores it. */
const DESTINATION_PLACEHOLDER = 'lifeboat-destination';
/** What the bridge's announcement of the server command may take, at most. */
const MAX_SERVER_COMMAND_BYTES = 64 * 1024;

export interface RsyncRequest {
  source: Endpoint;
  destination: Endpoint;
  dryRun: boolean;
  /** Delete files at the destination that the source does not have. */
  delete: boolean;
  /** rsync's --bwlimit, in KiB/s. */
  bandwidthKiBps?: number;
  /** Only these files, relative to the source folder (their folders are created as needed). */
  files?: readonly string[];
  /** Remove each source file once the destination has it whole. */
  removeSourceFiles?: boolean;
  signal: AbortSignal;
}

function folderArgument(path: string): string {
  return path === '/' ? '/' : `${path}/`;
}

/** The server command from the bridge's announcement, once it is whole; checked to be rsync's. */
function readServerCommand(announcement: Buffer): { argv: string[]; consumed: number } | undefined {
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    const end = announcement.indexOf(0, at);
    if (end < 0) return undefined;
    fields.push(announcement.subarray(at, end).toString('utf8'));
    at = end + 1;
    const count = Number(fields[0]);
    if (!Number.isInteger(count) || count < 3) throw new Error(`the rsync bridge announced '${fields[0]}' arguments`);
    if (fields.length === count + 1) break;
  }
  // The host placeholder, then `rsync --server` and its options (with -s, names travel in the protocol).
  const [, , program, server, ...options] = fields;
  if (program !== 'rsync' || server !== '--server' || !options.every((option) => option.startsWith('-') || option === '.')) {
    throw new Error(`the source's rsync asked to run \`${fields.slice(2).join(' ')}\`, which is not an rsync server`);
  }
  return { argv: ['sh', '-c', DESTINATION_SCRIPT, 'sh', '--server', ...options], consumed: at };
}

/**
 * Takes the source session's stdout: first the server command (which starts the destination's side),
 * then the protocol bytes, passed on to the destination at its pace.
 */
class SourceOutput extends Writable {
  private announcement = Buffer.alloc(0);
  private started = false;
  private discarding = false;
  private waiting: (() => void) | undefined;

  constructor(
    private readonly toDestination: PassThrough,
    private readonly start: (argv: string[]) => void,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.started) return this.forward(chunk, done);
    this.announcement = Buffer.concat([this.announcement, chunk]);
    let command: ReturnType<typeof readServerCommand>;
    try {
      command = readServerCommand(this.announcement);
    } catch (error) {
      return done(error as Error);
    }
    if (!command) {
      return done(this.announcement.length > MAX_SERVER_COMMAND_BYTES ? new Error('the rsync bridge sent no server command') : null);
    }
    this.started = true;
    this.start(command.argv);
    this.forward(this.announcement.subarray(command.consumed), done);
    this.announcement = Buffer.alloc(0);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.toDestination.end();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.toDestination.end();
    done(error);
  }

  /** The destination's side has ended: what the source still sends has nowhere to go, and must not wait for it. */
  discard(): void {
    this.discarding = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  private forward(bytes: Buffer, done: (error?: Error | null) => void): void {
    if (this.discarding || bytes.length === 0 || this.toDestination.write(bytes)) return done();
    this.waiting = () => done();
    this.toDestination.once('drain', () => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.();
    });
  }
}

function lastLines(lines: readonly string[]): string {
  return lines.slice(-8).join('\n');
}

/** Runs the transfer (or its dry run) and returns the changes rsync made (or would make). */
export async function relayRsync(request: RsyncRequest): Promise<SyncChange[]> {
  const { source, destination, signal } = request;
  const sourceMessages: string[] = [];
  const destinationMessages: string[] = [];
  const collector = new ChangeCollector((line) => sourceMessages.push(line));
  // rsync creates the destination folder but not its parents (before --mkpath, which older servers lack).
  if (!request.dryRun) await destination.connection.run(['mkdir', '-p', '--', destination.path], { signal });
  const listFile = request.files ? await writeFileList(source, request.files, signal) : undefined;
  try {
    const argv = [
      'sh', '-c', SOURCE_SCRIPT, 'sh',
      'rsync', '--archive', '--protect-args', `--rsh=${BRIDGE_RSH}`, `--out-format=${OUT_FORMAT}`,
      ...(request.dryRun ? ['--dry-run'] : []),
      ...(request.delete ? ['--delete'] : []),
      ...(request.bandwidthKiBps ? [`--bwlimit=${request.bandwidthKiBps}`] : []),
      ...(listFile ? ['--from0', `--files-from=${listFile}`] : []),
      ...(request.removeSourceFiles ? ['--remove-source-files'] : []),
      '--', folderArgument(source.path), `${DESTINATION_PLACEHOLDER}:${folderArgument(destination.path)}`,
    ];
    const toDestination = new PassThrough();
    const fromDestination = new PassThrough();
    let destinationRun: Promise<SessionOutcome> | undefined;
    const output = new SourceOutput(toDestination, (serverArgv) => {
      destinationRun = settle(
        destination.connection.execBulk(serverArgv, {
          stdin: toDestination,
          stdout: fromDestination,
          onStderr: (chunk) => destinationMessages.push(...chunk.split('\n').filter((line) => line.trim())),
          signal,
        }),
      );
      // Whatever way the destination's side ends, the source's rsync must see its input end.
      const ended = () => {
        fromDestination.end();
        output.discard();
      };
      void destinationRun.then(ended);
      // The destination closes its output once its rsync is done: what the source still sends then goes nowhere.
      fromDestination.once('end', () => {
        output.discard();
        toDestination.end();
      });
    });
    let sourceOutcome: SessionOutcome;
    try {
      sourceOutcome = await settle(source.connection.execBulk(argv, { stdin: fromDestination, stdout: output, onStderr: (chunk) => collector.write(chunk), signal }));
    } finally {
      fromDestination.end();
      toDestination.end();
    }
    collector.end();
    const destinationOutcome = await destinationRun;
    if (signal.aborted) throw new CancelledError();
    const failures = describeFailures([
      { host: source.host, program: 'rsync', outcome: sourceOutcome, said: lastLines(sourceMessages) },
      { host: destination.host, program: 'rsync', outcome: destinationOutcome, said: lastLines(destinationMessages) },
    ]);
    if (!destinationOutcome && failures.length === 0) failures.push(`rsync on ${source.host} never reached ${destination.host}${sourceMessages.length ? `:\n${lastLines(sourceMessages)}` : ''}`);
    if (failures.length > 0) throw new Error(`sync of ${describeEndpoint(source)} to ${describeEndpoint(destination)} failed: ${failures.join('\n')}`);
    return collector.changes;
  } finally {
    if (listFile) await source.connection.exec(['rm', '-f', '--', listFile]).catch(() => undefined);
  }
}

/** The file list for --files-from, NUL-separated, in a temporary file on the source host. */
async function writeFileList(source: Endpoint, files: readonly string[], signal: AbortSignal): Promise<string> {
  const created = await source.connection.run(['mktemp', '-t', 'lifeboat-files.XXXXXXXXXX'], { signal });
  const path = (created.stdout ?? '').trim();
  if (!path.startsWith('/')) throw new Error(`${source.host}: mktemp printed '${path}', not a path`);
  const list = Buffer.concat(files.map((file) => Buffer.from(`${file}\0`, 'utf8')));
  await source.connection.run(['sh', '-c', 'cat > "$1"', 'sh', path], { stdin: Readable.from([list]), signal });
  return path;
}
