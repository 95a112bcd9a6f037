/**
 * A runbook as cells. The model is also the JSON that `lifeboat parse` prints and `lifeboat serialize`
 * reads, so it holds only plain data.
 */

export type CellKind = 'markdown' | 'action' | 'shell' | 'code';

export type CellAttributes = Record<string, string>;

export interface Cell {
  kind: CellKind;
  /** `markdown` for prose cells; the fence's language otherwise (may be empty). */
  language: string;
  /** The text a person edits: prose without surrounding blank lines, or the fence body. Lines end in `\n`. */
  source: string;
  /** Fence info attributes, e.g. `{id=find name="Find backup"}`. */
  attributes: CellAttributes;
  /** How the cell was written in the file; absent for a cell created after parsing. */
  origin?: CellOrigin;
}

/**
 * The bytes a cell came from, and what it parsed to. A cell whose kind, language, source and attributes
 * still equal these is written back as `text + gap`, byte for byte; an edited one is written canonically.
 */
export interface CellOrigin {
  /** The cell's own lines, exactly as in the file. */
  text: string;
  /** The blank lines after the cell (and its final line break), exactly as in the file. */
  gap: string;
  /** 1-based line of the cell's first line in the file. */
  line: number;
  kind: CellKind;
  language: string;
  source: string;
  attributes: CellAttributes;
  /** The fence info string as written, reused when the language and attributes are unchanged. */
  info?: string;
}

export interface FrontmatterOrigin {
  /** From the opening `---` through the closing line's line break, exactly as in the file. */
  text: string;
  /** What `text` parsed to, to tell whether `RunbookDocument.frontmatter` was edited. */
  data: Record<string, unknown> | null;
}

export interface DocumentLayout {
  bom: boolean;
  /** The file's dominant line ending, used for cells that are written canonically. */
  eol: '\n' | '\r\n';
  frontmatter: FrontmatterOrigin | null;
  /** Blank lines before the first cell. */
  leading: string;
}

export interface RunbookDocument {
  /** The parsed YAML frontmatter (runbook parameters live under `params`), or null when there is none. */
  frontmatter: Record<string, unknown> | null;
  cells: Cell[];
  layout: DocumentLayout;
  /** Set when the frontmatter is not valid YAML; the file still round-trips. */
  frontmatterError?: string;
}

export const SHELL_LANGUAGES: ReadonlySet<string> = new Set(['bash', 'sh', 'shell']);
export const ACTION_LANGUAGE = 'lifeboat';

export function kindOfFence(language: string): CellKind {
  if (language === ACTION_LANGUAGE) return 'action';
  if (SHELL_LANGUAGES.has(language)) return 'shell';
  return 'code';
}

export function isRunnable(cell: Cell): boolean {
  return cell.kind === 'action' || cell.kind === 'shell';
}
