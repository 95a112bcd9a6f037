import { isMap, isScalar } from 'yaml';
import type { Document } from 'yaml';
import { actionFields } from '../actions/fields';
import type { ActionField } from '../actions/fields';
import type { ActionRegistry } from '../actions/registry';
import type { ActionSpec } from '../actions/spec';
import type { TextPosition, TextRange } from '../runbook/lines';
import { LineIndex } from '../runbook/lines';
import type { RunbookDocument } from '../runbook/model';
import type { ParamDefinitions } from '../runbook/params';
import { readParamDefinitions } from '../runbook/params';
import { readSteps } from '../runbook/steps';
import { parseYamlStructure } from '../yamlData';

/**
 * What a cell can run and refer to. What it can refer to costs a read of every earlier cell, so it is
 * read only when a reference is being completed.
 */
export interface CompletionScope {
  registry: ActionRegistry;
  params(): ParamDefinitions;
  /** Ids of the steps before the cell, in order. */
  earlierStepIds(): readonly string[];
}

export type CompletionKind = 'action' | 'field' | 'value' | 'reference';

export interface CellCompletion {
  label: string;
  kind: CompletionKind;
  /** Shown beside the label: a type, an action's title. */
  detail?: string;
  documentation?: string;
  insertText: string;
  /** The text the completion replaces, and that the editor filters by: on the cursor's line, around the cursor. */
  range: TextRange;
  /** Orders required fields before optional ones. */
  sortText?: string;
  /** A key whose values can be completed too: the editor may ask again right after inserting it. */
  suggestValues?: boolean;
}

/** The scope of the cell at `cellIndex`, read the way a run reads the runbook. */
export function completionScope(document: RunbookDocument, cellIndex: number, registry: ActionRegistry): CompletionScope {
  return {
    registry,
    params: () => readParamDefinitions(document.frontmatter).definitions,
    // Only the cells before it: later ones cannot be referred to, and each costs a YAML parse.
    earlierStepIds: () => readSteps({ ...document, cells: document.cells.slice(0, cellIndex) }).steps.flatMap((step) => (step.id === undefined ? [] : [step.id])),
  };
}

/** `key:` at the start of a line: a top-level key of the cell's mapping. */
const TOP_LEVEL_KEY = /^([A-Za-z_][\w.-]*)[ \t]*:(?=[ \t]|$)/;
const PARTIAL_KEY = /^[\w.-]*$/;

/**
 * Completions at a position of an action cell's YAML: the keys of its action's parameters (and the
 * step's own `action`, `id`, `dryRun`) at a key, the listable values of a key, action ids after
 * `action:`, and parameters and earlier steps inside `${`.
 */
export function completeActionCell(source: string, position: TextPosition, scope: CompletionScope): CellCompletion[] {
  const lines = new LineIndex(source);
  const cursor = lines.positionAt(lines.offsetAt(position));
  const lineText = lines.content(cursor.line);
  const before = lineText.slice(0, cursor.character);
  const rangeFrom = (character: number): TextRange => ({ start: { line: cursor.line, character }, end: cursor });

  const reference = openReference(before);
  if (reference) {
    const typed = before.slice(reference.start);
    const start = reference.start + typed.length - typed.trimStart().length;
    const closed = lineText.slice(cursor.character).startsWith('}');
    return referenceCompletions(typed.trim(), closed, scope, rangeFrom(start));
  }

  const yaml = parseYamlStructure(source);
  const lineStart = lines.offsetAt({ line: cursor.line, character: 0 });
  const written = writtenKeys(yaml, lineStart, lineStart + lineText.length);
  const actionId = written.get('action');
  const action = actionId === undefined ? undefined : scope.registry.get(actionId);

  const key = TOP_LEVEL_KEY.exec(lineText);
  const colon = key ? key[0].length - 1 : -1;
  if (key && cursor.character > colon) {
    const valueStart = colon + 1 + (/^[ \t]*/.exec(lineText.slice(colon + 1))?.[0].length ?? 0);
    // Right after the colon the value needs its separating space.
    const [from, separator] = cursor.character === colon + 1 ? [cursor.character, ' '] : [Math.min(valueStart, cursor.character), ''];
    return valueCompletions(key[1] as string, action, scope.registry).map((completion) => ({ ...completion, insertText: separator + completion.insertText, range: rangeFrom(from) }));
  }
  if (!PARTIAL_KEY.test(before)) return [];
  // On a key that already has its colon, only the name is replaced.
  const range: TextRange = key ? { start: { line: cursor.line, character: 0 }, end: { line: cursor.line, character: (key[1] as string).length } } : rangeFrom(0);
  return keyCompletions(action, written).map((completion) => ({
    ...completion,
    insertText: key ? completion.label : `${completion.label}: `,
    suggestValues: !key && completion.suggestValues,
    range,
  }));
}

/** Where the reference the cursor is in starts (after `${`), unless it is closed or escaped (`$${`). */
function openReference(before: string): { start: number } | undefined {
  const open = before.lastIndexOf('${');
  if (open === -1 || before[open - 1] === '$' || before.includes('}', open)) return undefined;
  return { start: open + 2 };
}

function referenceCompletions(typed: string, closed: boolean, scope: CompletionScope, range: TextRange): CellCompletion[] {
  // The fields of a step's result are known only once it has run.
  if (/^steps\.[^.]*\./.test(typed)) return [];
  const close = closed ? '' : '}';
  return [
    ...Object.entries(scope.params()).map(([name, definition]): CellCompletion => ({
      label: `params.${name}`,
      kind: 'reference',
      detail: `parameter, ${definition.type}`,
      documentation: definition.description,
      insertText: `params.${name}${close}`,
      range,
    })),
    ...scope.earlierStepIds().map((id): CellCompletion => ({
      label: `steps.${id}`,
      kind: 'reference',
      detail: 'result of an earlier step',
      insertText: `steps.${id}.`,
      range,
    })),
  ];
}

/** A key, before it is placed: how it is inserted depends on whether the line has its colon yet. */
type KeyCompletion = Omit<CellCompletion, 'insertText' | 'range'>;

function valueCompletions(key: string, action: ActionSpec | undefined, registry: ActionRegistry): Array<Omit<CellCompletion, 'range'>> {
  if (key === 'action') {
    return registry.list().map((known) => ({ label: known.id, kind: 'action', detail: known.title, documentation: known.description, insertText: known.id }));
  }
  const choices = key === 'dryRun' ? [true, false] : action && actionFields(action).find((field) => field.name === key)?.choices;
  return (choices ?? []).map((choice) => ({ label: String(choice), kind: 'value', insertText: String(choice) }));
}

function keyCompletions(action: ActionSpec | undefined, written: ReadonlyMap<string, string | undefined>): KeyCompletion[] {
  const completions: KeyCompletion[] = [];
  if (!written.has('action')) completions.push({ label: 'action', kind: 'field', detail: 'the action this cell runs', sortText: '0', suggestValues: true });
  (action ? actionFields(action) : []).forEach((field, index) => {
    if (!written.has(field.name)) completions.push(fieldCompletion(field, index));
  });
  if (!written.has('id')) completions.push({ label: 'id', kind: 'field', detail: 'string', documentation: 'Names this step, so later cells can use its result as `${steps.<id>.<field>}`.', sortText: '3' });
  if (!written.has('dryRun')) completions.push({ label: 'dryRun', kind: 'field', detail: 'boolean', documentation: 'Only plan this step: show what it would do, change nothing.', sortText: '3', suggestValues: true });
  return completions;
}

function fieldCompletion(field: ActionField, index: number): KeyCompletion {
  const notes = [field.description, field.default === undefined ? undefined : `Default: \`${JSON.stringify(field.default)}\``].filter(Boolean);
  return {
    label: field.name,
    kind: 'field',
    detail: field.required ? `${field.type}, required` : field.type,
    documentation: notes.length ? notes.join('\n\n') : undefined,
    // Required fields first, each group in the schema's order.
    sortText: `${field.required ? 1 : 2}${String(index).padStart(3, '0')}`,
    suggestValues: field.choices !== undefined,
  };
}

/**
 * The top-level keys written in the cell, with their scalar values, except the one on the line being
 * edited (it is what the completion replaces).
 */
function writtenKeys(yaml: Document, lineStart: number, lineEnd: number): Map<string, string | undefined> {
  const keys = new Map<string, string | undefined>();
  if (!isMap(yaml.contents)) return keys;
  for (const pair of yaml.contents.items) {
    if (!isScalar(pair.key)) continue;
    const keyStart = pair.key.range?.[0];
    if (keyStart !== undefined && keyStart >= lineStart && keyStart <= lineEnd) continue;
    keys.set(String(pair.key.value), isScalar(pair.value) && typeof pair.value.value === 'string' ? pair.value.value : undefined);
  }
  return keys;
}
