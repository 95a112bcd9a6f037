/**
 * What the simulated API server does to the batch and core objects of kubeSimJobs.ts on a write, as
 * the Kubernetes API reference v1.31 describes it (kubernetes-api.md "Batch"): defaults, validation of
 * the fields Lifeboat writes, a Secret's `stringData` folded into `data`, a replace as a merge patch.
 */
import { StatusError } from './kubeSimObjects';

type Json = Record<string, unknown>;

/** The object as the API server stores it: metadata completed, a Secret's `stringData` folded into base64 `data`. */
export function asStored(object: Json, namespace: string, metadata: Json): Json {
  const { stringData, ...rest } = object;
  const stored: Json = { ...rest, metadata: { ...(object.metadata as Json), namespace, ...metadata } };
  if (object.kind === 'Secret') {
    const data = { ...((object.data ?? {}) as Record<string, string>) };
    for (const [key, value] of Object.entries((stringData ?? {}) as Record<string, string>)) data[key] = Buffer.from(value).toString('base64');
    stored.data = data;
    stored.type ??= 'Opaque';
  }
  return stored;
}

export function checkedCore(plural: string, body: unknown): Json {
  const kind = plural === 'secrets' ? 'Secret' : 'ConfigMap';
  const object = body as Json | null;
  if (!object || object.apiVersion !== 'v1' || object.kind !== kind) throw new StatusError(400, 'BadRequest', `the body must be a ${kind} of v1`);
  const name = (object.metadata as Json | undefined)?.name;
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new StatusError(422, 'Invalid', `${kind} "${String(name)}" is invalid: metadata.name: Invalid value`);
  for (const key of Object.keys({ ...((object.data ?? {}) as Json), ...((object.stringData ?? {}) as Json) })) {
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) throw new StatusError(422, 'Invalid', `${kind} "${name}" is invalid: data[${key}]: Invalid value: "${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`);
  }
  return object;
}

/** The text of each key: a ConfigMap's `data` as it is, a Secret's base64 `data` decoded. */
export function dataOf(object: Json): Record<string, string> {
  const data = (object.data ?? {}) as Record<string, string>;
  return object.kind === 'Secret' ? Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')])) : data;
}

/** The API server's defaults for a CronJob (batch/v1 CronJobSpec), and its validation of the fields Lifeboat writes. */
export function withCronJobDefaults(body: unknown): Json {
  const object = structuredClone(body) as Json & { spec?: Json };
  const spec = (object.spec ??= {});
  if (typeof spec.schedule !== 'string' || spec.schedule.trim() === '') throw new StatusError(422, 'Invalid', 'CronJob.batch is invalid: spec.schedule: Required value');
  if (/^\s*(CRON_TZ|TZ)=/.test(spec.schedule)) throw new StatusError(422, 'Invalid', `CronJob.batch is invalid: spec.schedule: Invalid value: "${spec.schedule}": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`);
  spec.concurrencyPolicy ??= 'Allow';
  if (!['Allow', 'Forbid', 'Replace'].includes(String(spec.concurrencyPolicy))) throw new StatusError(422, 'Invalid', `CronJob.batch is invalid: spec.concurrencyPolicy: Unsupported value: "${String(spec.concurrencyPolicy)}"`);
  spec.suspend ??= false;
  spec.successfulJobsHistoryLimit ??= 3;
  spec.failedJobsHistoryLimit ??= 1;
  const jobTemplate = ((spec.jobTemplate ??= {}) as Json);
  jobTemplate.spec = (withJobDefaults({ spec: jobTemplate.spec ?? {} }) as Json).spec;
  return object;
}

/** The API server's defaults for a Job (batch/v1 JobSpec); its pod template must not restart Always. */
export function withJobDefaults(body: unknown): Json {
  const object = structuredClone(body) as Json & { spec?: Json };
  const spec = (object.spec ??= {});
  spec.backoffLimit ??= 6;
  spec.completions ??= 1;
  spec.parallelism ??= 1;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  const podSpec = (((spec.template ?? {}) as Json).spec ?? {}) as Json;
  if (!['Never', 'OnFailure'].includes(String(podSpec.restartPolicy))) {
    throw new StatusError(422, 'Invalid', `Job.batch is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`);
  }
  return object;
}

export function pick(object: Json, keys: readonly string[]): Json {
  return Object.fromEntries(keys.filter((key) => object[key] !== undefined).map((key) => [key, object[key]]));
}

/** The merge patch (RFC 7386) that turns `current` into `desired`: what `desired` leaves out is set to null. */
export function replacing(current: Json, desired: Json): Json {
  const patch: Json = {};
  for (const key of Object.keys(current)) if (!(key in desired)) patch[key] = null;
  for (const [key, value] of Object.entries(desired)) {
    const before = current[key];
    const bothObjects = value && before && typeof value === 'object' && typeof before === 'object' && !Array.isArray(value) && !Array.isArray(before);
    patch[key] = bothObjects ? replacing(before as Json, value as Json) : value;
  }
  return patch;
}
