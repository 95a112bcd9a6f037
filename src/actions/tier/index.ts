import type { ActionSpec } from '../../core/actions/spec';
import { tierApply } from './apply';

export const tierActions: readonly ActionSpec[] = [tierApply];
