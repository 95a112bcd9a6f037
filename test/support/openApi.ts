import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** The parts of an OpenAPI 3.1 document the conformance tests read. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, Schema> };
}

export interface OpenApiOperation {
  parameters?: { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

export type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
};

export function loadOpenApi(file: string): OpenApiDocument {
  return parse(readFileSync(file, 'utf8')) as OpenApiDocument;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * Where `value` breaks `schema` (JSON Schema as OpenAPI 3.1 uses it: $ref, type, properties,
 * required, items, additionalProperties, anyOf/oneOf/allOf, enum, const); empty when it conforms.
 */
export function schemaProblems(document: OpenApiDocument, schema: Schema | undefined, value: unknown, at = '$'): string[] {
  if (!schema) return [];
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = document.components?.schemas?.[name];
    if (!target) return [`${at}: unresolved ${schema.$ref}`];
    return schemaProblems(document, target, value, at);
  }
  const problems: string[] = [];
  if (schema.anyOf || schema.oneOf) {
    const options = schema.anyOf ?? schema.oneOf ?? [];
    if (!options.some((option) => schemaProblems(document, option, value, at).length === 0)) problems.push(`${at}: matches none of ${options.length} alternatives`);
  }
  for (const part of schema.allOf ?? []) problems.push(...schemaProblems(document, part, value, at));
  if (schema.type) {
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = typeOf(value);
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number'))) return [...problems, `${at}: expected ${allowed.join('|')}, got ${actual}`];
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (schema.const !== undefined && schema.const !== value) problems.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of schema.required ?? []) if (!(name in record)) problems.push(`${at}: missing required '${name}'`);
    for (const [name, field] of Object.entries(record)) {
      const declared = schema.properties?.[name];
      if (declared) problems.push(...schemaProblems(document, declared, field, `${at}.${name}`));
      else if (schema.additionalProperties === false) problems.push(`${at}: unexpected '${name}'`);
      else if (typeof schema.additionalProperties === 'object') problems.push(...schemaProblems(document, schema.additionalProperties, field, `${at}.${name}`));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, index) => problems.push(...schemaProblems(document, schema.items, item, `${at}[${index}]`)));
  return problems;
}
