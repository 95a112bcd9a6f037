/**
 * The transfer for hosts without rsync: both folders listed with find, the changed entries streamed
 * as a tar archive from the source through this machine into a staging folder inside the
 * destination, and only once that archive is whole, hard-linked into place (`cp -al`): a file under
 * its final name is always complete. Modes and modification times travel in the archive.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, Transform } from 'node:stream';
import type { Endpoint } from './endpoint';
import { describeEndpoint } from './endpoint';
import type { SyncChange } from './itemize';
import { throwIfAborted } from '../../core/errors';
import { describeFailures, OtherSideEnded, settle } from './sessionOutcome';
import { listHostFolder, nulList, removeFromFolder, sameEntry, STAGING_PREFIX, type RemoteEntry } from './remoteListing';

export interface TarPlan {
  changes: SyncChange[];
  /** Entries the archive carries: changed files and every folder (so folder modes and times are set). */
  send: RemoteEntry[];
  /** Top-most extraneous entries at the destination, deleted when asked. */
  remove: string[];
}

function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join('/'));
}

/** What a tar transfer would change, from listings of both folders (a missing destination is empty). */
export async function planTarTransfer(source: Endpoint, destination: Endpoint, options: { delete: boolean; files?: readonly string[]; signal: AbortSignal }): Promise<TarPlan> {
  const [sourceEntries, destinationEntries] = await Promise.all([
    listHostFolder(source.connection, source.host, source.path, options.signal),
    listHostFolder(destination.connection, destination.host, destination.path, options.signal),
  ]);
  if (!sourceEntries) throw new Error(`${describeEndpoint(source)} does not exist or is not a folder`);
  const wanted = options.files ? new Set(options.files) : undefined;
  const selected = wanted ? sourceEntries.filter((entry) => entry.type === 'd' || wanted.has(entry.path)) : sourceEntries;
  const there = new Map((destinationEntries ?? []).map((entry) => [entry.path, entry]));
  const changes: SyncChange[] = [];
  const send: RemoteEntry[] = [];
  const neededFolders = new Set<string>();
  for (const entry of selected.filter((candidate) => candidate.type !== 'd')) {
    const existing = there.get(entry.path);
    if (existing && sameEntry(existing, entry)) continue;
    send.push(entry);
    for (const parent of parentsOf(entry.path)) neededFolders.add(parent);
    const kind = !existing ? 'create' : existing.size === entry.size && existing.mtimeSeconds === entry.mtimeSeconds ? 'attributes' : 'update';
    changes.push({ kind, path: entry.path, isDirectory: false, bytes: entry.size });
  }
  for (const folder of selected.filter((candidate) => candidate.type === 'd')) {
    const existing = there.get(folder.path);
    const changed = !existing || !sameEntry(existing, folder);
    if (changed && !wanted) changes.push({ kind: existing ? 'attributes' : 'create', path: folder.path, isDirectory: true, bytes: 0 });
    if (changed || neededFolders.has(folder.path)) send.push(folder);
  }
  const sourcePaths = new Set(sourceEntries.map((entry) => entry.path));
  const extraneous = options.delete && !wanted ? (destinationEntries ?? []).filter((entry) => !sourcePaths.has(entry.path)) : [];
  const extraneousPaths = new Set(extraneous.map((entry) => entry.path));
  const remove = extraneous.filter((entry) => !parentsOf(entry.path).some((parent) => extraneousPaths.has(parent))).map((entry) => entry.path);
  for (const entry of extraneous) changes.push({ kind: 'delete', path: entry.path, isDirectory: entry.type === 'd', bytes: 0 });
  // Folders first, then by name: the order rsync reports in, near enough for a person reading it.
  changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { changes, send, remove };
}

/** Passes bytes on at no more than `bytesPerSecond`. */
function throttle(bytesPerSecond: number): Transform {
  let nextAt = Date.now();
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const now = Date.now();
      const startAt = Math.max(nextAt, now);
      nextAt = startAt + (chunk.length / bytesPerSecond) * 1000;
      setTimeout(() => done(null, chunk), startAt - now);
    },
  });
}

/** Carries out a planned tar transfer; optionally removes the sent files from the source afterwards. */
export async function runTarTransfer(source: Endpoint, destination: Endpoint, plan: TarPlan, options: { bandwidthKiBps?: number; removeSourceFiles?: boolean; signal: AbortSignal }): Promise<void> {
  const { signal } = options;
  const where = `sync of ${describeEndpoint(source)} to ${describeEndpoint(destination)}`;
  if (plan.send.length > 0) {
    const staging = `${destination.path === '/' ? '' : destination.path}/${STAGING_PREFIX}${randomBytes(6).toString('hex')}`;
    await destination.connection.run(['mkdir', '-p', '--', destination.path], { signal });
    await destination.connection.run(['mkdir', '--', staging], { signal });
    let placed = false;
    try {
      const stream = new PassThrough();
      const carried = options.bandwidthKiBps ? stream.pipe(throttle(options.bandwidthKiBps * 1024)) : stream;
      // --ignore-zeros: tar reads its input to the end, so the session never closes on bytes still under way.
      const receiving = settle(destination.connection.execBulk(['tar', '-C', staging, '--ignore-zeros', '-xpf', '-'], { stdin: carried, signal }));
      // A destination gone before the archive ends must stop the source's tar, which would wait on it forever.
      void receiving.then((outcome) => {
        if ('error' in outcome || outcome.result.exitCode !== 0) stream.destroy(new OtherSideEnded(`${destination.host} stopped receiving`));
      });
      const sending = settle(source.connection.execBulk(['tar', '-C', source.path, '--null', '--verbatim-files-from', '--no-recursion', '-T', '-', '-cf', '-'], { stdin: nulList(plan.send.map((entry) => entry.path)), stdout: stream, signal }));
      const [sent, received] = await Promise.all([sending, receiving]);
      throwIfAborted(signal);
      const said = (outcome: typeof sent) => ('result' in outcome ? outcome.result.stderrTail : '');
      const problems = describeFailures([
        { host: destination.host, program: 'tar', outcome: received, said: said(received) },
        { host: source.host, program: 'tar', outcome: sent, said: said(sent) },
      ]);
      if (problems.length > 0) throw new Error(`${where} failed: ${problems.join('\n')}`);
      await destination.connection.run(['cp', '-a', '-l', '--remove-destination', '--', `${staging}/.`, `${destination.path}/`], { signal });
      placed = true;
    } finally {
      // After a lost connection this may fail too: the staging folder then stays, never under a final name.
      await destination.connection.exec(['rm', '-rf', '--', staging]).catch(() => undefined);
      if (!placed) throwIfAborted(signal);
    }
  }
  if (plan.remove.length > 0) {
    await removeFromFolder(destination, plan.remove, { recursive: true, signal });
  }
  if (options.removeSourceFiles) {
    const files = plan.send.filter((entry) => entry.type !== 'd');
    const arrived = await listHostFolder(destination.connection, destination.host, destination.path, signal);
    const there = new Map((arrived ?? []).map((entry) => [entry.path, entry]));
    const missing = files.filter((entry) => !sameEntry(there.get(entry.path) ?? { ...entry, type: 'missing' }, entry));
    if (missing.length > 0) throw new Error(`${where}: ${missing.length} file(s) did not arrive intact (first: ${missing[0]?.path}); the source keeps them`);
    await removeFromFolder(source, files.map((entry) => entry.path), { recursive: false, signal });
  }
}
