import type { PaletteCommand } from '../../core/browse/palette';

/**
 * "Check Backrest Plans…": a Backrest installation picked from the Backrest browser's roots, then
 * `backrest.plans` with its snapshots; the verdict names the plans behind their schedule. Kept free
 * of the action's module, like every palette declaration.
 */
export const backrestPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.checkBackrestPlans',
    title: 'Check Backrest Plans',
    action: 'backrest.plans',
    steps: [
      {
        kind: 'node',
        param: 'backrest',
        question: 'which Backrest?',
        under: () => 'backrest',
        accept: (node) => node.kind === 'backrest',
        value: (node) => node.facts.name,
        none: 'lifeboat.yaml needs a Backrest installation under `backrest:`.',
      },
    ],
    conclude(result) {
      const { plans } = result as { plans: { id: string; state: string }[] };
      const behind = plans.filter((plan) => ['stale', 'no snapshot', 'failed', 'unknown'].includes(plan.state));
      if (behind.length === 0) return { message: `Backrest: ${plans.length} plan(s), none behind its schedule.`, warning: false };
      return { message: `Backrest: ${behind.length} of ${plans.length} plan(s) behind: ${behind.map((plan) => `${plan.id} (${plan.state})`).join(', ')}.`, warning: true };
    },
  },
];
