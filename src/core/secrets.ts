import type { SecretResolver } from './actions/spec';
import { fieldPath, findReferences, InterpolationError } from './runbook/interpolate';
import type { ParamDefinitions } from './runbook/params';

/** What a secret may be called: letters, digits, `_`, `.` and `-`. */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** `secret:NAME`: the value comes from the secret store (VS Code) or the environment / secrets file (CLI). */
export const SECRET_REFERENCE = new RegExp(`^secret:(${SECRET_NAME.source.slice(1, -1)})$`);

/** The secret a string names when it is exactly `secret:NAME`. */
export function secretName(value: unknown): string | undefined {
  return typeof value === 'string' ? SECRET_REFERENCE.exec(value)?.[1] : undefined;
}

/**
 * Replaces every `secret:NAME` string in step parameters (at any depth) by the secret's value. The
 * resolver registers each value with the redactor, so it is masked wherever it would be shown.
 */
export async function resolveSecretReferences(value: unknown, secrets: SecretResolver, field = ''): Promise<unknown> {
  const name = secretName(value);
  if (name !== undefined) {
    try {
      return await secrets.resolve(name);
    } catch (error) {
      throw new InterpolationError(field, (error as Error).message);
    }
  }
  if (Array.isArray(value)) return Promise.all(value.map((item, index) => resolveSecretReferences(item, secrets, fieldPath(field, String(index)))));
  if (value !== null && typeof value === 'object') {
    const entries = await Promise.all(Object.entries(value).map(async ([key, item]) => [key, await resolveSecretReferences(item, secrets, fieldPath(field, key))] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/**
 * The fields of a step (dotted paths) whose whole value is a `secret: true` runbook parameter:
 * recorded, such a field is masked whatever the value's type or length.
 */
export function secretParamFields(value: unknown, definitions: ParamDefinitions, field = '', fields = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    const [reference] = findReferences(value, field);
    const name = reference?.root === 'params' && reference.text === value ? reference.name : undefined;
    if (name !== undefined && Object.hasOwn(definitions, name) && definitions[name]?.secret) fields.add(field);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) secretParamFields(item, definitions, fieldPath(field, key), fields);
  }
  return fields;
}
