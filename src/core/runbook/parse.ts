import markdownIt from 'markdown-it';
import type { MarkdownIt, Token } from 'markdown-it';
import { parseFenceInfo } from './attributes';
import { LineIndex, toLf, withoutFinalLineBreak } from './lines';
import type { Cell, FrontmatterOrigin, RunbookDocument } from './model';
import { kindOfFence } from './model';
import type { YamlFault } from '../yamlData';
import { readYaml } from '../yamlData';

let blockParser: MarkdownIt | undefined;

/**
 * Cells only need block structure, so inline parsing is switched off. HTML blocks are on, as in
 * VS Code's preview: a fence inside `<details>` is part of the HTML, not a cell.
 */
function markdownBlockParser(): MarkdownIt {
  if (!blockParser) {
    blockParser = markdownIt('default', { html: true });
    blockParser.core.ruler.enableOnly(['normalize', 'block']);
  }
  return blockParser;
}

export function blockTokens(markdown: string): Token[] {
  return markdownBlockParser().parse(markdown, {});
}

interface Block {
  start: number;
  end: number;
  fence?: Token;
}

/**
 * Splits a Markdown file into cells. Top-level fences become code cells; everything else (prose,
 * HTML, indented code, fences nested in lists or quotes) stays in markdown cells. Every byte lands in
 * exactly one place (layout, a cell's text or a cell's gap), so `serializeRunbook` restores the file.
 */
export function parseRunbook(input: string): RunbookDocument {
  const bom = input.charCodeAt(0) === 0xfeff;
  const text = bom ? input.slice(1) : input;
  const lines = new LineIndex(text);
  const frontmatter = readFrontmatter(lines);
  const bodyLine = frontmatter?.lineCount ?? 0;

  const blocks = splitBlocks(lines, bodyLine, blockTokens(lines.slice(bodyLine, lines.count)));
  const cells = blocks.map((block, index): Cell => {
    const next = blocks[index + 1];
    const text = lines.slice(block.start, block.end);
    const gap = lines.slice(block.end, next ? next.start : lines.count);
    return block.fence ? fenceCell(block.fence, text, gap, block.start) : markdownCell(text, gap, block.start);
  });

  const firstStart = blocks[0]?.start ?? lines.count;
  const document: RunbookDocument = {
    // A copy, so edits made in place are told apart from the origin.
    frontmatter: frontmatter?.origin.data ? structuredClone(frontmatter.origin.data) : null,
    cells,
    layout: {
      bom,
      eol: lines.crlfCount > lines.lfCount ? '\r\n' : '\n',
      frontmatter: frontmatter?.origin ?? null,
      leading: lines.slice(bodyLine, firstStart),
    },
  };
  if (frontmatter?.error) document.frontmatterError = frontmatter.error;
  return document;
}

/** Fence blocks from the tokens, and the prose between them with surrounding blank lines trimmed off. */
function splitBlocks(lines: LineIndex, bodyLine: number, tokens: Token[]): Block[] {
  const blocks: Block[] = [];
  const addProse = (from: number, to: number) => {
    while (from < to && lines.isBlank(from)) from++;
    while (to > from && lines.isBlank(to - 1)) to--;
    if (from < to) blocks.push({ start: from, end: to });
  };
  let cursor = bodyLine;
  for (const token of tokens) {
    if (token.type !== 'fence' || token.level !== 0 || !token.map) continue;
    const start = token.map[0] + bodyLine;
    const end = token.map[1] + bodyLine;
    addProse(cursor, start);
    blocks.push({ start, end, fence: token });
    cursor = end;
  }
  addProse(cursor, lines.count);
  return blocks;
}

function markdownCell(text: string, gap: string, startLine: number): Cell {
  const source = toLf(withoutFinalLineBreak(text));
  return {
    kind: 'markdown',
    language: 'markdown',
    source,
    attributes: {},
    origin: { text, gap, line: startLine + 1, kind: 'markdown', language: 'markdown', source, attributes: {} },
  };
}

function fenceCell(token: Token, text: string, gap: string, startLine: number): Cell {
  const info = token.info;
  const { language, attributes } = parseFenceInfo(info);
  const kind = kindOfFence(language);
  const source = withoutFinalLineBreak(token.content);
  return {
    kind,
    language,
    source,
    attributes,
    origin: { text, gap, line: startLine + 1, kind, language, source, attributes: { ...attributes }, info },
  };
}

const FRONTMATTER_OPEN = /^---[ \t]*$/;
const FRONTMATTER_CLOSE = /^(?:---|\.\.\.)[ \t]*$/;

interface FrontmatterRead {
  origin: FrontmatterOrigin;
  lineCount: number;
  error?: string;
}

function readFrontmatter(lines: LineIndex): FrontmatterRead | undefined {
  if (lines.count < 2 || !FRONTMATTER_OPEN.test(lines.content(0))) return undefined;
  let close = 1;
  while (close < lines.count && !FRONTMATTER_CLOSE.test(lines.content(close))) close++;
  if (close >= lines.count) return undefined;

  const text = lines.slice(0, close + 1);
  const read = readYaml(toLf(lines.slice(1, close)));
  if (!read.ok) {
    const fault = read.faults[0] as YamlFault;
    // The YAML's first line is the file's second.
    const line = read.lineCounter.linePos(fault.start).line + 1;
    return { origin: { text, data: null }, lineCount: close + 1, error: `frontmatter is ${fault.message} (line ${line})` };
  }
  const parsed = read.data;
  if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
    return { origin: { text, data: null }, lineCount: close + 1, error: 'frontmatter must be a YAML mapping' };
  }
  return { origin: { text, data: (parsed as Record<string, unknown> | null | undefined) ?? null }, lineCount: close + 1 };
}
