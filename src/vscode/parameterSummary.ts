/**
 * What the parameter status bar item says about a runbook's parameters: the value each will have
 * (the one set, else the default), secrets masked. No `vscode` import: it is plain text, tested in Node.
 */

/** A parameter as the runbook's frontmatter declares it, read without the schema library. */
export interface DeclaredParameter {
  name: string;
  secret: boolean;
  default?: unknown;
  /** The runner's rule: `required:` when given, else required when there is no default. */
  required: boolean;
}

/** Past this many characters a value is cut in the status bar; the tooltip has it whole. */
const SHOWN_VALUE_LENGTH = 32;
const MASK = '••••';

function asText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function shorten(text: string): string {
  return text.length > SHOWN_VALUE_LENGTH ? `${text.slice(0, SHOWN_VALUE_LENGTH - 1)}…` : text;
}

/** One parameter: its short form for the status bar, and a tooltip line that says where the value comes from. */
function describe(parameter: DeclaredParameter, value: unknown): { short: string; line: string } {
  const { name } = parameter;
  if (value !== undefined) {
    const text = parameter.secret ? MASK : asText(value);
    return { short: `${name}=${shorten(text)}`, line: `${name} = ${text}${parameter.secret ? ' (secret)' : ''}` };
  }
  if (parameter.default !== undefined) {
    const text = parameter.secret ? MASK : asText(parameter.default);
    return { short: `${name}=${shorten(text)}`, line: `${name} = ${text} (default)` };
  }
  return parameter.required
    ? { short: `${name}=?`, line: `${name}: not set, asked for when the runbook runs` }
    : { short: `${name}=—`, line: `${name}: not set (optional)` };
}

/** The status bar text (after its icon) and tooltip for these parameters and the values set. */
export function summarizeParameters(declared: readonly DeclaredParameter[], values: Readonly<Record<string, unknown>>): { text: string; tooltip: string } {
  const described = declared.map((parameter) => describe(parameter, values[parameter.name]));
  return {
    text: described.map((entry) => entry.short).join(' · '),
    tooltip: ['Runbook parameters:', ...described.map((entry) => entry.line), '', 'Click to change them.'].join('\n'),
  };
}
