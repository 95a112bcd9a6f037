import type { ActionSpec } from '../../core/actions/spec';
import { scheduleCliInstall } from './cliInstall';
import { scheduleCronInstall } from './install';
import { scheduleK8sInstall } from './k8sInstall';
import { scheduleK8sStatus } from './k8sStatus';
import { scheduleCronStatus } from './status';

export const scheduleActions: ActionSpec[] = [scheduleCronInstall, scheduleCronStatus, scheduleCliInstall, scheduleK8sInstall, scheduleK8sStatus];
