import type { ActionSpec } from '../../core/actions/spec';
import { resticBackup } from './backup';
import { resticCheck, resticDiff } from './check';
import { resticForget, resticPrune } from './forget';
import { resticLs, resticSnapshots } from './inspect';
import { resticRestore } from './restore';

export const resticActions: ActionSpec[] = [resticSnapshots, resticLs, resticBackup, resticRestore, resticDiff, resticForget, resticPrune, resticCheck];

export { resticBrowser, RESTIC_RESTORE_RUNBOOK } from './browser';
