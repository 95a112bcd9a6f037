import type { CellAttributes } from './model';

/** A fence info string split into its language and its `{key=value …}` attributes. */
export interface FenceInfo {
  language: string;
  attributes: CellAttributes;
}

const ATTRIBUTE = /\s*([A-Za-z_][\w.-]*)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s"'}]+)))?/y;

/**
 * `bash {id=find name="Find backup"}` → language `bash`, attributes `{id: 'find', name: 'Find backup'}`.
 * A key without a value means `true`. Text after the language that is not an attribute block is not an
 * attribute; it is kept in the cell's origin and written back as long as the info is not edited.
 */
export function parseFenceInfo(info: string): FenceInfo {
  const trimmed = info.trim();
  const brace = trimmed.indexOf('{');
  const head = brace === -1 ? trimmed : trimmed.slice(0, brace);
  const language = head.split(/\s+/, 1)[0] ?? '';
  if (brace === -1 || !trimmed.endsWith('}')) return { language, attributes: {} };
  return { language, attributes: parseAttributeBlock(trimmed.slice(brace + 1, -1)) };
}

function parseAttributeBlock(block: string): CellAttributes {
  const attributes: CellAttributes = {};
  ATTRIBUTE.lastIndex = 0;
  let match: RegExpExecArray | null;
  while (ATTRIBUTE.lastIndex < block.length && (match = ATTRIBUTE.exec(block)) !== null) {
    const [, key, doubleQuoted, singleQuoted, bare] = match;
    const value = doubleQuoted !== undefined ? doubleQuoted.replace(/\\(.)/g, '$1') : (singleQuoted ?? bare ?? 'true');
    attributes[key as string] = value;
    if (block.slice(ATTRIBUTE.lastIndex).trim() === '') break;
  }
  return attributes;
}

export function formatFenceInfo(language: string, attributes: CellAttributes): string {
  const pairs = Object.entries(attributes).map(([key, value]) => `${key}=${quoteAttribute(value)}`);
  if (pairs.length === 0) return language;
  return `${language}${language ? ' ' : ''}{${pairs.join(' ')}}`;
}

function quoteAttribute(value: string): string {
  return /^[^\s"'{}\\=]+$/.test(value) ? value : `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

export function sameAttributes(a: CellAttributes, b: CellAttributes): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
