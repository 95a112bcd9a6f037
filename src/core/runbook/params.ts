import * as z from 'zod';
import type { Problem } from '../errors';
import { expandHome } from '../paths';
import { paramVariableName } from './interpolate';

export const PARAM_TYPES = ['string', 'number', 'boolean', 'enum', 'date', 'path'] as const;
export const DATE_FORMATS = ['YYYY-MM-DD', 'YYYYMMDD'] as const;

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const paramDefinitionSchema = z
  .object({
    type: z.enum(PARAM_TYPES).default('string'),
    description: z.string().optional(),
    default: scalar.optional(),
    /** Defaults to true when there is no default. */
    required: z.boolean().optional(),
    /** A regular expression a string or path value must match in full. */
    pattern: z.string().optional(),
    /** The choices of an `enum` parameter. */
    values: z.array(z.union([z.string(), z.number()])).min(1).optional(),
    format: z.enum(DATE_FORMATS).optional(),
    /** The value is masked in outputs, logs and run records. */
    secret: z.boolean().optional(),
  })
  .strict();

export type ParamDefinition = z.output<typeof paramDefinitionSchema>;
export type ParamDefinitions = Record<string, ParamDefinition>;
export type ParamValue = string | number | boolean;

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The `params:` of a runbook's frontmatter, checked; problems name the parameter and field. */
export function readParamDefinitions(frontmatter: Record<string, unknown> | null, file?: string): { definitions: ParamDefinitions; problems: Problem[] } {
  const definitions: ParamDefinitions = {};
  const problems: Problem[] = [];
  const raw = frontmatter?.params;
  if (raw === undefined || raw === null) return { definitions, problems };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { definitions, problems: [{ file, line: 1, field: 'params', message: 'expected a mapping of parameter names to definitions' }] };
  }
  for (const [name, value] of Object.entries(raw)) {
    const field = `params.${name}`;
    if (!PARAM_NAME.test(name)) {
      problems.push({ file, line: 1, field, message: 'a parameter name uses letters, digits and _ and does not start with a digit' });
      continue;
    }
    const parsed = paramDefinitionSchema.safeParse(typeof value === 'string' ? { type: value } : (value ?? {}));
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push({ file, line: 1, field: [field, ...issue.path.map(String)].join('.'), message: issue.message });
      }
      continue;
    }
    const definition = parsed.data;
    const inconsistency = checkDefinition(definition);
    if (inconsistency) {
      problems.push({ file, line: 1, field, message: inconsistency });
      continue;
    }
    definitions[name] = definition;
  }
  return { definitions, problems };
}

function checkDefinition(definition: ParamDefinition): string | undefined {
  if (definition.type === 'enum' && !definition.values) return 'an enum parameter lists its `values`';
  if (definition.type !== 'enum' && definition.values) return '`values` belongs to enum parameters';
  if (definition.pattern !== undefined) {
    try {
      new RegExp(definition.pattern);
    } catch {
      return `\`pattern\` is not a valid regular expression: ${definition.pattern}`;
    }
  }
  if (definition.default !== undefined) {
    const coerced = coerceParam(definition, definition.default);
    if (!coerced.ok) return `\`default\`: ${coerced.message}`;
  }
  return undefined;
}

export function isRequired(definition: ParamDefinition): boolean {
  return definition.required ?? definition.default === undefined;
}

export type Coerced = { ok: true; value: ParamValue } | { ok: false; message: string };

/**
 * Turns a typed-in or YAML value into the parameter's type, or says what was expected. The message
 * quotes the value, except a `secret: true` parameter's, which it never shows.
 */
export function coerceParam(definition: ParamDefinition, raw: unknown): Coerced {
  const text = typeof raw === 'string' ? raw : String(raw);
  const got = definition.secret ? 'got a secret value (not shown)' : `got ${JSON.stringify(raw)}`;
  switch (definition.type) {
    case 'number': {
      const value = typeof raw === 'number' ? raw : text.trim() === '' ? Number.NaN : Number(text);
      return Number.isFinite(value) ? { ok: true, value } : { ok: false, message: `expected a number, ${got}` };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      const lowered = text.trim().toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(lowered)) return { ok: true, value: true };
      if (['false', 'no', 'off', '0'].includes(lowered)) return { ok: true, value: false };
      return { ok: false, message: `expected true or false, ${got}` };
    }
    case 'enum': {
      const match = definition.values?.find((choice) => String(choice) === text);
      if (match === undefined) return { ok: false, message: `expected one of ${definition.values?.join(', ')}, ${got}` };
      return { ok: true, value: match };
    }
    case 'date': {
      const format = definition.format ?? 'YYYY-MM-DD';
      return isCalendarDate(text, format) ? { ok: true, value: text } : { ok: false, message: `expected a date as ${format}, ${got}` };
    }
    case 'path': {
      if (text.trim() === '') return { ok: false, message: 'expected a path, got an empty value' };
      return matchesPattern(definition, expandHome(text), got);
    }
    case 'string':
      return matchesPattern(definition, text, got);
  }
}

function matchesPattern(definition: ParamDefinition, value: string, got: string): Coerced {
  if (definition.pattern !== undefined && !new RegExp(`^(?:${definition.pattern})$`).test(value)) {
    return { ok: false, message: `expected a value matching /${definition.pattern}/, ${got}` };
  }
  return { ok: true, value };
}

function isCalendarDate(text: string, format: (typeof DATE_FORMATS)[number]): boolean {
  const match = format === 'YYYYMMDD' ? /^(\d{4})(\d{2})(\d{2})$/.exec(text) : /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/**
 * The values a run uses: supplied ones coerced to their types, defaults for the rest. Unknown names
 * and missing required values are problems; optional parameters without a value are simply absent.
 */
export function resolveParams(
  definitions: ParamDefinitions,
  supplied: Readonly<Record<string, unknown>>,
  file?: string,
): { values: Record<string, ParamValue>; missing: string[]; problems: Problem[] } {
  const values: Record<string, ParamValue> = {};
  const missing: string[] = [];
  const problems: Problem[] = [];
  for (const name of Object.keys(supplied)) {
    if (!Object.hasOwn(definitions, name)) {
      const known = Object.keys(definitions);
      problems.push({ file, field: name, message: `unknown parameter${known.length ? ` (the runbook declares: ${known.join(', ')})` : ' (the runbook declares none)'}` });
    }
  }
  for (const [name, definition] of Object.entries(definitions)) {
    const raw = supplied[name] ?? definition.default;
    if (raw === undefined) {
      if (isRequired(definition)) missing.push(name);
      continue;
    }
    const coerced = coerceParam(definition, raw);
    if (coerced.ok) values[name] = coerced.value;
    else problems.push({ file, field: name, message: coerced.message });
  }
  for (const name of missing) {
    const description = definitions[name]?.description;
    problems.push({ file, field: name, message: `required parameter has no value${description ? ` (${description})` : ''}: pass --param ${name}=…` });
  }
  return { values, missing, problems };
}

/** Runbook parameters as environment variables for shell steps: `backup_dir` → `LIFEBOAT_PARAM_BACKUP_DIR`. */
export function paramsAsEnvironment(values: Readonly<Record<string, unknown>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    env[paramVariableName(name)] = String(value);
  }
  return env;
}
