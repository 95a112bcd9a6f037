import assert from 'node:assert/strict';
import { frigateActions } from '../../src/actions/frigate';
import type { ActionContext, ActionSpec } from '../../src/core/actions/spec';

/** A Frigate action by id, as the registry holds it. */
export function frigateAction(id: string): ActionSpec {
  const found = frigateActions.find((candidate) => candidate.id === id);
  assert.ok(found, `action ${id} is registered`);
  return found;
}

/** Validates raw parameters through the action's schema, as the runner does, runs it, then closes the connections it opened. */
export async function runFrigateAction<Result>(id: string, params: Record<string, unknown>, ctx: ActionContext): Promise<Result> {
  const spec = frigateAction(id);
  try {
    return (await spec.run(spec.params.parse(params), ctx)) as Result;
  } finally {
    await ctx.clients.disposeAll();
  }
}
