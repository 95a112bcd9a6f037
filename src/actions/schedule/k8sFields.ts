import * as z from 'zod';
import { CronExpressionError, parseCronExpression } from '../../core/cron';

/** Parameters `schedule.k8s.install` and `schedule.k8s.status` share. */

/** An object name Kubernetes accepts (a DNS subdomain): Secrets, service accounts. */
export const kubernetesName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'a Kubernetes name: lowercase letters, digits, - and .');

/** A namespace name Kubernetes accepts (a DNS label). */
export const namespaceName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a namespace name: lowercase letters, digits and -, at most 63');

export const namespaceParam = namespaceName
  .default('lifeboat')
  .describe('The namespace of the CronJob or Deployment, its ConfigMap and the Secret.');

/** A CronJob's name: a DNS label of at most 52 characters, as the Jobs it starts add 11 to it. */
export const scheduleNameParam = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/, 'a CronJob name: lowercase letters, digits and -, at most 52');

/** A CronJob's schedule, read as the CronJob controller reads it (robfig/cron's standard parser); its zone is `timeZone`, never in the expression. */
export const cronJobScheduleParam = z
  .string()
  .superRefine((value, ctx) => {
    if (/^\s*(CRON_TZ|TZ)=/.test(value)) return ctx.addIssue({ code: 'custom', message: 'Kubernetes refuses a time zone in the schedule: give it as `timeZone`' });
    try {
      parseCronExpression(value, 'velero');
    } catch (error) {
      if (!(error instanceof CronExpressionError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
    }
  })
  .transform((value) => value.trim());

/** An IANA time zone, as a CronJob's `timeZone` takes it. */
export const timeZoneParam = z.string().refine((value) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return value.trim() !== '' && !/^[+-]/.test(value);
  } catch {
    return false;
  }
}, 'an IANA time zone such as Europe/Berlin or Etc/UTC');
