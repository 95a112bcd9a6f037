import type { Document, LineCounter } from 'yaml';
import { isNode } from 'yaml';
import type * as z from 'zod';
import type { Problem } from '../errors';
import { writtenKeySpan } from '../runbook/yamlSpans';
import type { InventoryFile } from './schema';
import { inventorySchema } from './schema';

/**
 * Checks a `lifeboat.yaml` read by `readYaml` (its data, and the document and line counter to place
 * problems) against the inventory schema. Each problem names the file, the line of the offending
 * value (or of its mapping, when a field is missing) and the field's dotted path.
 */
export function validateInventory(data: unknown, document: Document, lineCounter: LineCounter, file: string): { inventory: InventoryFile; problems: Problem[] } {
  const parsed = inventorySchema.safeParse(data);
  if (parsed.success) return { inventory: parsed.data, problems: [] };
  const problems = parsed.error.issues.flatMap((issue) => describeIssue(issue, [])).map(({ path, message }) => ({
    file,
    line: lineOf(document, lineCounter, path),
    field: path.join('.') || undefined,
    message,
  }));
  return { inventory: {}, problems };
}

interface Described {
  path: PropertyKey[];
  message: string;
}

/** Flattens an issue; a union reports the alternative that came closest, not "invalid input". */
function describeIssue(issue: z.core.$ZodIssue, prefix: PropertyKey[]): Described[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const closest = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
    return closest.flatMap((inner) => describeIssue(inner, path));
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown field '${key}'` }));
  }
  return [{ path, message: issue.message }];
}

/** The 1-based line of the deepest part of `path` written in the document (its key), else of the document. */
function lineOf(document: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  const start = writtenKeySpan(document, path.map(String))?.start ?? (isNode(document.contents) ? document.contents.range?.[0] : undefined);
  return start === undefined ? undefined : lineCounter.linePos(start).line;
}
