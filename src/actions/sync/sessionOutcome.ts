import type { ExecResult } from '../../clients/ssh';
import { errorMessage } from '../../core/errors';

/** OpenSSH's exit code for a failed or lost connection. */
const CONNECTION_LOST = 255;

/**
 * How one side of a transfer ended: its result, or the error its session failed with. Both sides are
 * waited for, so the message names the side that failed rather than the first stream that broke.
 */
export type SessionOutcome = { result: ExecResult } | { error: unknown };

export function settle(run: Promise<ExecResult>): Promise<SessionOutcome> {
  return run.then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
}

/** Why a side failed, in words, with the last lines it said; undefined when it succeeded. */
export function describeFailure(host: string, program: string, outcome: SessionOutcome | undefined, said: string): string | undefined {
  if (!outcome || ('result' in outcome && outcome.result.exitCode === 0)) return undefined;
  let how: string;
  if ('error' in outcome) {
    // A stream cut short is the connection going away; any other error says what it is.
    const cut = (outcome.error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || (outcome.error as NodeJS.ErrnoException).code === 'EPIPE';
    how = cut ? `the connection to ${host} was lost` : `${host}: ${errorMessage(outcome.error)}`;
  } else {
    const { exitCode } = outcome.result;
    how = exitCode === CONNECTION_LOST || exitCode === null ? `the connection to ${host} was lost` : `${program} on ${host} exited with code ${exitCode}`;
  }
  const tail = said.trim();
  return tail ? `${how}:\n${tail}` : how;
}
