import type { ActionSpec } from '../../core/actions/spec';
import { httpCheck } from './check';

export const httpActions: ActionSpec[] = [httpCheck];

export { endpointsBrowser } from './browser';
