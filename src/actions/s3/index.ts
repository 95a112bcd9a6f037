import type { ActionSpec } from '../../core/actions/spec';
import { s3Check } from './check';
import { s3LifecycleGet, s3LifecycleRemove, s3LifecycleSet } from './lifecycle';

export { s3Browser } from './browser';

export const s3Actions: ActionSpec[] = [s3Check, s3LifecycleGet, s3LifecycleSet, s3LifecycleRemove];
