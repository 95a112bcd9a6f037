import assert from 'node:assert/strict';
import { builtinActions } from '../../src/actions';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionContext, ActionPlan } from '../../src/core/actions/spec';

export const registry = new ActionRegistry(builtinActions);

/** An action's plan, its parameters validated as the runner does. */
export async function planAction(id: string, params: Record<string, unknown>, ctx: ActionContext): Promise<ActionPlan> {
  const action = registry.get(id);
  assert.ok(action, id);
  return action.plan(action.params.parse(params), ctx);
}

/** An action's run, its parameters validated as the runner does; its result renders. */
export async function runAction<Result>(id: string, params: Record<string, unknown>, ctx: ActionContext): Promise<Result> {
  const action = registry.get(id);
  assert.ok(action, id);
  const result = (await action.run(action.params.parse(params), ctx)) as Result;
  assert.equal(typeof action.render(result), 'string');
  return result;
}
