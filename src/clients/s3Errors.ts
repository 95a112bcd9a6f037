/**
 * Turns what the AWS SDK and Node throw into errors a person can act on: which store, which bucket or
 * object, and what to change.
 */
export type S3FailureKind = 'no-such-bucket' | 'no-such-key' | 'exists' | 'access-denied' | 'no-credentials' | 'unreachable' | 'connection-lost' | 'tls' | 'throttled' | 'server' | 'other';

export class S3StoreError extends Error {
  constructor(
    message: string,
    readonly kind: S3FailureKind,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'S3StoreError';
  }
}

/** What was being done, for the message. */
export interface S3FailureContext {
  /** `http://127.0.0.1:9000` or `AWS S3 (eu-west-1)`. */
  store: string;
  bucket: string;
  operation: string;
  key?: string;
  /** Whether the store named its credentials or the AWS credential chain supplied them. */
  credentialsFrom: 'store' | 'AWS credential chain';
}

/** The parts of SDK and Node errors this module reads. */
interface FailureShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { statusCode?: number };
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);
const CONNECTION_LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);
const THROTTLING_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled']);
const ACCESS_NAMES = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'InvalidSecurity']);

function shapeOf(error: unknown): FailureShape {
  return typeof error === 'object' && error !== null ? (error as FailureShape) : { message: String(error) };
}

function statusOf(error: FailureShape): number | undefined {
  return error.$metadata?.httpStatusCode ?? error.$response?.statusCode;
}

/** Errors worth another attempt: 5xx, throttling and broken connections. */
export function isRetryableS3Failure(error: unknown): boolean {
  const shape = shapeOf(error);
  const status = statusOf(shape);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (shape.name && (THROTTLING_NAMES.has(shape.name) || shape.name === 'RequestTimeout' || shape.name === 'TimeoutError')) return true;
  if (shape.code && (UNREACHABLE_CODES.has(shape.code) || CONNECTION_LOST_CODES.has(shape.code))) return true;
  return shape.name !== 'AbortError' && /socket hang up/i.test(shape.message ?? '');
}

export function describeS3Failure(error: unknown, context: S3FailureContext): S3StoreError {
  const shape = shapeOf(error);
  const status = statusOf(shape);
  const name = shape.name ?? '';
  const code = shape.code ?? '';
  const detail = shape.message && shape.message !== name && shape.message !== 'UnknownError' ? `: ${shape.message}` : '';
  const object = context.key === undefined ? `bucket '${context.bucket}'` : `'${context.key}' in bucket '${context.bucket}'`;
  const make = (kind: S3FailureKind, message: string) => new S3StoreError(message, kind, { cause: error });

  if (name === 'NoSuchBucket' || (status === 404 && context.key === undefined)) {
    return make('no-such-bucket', `bucket '${context.bucket}' does not exist on ${context.store}`);
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return make('no-such-key', `no object '${context.key ?? ''}' in bucket '${context.bucket}' on ${context.store}`);
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return make('exists', `'${context.key ?? ''}' already exists in bucket '${context.bucket}' on ${context.store}`);
  }
  if (ACCESS_NAMES.has(name) || status === 403) {
    const reason =
      name === 'InvalidAccessKeyId'
        ? 'the access key ID is not known to the store'
        : name === 'SignatureDoesNotMatch'
          ? 'the secret access key does not match the access key ID'
          : `the credentials lack the permission${detail}`;
    return make('access-denied', `access denied by ${context.store} (${context.operation} ${object}): ${reason}; credentials from the ${context.credentialsFrom}`);
  }
  if (name === 'CredentialsProviderError') {
    return make('no-credentials', `no credentials for ${context.store}: the store names none and the AWS credential chain (environment, ~/.aws profiles) found none${detail}`);
  }
  if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(shape.message ?? '')) {
    return make('tls', `TLS verification of ${context.store} failed (${code || name}${detail}); for a self-signed or private CA, set the store's caFile to its CA certificate`);
  }
  if (UNREACHABLE_CODES.has(code)) {
    return make('unreachable', `cannot reach ${context.store} (${code}) to ${context.operation} ${object}${detail}`);
  }
  if (CONNECTION_LOST_CODES.has(code) || /socket hang up/i.test(shape.message ?? '')) {
    return make('connection-lost', `the connection to ${context.store} broke while trying to ${context.operation} ${object}${detail}`);
  }
  const attempts = shape.$metadata?.attempts;
  const after = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
  if (THROTTLING_NAMES.has(name) || status === 429) {
    return make('throttled', `${context.store} kept throttling ${context.operation} ${object}${after}${detail}`);
  }
  if (status !== undefined && status >= 500) {
    return make('server', `${context.store} failed to ${context.operation} ${object}${after}: HTTP ${status} ${name}${detail}`);
  }
  return make('other', `${context.operation} ${object} on ${context.store} failed: ${name || code || 'error'}${detail}`);
}
