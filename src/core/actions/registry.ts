import type { ActionSpec } from './spec';

export class ActionRegistry {
  private readonly actions = new Map<string, ActionSpec>();

  constructor(actions: readonly ActionSpec[]) {
    for (const action of actions) {
      if (this.actions.has(action.id)) throw new Error(`action '${action.id}' is registered twice`);
      this.actions.set(action.id, action);
    }
  }

  get(id: string): ActionSpec | undefined {
    return this.actions.get(id);
  }

  list(): ActionSpec[] {
    return [...this.actions.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The closest known ids, for "did you mean" hints. */
  suggest(id: string): string[] {
    const prefix = id.split('.')[0] ?? id;
    return this.list()
      .map((action) => action.id)
      .filter((known) => known.startsWith(prefix) || id.startsWith(known.split('.')[0] ?? known));
  }
}
