import { CST, Parser, parseDocument } from 'yaml';

type BlockMap = Extract<CST.Token, { type: 'block-map' }>;
type BlockSequence = Extract<CST.Token, { type: 'block-seq' }>;

/** The entries of `resources:` in a kustomization.yaml (what kustomize reads), or why they cannot be read. */
export function kustomizationResources(text: string): string[] {
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new Error(`it is not valid YAML: ${document.errors[0]?.message ?? ''}`);
  const resources = document.toJS() as { resources?: unknown } | null;
  if (resources?.resources === undefined || resources.resources === null) return [];
  if (!Array.isArray(resources.resources)) throw new Error('its `resources:` is not a list');
  return resources.resources.map(String);
}

function token(type: 'space' | 'seq-item-ind' | 'newline', source: string, indent: number): CST.SourceToken {
  return { type, offset: 0, indent, source };
}

/**
 * Adds `entry` to the `resources:` list of a kustomization.yaml, editing the file's syntax tree so
 * that every other byte stays as it was: comments, order, quoting, indentation and blank lines. The
 * new line follows the list's last entry with that entry's indentation. A file without `resources:`
 * gets the key at its end.
 */
export function addKustomizationResource(text: string, entry: string): string {
  const listed = kustomizationResources(text);
  if (listed.includes(entry)) return text;
  const tokens = [...new Parser().parse(text)];
  const document = tokens.find((candidate): candidate is CST.Document => candidate.type === 'document');
  const map = document?.value;
  if (!document || map?.type !== 'block-map') {
    if (document?.value && map?.type !== 'block-map') throw new Error('its top level is not a mapping');
    return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}resources:\n  - ${entry}\n`;
  }
  const item = (map as BlockMap).items.find((candidate) => candidate.key && CST.isScalar(candidate.key) && candidate.key.source === 'resources');
  if (!item) {
    // Appended after the document's last line, before any `---` that starts the next document.
    const end = map.offset + CST.stringify(map).length;
    const before = text.slice(0, end);
    return `${before}${before.endsWith('\n') ? '' : '\n'}resources:\n  - ${entry}\n${text.slice(end)}`;
  }
  const list = item.value;
  if (!list || list.type !== 'block-seq') {
    const empty = !list || (CST.isScalar(list) && list.source === '');
    if (empty) throw new Error('its `resources:` is empty; write the first entry by hand');
    throw new Error('its `resources:` is not a block list (`- ./file.yaml` lines); add the entry by hand');
  }
  const sequence = list as BlockSequence;
  const lastIndex = sequence.items.findLastIndex((candidate) => candidate.value !== undefined);
  const last = sequence.items[lastIndex];
  if (!last?.value) throw new Error('its `resources:` list has no entries');
  const afterDash = last.start.findLast((part) => part.type === 'space')?.source ?? ' ';
  const lastValue = last.value;
  const lastEnd = lastValue.type === 'scalar' || lastValue.type === 'single-quoted-scalar' || lastValue.type === 'double-quoted-scalar' ? (lastValue.end ??= []) : undefined;
  if (!lastEnd) throw new Error('the last entry of its `resources:` is not a plain file name; add the entry by hand');
  if (!lastEnd.some((part) => part.type === 'newline')) lastEnd.push(token('newline', '\n', sequence.indent));
  const indent = sequence.indent;
  const added: BlockSequence['items'][number] = {
    start: [token('space', ' '.repeat(indent), indent), token('seq-item-ind', '-', indent), token('space', afterDash, indent)],
    value: { type: 'scalar', offset: 0, indent, source: entry, end: [token('newline', '\n', indent)] },
  };
  sequence.items.splice(lastIndex + 1, 0, added);
  const edited = tokens.map((part) => CST.stringify(part)).join('');
  const check = kustomizationResources(edited);
  if (check.length !== listed.length + 1 || check.at(-1) !== entry) throw new Error('adding the entry would not give the expected list; add it by hand');
  return edited;
}
