import type { Socket } from 'node:net';

/**
 * Time the process gets to end on its own once the results are printed: closing servers and children
 * takes well under it. The harness's own test shortens it.
 */
const GRACE_MS = Number(process.env.LIFEBOAT_TEST_EXIT_GRACE_MS ?? 30_000);

/**
 * Mocha exits when nothing is left to do. A connection, server, child or timer a test left open keeps
 * the process waiting forever after its results are printed, and the run never ends (`npm test` with
 * it). Once the run has ended, the process gets a grace period; after it, what still holds the process
 * is named and the run fails.
 */
export function failIfTheProcessOutlivesTheRun(): void {
  setTimeout(() => {
    process.stdout.write(`the run ended, but the process was still held ${GRACE_MS / 1000} s later by: ${lingering().join('; ')}\n`);
    // Registered after mocha's own exit listener (which sets the exit code from the failures), so it has the last word.
    process.on('exit', () => {
      process.exitCode = 1;
    });
    process.exit(1);
  }, GRACE_MS).unref();
}

/** The resources keeping the event loop alive, sockets with their addresses (the port shows which test bed service). */
function lingering(): string[] {
  // Not in Node's types: the handles behind getActiveResourcesInfo(), which names only their kinds.
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const sockets = handles.filter((handle): handle is Socket => typeof (handle as Socket).remotePort === 'number');
  const others = process.getActiveResourcesInfo().filter((kind) => kind !== 'TCPSocketWrap' && kind !== 'TTYWrap');
  return [...sockets.map((socket) => `a TCP connection ${socket.localAddress}:${socket.localPort} → ${socket.remoteAddress}:${socket.remotePort}`), ...others];
}
