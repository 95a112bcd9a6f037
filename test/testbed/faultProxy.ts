/**
 * An HTTP proxy in front of a test server that injects failures: the next N requests matching a
 * method answer 500 (or lose their connection) before anything reaches the server behind it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

export type Fault = 'status-500' | 'drop-connection';

export interface FaultProxy {
  endpoint: string;
  /** Makes the next `count` requests with this method fail with `fault`. */
  failNext(method: string, count: number, fault?: Fault): void;
  /** Requests seen so far, failed ones included, as `METHOD /path`. */
  readonly requests: string[];
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const pending: { method: string; fault: Fault }[] = [];
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const faultIndex = pending.findIndex((entry) => entry.method === request.method);
    if (faultIndex >= 0) {
      const [{ fault }] = pending.splice(faultIndex, 1) as [{ method: string; fault: Fault }];
      // Read the body first, as a failing server would, so the client sees the answer and not a reset.
      request.resume();
      request.once('end', () => {
        if (fault === 'drop-connection') {
          request.socket.destroy();
          return;
        }
        response.writeHead(500, { 'content-type': 'application/xml' });
        response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected failure</Message></Error>');
      });
      return;
    }
    const forwarded = http.request(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        pipeline(answer, response).catch(() => response.destroy());
      },
    );
    forwarded.on('error', () => response.destroy());
    pipeline(request, forwarded).catch(() => forwarded.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    failNext(method, count, fault = 'status-500') {
      for (let index = 0; index < count; index++) pending.push({ method, fault });
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
