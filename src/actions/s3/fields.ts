import * as z from 'zod';
import type { ActionContext } from '../../core/actions/spec';
import { printable } from '../../core/render';

/** S3's own limit on a key, in UTF-8 bytes; a prefix is the start of a key. */
const MAX_KEY_BYTES = 1024;
/** What no key, prefix, filter or rule ID here may hold: it hides in listings and logs. */
export const CONTROL_CHARACTER = /\p{Cc}/u;

export const s3StoreParam = z.string().min(1).describe('Name of an S3 store under `stores:` in lifeboat.yaml.');

/**
 * A key prefix written by a person: no control characters (they hide in listings and logs) and no
 * `.` or `..` segment (tools that map keys to paths resolve them out of the folder meant).
 */
export const s3PrefixParam = z
  .string()
  .max(MAX_KEY_BYTES)
  .superRefine((prefix, check) => {
    const problem = prefixProblem(prefix);
    if (problem) check.addIssue({ code: 'custom', message: problem });
  });

/** Why `prefix` is refused as a key prefix, or undefined when it is fine. */
export function prefixProblem(prefix: string): string | undefined {
  if (CONTROL_CHARACTER.test(prefix)) return `'${printable(prefix)}' has a control character, which S3 keys here may not hold`;
  if (Buffer.byteLength(prefix) > MAX_KEY_BYTES) return `longer than S3's ${MAX_KEY_BYTES} bytes for a key`;
  if (prefix.startsWith('/')) return `'${printable(prefix)}' starts with '/': S3 keys have no leading slash (write '${printable(prefix.replace(/^\/+/, ''))}')`;
  if (prefix.split('/').some((segment) => segment === '..' || segment === '.')) return `'${printable(prefix)}' has a '.' or '..' segment, which tools that map keys to paths resolve out of the folder meant`;
  return undefined;
}

/** The inventory entry of a store, or a clear error naming the field. */
export function storeEntry(ctx: ActionContext, name: string) {
  const entry = ctx.inventory.stores?.[name];
  if (!entry) {
    const known = Object.keys(ctx.inventory.stores ?? {});
    throw new Error(`\`store\`: no S3 store '${printable(name)}' under \`stores:\` in lifeboat.yaml${known.length > 0 ? ` (there are: ${known.map(printable).join(', ')})` : ''}`);
  }
  return entry;
}

/** Where a store is, for plans and tables: `bucket on endpoint`. */
export function describeStoreTarget(ctx: ActionContext, name: string): string {
  const entry = storeEntry(ctx, name);
  return `bucket ${entry.bucket} on ${entry.endpoint ?? `AWS S3 (${entry.region})`}`;
}
