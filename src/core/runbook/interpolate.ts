/**
 * `${params.x}` and `${steps.<id>.<field>}` in action cells. A value that is exactly one reference
 * keeps the referenced value's type (a number stays a number, a list stays a list); a reference
 * inside a longer string is written into that string. A field that holds a shell script is the
 * exception: there a reference becomes a reference to an environment variable holding the value
 * (`scriptVariableName`), so a value never becomes code. `$${` writes a literal `${`.
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
    /** Where in the field's text the offending reference starts, when the error is about one. */
    readonly offset?: number,
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

/** `text` written so that interpolation gives it back as it is: each reference in it escaped (`$${`). */
export function literalText(text: string): string {
  return text.replace(/\$\{[^}]*\}/g, (reference) => `$${reference}`);
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
  return walk(value, field, (text, at) => interpolateText(text, scope, at, onMissing));
}

/** A reference in a script, and the environment variable it was rewritten to. */
export interface ScriptVariable {
  name: string;
  root: 'params' | 'steps';
  /** The dotted path after the root: `[name]` for a parameter, `[id, field, …]` for a step. */
  path: string[];
  /** The value the reference resolves to; undefined for an unset optional parameter. */
  value: unknown;
  field: string;
  /** Offset of the reference in the field's text. */
  offset: number;
}

/**
 * Interpolates a step's parameters, except in `scriptFields` (dotted field paths): the references in
 * those become environment variable references, and `variables` lists them with their values for
 * the action to put into the script's environment. Two references that would share a variable are
 * an error, since one of them would see the other's value.
 */
export function interpolateWithScripts(
  value: unknown,
  scope: InterpolationScope,
  scriptFields: ReadonlySet<string>,
  onMissing: (reference: string, field: string) => unknown = missingIsError,
): { value: unknown; variables: ScriptVariable[] } {
  const variables = new Map<string, ScriptVariable>();
  const interpolated = walk(value, '', (text, field) => {
    if (!scriptFields.has(field)) return interpolateText(text, scope, field, onMissing);
    return text.replace(REFERENCE, (match, escaped: string, expression: string, offset: number) => {
      if (escaped) return match.slice(1);
      const [root, ...path] = expression.trim().split('.');
      const resolved = atOffset(offset, () => lookup(expression.trim(), scope, field, onMissing));
      const variable: ScriptVariable = { name: scriptVariableName(root as 'params' | 'steps', path), root: root as 'params' | 'steps', path, value: resolved, field, offset };
      const earlier = variables.get(variable.name);
      if (earlier && earlier.path.join('.') !== path.join('.')) {
        const written = (reference: ScriptVariable) => `\${${reference.root}.${reference.path.join('.')}}`;
        throw new InterpolationError(field, `${written(variable)} and ${written(earlier)} would both be the variable ${variable.name} in the script: rename one of them`, offset);
      }
      if (!earlier) variables.set(variable.name, variable);
      return `\${${variable.name}}`;
    });
  });
  return { value: interpolated, variables: [...variables.values()] };
}

/**
 * The environment variable a reference in a script stands for: `params.backup_dir` →
 * `LIFEBOAT_PARAM_BACKUP_DIR`, `steps.find.selected.path` → `LIFEBOAT_STEP_FIND_SELECTED_PATH`.
 */
export function scriptVariableName(root: 'params' | 'steps', path: readonly string[]): string {
  if (root === 'params') return paramVariableName(path.join('_'));
  return `LIFEBOAT_STEP_${path.join('_').toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/** The environment variable a runbook parameter reaches scripts as: `backup_dir` → `LIFEBOAT_PARAM_BACKUP_DIR`. */
export function paramVariableName(name: string): string {
  return `LIFEBOAT_PARAM_${name.toUpperCase()}`;
}

/** A value as an environment variable holds it: text as is, lists and objects as JSON, nothing as empty. */
export function environmentText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Runs `resolve`, placing an interpolation error it raises at `offset` in the field's text. */
function atOffset<T>(offset: number, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (error instanceof InterpolationError && error.offset === undefined) throw new InterpolationError(error.field, error.message, offset);
    throw error;
  }
}

/** Applies `onString` to every string in a YAML value; an undefined result leaves the field out. */
function walk(value: unknown, field: string, onString: (text: string, field: string) => unknown): unknown {
  if (typeof value === 'string') return onString(value, field);
  if (Array.isArray(value)) return value.map((item, index) => walk(item, fieldPath(field, String(index)), onString));
  if (isRecord(value)) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const resolved = walk(item, fieldPath(field, key), onString);
      // An unset optional parameter leaves the field out, so the action's own default applies.
      if (resolved !== undefined) result[key] = resolved;
    }
    return result;
  }
  return value;
}

function interpolateText(value: string, scope: InterpolationScope, field: string, onMissing: (reference: string, field: string) => unknown): unknown {
  const whole = WHOLE_REFERENCE.exec(value);
  if (whole) return lookup((whole[1] ?? '').trim(), scope, field, onMissing);
  if (!value.includes('${')) return value;
  return value.replace(REFERENCE, (_match, escaped: string, expression: string) => {
    if (escaped) return `\${${expression}}`;
    return environmentText(lookup(expression.trim(), scope, field, onMissing));
  });
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
    // Own properties only: `${steps.x.constructor}` names no field, not Object's constructor.
    if ((!isRecord(current) && !Array.isArray(current)) || !Object.hasOwn(current, key)) return onMissing(expression, field);
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
