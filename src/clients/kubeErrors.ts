/**
 * What went wrong talking to a cluster, in words a person can act on. The SDK reports HTTP failures as
 * `ApiException` (status code plus a Status body), network and TLS failures as `FetchError` or a
 * websocket error event, each with a Node error code somewhere inside; this maps all of them to one
 * error that names the cluster.
 */
export type KubeFailure = 'tls' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'unreachable' | 'invalid' | 'server' | 'command' | 'config';

export class KubeError extends Error {
  constructor(
    readonly failure: KubeFailure,
    message: string,
    /** HTTP status when the API server answered. */
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

/** A command in a pod ran and exited with a non-zero status. */
export class PodCommandError extends KubeError {
  constructor(
    readonly exitCode: number,
    readonly command: readonly string[],
    where: string,
    stderrTail: string,
  ) {
    const detail = stderrTail.trim() ? `: ${stderrTail.trim()}` : '';
    super('command', `\`${command.join(' ')}\` in ${where} exited with status ${exitCode}${detail}`);
    this.name = 'PodCommandError';
  }
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE']);

/** The Node error code of an error, looking through the wrappers the SDK and `ws` put around it. */
function errorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    const record = current as { code?: unknown; errno?: unknown; error?: unknown; cause?: unknown };
    if (typeof record.code === 'string') return record.code;
    if (typeof record.errno === 'string') return record.errno;
    current = record.error ?? record.cause;
  }
  return undefined;
}

/** The `message` of a Kubernetes Status body, which the SDK hands over parsed or as text. */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : undefined;
}

function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  // ws reports a refused upgrade only in its message.
  const match = /Unexpected server response: (\d{3})/.exec(error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? ''));
  return match ? Number(match[1]) : undefined;
}

/**
 * Turns whatever the SDK threw into a `KubeError`. `where` names the cluster (context and server);
 * `what` the object or operation ("pod frigate/frigate-0", "list pods in frigate").
 */
export function kubeError(error: unknown, where: string, what: string): KubeError {
  if (error instanceof KubeError) return error;
  const status = httpStatus(error);
  const detail = statusMessage((error as { body?: unknown } | null)?.body);
  const suffix = detail ? `: ${detail}` : '';
  switch (status) {
    case 401:
      return new KubeError('unauthorized', `${where} refused the credentials (401 Unauthorized) for ${what}: check the token or client certificate of the kubeconfig user`, status);
    case 403:
      return new KubeError('forbidden', `${where} forbids ${what} (403 Forbidden)${suffix}`, status);
    case 404:
      return new KubeError('not-found', `${what} not found on ${where}${suffix}`, status);
    case 409:
      return new KubeError('conflict', `${what} already exists on ${where}${suffix}`, status);
    case 400:
    case 422:
      return new KubeError('invalid', `${where} rejected ${what} (${status})${suffix}`, status);
    case undefined:
      break;
    default:
      return new KubeError('server', `${where} failed ${what} (HTTP ${status})${suffix}`, status);
  }
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
  if (code && TLS_CODES.has(code)) {
    return new KubeError('tls', `TLS verification of ${where} failed (${code}) for ${what}: the server certificate does not match the kubeconfig's certificate-authority`);
  }
  if ((code && UNREACHABLE_CODES.has(code)) || /ECONNREFUSED|socket hang up/.test(message)) {
    return new KubeError('unreachable', `cannot reach ${where} for ${what}${code ? ` (${code})` : ''}: ${message}`);
  }
  return new KubeError('server', `${what} on ${where} failed: ${message}`);
}
