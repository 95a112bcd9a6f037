import { posix } from 'node:path';
import * as z from 'zod';
import { CronExpressionError, parseCronExpression } from '../../core/cron';

/** Parameters `schedule.cron.install` and `schedule.cron.status` share. */

/**
 * Text that goes into a crontab line. Cron reads a crontab line by line and hands the command to a
 * C string: a line break would start a second line (a second job), a NUL would cut the command.
 */
export const crontabText = z.string().refine((value) => !/[\r\n\0]/.test(value), 'cannot be written in a crontab line: it holds a line break or a NUL byte');

export const scheduleHostParam = z.string().min(1).describe('The SSH host whose crontab runs the schedule: a host of `hosts:` in lifeboat.yaml, or an alias of ~/.ssh/config.');

export const workspaceParam = crontabText
  .refine((value) => posix.isAbsolute(value), 'must be an absolute path on the host')
  .transform((value) => posix.normalize(value).replace(/(.)\/$/, '$1'))
  .describe('The Lifeboat workspace on the host (the folder holding its lifeboat.yaml); run records go to its .lifeboat/runs/.');

export const runbookParam = crontabText
  .min(1)
  .refine((value) => !posix.isAbsolute(value) && !posix.normalize(value).startsWith('..'), 'must be a path inside the workspace, relative to it')
  .transform((value) => posix.normalize(value))
  .describe('The runbook on the host, relative to `workspace`.');

export const logFileParam = crontabText
  .refine((value) => posix.isAbsolute(value), 'must be an absolute path on the host')
  .optional()
  .describe('Where each run appends its output; defaults to .lifeboat/logs/<runbook>.log in the workspace.');

export const cronExpressionParam = z
  .string()
  .superRefine((value, ctx) => {
    try {
      parseCronExpression(value);
    } catch (error) {
      if (!(error instanceof CronExpressionError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
    }
  })
  .transform((value) => value.trim());

/** Where a runbook's scheduled runs write their output unless told otherwise. */
export function defaultLogFile(workspace: string, runbook: string): string {
  const name = runbook.replace(/\.runbook\.md$|\.md$/, '').replaceAll('/', '-');
  return posix.join(workspace, '.lifeboat', 'logs', `${name}.log`);
}
