import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import { connectJudged, normalizeFingerprint } from '../../clients/pinnedTls';
import { CancelledError } from '../../core/errors';

export interface EndpointRequest {
  url: string;
  timeoutMs: number;
  /** SHA-256 fingerprint the certificate must have (any CA, any name); with it, nothing else is checked. */
  fingerprint?: string;
  /** Accept any certificate: an opt-out the result shows. */
  insecure?: boolean;
}

/** Why an attempt got no status: `tls` is final (retrying cannot change a certificate); the others may pass. */
export class EndpointError extends Error {
  constructor(
    message: string,
    readonly kind: 'tls' | 'timeout' | 'network',
  ) {
    super(message);
    this.name = 'EndpointError';
  }
}

const TLS_ERROR_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|SSL|HOSTNAME|ALTNAME/i;

function classify(error: unknown, url: string, timedOut: boolean, timeoutMs: number): Error {
  if (error instanceof EndpointError) return error;
  if (timedOut) return new EndpointError(`no answer from ${url} within ${timeoutMs / 1000} s`, 'timeout');
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (TLS_ERROR_CODES.test(code) || TLS_ERROR_CODES.test(message)) {
    return new EndpointError(`${url}: its certificate is not trusted (${message}); for a self-signed certificate give its SHA-256 fingerprint`, 'tls');
  }
  return new EndpointError(`${url}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`, 'network');
}

/** A TLS connection whose certificate is exactly the pinned one, checked before a byte of the request is sent. */
function pinnedConnection(url: URL, fingerprint: string, signal: AbortSignal): Promise<tls.TLSSocket> {
  const wanted = normalizeFingerprint(fingerprint);
  return connectJudged(
    url,
    (presented) => (presented === wanted ? undefined : new EndpointError(`${url.origin} presented a certificate with SHA-256 fingerprint ${presented ?? 'none'}, not the pinned ${wanted}; refused`, 'tls')),
    signal,
  );
}

/**
 * One GET of an endpoint: the status it answers (the body is not read). Redirects are not followed:
 * a 301 is the endpoint's answer.
 */
export async function requestStatus(request: EndpointRequest, signal: AbortSignal): Promise<number> {
  const url = new URL(request.url);
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const combined = AbortSignal.any([signal, timeout]);
  const secure = url.protocol === 'https:';
  try {
    const socket = secure && request.fingerprint ? await pinnedConnection(url, request.fingerprint, combined) : undefined;
    return await new Promise<number>((resolve, reject) => {
      const options: https.RequestOptions = { method: 'GET', signal: combined, headers: { 'user-agent': 'lifeboat http.check' } };
      if (socket) options.createConnection = () => socket;
      else if (secure) options.rejectUnauthorized = !request.insecure;
      const sent = (secure ? https : http).request(url, options, (response) => {
        resolve(response.statusCode ?? 0);
        response.destroy();
      });
      sent.once('error', reject);
      sent.end();
    });
  } catch (error) {
    if (signal.aborted) throw new CancelledError();
    throw classify(error, url.origin + url.pathname, timeout.aborted, request.timeoutMs);
  }
}
