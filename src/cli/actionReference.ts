import type { ActionField } from '../core/actions/fields';
import { actionFields } from '../core/actions/fields';
import type { ActionSpec } from '../core/actions/spec';

/**
 * The action reference (docs/actions.md, `lifeboat actions --markdown`): every action with its
 * parameters, written from the actions' own schemas, so the page says what the code accepts.
 */
export function actionReference(actions: readonly ActionSpec[]): string {
  const lines = [
    '# Lifeboat actions',
    '',
    '<!-- Written by `npm run docs:actions` (`lifeboat actions --markdown`) from the actions\' schemas: change an action, then run it again. -->',
    '',
    'A runbook step runs one of these actions with the parameters its cell writes in YAML. A parameter marked',
    'required must be written; the others take their default, or are left out. `lifeboat actions --markdown`',
    'prints this page for the Lifeboat you have, and `lifeboat actions --json` the parameters\' JSON schemas.',
    '',
    '- **Destructive**: the action can overwrite or delete data. Its plan says whether a given step does; such a',
    '  step shows its plan and runs only once confirmed (`--yes` on the CLI when nothing can answer).',
    '- **Read only**: the action only reads, so a dry run runs it for real and plans the steps after it with',
    '  its actual results.',
    '',
    '| action | title | destructive | read only |',
    '| --- | --- | --- | --- |',
    ...actions.map((action) => tableRow([`[\`${action.id}\`](#${headingAnchor(action.id)})`, prose(action.title), yesNo(action.destructive), yesNo(action.readOnly === true)])),
  ];
  for (const action of actions) lines.push('', ...actionSection(action));
  return `${lines.join('\n')}\n`;
}

function actionSection(action: ActionSpec): string[] {
  const fields = actionFields(action);
  return [
    `## ${action.id}`,
    '',
    `**${prose(action.title)}.** ${prose(action.description)}`,
    '',
    `Destructive: ${yesNo(action.destructive)}. Read only: ${yesNo(action.readOnly === true)}.`,
    '',
    ...(fields.length === 0
      ? ['No parameters.']
      : ['| parameter | type | required | default | description |', '| --- | --- | --- | --- | --- |', ...fields.map(fieldRow)]),
  ];
}

function fieldRow(field: ActionField): string {
  const defaultValue = field.default === undefined ? '' : codeSpan(JSON.stringify(field.default));
  return tableRow([codeSpan(field.name), prose(field.type), yesNo(field.required), defaultValue, prose(field.description ?? '')]);
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/**
 * Text of a schema as Markdown: its code spans as written, and outside them `<` and `>` as entities, so
 * a placeholder such as `.lifeboat/logs/<runbook>.log` written without backticks is not taken for HTML.
 */
function prose(text: string): string {
  return text.replace(/(`+)[\s\S]*?(?<!`)\1(?!`)|[<>]/g, (match) => (match === '<' ? '&lt;' : match === '>' ? '&gt;' : match));
}

/** A table row; a `|` in a cell (even in code) is escaped and a line break becomes a space, so the row stays one row. */
function tableRow(cells: readonly string[]): string {
  return `| ${cells.map((cell) => cell.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|')).join(' | ')} |`;
}

/** A code span that holds any text: its fence is one backtick longer than the longest run inside. */
function codeSpan(text: string): string {
  const longestRun = Math.max(0, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(longestRun + 1);
  const padding = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${padding}${text}${padding}${fence}`;
}

/** The anchor GitHub and VS Code's Markdown preview give a heading: lower case, punctuation other than `-` and `_` dropped. */
function headingAnchor(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}
