import type { ActionSpec } from '../../core/actions/spec';
import { syncPush } from './push';

export const syncActions: readonly ActionSpec[] = [syncPush];
