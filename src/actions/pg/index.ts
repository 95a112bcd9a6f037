import type { ActionSpec } from '../../core/actions/spec';
import { pgDump } from './dump';
import { pgRestore } from './restore';

export const pgActions: readonly ActionSpec[] = [pgDump, pgRestore];
