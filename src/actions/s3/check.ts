import { randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import * as z from 'zod';
import { S3StoreError, type S3Store } from '../../clients/s3';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { errorMessage, isCancellationError } from '../../core/errors';
import { formatCount, markdownTable, printable } from '../../core/render';
import { s3StoreFor } from '../s3Stores';
import { describeStoreTarget, s3PrefixParam, s3StoreParam, storeEntry } from './fields';

/** The object permissions a backup to S3 needs, as the check tries them, in that order. */
export const S3_PERMISSIONS = ['list', 'put', 'get', 'delete'] as const;
export type S3Permission = (typeof S3_PERMISSIONS)[number];

/** The IAM action each permission is granted by, as an IAM policy names it. */
const IAM_ACTION: Record<S3Permission | 'bucket', string> = {
  bucket: 's3:ListBucket (HeadBucket)',
  list: 's3:ListBucket',
  put: 's3:PutObject',
  get: 's3:GetObject',
  delete: 's3:DeleteObject',
};

/**
 * What the snapshot mirror needs: list the bucket and put objects (the minimal IAM policy of its
 * usual setup), and get, as it looks an object up (HEAD) before sending again what a retry or a
 * crash may have sent already.
 */
const MIRROR_PERMISSIONS: readonly S3Permission[] = ['list', 'put', 'get'];

/** Failures after which nothing more can be learnt from the store: every other request would fail the same way. */
const STORE_GONE: ReadonlySet<S3StoreError['kind']> = new Set(['unreachable', 'tls', 'no-such-bucket', 'no-credentials']);

export const s3CheckParams = z
  .object({
    store: s3StoreParam,
    prefix: s3PrefixParam
      .default('')
      .describe("Where the probe object is written, e.g. the mirror's `frigate/snapshots/`: a policy may grant a prefix only. The bucket's top when left out."),
    permissions: z
      .array(z.enum(S3_PERMISSIONS))
      .min(1)
      .default([...MIRROR_PERMISSIONS])
      .describe('The permissions required, each tried and reported: list, put, get, delete. The snapshot mirror needs list, put and get (the default: it looks up an object before sending it again); a backup with retention needs all four.'),
  })
  .strict();

export type S3CheckParams = z.output<typeof s3CheckParams>;

export type S3CheckOutcome = 'ok' | 'denied' | 'failed' | 'skipped' | 'not asked' | 'left behind';

export interface S3CheckRow {
  check: S3Permission | 'bucket' | 'cleanup';
  iamAction: string;
  required: boolean;
  outcome: S3CheckOutcome;
  /** The store's error code (AccessDenied, NoSuchBucket, SignatureDoesNotMatch) or the network's (ECONNREFUSED). */
  code?: string;
  detail: string;
}

export interface S3CheckResult {
  store: string;
  bucket: string;
  endpoint: string;
  prefix: string;
  /** The temporary object written and removed again. */
  probeKey: string;
  rows: S3CheckRow[];
  /** The required permissions that failed. */
  missing: S3Permission[];
}

/** The store's own error code, or the network's: what a person searches for. */
function codeOf(error: unknown): string | undefined {
  const cause = error instanceof S3StoreError ? (error.cause as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } } | undefined) : undefined;
  const candidates = [cause?.code, cause?.name].filter((value): value is string => typeof value === 'string' && !['', 'Error', 'Unknown', 'UnknownError'].includes(value));
  // An answer without a body (to HEAD) has no code: its status is what there is.
  const status = cause?.$metadata?.httpStatusCode;
  return candidates[0] ?? (status ? `HTTP ${status}` : error instanceof S3StoreError ? error.kind : undefined);
}

/** A failed request as a row: the code and the message, never a stack. */
function failure(check: S3CheckRow['check'], required: boolean, error: unknown): S3CheckRow {
  if (isCancellationError(error)) throw error;
  const denied = error instanceof S3StoreError && error.kind === 'access-denied';
  const code = codeOf(error);
  return { check, iamAction: IAM_ACTION[check === 'cleanup' ? 'delete' : check], required, outcome: denied ? 'denied' : 'failed', ...(code ? { code } : {}), detail: errorMessage(error) };
}

function probeKeyFor(prefix: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${prefix}lifeboat-permission-check-${stamp}-${randomBytes(6).toString('hex')}.tmp`;
}

/** Tries each permission with requests of its own, on a probe object no one else has. */
async function tryPermissions(store: S3Store, params: S3CheckParams, probeKey: string, ctx: ActionContext): Promise<S3CheckRow[]> {
  const signal = ctx.signal;
  const wanted = new Set(params.permissions);
  const rows: S3CheckRow[] = [];
  const skip = (check: S3Permission, reason: string): S3CheckRow => ({ check, iamAction: IAM_ACTION[check], required: wanted.has(check), outcome: wanted.has(check) ? 'skipped' : 'not asked', detail: wanted.has(check) ? reason : 'not asked for' });
  const report = (row: S3CheckRow) => {
    rows.push(row);
    ctx.progress.report({ items: rows.length, message: `${row.check}: ${row.outcome}` });
  };

  try {
    await store.checkBucket(signal);
    report({ check: 'bucket', iamAction: IAM_ACTION.bucket, required: true, outcome: 'ok', detail: `bucket ${store.bucket} answers` });
  } catch (error) {
    const row = failure('bucket', true, error);
    report(row);
    if (error instanceof S3StoreError && STORE_GONE.has(error.kind)) {
      for (const check of S3_PERMISSIONS) report(skip(check, `not tried: ${error.kind === 'no-such-bucket' ? 'the bucket does not exist' : 'the store cannot be reached'}`));
      return rows;
    }
  }

  if (wanted.has('list')) {
    try {
      // Listed under the probe's own key: no one's object names are read.
      await store.listPage({ prefix: probeKey, maxKeys: 1, signal });
      report({ check: 'list', iamAction: IAM_ACTION.list, required: true, outcome: 'ok', detail: 'listed the probe key' });
    } catch (error) {
      report(failure('list', true, error));
    }
  } else report(skip('list', ''));

  const content = `Lifeboat permission check ${probeKey}; safe to delete.\n`;
  // Written for get and delete too: they need an object of ours.
  let written = false;
  if (wanted.has('put') || wanted.has('get') || wanted.has('delete')) {
    try {
      await store.putBytes(probeKey, content, { ifAbsent: true, contentType: 'text/plain', signal });
      written = true;
      report({ check: 'put', iamAction: IAM_ACTION.put, required: wanted.has('put'), outcome: 'ok', detail: `wrote ${probeKey}` });
    } catch (error) {
      report(failure('put', wanted.has('put'), error));
    }
  } else report(skip('put', ''));

  if (wanted.has('get')) {
    if (!written) report(skip('get', 'not tried: the probe object could not be written'));
    else {
      try {
        const { body } = await store.getStream(probeKey, { signal });
        const read = (await buffer(body)).toString('utf8');
        report(read === content ? { check: 'get', iamAction: IAM_ACTION.get, required: true, outcome: 'ok', detail: 'read the probe back unchanged' } : { check: 'get', iamAction: IAM_ACTION.get, required: true, outcome: 'failed', detail: `the probe read back differs from what was written (${read.length} characters instead of ${content.length})` });
      } catch (error) {
        report(failure('get', true, error));
      }
    }
  } else report(skip('get', ''));

  if (written) {
    const check = wanted.has('delete') ? 'delete' : 'cleanup';
    try {
      await store.delete(probeKey, signal);
      report({ check, iamAction: IAM_ACTION.delete, required: wanted.has('delete'), outcome: 'ok', detail: `removed ${probeKey}` });
    } catch (error) {
      const row = failure(check, wanted.has('delete'), error);
      report(check === 'cleanup' ? { ...row, outcome: 'left behind', detail: `${probeKey} is still in the bucket (${row.detail}); remove it with credentials that may delete` } : { ...row, detail: `${row.detail}; ${probeKey} is still in the bucket` });
    }
  } else if (wanted.has('delete')) report(skip('delete', 'not tried: the probe object could not be written'));
  else report(skip('delete', ''));
  return rows;
}

function renderRows(rows: readonly S3CheckRow[]): string {
  return markdownTable(
    ['check', 'IAM action', 'required', 'outcome', 'code', 'detail'],
    rows.map((row) => [row.check, row.iamAction, row.required ? 'yes' : 'no', row.outcome, row.code ?? '', printable(row.detail)]),
  );
}

export class S3PermissionsMissingError extends Error {
  constructor(readonly result: S3CheckResult) {
    const failed = result.rows.filter((row) => row.required && row.outcome !== 'ok');
    super(
      [
        `S3 store ${printable(result.store)} (bucket ${printable(result.bucket)}) lacks ${formatCount(result.missing.length, 'required permission')}: ${result.missing.join(', ')}`,
        ...failed.map((row) => `- ${row.check} (${row.iamAction}): ${row.outcome}${row.code ? ` [${row.code}]` : ''}: ${printable(row.detail)}`),
        ...result.rows.filter((row) => row.outcome === 'left behind').map((row) => `- cleanup: ${printable(row.detail)}`),
      ].join('\n'),
    );
    this.name = 'S3PermissionsMissingError';
  }
}

export const s3Check = defineAction({
  id: 's3.check',
  title: 'Check S3 store permissions',
  description:
    'Checks that the bucket of an S3 store answers, then tries each required permission (list, put, get, delete) with requests of its own on a temporary probe object under `prefix`, which it removes again; no other object is read or changed. Reports a table with each outcome and the store\'s error code; fails when a required permission is missing.',
  params: s3CheckParams,
  destructive: false,
  async plan(params, ctx) {
    const target = describeStoreTarget(ctx, params.store);
    const probe = `${params.prefix}lifeboat-permission-check-<time>-<random>.tmp`;
    const operations = [
      { kind: 'verify' as const, target, detail: 'HeadBucket' },
      ...(params.permissions.includes('list') ? [{ kind: 'read' as const, target: `listing of ${probe}`, detail: 'ListObjectsV2 of the probe key only' }] : []),
      { kind: 'create' as const, target: probe, detail: 'a probe object of a few bytes' },
      ...(params.permissions.includes('get') ? [{ kind: 'read' as const, target: probe }] : []),
      { kind: 'delete' as const, target: probe, detail: 'the probe only' },
    ];
    return { summary: `Check ${params.permissions.join(', ')} on S3 store ${params.store} (${target})`, operations, destructive: false };
  },
  async run(params, ctx): Promise<S3CheckResult> {
    const entry = storeEntry(ctx, params.store);
    const store = await s3StoreFor(ctx, params.store);
    const probeKey = probeKeyFor(params.prefix);
    const rows = await tryPermissions(store, params, probeKey, ctx);
    const missing = params.permissions.filter((permission) => rows.some((row) => row.check === permission && row.outcome !== 'ok'));
    const result: S3CheckResult = { store: params.store, bucket: entry.bucket, endpoint: store.label, prefix: params.prefix, probeKey, rows, missing };
    if (missing.length > 0) throw new S3PermissionsMissingError(result);
    return result;
  },
  render(result: S3CheckResult) {
    const leftBehind = result.rows.some((row) => row.outcome === 'left behind');
    const heading = `S3 store ${printable(result.store)}: bucket ${printable(result.bucket)} on ${printable(result.endpoint)}${result.prefix ? `, prefix ${printable(result.prefix)}` : ''}: every required permission works.`;
    return `${heading}${leftBehind ? ' The probe object could not be removed (see cleanup).' : ''}\n\n${renderRows(result.rows)}`;
  },
});
