/**
 * TLS to servers whose certificate is pinned by its SHA-256 fingerprint (a self-signed one, as PBS
 * and many homelab endpoints have): the connection is judged once the handshake is done and before
 * a byte of the request is written, so a secret in the request never reaches the wrong server.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { CancelledError } from '../core/errors';

/** `AA:BB:…` in upper case, as Node writes a certificate's SHA-256 fingerprint, from any case, with or without colons. */
export function normalizeFingerprint(fingerprint: string): string {
  const hex = fingerprint.replace(/:/g, '').toUpperCase();
  return hex.match(/../g)?.join(':') ?? hex;
}

/**
 * A TLS connection to the host of `url` whose certificate `judge` accepts: it gets the presented
 * certificate's SHA-256 fingerprint (undefined when there is none) and the socket (whose
 * `authorized` tells whether the usual CAs and the host name vouch for it), and returns the refusal,
 * if any, with which the connection is closed.
 */
export function connectJudged(url: URL, judge: (presented: string | undefined, socket: TLSSocket) => Error | undefined, signal?: AbortSignal): Promise<TLSSocket> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    // Judged below, once the handshake is done and before anything is sent.
    const socket = connect({ host, port: Number(url.port || 443), rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const onAbort = () => socket.destroy(new CancelledError());
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal?.removeEventListener('abort', onAbort);
    socket.once('secureConnect', () => {
      settle();
      const raw = socket.getPeerCertificate(false).raw as Buffer | undefined;
      const refusal = judge(raw ? new X509Certificate(raw).fingerprint256 : undefined, socket);
      if (!refusal) return resolve(socket);
      socket.destroy();
      reject(refusal);
    });
    socket.once('error', (error) => {
      settle();
      reject(error);
    });
  });
}
