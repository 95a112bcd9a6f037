import { isDeepStrictEqual } from 'node:util';
import { stringify as stringifyYaml } from 'yaml';
import { formatFenceInfo, sameAttributes } from './attributes';
import { endsWithLineBreak } from './lines';
import type { Cell, CellOrigin, RunbookDocument } from './model';

/**
 * Writes a runbook back to Markdown. Untouched parts are written from their original bytes; an
 * edited or new cell is written canonically, and its neighbours keep their bytes.
 */
export function serializeRunbook(document: RunbookDocument): string {
  const { layout } = document;
  const eol = layout.eol;
  // Pieces, joined once at the end: looking at the end of a growing string would flatten it per cell.
  const pieces = [(layout.bom ? '\uFEFF' : '') + serializeFrontmatter(document) + layout.leading];
  let previous: Cell | undefined;
  document.cells.forEach((cell, index) => {
    const before = pieces[pieces.length - 1] as string;
    // Only edits can put a cell after one that ended the file without a line break, or two prose cells
    // side by side; separate them so the file parses back into the same cells.
    if (previous && !endsWithLineBreak(before)) pieces.push(eol + eol);
    else if (previous?.kind === 'markdown' && cell.kind === 'markdown' && !endsWithBlankLine(before)) pieces.push(eol);

    const origin = cell.origin;
    if (origin && isUnchanged(cell, origin)) {
      pieces.push(origin.text + origin.gap);
    } else {
      const isLast = index === document.cells.length - 1;
      pieces.push(canonicalCell(cell, eol, origin) + (origin ? origin.gap : isLast ? '' : eol));
    }
    previous = cell;
  });
  return pieces.join('');
}

function isUnchanged(cell: Cell, origin: CellOrigin): boolean {
  return (
    cell.source === origin.source &&
    cell.kind === origin.kind &&
    cell.language === origin.language &&
    sameAttributes(cell.attributes, origin.attributes)
  );
}

function endsWithBlankLine(text: string): boolean {
  return /(?:\r?\n|\r)[ \t]*(?:\r?\n|\r)$/.test(text);
}

function canonicalCell(cell: Cell, eol: string, origin: CellOrigin | undefined): string {
  // A cell that ended the file without a line break keeps doing so.
  const end = origin && !endsWithLineBreak(origin.text) ? '' : eol;
  const body = cell.source === '' ? [] : cell.source.split(/\r?\n/);
  if (cell.kind === 'markdown') return body.join(eol) + end;

  const keepInfo = origin?.info !== undefined && origin.language === cell.language && sameAttributes(origin.attributes, cell.attributes);
  const info = keepInfo ? (origin.info as string).trim() : formatFenceInfo(cell.language, cell.attributes);
  const fence = fenceFor(cell.source, info);
  return [fence + info, ...body, fence].join(eol) + end;
}

/** A fence no line of the body can close, and that the info string may follow. */
function fenceFor(source: string, info: string): string {
  const longest = (marker: string) => Math.max(0, ...(source.match(new RegExp(`${marker}+`, 'g')) ?? []).map((run) => run.length));
  if (!info.includes('`')) return '`'.repeat(Math.max(3, longest('`') + 1));
  return '~'.repeat(Math.max(3, longest('~') + 1));
}

function serializeFrontmatter(document: RunbookDocument): string {
  const origin = document.layout.frontmatter;
  if (origin && isDeepStrictEqual(document.frontmatter, origin.data)) return origin.text;
  if (!document.frontmatter) return '';
  const eol = document.layout.eol;
  const yaml = stringifyYaml(document.frontmatter).replace(/\n/g, eol);
  return `---${eol}${yaml}---${eol}`;
}
