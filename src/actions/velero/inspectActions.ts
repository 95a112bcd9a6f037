import type { ActionSpec } from '../../core/actions/spec';
import { veleroBackupsList } from './backups';
import { veleroBackupCreate } from './create';
import { veleroBackupDescribe } from './describe';
import { veleroLocationsCheck } from './locations';
import { veleroBackupLogs } from './logs';
import { veleroSchedulesList } from './schedules';

/** The Velero actions that read a cluster's backups, and the one that makes a backup. */
export const veleroInspectActions: readonly ActionSpec[] = [veleroLocationsCheck, veleroBackupsList, veleroBackupDescribe, veleroBackupLogs, veleroBackupCreate, veleroSchedulesList];
