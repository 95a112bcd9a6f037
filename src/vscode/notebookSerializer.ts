import * as vscode from 'vscode';
import type { Cell, CellKind, DocumentLayout, RunbookDocument } from '../core/runbook/model';
import { kindOfFence } from '../core/runbook/model';

export const NOTEBOOK_TYPE = 'lifeboat-runbook';

/** What a notebook cell carries so the Markdown it came from can be written back unchanged. */
interface CellMetadata {
  language: string;
  attributes: Record<string, string>;
  origin?: Cell['origin'];
}

interface NotebookMetadata {
  frontmatter: Record<string, unknown> | null;
  layout: DocumentLayout;
}

/** Editor languages for the fence languages; the fence language itself is kept in the cell's metadata. */
const EDITOR_LANGUAGE: Partial<Record<CellKind, string>> = { action: 'yaml', shell: 'shellscript' };

/**
 * Markdown ⇄ notebook. The parsing lives in `core/runbook` (loaded on first use); this only maps
 * cells to `NotebookCellData` and back.
 */
export class RunbookSerializer implements vscode.NotebookSerializer {
  async deserializeNotebook(content: Uint8Array): Promise<vscode.NotebookData> {
    const { parseRunbook } = await import('../core/runbook/parse');
    const document = parseRunbook(new TextDecoder('utf-8', { ignoreBOM: true }).decode(content));
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
    const metadata: NotebookMetadata = { frontmatter: document.frontmatter, layout: document.layout };
    notebook.metadata = { lifeboat: metadata };
    return notebook;
  }

  async serializeNotebook(data: vscode.NotebookData): Promise<Uint8Array> {
    const { serializeRunbook } = await import('../core/runbook/serialize');
    const notebook = data.metadata?.lifeboat as NotebookMetadata | undefined;
    const document: RunbookDocument = {
      frontmatter: notebook?.frontmatter ?? null,
      layout: notebook?.layout ?? { bom: false, eol: '\n', frontmatter: null, leading: '' },
      cells: data.cells.map(toRunbookCell),
    };
    return new TextEncoder().encode(serializeRunbook(document));
  }
}

function toRunbookCell(data: vscode.NotebookCellData): Cell {
  const metadata = data.metadata?.lifeboat as CellMetadata | undefined;
  const source = data.value.replace(/\r\n?/g, '\n');
  if (data.kind === vscode.NotebookCellKind.Markup) {
    return { kind: 'markdown', language: 'markdown', source, attributes: {}, origin: metadata?.origin };
  }
  const language = metadata && editorLanguageOf(metadata.language) === data.languageId ? metadata.language : fenceLanguageOf(data.languageId);
  return { kind: kindOfFence(language), language, source, attributes: metadata?.attributes ?? {}, origin: metadata?.origin };
}

function editorLanguageOf(fenceLanguage: string): string {
  return EDITOR_LANGUAGE[kindOfFence(fenceLanguage)] ?? (fenceLanguage || 'plaintext');
}

/** A cell whose editor language was changed by hand gets the matching fence language. */
function fenceLanguageOf(editorLanguage: string): string {
  if (editorLanguage === 'shellscript') return 'bash';
  if (editorLanguage === 'plaintext') return '';
  return editorLanguage;
}
