/**
 * Proxies in front of test servers that inject failures. The HTTP one makes the next N requests
 * matching a method answer 500 (or lose their connection) before anything reaches the server behind
 * it; the TCP one (for protocols such as SSH) slows down or cuts the byte stream of every connection.
 */
import http from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

/** `slow-down`: 503 SlowDown, S3's way of asking a client to back off. */
export type Fault = 'status-500' | 'slow-down' | 'drop-connection';

export interface FaultProxy {
  endpoint: string;
  /** Makes the next `count` requests with this method fail with `fault`. */
  failNext(method: string, count: number, fault?: Fault): void;
  /** While down, every request loses its connection at once (a store that went away); `false` brings it back. */
  setDown(down: boolean): void;
  /** Requests seen so far, failed ones included, as `METHOD /path`. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/** Passes a request on to `upstream` as it came and streams the answer back; a failure on either side ends both. */
export function forwardRequest(upstream: URL, request: http.IncomingMessage, response: http.ServerResponse): void {
  const forwarded = http.request({ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
    response.writeHead(answer.statusCode ?? 502, answer.headers);
    pipeline(answer, response).catch(() => response.destroy());
  });
  forwarded.on('error', () => response.destroy());
  pipeline(request, forwarded).catch(() => forwarded.destroy());
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const pending: { method: string; fault: Fault }[] = [];
  const requests: string[] = [];
  let down = false;
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (down) {
      request.socket.destroy();
      return;
    }
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
        const [status, code] = fault === 'slow-down' ? [503, 'SlowDown'] : [500, 'InternalError'];
        response.writeHead(status, { 'content-type': 'application/xml' });
        response.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected failure</Message></Error>`);
      });
      return;
    }
    forwardRequest(upstream, request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    failNext(method, count, fault = 'status-500') {
      for (let index = 0; index < count; index++) pending.push({ method, fault });
    },
    setDown(value) {
      down = value;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface TcpFaultProxy {
  port: number;
  /** Bytes the clients sent through the proxy so far, over all connections. */
  readonly clientBytes: number;
  /** Cuts every connection, both ways, once the clients have sent this many more bytes. */
  cutAfter(bytes: number): void;
  /** Cuts every connection, both ways, now (a host that drops while only it is sending). */
  cutNow(): void;
  /**
   * Passes what the clients send, and with `'both'` what the server sends too, at no more than this
   * rate in each direction (`undefined`: at full speed).
   */
  throttle(bytesPerSecond: number | undefined, directions?: 'from-clients' | 'both'): void;
  stop(): Promise<void>;
}

export async function startTcpFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpFaultProxy> {
  const sockets = new Set<Socket>();
  let clientBytes = 0;
  let cutAt: number | undefined;
  let rate: number | undefined;
  let serverThrottled = false;
  const slowDown = (source: Socket, chunk: Buffer, throttled: boolean) => {
    if (rate === undefined || !throttled) return;
    source.pause();
    setTimeout(() => source.resume(), (chunk.length / rate) * 1000);
  };
  const cutAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      slowDown(upstream, chunk, serverThrottled);
    });
    upstream.on('end', () => client.end());
    client.on('data', (chunk: Buffer) => {
      clientBytes += chunk.length;
      if (cutAt !== undefined && clientBytes >= cutAt) {
        cutAt = undefined;
        cutAll();
        return;
      }
      upstream.write(chunk);
      slowDown(client, chunk, true);
    });
    client.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get clientBytes() {
      return clientBytes;
    },
    cutAfter(bytes) {
      cutAt = clientBytes + bytes;
    },
    cutNow: cutAll,
    throttle(bytesPerSecond, directions = 'from-clients') {
      rate = bytesPerSecond;
      serverThrottled = directions === 'both';
    },
    async stop() {
      cutAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
