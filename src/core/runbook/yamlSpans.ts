import { isMap, isNode, isScalar, isSeq } from 'yaml';
import type { Document, Pair, YAMLMap } from 'yaml';
import type { TextSpan } from '../errors';

/**
 * Where a dotted field (`paths.0`, `env.HOME`) is written in a YAML text: its key or its value (the
 * key when the value is empty). With `text`, the first place that text is written inside the value.
 * A field that is not written gives its closest written parent's key; undefined when none is.
 */
export function fieldSpan(yaml: Document, source: string, field: string, part: 'key' | 'value', text?: string): TextSpan | undefined {
  const { found, whole } = writtenPath(yaml, field.split('.').filter(Boolean));
  if (!found) return undefined;
  if (!whole || part === 'key' || !found.value) return found.key;
  if (text !== undefined) {
    const at = source.indexOf(text, found.value.start);
    if (at !== -1 && at + text.length <= found.value.end) return { start: at, end: at + text.length };
  }
  return found.value;
}

/** The key of the deepest part of `path` (keys and list indexes) written in a YAML document. */
export function writtenKeySpan(yaml: Document, path: readonly string[]): TextSpan | undefined {
  return writtenPath(yaml, path).found?.key;
}

interface WrittenPath {
  found: { key: TextSpan; value: TextSpan | undefined } | undefined;
  /** Every segment of the path is written. */
  whole: boolean;
}

function writtenPath(yaml: Document, segments: readonly string[]): WrittenPath {
  let node: unknown = yaml.contents;
  let found: WrittenPath['found'];
  for (const segment of segments) {
    let key: unknown;
    if (isMap(node)) {
      const pair = pairsByKey(node).get(segment);
      if (!pair) return { found, whole: false };
      key = pair.key;
      node = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(segment)) {
      // A list item has no key of its own: the item stands for both.
      key = node.items[Number(segment)];
      node = key;
      if (key === undefined) return { found, whole: false };
    } else {
      return { found, whole: false };
    }
    const keySpan = spanOfNode(key);
    if (!keySpan) return { found, whole: false };
    const valueSpan = spanOfNode(node);
    found = { key: keySpan, value: valueSpan && valueSpan.end > valueSpan.start ? valueSpan : undefined };
  }
  return { found, whole: true };
}

/**
 * A mapping's pairs by key, the first of equal keys, built once per mapping: a cell with thousands of
 * unknown fields is located one field at a time, and a search per field would be quadratic.
 */
const pairIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairsByKey(map: YAMLMap): Map<string, Pair> {
  let index = pairIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const item of map.items) {
      const key = isScalar(item.key) ? String(item.key.value) : undefined;
      if (key !== undefined && !index.has(key)) index.set(key, item);
    }
    pairIndexes.set(map, index);
  }
  return index;
}

function spanOfNode(node: unknown): TextSpan | undefined {
  const range = isNode(node) ? node.range : undefined;
  return range ? { start: range[0], end: range[1] } : undefined;
}
