import { scriptFieldsOf, type ActionSpec } from '../actions/spec';
import type { Problem, TextSpan } from '../errors';
import { environmentText, findReferences, interpolateWithScripts, InterpolationError, paramVariableName, type ScriptVariable } from '../runbook/interpolate';
import type { ParamDefinitions } from '../runbook/params';
import type { Step } from '../runbook/steps';

/** Linux's limit on one `NAME=value` string of a new process's environment (MAX_ARG_STRLEN), its NUL included. */
const MAX_VARIABLE_BYTES = 128 * 1024;

/**
 * The values of the environment variables a step's scripts refer to. A value no environment
 * variable can hold (one with a NUL byte), or a parameter whose variable another parameter shares,
 * is a problem: a script never gets a cut or a wrong value. Parameters are taken from
 * `paramValues` (secrets resolved), step results from the references themselves.
 */
export function scriptEnvironment(
  step: Step,
  variables: readonly ScriptVariable[],
  paramValues: Readonly<Record<string, unknown>>,
  definitions: ParamDefinitions,
  file: string | undefined,
): { environment: Record<string, string>; problems: Problem[] } {
  const environment: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const variable of variables) {
    const where = { file, cell: step.cellNumber, line: lineInField(step, variable.field, variable.offset), field: variable.field, span: referenceSpan(step, variable.field, variable.offset) };
    const reference = `\${${variable.root}.${variable.path.join('.')}}`;
    const [name] = variable.path;
    const sharing = variable.root === 'params' ? Object.keys(definitions).filter((other) => other !== name && paramVariableName(other) === variable.name) : [];
    if (sharing.length > 0) {
      problems.push({ ...where, message: `${reference} is the variable ${variable.name} in the script, and so is the parameter ${sharing.join(', ')}: rename one of them` });
      continue;
    }
    const value = variable.root === 'params' ? (variable.path.length === 1 && name !== undefined ? paramValues[name] : undefined) : variable.value;
    if (value === undefined) continue;
    const text = environmentText(value);
    const bytes = Buffer.byteLength(text);
    if (text.includes('\0')) problems.push({ ...where, message: `${reference} holds a NUL byte, which no environment variable can carry: the script does not run` });
    else if (Buffer.byteLength(variable.name) + bytes + 2 > MAX_VARIABLE_BYTES) problems.push({ ...where, message: `${reference} is ${bytes} bytes long; an environment variable holds at most 128 KiB (pass larger data in a file)` });
    else environment[variable.name] = text;
  }
  return { environment, problems };
}

/**
 * What `lifeboat check` can tell about the references in a step's scripts before a run: two
 * references that would share a variable, a parameter value a variable cannot hold, a program that
 * is not known until the run. Malformed references are reported with the other references.
 */
export function checkScriptReferences(step: Step, action: ActionSpec, paramValues: Readonly<Record<string, unknown>>, definitions: ParamDefinitions, file: string | undefined): Problem[] {
  if (findReferences(step.params).some((reference) => reference.root === undefined || reference.name === undefined)) return [];
  try {
    const { variables } = interpolateWithScripts(step.params, { params: paramValues, steps: {} }, scriptFieldsOf(action, step.params), () => undefined);
    return scriptEnvironment(step, variables, paramValues, definitions, file).problems;
  } catch (error) {
    if (!(error instanceof InterpolationError)) throw error;
    return [{ file, cell: step.cellNumber, line: lineInField(step, error.field, error.offset), field: error.field, span: referenceSpan(step, error.field, error.offset), message: error.message }];
  }
}

/**
 * The file line of a place in a field's text: in a shell cell the script is the cell's body; in an
 * action cell a multi-line value is a block that starts on the line after its key.
 */
export function lineInField(step: Step, field: string, offset: number | undefined): number | undefined {
  const text = fieldText(step, field);
  if (offset === undefined || typeof text !== 'string') return step.lineOf(field);
  const linesBefore = text.slice(0, offset).split('\n').length - 1;
  if (step.kind === 'shell') return step.line === undefined ? undefined : step.line + 1 + linesBefore;
  const keyLine = step.lineOf(field);
  return keyLine === undefined || !text.includes('\n') ? keyLine : keyLine + 1 + linesBefore;
}

/** Where the reference at `offset` in a field is written in the cell's source, for editors to underline. */
export function referenceSpan(step: Step, field: string, offset: number | undefined): TextSpan | undefined {
  const text = fieldText(step, field);
  const reference = offset === undefined || text === undefined ? undefined : /^\$\{[^}]*\}/.exec(text.slice(offset))?.[0];
  if (reference === undefined || offset === undefined) return undefined;
  // A shell cell's source is its script.
  if (step.kind === 'shell') return { start: offset, end: offset + reference.length };
  return step.spanOf?.(field, 'value', reference);
}

/** The text of a field (`script`, `command.2`) as written in the step, if it is text. */
function fieldText(step: Step, field: string): string | undefined {
  let value: unknown = step.params;
  for (const key of field.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' ? value : undefined;
}
