import type { ActionSpec } from '../../core/actions/spec';
import { scheduleCronInstall } from './install';
import { scheduleCronStatus } from './status';

export const scheduleActions: ActionSpec[] = [scheduleCronInstall, scheduleCronStatus];
