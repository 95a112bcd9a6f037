import type { ActionSpec } from '../../core/actions/spec';
import { backrestPlans } from './plans';

export const backrestActions: ActionSpec[] = [backrestPlans];

export { backrestBrowser, BACKREST_PLAN_CHECK_RUNBOOK } from './browser';
