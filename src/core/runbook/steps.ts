import type { Problem, TextSpan } from '../errors';
import { readYaml } from '../yamlData';
import type { Cell, RunbookDocument } from './model';
import { fieldSpan } from './yamlSpans';

/** Keys of an action cell's YAML that belong to Lifeboat, not to the action's parameters. */
const STEP_KEYS = new Set(['action', 'id', 'dryRun']);
const STEP_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** A runnable cell, read: which action it runs with which (not yet interpolated) parameters. */
export interface Step {
  /** 0-based position of the cell in the document. */
  cellIndex: number;
  /** 1-based cell number as a person counts cells in the notebook. */
  cellNumber: number;
  /** 1-based line of the cell's opening fence, when the cell came from a file. */
  line: number | undefined;
  kind: 'action' | 'shell';
  actionId: string;
  id: string | undefined;
  title: string;
  params: Record<string, unknown>;
  /** The cell asks to be planned only. */
  dryRun: boolean;
  /** The 1-based file line of a parameter field, for located errors; undefined when unknown. */
  lineOf(field: string): number | undefined;
  /**
   * Where a field is written in the cell's source, as `fieldSpan` finds it. Only an action cell's YAML
   * has fields written; a step made in code (a palette command) has no source at all.
   */
  spanOf?(field: string, part: 'key' | 'value', text?: string): TextSpan | undefined;
}

export function readSteps(document: RunbookDocument, file?: string): { steps: Step[]; problems: Problem[] } {
  const steps: Step[] = [];
  const problems: Problem[] = [];
  const seenIds = new Map<string, number>();
  document.cells.forEach((cell, cellIndex) => {
    if (cell.kind !== 'action' && cell.kind !== 'shell') return;
    const read = cell.kind === 'shell' ? readShellStep(cell, cellIndex) : readActionStep(cell, cellIndex, file);
    if ('problems' in read) {
      problems.push(...read.problems);
      return;
    }
    const step = read.step;
    if (step.id !== undefined) {
      const where = { file, cell: step.cellNumber, line: step.line, field: 'id', span: step.spanOf?.('id', 'value') };
      if (!STEP_ID.test(step.id)) problems.push({ ...where, message: `a step id uses letters, digits, _ and -, got ${JSON.stringify(step.id)}` });
      const earlier = seenIds.get(step.id);
      if (earlier !== undefined) problems.push({ ...where, message: `id '${step.id}' is already used by cell ${earlier}` });
      seenIds.set(step.id, step.cellNumber);
    }
    steps.push(step);
  });
  return { steps, problems };
}

function baseStep(cell: Cell, cellIndex: number): Pick<Step, 'cellIndex' | 'cellNumber' | 'line'> {
  return { cellIndex, cellNumber: cellIndex + 1, line: cell.origin?.line };
}

function readShellStep(cell: Cell, cellIndex: number): { step: Step } {
  const first = cell.source.split('\n').find((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  return {
    step: {
      ...baseStep(cell, cellIndex),
      kind: 'shell',
      actionId: 'shell',
      id: cell.attributes.id,
      title: cell.attributes.name ?? first?.trim() ?? 'shell',
      params: { script: cell.source, interpreter: cell.language === 'bash' ? 'bash' : 'sh' },
      dryRun: cell.attributes.dryRun === 'true',
      lineOf: () => cell.origin?.line,
    },
  };
}

function readActionStep(cell: Cell, cellIndex: number, file: string | undefined): { step: Step } | { problems: Problem[] } {
  const base = baseStep(cell, cellIndex);
  const read = readYaml(cell.source);
  const { lineCounter } = read;
  // The body starts on the line after the opening fence.
  const fileLine = (yamlLine: number) => (base.line === undefined ? undefined : base.line + yamlLine);
  const where = { file, cell: base.cellNumber, line: base.line };

  if (!read.ok) {
    return {
      problems: read.faults.map((fault) => ({
        ...where,
        line: fileLine(lineCounter.linePos(fault.start).line),
        span: { start: fault.start, end: fault.end },
        message: fault.message,
      })),
    };
  }
  const yaml = read.document;
  const spanOf = (field: string, part: 'key' | 'value', text?: string) => fieldSpan(yaml, cell.source, field, part, text);
  const body = read.data;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { problems: [{ ...where, message: 'an action cell is a YAML mapping with `action: <id>` and the action’s parameters' }] };
  }
  const record = body as Record<string, unknown>;
  const problems: Problem[] = [];
  if (typeof record.action !== 'string' || record.action === '') {
    problems.push({ ...where, field: 'action', span: spanOf('action', 'value'), message: 'missing `action: <id>` (run `lifeboat actions` for the list)' });
  }
  const yamlId = record.id;
  if (yamlId !== undefined && typeof yamlId !== 'string') problems.push({ ...where, field: 'id', span: spanOf('id', 'value'), message: 'expected a string' });
  if (typeof yamlId === 'string' && cell.attributes.id !== undefined && cell.attributes.id !== yamlId) {
    problems.push({ ...where, field: 'id', span: spanOf('id', 'value'), message: `the fence says id=${cell.attributes.id} and the YAML says id: ${yamlId}; keep one` });
  }
  if (record.dryRun !== undefined && typeof record.dryRun !== 'boolean') problems.push({ ...where, field: 'dryRun', span: spanOf('dryRun', 'value'), message: 'expected true or false' });
  if (problems.length > 0) return { problems };

  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (!STEP_KEYS.has(key)) params[key] = value;
  const actionId = record.action as string;
  return {
    step: {
      ...base,
      kind: 'action',
      actionId,
      id: (yamlId as string | undefined) ?? cell.attributes.id,
      title: cell.attributes.name ?? actionId,
      params,
      dryRun: record.dryRun === true,
      lineOf: (field) => {
        const span = spanOf(field, 'key');
        return span === undefined ? base.line : fileLine(lineCounter.linePos(span.start).line);
      },
      spanOf,
    },
  };
}
