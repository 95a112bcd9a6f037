import type { ActionSpec } from '../../core/actions/spec';
import { scheduleCliInstall } from './cliInstall';
import { scheduleCronInstall } from './install';
import { scheduleCronStatus } from './status';

export const scheduleActions: ActionSpec[] = [scheduleCronInstall, scheduleCronStatus, scheduleCliInstall];
