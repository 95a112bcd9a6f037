import type { ExecResult } from '../../clients/ssh';
import { errorMessage } from '../../core/errors';

/** OpenSSH's exit code for a failed or lost connection. */
const CONNECTION_LOST = 255;

/**
 * How one side of a transfer ended: its result, or the error its session failed with. Both sides are
 * waited for, so the message names the side that failed rather than the first stream that broke.
 */
export type SessionOutcome = ({ result: ExecResult } | { error: unknown }) & {
  /** When it ended (performance.now()): the side that failed first is what broke the transfer. */
  endedAt: number;
};

export function settle(run: Promise<ExecResult>): Promise<SessionOutcome> {
  return run.then(
    (result) => ({ result, endedAt: performance.now() }),
    (error: unknown) => ({ error, endedAt: performance.now() }),
  );
}

/** Stops one side's stream because the other side has ended: a consequence, not a cause. */
export class OtherSideEnded extends Error {}

/** The side's session broke off because a stream it was joined to did: the other side's doing, or the network's. */
function isStreamCut(outcome: SessionOutcome): boolean {
  if (!('error' in outcome)) return false;
  const code = (outcome.error as NodeJS.ErrnoException).code;
  return outcome.error instanceof OtherSideEnded || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE';
}

/**
 * How surely a side's failure is a cause, lowest first: a lost connection is never our reaction to the
 * other side; a program's own failure may be; a cut stream always is. End times order what ties.
 */
function blame(outcome: SessionOutcome): number {
  if (isStreamCut(outcome)) return 2;
  return 'result' in outcome && isConnectionLost(outcome.result) ? 0 : 1;
}

function isConnectionLost(result: ExecResult): boolean {
  return result.exitCode === CONNECTION_LOST || result.exitCode === null;
}

export interface Side {
  host: string;
  program: string;
  outcome: SessionOutcome | undefined;
  /** The last lines the side said on stderr. */
  said: string;
}

/**
 * What went wrong, the side at fault first: when one side goes away the other fails too, and the
 * message must name the host that went away, not the one left waiting for it. The later failures
 * follow only where they say more than a broken stream.
 */
export function describeFailures(sides: readonly Side[]): string[] {
  const failed = sides
    .filter((side): side is Side & { outcome: SessionOutcome } => side.outcome !== undefined && !('result' in side.outcome && side.outcome.result.exitCode === 0))
    .sort((a, b) => blame(a.outcome) - blame(b.outcome) || a.outcome.endedAt - b.outcome.endedAt);
  const [first, ...later] = failed;
  if (!first) return [];
  return [first, ...later.filter((side) => !isStreamCut(side.outcome))].map((side) => describeFailure(side.host, side.program, side.outcome, side.said) as string);
}

/** Why a side failed, in words, with the last lines it said; undefined when it succeeded. */
function describeFailure(host: string, program: string, outcome: SessionOutcome | undefined, said: string): string | undefined {
  if (!outcome || ('result' in outcome && outcome.result.exitCode === 0)) return undefined;
  let how: string;
  if ('error' in outcome) {
    // A stream cut short is the connection going away; any other error says what it is.
    how = isStreamCut(outcome) ? `the connection to ${host} was lost` : `${host}: ${errorMessage(outcome.error)}`;
  } else {
    const { exitCode } = outcome.result;
    how = isConnectionLost(outcome.result) ? `the connection to ${host} was lost` : `${program} on ${host} exited with code ${exitCode}`;
  }
  const tail = said.trim();
  return tail ? `${how}:\n${tail}` : how;
}
