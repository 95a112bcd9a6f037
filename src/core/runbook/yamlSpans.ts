import { isMap, isNode, isScalar, isSeq } from 'yaml';
import type { Document, Pair, YAMLMap } from 'yaml';
import type { TextSpan } from '../errors';

/**
 * Where a dotted field (`paths.0`, `env.HOME`) is written in a YAML text: its key or its value (the
 * key when the value is empty). With `text`, the first place that text is written inside the value.
 * A field that is not written gives its closest written parent's key; undefined when none is.
 */
export function fieldSpan(yaml: Document, source: string, field: string, part: 'key' | 'value', text?: string): TextSpan | undefined {
  let node: unknown = yaml.contents;
  let found: { key: TextSpan; value: TextSpan | undefined } | undefined;
  for (const segment of field.split('.').filter(Boolean)) {
    let key: unknown;
    if (isMap(node)) {
      const pair = pairsByKey(node).get(segment);
      if (!pair) return found?.key;
      key = pair.key;
      node = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(segment)) {
      // A list item has no key of its own: the item stands for both.
      key = node.items[Number(segment)];
      node = key;
      if (key === undefined) return found?.key;
    } else {
      return found?.key;
    }
    const keySpan = spanOfNode(key);
    if (!keySpan) return found?.key;
    const valueSpan = spanOfNode(node);
    found = { key: keySpan, value: valueSpan && valueSpan.end > valueSpan.start ? valueSpan : undefined };
  }
  if (!found) return undefined;
  if (part === 'key' || !found.value) return found.key;
  if (text !== undefined) {
    const at = source.indexOf(text, found.value.start);
    if (at !== -1 && at + text.length <= found.value.end) return { start: at, end: at + text.length };
  }
  return found.value;
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
