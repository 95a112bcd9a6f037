import type { ActionSpec } from '../../core/actions/spec';
import { fluxResume, fluxSuspend } from './change';
import { fluxReconcile } from './reconcile';
import { fluxStatus } from './status';

export const fluxActions: readonly ActionSpec[] = [fluxStatus, fluxSuspend, fluxResume, fluxReconcile];
