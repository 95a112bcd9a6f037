import type { ActionSpec } from '../../core/actions/spec';
import { rcloneCheck } from './check';
import { rcloneCopy } from './copy';
import { rcloneList } from './list';

export const rcloneActions: ActionSpec[] = [rcloneCopy, rcloneList, rcloneCheck];

export { rcloneBrowser } from './browser';
