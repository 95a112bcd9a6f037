import type { PaletteCommand } from '../core/browse/palette';
import { backrestPaletteCommands } from './backrest/palette';
import { fluxPaletteCommands } from './flux/palette';
import { frigatePaletteCommands } from './frigate/palette';
import { httpPaletteCommands } from './http/palette';
import { pbsPaletteCommands } from './pbs/palette';
import { resticPaletteCommands } from './restic/palette';
import { s3PaletteCommands } from './s3/palette';
import { syncPaletteCommands } from './sync/palette';
import { tierPaletteCommands } from './tier/palette';
import { veleroBackupPaletteCommands } from './velero/palette';
import { veleroRestorePaletteCommands } from './velero/restorePalette';

/**
 * Every backend's palette commands, as declarations. Free of the actions' modules: the editor
 * registers them when it starts, and loads what runs them when one is chosen.
 */
export const builtinPaletteCommands: readonly PaletteCommand[] = [...frigatePaletteCommands, ...veleroBackupPaletteCommands, ...veleroRestorePaletteCommands, ...fluxPaletteCommands, ...httpPaletteCommands, ...resticPaletteCommands, ...backrestPaletteCommands, ...pbsPaletteCommands, ...syncPaletteCommands, ...tierPaletteCommands, ...s3PaletteCommands];
