import * as z from 'zod';
import type { ActionSpec } from './spec';

type JsonSchema = z.core.JSONSchema.JSONSchema;
type Choice = string | number | boolean;

/** One parameter of an action, as a person writing a cell needs to know it; read from the action's schema. */
export interface ActionField {
  name: string;
  /** The type as written in YAML: `string`, `integer`, `list of string`, `bash | sh`… */
  type: string;
  description: string | undefined;
  /** It must be written: the schema neither makes it optional nor gives it a default. */
  required: boolean;
  /** Every value it accepts, when they can be listed (an enum, a boolean). */
  choices: readonly Choice[] | undefined;
  default: unknown;
}

const fieldsOfAction = new WeakMap<ActionSpec, readonly ActionField[]>();

/** The top-level parameters of an action, in the schema's order; none when its schema is not an object. */
export function actionFields(action: ActionSpec): readonly ActionField[] {
  let fields = fieldsOfAction.get(action);
  if (!fields) {
    // The input side: what a cell writes, before defaults and transforms apply.
    const schema = z.toJSONSchema(action.params, { io: 'input', unrepresentable: 'any' });
    const required = new Set(schema.required ?? []);
    fields = Object.entries(schema.properties ?? {}).map(([name, property]) => {
      const field = typeof property === 'boolean' ? {} : property;
      return {
        name,
        type: typeLabel(field),
        description: field.description,
        required: required.has(name),
        choices: choicesOf(field),
        default: field.default,
      };
    });
    fieldsOfAction.set(action, fields);
  }
  return fields;
}

function typeLabel(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map(String).join(' | ');
  if (schema.const !== undefined) return String(schema.const);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return alternatives.map((alternative) => (typeof alternative === 'boolean' ? 'any' : typeLabel(alternative))).join(' | ');
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type;
  if (type === 'array') {
    const items = schema.items;
    return `list of ${items && typeof items === 'object' && !Array.isArray(items) ? typeLabel(items) : 'any'}`;
  }
  if (type === 'object') {
    const values = schema.additionalProperties;
    return values && typeof values === 'object' ? `map of ${typeLabel(values)}` : 'mapping';
  }
  return type ?? 'any';
}

function choicesOf(schema: JsonSchema): readonly Choice[] | undefined {
  if (schema.enum) return schema.enum.filter((value): value is Choice => ['string', 'number', 'boolean'].includes(typeof value));
  if (schema.type === 'boolean') return [true, false];
  return undefined;
}

/** The schema of one parameter, `from.path` being `path` inside the object `from`; undefined when the action's schema does not spell it out. */
export function paramSchemaAt(params: z.ZodType, name: string): z.ZodType | undefined {
  let at: z.ZodType | undefined = params;
  for (const part of name.split('.')) {
    while (at instanceof z.ZodOptional || at instanceof z.ZodDefault) at = at.unwrap() as z.ZodType;
    if (!(at instanceof z.ZodObject)) return undefined;
    at = (at.shape as Record<string, z.ZodType>)[part];
  }
  return at;
}
