import * as vscode from 'vscode';
import type { Cell, CellKind, DocumentLayout, RunbookDocument } from '../core/runbook/model';
import { ACTION_LANGUAGE, kindOfFence } from '../core/runbook/model';
import { ValidationError } from '../core/errors';
import { decodeText } from '../core/textFiles';
import { loadFormat } from './lazy';

export const NOTEBOOK_TYPE = 'lifeboat-runbook';
/**
 * The same notebook offered for every other Markdown file as an option ("Reopen Editor With…"): VS Code
 * lists an editor there only for files its selector matches, and `*.md` must not open as a runbook by default.
 */
export const MARKDOWN_NOTEBOOK_TYPE = 'lifeboat-markdown';
export const RUNBOOK_NOTEBOOK_TYPES = [NOTEBOOK_TYPE, MARKDOWN_NOTEBOOK_TYPE] as const;

export function isRunbookNotebook(notebook: vscode.NotebookDocument): boolean {
  return (RUNBOOK_NOTEBOOK_TYPES as readonly string[]).includes(notebook.notebookType);
}

/** What a notebook cell carries so the Markdown it came from can be written back unchanged. */
interface CellMetadata {
  language: string;
  attributes: Record<string, string>;
  origin?: Cell['origin'];
}

interface NotebookMetadata {
  frontmatter: Record<string, unknown> | null;
  layout: DocumentLayout;
  frontmatterError?: string;
}

/** The layout of a notebook that did not come from a file. */
export const NEW_LAYOUT: DocumentLayout = { bom: false, eol: '\n', frontmatter: null, leading: '' };

/** Editor languages for the fence languages; the fence language itself is kept in the cell's metadata. */
const EDITOR_LANGUAGE: Partial<Record<CellKind, string>> = { action: 'yaml', shell: 'shellscript' };

/**
 * Markdown ⇄ notebook. The parsing lives in `core/runbook` (the format bundle); this only maps
 * cells to `NotebookCellData` and back.
 */
export class RunbookSerializer implements vscode.NotebookSerializer {
  async deserializeNotebook(content: Uint8Array): Promise<vscode.NotebookData> {
    const { parseRunbook } = loadFormat();
    const document = parseRunbook(decodeRunbookBytes(content));
    const cells = document.cells.map((cell) => {
      const data = new vscode.NotebookCellData(
        cell.kind === 'markdown' ? vscode.NotebookCellKind.Markup : vscode.NotebookCellKind.Code,
        cell.source,
        cell.kind === 'markdown' ? 'markdown' : (EDITOR_LANGUAGE[cell.kind] ?? (cell.language || 'plaintext')),
      );
      const metadata: CellMetadata = { language: cell.language, attributes: cell.attributes, origin: cell.origin };
      data.metadata = { lifeboat: metadata };
      return data;
    });
    const notebook = new vscode.NotebookData(cells);
    const metadata: NotebookMetadata = { frontmatter: document.frontmatter, layout: document.layout, frontmatterError: document.frontmatterError };
    notebook.metadata = { lifeboat: metadata };
    return notebook;
  }

  async serializeNotebook(data: vscode.NotebookData): Promise<Uint8Array> {
    const { serializeRunbook } = loadFormat();
    return new TextEncoder().encode(serializeRunbook(toRunbookDocument(data.cells, data.metadata)));
  }
}

/**
 * A file too large or not UTF-8 is not opened: a notebook of replacement characters, once saved, would
 * overwrite the file's real bytes. VS Code shows the thrown message in place of the editor.
 */
function decodeRunbookBytes(content: Uint8Array): string {
  try {
    return decodeText(content, 'runbook');
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const [problem] = error.problems;
    const where = problem?.line === undefined ? '' : `line ${problem.line}: `;
    throw new Error(`Lifeboat cannot open this runbook, ${where}${problem?.message ?? error.message}. The file is left as it is.`);
  }
}

/** What a notebook cell and a `NotebookCellData` both offer; the runbook is rebuilt from either. */
interface CellContent {
  kind: vscode.NotebookCellKind;
  value: string;
  languageId: string;
  metadata?: Record<string, unknown>;
}

/** The runbook a notebook shows now, unsaved edits included: what the controller and validation read. */
export function runbookOfNotebook(notebook: vscode.NotebookDocument): RunbookDocument {
  return toRunbookDocument(notebook.getCells().map(contentOf), notebook.metadata);
}

/** One notebook cell as a runbook cell. */
export function runbookCellOf(cell: vscode.NotebookCell): Cell {
  return toRunbookCell(contentOf(cell));
}

function contentOf(cell: vscode.NotebookCell): CellContent {
  return { kind: cell.kind, value: cell.document.getText(), languageId: cell.document.languageId, metadata: cell.metadata };
}

function toRunbookDocument(cells: readonly CellContent[], metadata: Record<string, unknown> | undefined): RunbookDocument {
  const notebook = metadata?.lifeboat as NotebookMetadata | undefined;
  return {
    frontmatter: notebook?.frontmatter ?? null,
    layout: notebook?.layout ?? NEW_LAYOUT,
    cells: cells.map(toRunbookCell),
    frontmatterError: notebook?.frontmatterError,
  };
}

function toRunbookCell(data: CellContent): Cell {
  const metadata = data.metadata?.lifeboat as CellMetadata | undefined;
  const source = data.value.replace(/\r\n?/g, '\n');
  if (data.kind === vscode.NotebookCellKind.Markup) {
    return { kind: 'markdown', language: 'markdown', source, attributes: {}, origin: metadata?.origin };
  }
  const language = metadata && editorLanguageOf(metadata.language) === data.languageId ? metadata.language : fenceLanguageOf(data.languageId, source);
  return { kind: kindOfFence(language), language, source, attributes: metadata?.attributes ?? {}, origin: metadata?.origin };
}

function editorLanguageOf(fenceLanguage: string): string {
  return EDITOR_LANGUAGE[kindOfFence(fenceLanguage)] ?? (fenceLanguage || 'plaintext');
}

/**
 * A cell added in the notebook, or whose editor language was changed by hand, gets the matching fence
 * language; a YAML cell that names an action is an action cell.
 */
function fenceLanguageOf(editorLanguage: string, source: string): string {
  if (editorLanguage === 'shellscript') return 'bash';
  if (editorLanguage === 'yaml' && /^action:/m.test(source)) return ACTION_LANGUAGE;
  if (editorLanguage === 'plaintext') return '';
  return editorLanguage;
}
