import type * as z from 'zod';
import { actionFields } from '../actions/fields';
import type { ActionRegistry } from '../actions/registry';
import type { ActionSpec } from '../actions/spec';
import type { Problem } from '../errors';
import { Redactor } from '../redact';
import { findReferences } from '../runbook/interpolate';
import type { RunbookDocument } from '../runbook/model';
import type { ParamDefinitions } from '../runbook/params';
import { readParamDefinitions, resolveParams } from '../runbook/params';
import type { Step } from '../runbook/steps';
import { readSteps } from '../runbook/steps';
import { checkScriptReferences } from './scriptReferences';
import { isUnknownField, knownStepParams } from './precheck';

export interface CheckOptions {
  file?: string;
  registry: ActionRegistry;
  /** Parameter values to check as well; without them only the runbook itself is checked. */
  params?: Readonly<Record<string, unknown>>;
}

export interface CheckedRunbook {
  steps: Step[];
  definitions: ParamDefinitions;
  problems: Problem[];
}

/**
 * Everything that can be known wrong before a run: the frontmatter, the parameter definitions and
 * values, each cell's YAML, action ids, parameter names and types, and references to parameters and
 * earlier steps. Values that depend on earlier steps' results are checked when the step runs.
 */
export function checkRunbook(document: RunbookDocument, options: CheckOptions): CheckedRunbook {
  const { file, registry } = options;
  const problems: Problem[] = [];
  if (document.frontmatterError) problems.push({ file, line: 1, message: document.frontmatterError });
  const { definitions, problems: definitionProblems } = readParamDefinitions(document.frontmatter, file);
  // One by one: spread into a call, the problems of a runbook of a hundred thousand cells overflow the stack.
  for (const problem of definitionProblems) problems.push(problem);
  const supplied = options.params ?? {};
  const resolved = resolveParams(definitions, supplied, file);
  if (options.params) problems.push(...resolved.problems);
  const secrets = new Redactor();
  for (const [name, value] of Object.entries(resolved.values)) if (definitions[name]?.secret && typeof value !== 'boolean') secrets.add(String(value));

  const { steps, problems: stepProblems } = readSteps(document, file);
  for (const problem of stepProblems) problems.push(problem);

  const earlierIds = new Set<string>();
  for (const step of steps) {
    const action = registry.get(step.actionId);
    const where = { file, cell: step.cellNumber, line: step.line };
    if (!action) {
      const hints = registry.suggest(step.actionId);
      problems.push({ ...where, line: step.lineOf('action'), field: 'action', span: step.spanOf?.('action', 'value'), message: `unknown action '${step.actionId}'${hints.length ? ` (did you mean ${hints.join(', ')}?)` : ' (run `lifeboat actions` for the list)'}` });
    }
    for (const reference of findReferences(step.params)) {
      const at = { ...where, line: step.lineOf(reference.field), field: reference.field, span: step.spanOf?.(reference.field, 'value', reference.text) };
      if (reference.root === undefined || reference.name === undefined) {
        problems.push({ ...at, message: `\${${reference.expression}}: a reference is \${params.<name>} or \${steps.<id>.<field>}` });
      } else if (reference.root === 'params' && !Object.hasOwn(definitions, reference.name)) {
        problems.push({ ...at, message: `\${${reference.expression}}: the runbook declares no parameter '${reference.name}'` });
      } else if (reference.root === 'steps' && !earlierIds.has(reference.name)) {
        problems.push({ ...at, message: `\${${reference.expression}}: no earlier step has id '${reference.name}'` });
      }
    }
    if (step.id) earlierIds.add(step.id);
    if (!action) continue;
    problems.push(...checkScriptReferences(step, action, resolved.values, definitions, file));

    // Values known before the run (parameters) are checked now; the others when their step runs.
    const known = knownStepParams(step, resolved.values);
    const parsed = parseStepParams(action, known.params, step, file, secrets);
    for (const problem of parsed.ok ? [] : parsed.problems) if (!isUnknownField(problem.field, known.unknownFields)) problems.push(problem);
  }
  return { steps, definitions, problems };
}

/**
 * Parses a step's parameters with its action's schema; failures name the cell, line and field, and
 * quote the value found unless it holds one of `secrets`.
 */
export function parseStepParams(action: ActionSpec, params: unknown, step: Step, file?: string, secrets = new Redactor()): { ok: true; value: unknown } | { ok: false; problems: Problem[] } {
  const parsed = action.params.safeParse(params);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, problems: issuesToProblems(parsed.error.issues, action, params, step, file, secrets) };
}

function issuesToProblems(issues: readonly z.core.$ZodIssue[], action: ActionSpec, params: unknown, step: Step, file: string | undefined, secrets: Redactor): Problem[] {
  return issues.flatMap((issue): Problem[] => {
    const where = { file, cell: step.cellNumber };
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const field = [...issue.path.map(String), key].join('.');
        return { ...where, line: step.lineOf(field), field, span: step.spanOf?.(field, 'key'), message: `unknown field${describeKnownFields(action, issue.path)}` };
      });
    }
    const field = issue.path.map(String).join('.');
    const found = valueAt(params, issue.path);
    const message =
      found === undefined
        ? issue.code === 'invalid_type'
          ? `required, expected ${issue.expected}`
          : secrets.redact(issue.message)
        : `${secrets.redact(issue.message.replace(/^Invalid input: /, ''))}, got ${secrets.holdsSecret(found) ? 'a value holding a secret (not shown)' : JSON.stringify(found)}`;
    // A missing field is written nowhere: the action that asks for it is the place to point at.
    const span = found === undefined ? (step.spanOf?.(field, 'key') ?? step.spanOf?.('action', 'value')) : step.spanOf?.(field, 'value');
    return [{ ...where, line: step.lineOf(field), field: field || undefined, span, message }];
  });
}

/** For a misspelt top-level field, the fields the action does know. */
function describeKnownFields(action: ActionSpec, path: readonly PropertyKey[]): string {
  const fields = actionFields(action);
  if (path.length > 0 || fields.length === 0) return '';
  return ` (${action.id} takes: ${fields.map((field) => field.name).join(', ')})`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
