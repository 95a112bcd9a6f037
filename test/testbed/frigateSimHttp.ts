/** HTTP plumbing of the Frigate simulator: answers as FastAPI and nginx give them. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const NGINX_NOT_FOUND = '<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>';

/** An error answer: JSON for FastAPI, text (HTML) for nginx. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

/** A path segment as Frigate's `sanitize_filename` would keep it: no separators, no dot-dot. */
export function safeName(segment: string | undefined): string {
  if (!segment || segment.includes('/') || segment.includes('\\') || segment === '..' || segment === '.') throw new HttpFailure(400, { success: false, message: 'Invalid name' });
  return segment;
}

export function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export function parseJson(body: Buffer): unknown {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8') || '{}');
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    throw new HttpFailure(422, { detail: [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }] });
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
