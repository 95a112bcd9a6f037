import * as z from 'zod';
import type { RunbookDocument } from '../core/runbook/model';

/**
 * The JSON of `lifeboat parse`, checked when `lifeboat serialize` reads it back, so a script that
 * builds or edits it gets a clear error instead of a broken file.
 */
const cellKind = z.enum(['markdown', 'action', 'shell', 'code']);
const attributes = z.record(z.string(), z.string());

const cellOrigin = z.object({
  text: z.string(),
  gap: z.string(),
  line: z.number().int().positive(),
  kind: cellKind,
  language: z.string(),
  source: z.string(),
  attributes,
  info: z.string().optional(),
});

const cell = z.object({
  kind: cellKind,
  language: z.string(),
  source: z.string(),
  attributes: attributes.default({}),
  origin: cellOrigin.optional(),
});

const mapping = z.record(z.string(), z.unknown());

const documentJson = z.object({
  frontmatter: mapping.nullable().default(null),
  cells: z.array(cell),
  layout: z
    .object({
      bom: z.boolean().default(false),
      eol: z.enum(['\n', '\r\n']).default('\n'),
      frontmatter: z.object({ text: z.string(), data: mapping.nullable() }).nullable().default(null),
      leading: z.string().default(''),
    })
    .default({ bom: false, eol: '\n', frontmatter: null, leading: '' }),
  frontmatterError: z.string().optional(),
});

export function readDocumentJson(text: string): RunbookDocument {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`stdin is not JSON: ${(error as Error).message}`);
  }
  const parsed = documentJson.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`);
    throw new Error(`stdin is not a runbook as printed by \`lifeboat parse\`:\n${issues.join('\n')}`);
  }
  return parsed.data;
}
