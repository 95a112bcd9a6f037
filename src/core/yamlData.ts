import { isAlias, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node } from 'yaml';

/**
 * The yaml library's own guard against alias bombs ("billion laughs"): how many values aliases may
 * expand to. Its default, stated here so every parse of a user's YAML uses the same bound.
 */
export const MAX_ALIAS_COUNT = 100;

/** What is wrong in a YAML text, by offsets into it; `message` is whole ("not valid YAML: …"). */
export interface YamlFault {
  start: number;
  end: number;
  message: string;
}

export type YamlRead =
  | { ok: true; document: Document.Parsed; lineCounter: LineCounter; data: unknown }
  | { ok: false; lineCounter: LineCounter; faults: YamlFault[] };

/**
 * A user's YAML as data, read the same way everywhere (action cells, frontmatter, lifeboat.yaml, the
 * secrets file): syntax errors, aliases that expand past `MAX_ALIAS_COUNT`, nesting too deep to read
 * and `__proto__` keys are faults with their place, never exceptions.
 */
export function readYaml(text: string, { scalarsAsText = false }: { scalarsAsText?: boolean } = {}): YamlRead {
  const lineCounter = new LineCounter();
  const failed = (faults: YamlFault[]): YamlRead => ({ ok: false, lineCounter, faults });
  let document: Document.Parsed;
  try {
    // The library's duplicate-key check compares each key with every earlier one (a mapping of 20,000
    // keys took seconds); `keyFaults` does the same check in one pass.
    document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, ...(scalarsAsText ? { schema: 'failsafe' } : {}) });
  } catch (error) {
    return failed([{ start: 0, end: 0, message: `not valid YAML: ${firstLine(error)}` }]);
  }
  if (document.errors.length > 0) {
    return failed(document.errors.map((error) => ({ start: error.pos[0], end: error.pos[1], message: `not valid YAML: ${describeSyntaxError(error)}` })));
  }
  try {
    const badKeys = keyFaults(document);
    if (badKeys.length > 0) return failed(badKeys);
    return { ok: true, document, lineCounter, data: document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (error) {
    const alias = firstAlias(document);
    const [start, end] = alias?.range ?? [0, 0];
    if (error instanceof RangeError) return failed([{ start: 0, end: 0, message: `not valid YAML: ${TOO_DEEP}` }]);
    if (alias && /alias count/i.test(firstLine(error))) {
      return failed([{ start, end, message: `not valid YAML: its aliases would expand to more than ${MAX_ALIAS_COUNT} values (an alias bomb)` }]);
    }
    return failed([{ start, end, message: `not valid YAML: ${firstLine(error)}` }]);
  }
}

/**
 * A YAML text's structure, to find places in it (completions, where a problem is): nothing is
 * converted to data and duplicate keys are not looked for, so it costs time in proportion to the text.
 */
export function parseYamlStructure(text: string): Document.Parsed {
  return parseDocument(text, { prettyErrors: false, uniqueKeys: false });
}

/**
 * Keys written twice in one mapping (as the library reports them: equal scalar values), a list or a
 * mapping as a key, and `__proto__` as a key, written or through an alias: copied into an object by assignment it replaces
 * that object's prototype. (`constructor` and `prototype` become plain own properties and are kept.)
 */
function keyFaults(document: Document.Parsed): YamlFault[] {
  const faults: YamlFault[] = [];
  const fault = (key: unknown, message: string) => {
    const [start, end] = (key as Node).range ?? [0, 0];
    faults.push({ start, end, message: `not valid YAML: ${message}` });
  };
  visit(document, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isAlias(pair.key) ? pair.key.resolve(document) : pair.key;
        if (!isScalar(key)) {
          // Data keys are text: a list or mapping as a key would be flattened to its text (with a process warning from the library).
          fault(pair.key, 'a key must be a plain value, not a list or a mapping');
          continue;
        }
        if (key.value === '__proto__') fault(pair.key, '`__proto__` cannot be a key (it would replace an object’s prototype)');
        if (seen.has(key.value)) fault(pair.key, 'Map keys must be unique');
        seen.add(key.value);
      }
    },
  });
  return faults;
}

function firstAlias(document: Document.Parsed): Node | undefined {
  let found: Node | undefined;
  visit(document, {
    Alias(_key, alias) {
      found = alias;
      return visit.BREAK;
    },
  });
  return found;
}

const TOO_DEEP = 'nested too deeply to read';

/** The parser's message; its own stack running out on deep nesting is said as such. */
function describeSyntaxError(error: Error): string {
  return /call stack/i.test(error.message) ? TOO_DEEP : firstLine(error);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
