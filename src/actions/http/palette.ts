import type { PaletteCommand } from '../../core/browse/palette';

/** Check Endpoints: every endpoint of lifeboat.yaml, as the monitoring table lists them. Free of the action's module. */
export const httpPaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.checkEndpoints',
    title: 'Check Endpoints',
    action: 'http.check',
    steps: [],
    conclude(result) {
      const { healthy } = result as { healthy: number };
      return { message: `Check Endpoints: all ${healthy} healthy.`, warning: false };
    },
  },
];
