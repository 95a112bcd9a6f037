import { builtinActions } from '../../src/actions';
import { silentLogger, environmentSecrets } from '../../src/core/actions/context';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { Inventory } from '../../src/core/actions/spec';
import type { Problem } from '../../src/core/errors';
import { Redactor } from '../../src/core/redact';
import { parseRunbook } from '../../src/core/runbook/parse';
import { resolveParams } from '../../src/core/runbook/params';
import { RunSession, type RunStatus, type StepReport } from '../../src/core/runner/session';
import { checkRunbook } from '../../src/core/runner/validate';

const registry = new ActionRegistry(builtinActions);

export interface InProcessRun {
  /** What `lifeboat check` reports; the run does not start when there are any. */
  problems: Problem[];
  status?: RunStatus;
  reports: StepReport[];
}

/** Checks and runs a runbook the way `lifeboat run --yes` does, in this process, with the shipped actions. */
export async function runRunbookInProcess(markdown: string, options: { workspaceDir: string; params?: Record<string, string>; inventory?: Inventory }): Promise<InProcessRun> {
  const document = parseRunbook(markdown);
  const supplied = options.params ?? {};
  const { steps, definitions, problems } = checkRunbook(document, { file: 'test.runbook.md', registry, params: supplied });
  if (problems.length > 0) return { problems, reports: [] };
  const session = new RunSession({
    registry,
    runbook: 'test.runbook.md',
    workspaceDir: options.workspaceDir,
    definitions,
    params: resolveParams(definitions, supplied).values,
    secrets: environmentSecrets({}),
    inventory: options.inventory ?? {},
    redactor: new Redactor(),
    confirm: async () => true,
    observe: () => ({ progress: { report() {} }, output: { write() {} }, log: silentLogger }),
  });
  const { status, reports } = await session.runAll(steps, { signal: new AbortController().signal });
  return { problems: [], status, reports };
}
