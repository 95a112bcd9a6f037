import type { ActionRegistry } from '../actions/registry';
import type { Problem } from '../errors';
import { formatProblem } from '../errors';
import type { TextRange } from '../runbook/lines';
import { LineIndex } from '../runbook/lines';
import type { RunbookDocument } from '../runbook/model';
import { fieldSpan } from '../runbook/yamlSpans';
import { checkRunbook } from '../runner/validate';
import { parseYamlStructure } from '../yamlData';

export interface RunbookDiagnostic {
  range: TextRange;
  message: string;
}

export interface RunbookDiagnostics {
  /** By 0-based cell index, the problems of each cell that has any; ranges are in the cell's text. */
  cells: Map<number, RunbookDiagnostic[]>;
  /** Problems of the frontmatter (its YAML, the parameter definitions); ranges are in the file. */
  frontmatter: RunbookDiagnostic[];
}

/**
 * What `lifeboat check` would report about a runbook, placed for an editor: each cell's problems at
 * the key, value or reference they concern, the frontmatter's at the line of the definition. Values
 * that hold a reference are not type-checked (they are known only when the step runs).
 */
export function diagnoseRunbook(document: RunbookDocument, registry: ActionRegistry): RunbookDiagnostics {
  const cells = new Map<number, RunbookDiagnostic[]>();
  const frontmatter: RunbookDiagnostic[] = [];
  const cellLines = new Map<number, LineIndex>();
  const frontmatterYaml = frontmatterLocator(document);
  for (const problem of checkRunbook(document, { registry }).problems) {
    // The editor shows where; the message says what, and which field.
    const message = formatProblem({ field: problem.field, message: problem.message });
    const cell = problem.cell === undefined ? undefined : document.cells[problem.cell - 1];
    if (problem.cell === undefined || cell === undefined) {
      frontmatter.push({ range: frontmatterYaml(problem), message });
      continue;
    }
    const cellIndex = problem.cell - 1;
    let lines = cellLines.get(cellIndex);
    if (!lines) cellLines.set(cellIndex, (lines = new LineIndex(cell.source)));
    const range = problem.span ? lines.rangeOf(problem.span) : firstLine(lines);
    const found = cells.get(cellIndex);
    if (found) found.push({ range, message });
    else cells.set(cellIndex, [{ range, message }]);
  }
  return { cells, frontmatter };
}

function firstLine(lines: LineIndex): TextRange {
  return { start: { line: 0, character: 0 }, end: { line: 0, character: lines.content(0).length } };
}

/**
 * Places a frontmatter problem on the line of the field it names (`params.date.type`), in the
 * frontmatter as the file has it; on the opening `---` when the field is not found there.
 */
function frontmatterLocator(document: RunbookDocument): (problem: Problem) => TextRange {
  const text = document.layout.frontmatter?.text;
  const opening: TextRange = { start: { line: 0, character: 0 }, end: { line: 0, character: 3 } };
  if (text === undefined) return () => opening;
  const lines = new LineIndex(text);
  // Between the `---` lines; the body's line 0 is the file's line 1.
  const body = lines.slice(1, lines.count - 1);
  const bodyLines = new LineIndex(body);
  const yaml = parseYamlStructure(body);
  return (problem) => {
    const span = problem.field === undefined ? undefined : fieldSpan(yaml, body, problem.field, 'key');
    if (!span) return opening;
    const { start, end } = bodyLines.rangeOf(span);
    return { start: { line: start.line + 1, character: start.character }, end: { line: end.line + 1, character: end.character } };
  };
}
