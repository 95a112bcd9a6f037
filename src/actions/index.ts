import type { ActionSpec } from '../core/actions/spec';
import { archiveActions } from './archive';
import { frigateActions } from './frigate';
import { scheduleActions } from './schedule';
import { shellAction } from './shell';
import { sshRunAction } from './ssh';

/** Every action Lifeboat ships, as the CLI, notebook cells and palette commands see them. */
export const builtinActions: readonly ActionSpec[] = [shellAction, sshRunAction, ...archiveActions, ...frigateActions, ...scheduleActions];
