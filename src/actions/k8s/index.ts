import type { ActionSpec } from '../../core/actions/spec';
import { k8sVerify } from './verify';

export const k8sActions: readonly ActionSpec[] = [k8sVerify];
