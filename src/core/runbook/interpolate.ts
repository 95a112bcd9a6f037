/**
 * `${params.x}` and `${steps.<id>.<field>}` in action cells. A value that is exactly one reference
 * keeps the referenced value's type (a number stays a number, a list stays a list); a reference
 * inside a longer string is written into that string. Nothing here builds a shell command.
 * `$${` writes a literal `${`.
 */

export interface InterpolationScope {
  params: Readonly<Record<string, unknown>>;
  steps: Readonly<Record<string, unknown>>;
}

export interface Reference {
  /** Dotted path of the field holding the reference. */
  field: string;
  /** The reference as written, e.g. `${ params.date }`. */
  text: string;
  expression: string;
  root: 'params' | 'steps' | undefined;
  /** `params.<name>` or `steps.<id>`. */
  name: string | undefined;
}

const REFERENCE = /\$(\$?)\{([^}]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([^}]*)\}$/;

export class InterpolationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InterpolationError';
  }
}

/** Every reference in a YAML value, with the field it sits in. */
export function findReferences(value: unknown, field = ''): Reference[] {
  if (typeof value === 'string') {
    const found: Reference[] = [];
    for (const match of value.matchAll(REFERENCE)) {
      if (match[1]) continue;
      const expression = (match[2] ?? '').trim();
      const [root, name] = expression.split('.');
      found.push({ field, text: match[0], expression, root: root === 'params' || root === 'steps' ? root : undefined, name });
    }
    return found;
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => findReferences(item, fieldPath(field, String(index))));
  if (isRecord(value)) return Object.entries(value).flatMap(([key, item]) => findReferences(item, fieldPath(field, key)));
  return [];
}

/**
 * Replaces references with values from `scope`. `onMissing` decides what an unresolvable reference
 * becomes; by default it is an error naming the field.
 */
export function interpolate(
  value: unknown,
  scope: InterpolationScope,
  onMissing: (reference: string, field: string) => unknown = missingIsError,
  field = '',
): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_REFERENCE.exec(value);
    if (whole) return lookup((whole[1] ?? '').trim(), scope, field, onMissing);
    if (!value.includes('${')) return value;
    return value.replace(REFERENCE, (_match, escaped: string, expression: string) => {
      if (escaped) return `\${${expression}}`;
      const resolved = lookup(expression.trim(), scope, field, onMissing);
      return resolved === undefined || resolved === null ? '' : typeof resolved === 'object' ? JSON.stringify(resolved) : String(resolved);
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, scope, onMissing, fieldPath(field, String(index))));
  if (isRecord(value)) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const resolved = interpolate(item, scope, onMissing, fieldPath(field, key));
      // An unset optional parameter leaves the field out, so the action's own default applies.
      if (resolved !== undefined) result[key] = resolved;
    }
    return result;
  }
  return value;
}

function missingIsError(reference: string, field: string): never {
  throw new InterpolationError(field, `\${${reference}} has no value`);
}

function lookup(expression: string, scope: InterpolationScope, field: string, onMissing: (reference: string, field: string) => unknown): unknown {
  const [root, ...path] = expression.split('.');
  if (root !== 'params' && root !== 'steps') {
    throw new InterpolationError(field, `\${${expression}}: a reference starts with params. or steps.`);
  }
  if (path.length === 0) throw new InterpolationError(field, `\${${expression}}: name a ${root === 'params' ? 'parameter' : 'step'}`);
  let current: unknown = scope[root];
  for (const key of path) {
    if (!isRecord(current) && !Array.isArray(current)) return onMissing(expression, field);
    current = (current as Record<string, unknown>)[key];
    if (current === undefined) return onMissing(expression, field);
  }
  return current;
}

/** The dotted path of a field inside a value (`env.TOKEN`, `paths.0`). */
export function fieldPath(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
