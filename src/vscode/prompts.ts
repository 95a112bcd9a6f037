import * as vscode from 'vscode';
import { z } from 'zod';
import type { ActionSpec } from '../core/actions/spec';
import type { ParamDefinition, ParamValue } from '../core/runbook/params';
import { coerceParam } from '../core/runbook/params';

/**
 * Asks for one runbook parameter the way its definition says: a pick list for enums and booleans, an
 * input box validated as you type otherwise. Undefined when the person cancels.
 */
export async function promptRunbookParameter(name: string, definition: ParamDefinition, current: unknown): Promise<ParamValue | undefined> {
  const title = `Runbook parameter '${name}'`;
  const choices = definition.type === 'enum' ? (definition.values ?? []).map(String) : definition.type === 'boolean' ? ['true', 'false'] : undefined;
  const raw = choices
    ? await pick(title, definition.description, choices, current ?? definition.default)
    : await vscode.window.showInputBox({
        title,
        prompt: describe(definition),
        value: current === undefined ? (definition.default === undefined ? '' : String(definition.default)) : String(current),
        password: definition.secret === true,
        ignoreFocusOut: true,
        validateInput: (text) => {
          const coerced = coerceParam(definition, text);
          return coerced.ok ? undefined : coerced.message;
        },
      });
  if (raw === undefined) return undefined;
  const coerced = coerceParam(definition, raw);
  return coerced.ok ? coerced.value : undefined;
}

function describe(definition: ParamDefinition): string {
  const format = definition.type === 'date' ? ` (${definition.format ?? 'YYYY-MM-DD'})` : definition.type === 'path' ? ' (a path; ~ and relative paths allowed)' : '';
  return `${definition.description ?? definition.type}${format}`;
}

async function pick(title: string, placeHolder: string | undefined, choices: readonly string[], current: unknown): Promise<string | undefined> {
  const items = choices.map((label) => ({ label, description: String(current) === label ? 'current' : undefined }));
  const picked = await vscode.window.showQuickPick(items, { title, placeHolder, ignoreFocusOut: true });
  return picked?.label;
}

interface JsonSchemaProperty {
  type?: string;
  description?: string;
  enum?: unknown[];
  items?: { type?: string };
}

/**
 * Fills in the required parameters an action still lacks, with prompts built from its schema: the
 * same zod schema that validates the values afterwards. Undefined when the person cancels.
 */
export async function promptActionParams(action: ActionSpec, given: Readonly<Record<string, unknown>>): Promise<Record<string, unknown> | undefined> {
  const values: Record<string, unknown> = { ...given };
  const jsonSchema = z.toJSONSchema(action.params, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, JsonSchemaProperty>; required?: string[] };
  const shape = action.params instanceof z.ZodObject ? (action.params.shape as Record<string, z.ZodType>) : {};
  for (const name of jsonSchema.required ?? []) {
    if (values[name] !== undefined) continue;
    const property = jsonSchema.properties?.[name] ?? {};
    const title = `${action.title}: ${name}`;
    const field = shape[name];
    if (property.enum || property.type === 'boolean') {
      const choices = property.enum ? property.enum.map(String) : ['true', 'false'];
      const picked = await pick(title, property.description, choices, undefined);
      if (picked === undefined) return undefined;
      values[name] = property.type === 'boolean' ? picked === 'true' : (property.enum?.find((choice) => String(choice) === picked) ?? picked);
      continue;
    }
    const toValue = (text: string): unknown =>
      property.type === 'array' ? text.split(',').map((part) => part.trim()).filter((part) => part !== '') : property.type === 'number' || property.type === 'integer' ? Number(text) : text;
    const text = await vscode.window.showInputBox({
      title,
      prompt: `${property.description ?? name}${property.type === 'array' ? ' (comma-separated)' : ''}`,
      ignoreFocusOut: true,
      validateInput: (typed) => {
        const checked = field?.safeParse(toValue(typed));
        return checked && !checked.success ? (checked.error.issues[0]?.message ?? 'not a valid value') : undefined;
      },
    });
    if (text === undefined) return undefined;
    values[name] = toValue(text);
  }
  return values;
}
