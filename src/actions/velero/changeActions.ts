import type { ActionSpec } from '../../core/actions/spec';
import { veleroBackupDelete } from './delete';
import { veleroRestoreCreate } from './restore';
import { veleroRestoresList } from './restores';
import { veleroScheduleAdd } from './scheduleAdd';

/** The Velero actions that change what a cluster holds or will hold: restores, deletions, schedules. */
export const veleroChangeActions: readonly ActionSpec[] = [veleroBackupDelete, veleroRestoreCreate, veleroRestoresList, veleroScheduleAdd];
