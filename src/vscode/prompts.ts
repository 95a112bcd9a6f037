import * as vscode from 'vscode';
import * as z from 'zod';
import { actionFields } from '../core/actions/fields';
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

/**
 * Fills in the required parameters an action still lacks, with prompts built from its schema: the
 * same zod schema that validates the values afterwards. Undefined when the person cancels.
 */
export async function promptActionParams(action: ActionSpec, given: Readonly<Record<string, unknown>>): Promise<Record<string, unknown> | undefined> {
  const values: Record<string, unknown> = { ...given };
  const shape = action.params instanceof z.ZodObject ? (action.params.shape as Record<string, z.ZodType>) : {};
  for (const field of actionFields(action)) {
    if (!field.required || values[field.name] !== undefined) continue;
    const title = `${action.title}: ${field.name}`;
    if (field.choices) {
      const picked = await pick(title, field.description, field.choices.map(String), undefined);
      if (picked === undefined) return undefined;
      values[field.name] = field.choices.find((choice) => String(choice) === picked);
      continue;
    }
    const isList = field.type.startsWith('list of');
    const toValue = (text: string): unknown =>
      isList ? text.split(',').map((part) => part.trim()).filter((part) => part !== '') : field.type === 'number' || field.type === 'integer' ? Number(text) : text;
    const schema = shape[field.name];
    const text = await vscode.window.showInputBox({
      title,
      prompt: `${field.description ?? field.name}${isList ? ' (comma-separated)' : ''}`,
      ignoreFocusOut: true,
      validateInput: (typed) => {
        const checked = schema?.safeParse(toValue(typed));
        return checked && !checked.success ? (checked.error.issues[0]?.message ?? 'not a valid value') : undefined;
      },
    });
    if (text === undefined) return undefined;
    values[field.name] = toValue(text);
  }
  return values;
}
