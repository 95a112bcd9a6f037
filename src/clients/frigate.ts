/**
 * Frigate NVR over HTTP (contract: EXTERNAL-SYSTEMS.md §1). Logs in with a user and password (the
 * `frigate_token` cookie) or a Bearer JWT, sends `X-CSRF-TOKEN` on every write, keeps the face
 * library's `train` folder apart from the people, downloads images from the static
 * `/clips/faces/<name>/<file>` as streams, retries 5xx answers and dropped connections with backoff,
 * and verifies TLS unless the inventory opts out (which it reports as a warning).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { CancelledError, followSignal } from '../core/errors';
import { formatDuration } from '../core/render';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from './retry';

export type FrigateAuth = { username: string; password: string } | { token: string };

export interface FrigateTarget {
  /** e.g. `https://frigate.lan:8971` (authenticated port) or `http://frigate.lan:5000` (internal). */
  url: string;
  auth?: FrigateAuth;
  /** Skip TLS certificate verification (a self-signed Frigate certificate nobody pinned). */
  insecure?: boolean;
  /** PEM certificate(s) to trust besides the system's, e.g. Frigate's self-signed one. */
  ca?: string;
  /** How long a request may wait for an answer (or for the next bytes of one). */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** How the target is named in messages: the inventory entry's name. */
  name?: string;
}

/**
 * `unreachable`: the request never left (nothing listens); `dropped`: the connection broke after it
 * may have arrived, so only requests that can be repeated safely are retried.
 */
export type FrigateFailure = 'tls' | 'unauthorized' | 'forbidden' | 'not-found' | 'rejected' | 'disabled' | 'server' | 'timeout' | 'unreachable' | 'dropped' | 'protocol';

export class FrigateError extends Error {
  constructor(
    readonly failure: FrigateFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FrigateError';
  }
}

/** How to fetch face images with another HTTP client; see `FrigateClient.faceImageRequests`. */
export interface FaceImageRequests {
  url(name: string, file: string): string;
  headers: Record<string, string>;
  /** For an https:// target: whether certificates go unverified, and the PEM certificate(s) to trust instead of the usual ones. */
  tls: { insecure: boolean; ca: string | undefined } | undefined;
  timeoutMs: number;
}

/** The face library: people and their images, and the recent recognition attempts apart. */
export interface FaceLibrary {
  people: Record<string, string[]>;
  /** Files of the special `train` folder; never a person. */
  train: string[];
}

export interface FrigateEvent {
  id: string;
  camera: string;
  label: string;
  sub_label: string | null;
  start_time: number;
  end_time: number | null;
  has_clip: boolean;
  has_snapshot: boolean;
  [field: string]: unknown;
}

export interface EventQuery {
  camera?: string;
  label?: string;
  after?: number;
  before?: number;
  hasSnapshot?: boolean;
  limit?: number;
  sort?: 'date_asc' | 'date_desc';
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  body?: { type: string; data: Buffer };
  signal?: AbortSignal;
  /** Not retried after the request may have reached Frigate (a repeated register stores the image twice). */
  idempotent: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const TRAIN_FOLDER = 'train';
const COOKIE_NAME = 'frigate_token';
const WRITE_HEADERS = { 'X-CSRF-TOKEN': '1' };
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);
const TLS_CODES = /CERT|SELF_SIGNED|ERR_TLS|UNABLE_TO_VERIFY|ERR_SSL/;

export class FrigateClient {
  /** Things the caller should show wherever this target appears (TLS verification off). */
  readonly warnings: string[] = [];
  private readonly base: URL;
  private session: string | undefined;
  private loggingIn: Promise<void> | undefined;

  constructor(private readonly target: FrigateTarget) {
    try {
      this.base = new URL(target.url);
    } catch {
      throw new FrigateError('protocol', `Frigate URL '${target.url}' is not a URL`);
    }
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') throw new FrigateError('protocol', `Frigate URL '${target.url}' must start with https:// or http://`);
    if (target.insecure && this.base.protocol === 'https:') {
      this.warnings.push(`TLS certificate verification is off for ${this.description} (tls.insecure: true): anyone on the network path could read the session and the images`);
    }
  }

  get description(): string {
    return this.target.name ? `Frigate '${this.target.name}' (${this.base.origin})` : `Frigate at ${this.base.origin}`;
  }

  dispose(): void {
    this.session = undefined;
  }

  /** `GET /api/version`: plain text such as `0.16.0-abc1234`. Public on every port. */
  async version(signal?: AbortSignal): Promise<string> {
    return (await this.text({ method: 'GET', path: '/api/version', idempotent: true, signal })).trim();
  }

  /** Logs in with the user and password of the target (nothing to do for a token or no auth). */
  async login(signal?: AbortSignal): Promise<void> {
    const auth = this.target.auth;
    if (!auth || 'token' in auth) return;
    const answer = await this.send({
      method: 'POST',
      path: '/api/login',
      body: { type: 'application/json', data: Buffer.from(JSON.stringify({ user: auth.username, password: auth.password })) },
      idempotent: true,
      signal,
    }, false);
    answer.body.resume();
    if (answer.status === 401) throw new FrigateError('unauthorized', `${this.description} refused the login of user '${auth.username}': wrong user or password`, 401);
    if (answer.status === 404) throw new FrigateError('protocol', `${this.description} has authentication disabled; leave \`auth\` out, or use its authenticated port`, 404);
    if (answer.status !== 200) throw new FrigateError('server', `login to ${this.description} failed with HTTP ${answer.status}`, answer.status);
    const cookies = answer.headers['set-cookie'] ?? [];
    const cookie = cookies.map((line) => line.split(';')[0] ?? '').find((pair) => pair.startsWith(`${COOKIE_NAME}=`));
    if (!cookie) throw new FrigateError('protocol', `${this.description} accepted the login but set no ${COOKIE_NAME} cookie`);
    this.session = cookie;
  }

  /** `GET /api/faces`, with the `train` folder kept apart. */
  async faces(signal?: AbortSignal): Promise<FaceLibrary> {
    const listing = await this.json<Record<string, unknown>>({ method: 'GET', path: '/api/faces', idempotent: true, signal });
    const library: FaceLibrary = { people: {}, train: [] };
    for (const [name, files] of Object.entries(listing)) {
      if (!Array.isArray(files)) throw new FrigateError('protocol', `${this.description} listed faces of '${name}' as ${typeof files}, not a list of files`);
      const names = files.filter((file): file is string => typeof file === 'string');
      if (name === TRAIN_FOLDER) library.train = names;
      else library.people[name] = names;
    }
    return library;
  }

  /** One face image as a stream, from the static `/clips/faces/<name>/<file>`. */
  async downloadFace(name: string, file: string, signal?: AbortSignal): Promise<{ stream: Readable; size: number | undefined }> {
    const path = `/clips/faces/${encodeURIComponent(name)}/${encodeURIComponent(file)}`;
    const answer = await this.expect({ method: 'GET', path, idempotent: true, signal }, `face image ${name}/${file}`);
    const length = answer.headers['content-length'];
    return { stream: answer.body, size: length === undefined ? undefined : Number(length) };
  }

  /**
   * What another HTTP client needs to fetch face images as `downloadFace` does (logged in first when
   * the target has a user and password): each image's URL, the headers that authenticate, the TLS
   * settings, and how long to wait. A faster client fetches many at once this way; whatever fails
   * there is fetched again through `downloadFace`, which has the retries and the messages.
   */
  async faceImageRequests(signal?: AbortSignal): Promise<FaceImageRequests> {
    await this.ensureSession(signal);
    return {
      url: (name, file) => this.url(`/clips/faces/${encodeURIComponent(name)}/${encodeURIComponent(file)}`).href,
      headers: this.headers('GET'),
      tls: this.base.protocol === 'https:' ? { insecure: this.target.insecure === true, ca: this.target.ca } : undefined,
      timeoutMs: this.target.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
  }

  /** `POST /api/faces/<name>/create`. Judged by the HTTP status: Frigate answers `success: false` on success. */
  async createFace(name: string, signal?: AbortSignal): Promise<void> {
    await this.json({ method: 'POST', path: `/api/faces/${encodeURIComponent(name)}/create`, idempotent: true, signal });
  }

  /**
   * `POST /api/faces/<name>/register`: Frigate crops the image to the face it detects and stores it
   * under a new name, so the stored file is never the one sent. An image without a detectable face is
   * a `rejected` failure.
   */
  async registerFace(name: string, image: { file: string; data: Buffer; type?: string }, signal?: AbortSignal): Promise<void> {
    const boundary = `lifeboat-${Math.random().toString(16).slice(2)}`;
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${image.file.replace(/["\r\n]/g, '_')}"\r\nContent-Type: ${image.type ?? 'image/webp'}\r\n\r\n`;
    const data = Buffer.concat([Buffer.from(head), image.data, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    await this.json({ method: 'POST', path: `/api/faces/${encodeURIComponent(name)}/register`, body: { type: `multipart/form-data; boundary=${boundary}`, data }, idempotent: false, signal });
  }

  /** `POST /api/faces/<name>/delete`; a person disappears when all of their images are deleted. */
  async deleteFaces(name: string, ids: readonly string[], signal?: AbortSignal): Promise<void> {
    await this.json({ method: 'POST', path: `/api/faces/${encodeURIComponent(name)}/delete`, body: jsonBody({ ids }), idempotent: true, signal });
  }

  async renameFace(oldName: string, newName: string, signal?: AbortSignal): Promise<void> {
    await this.json({ method: 'PUT', path: `/api/faces/${encodeURIComponent(oldName)}/rename`, body: jsonBody({ new_name: newName }), idempotent: true, signal });
  }

  /** `GET /api/events`; there is no cursor: page by moving `before` (or `after` with `date_asc`). */
  async events(query: EventQuery = {}, signal?: AbortSignal): Promise<FrigateEvent[]> {
    const params = new URLSearchParams();
    if (query.camera) params.set('camera', query.camera);
    if (query.label) params.set('label', query.label);
    if (query.after !== undefined) params.set('after', String(query.after));
    if (query.before !== undefined) params.set('before', String(query.before));
    if (query.hasSnapshot !== undefined) params.set('has_snapshot', query.hasSnapshot ? '1' : '0');
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.sort) params.set('sort', query.sort);
    const search = params.size > 0 ? `?${params}` : '';
    const events = await this.json<unknown>({ method: 'GET', path: `/api/events${search}`, idempotent: true, signal });
    if (!Array.isArray(events)) throw new FrigateError('protocol', `${this.description} answered /api/events with something other than a list`);
    return events as FrigateEvent[];
  }

  /** The event's snapshot (`/api/events/<id>/snapshot.jpg`) as a stream. */
  async snapshot(eventId: string, signal?: AbortSignal): Promise<{ stream: Readable; size: number | undefined }> {
    const answer = await this.expect({ method: 'GET', path: `/api/events/${encodeURIComponent(eventId)}/snapshot.jpg`, idempotent: true, signal }, `snapshot of event ${eventId}`);
    const length = answer.headers['content-length'];
    return { stream: answer.body, size: length === undefined ? undefined : Number(length) };
  }

  private async text(spec: RequestSpec): Promise<string> {
    const answer = await this.expect(spec, spec.path);
    return readText(answer.body);
  }

  private async json<Result>(spec: RequestSpec): Promise<Result> {
    const text = await this.text(spec);
    try {
      return JSON.parse(text) as Result;
    } catch {
      throw new FrigateError('protocol', `${this.description} answered ${spec.path} with something other than JSON: ${text.slice(0, 120)}`);
    }
  }

  /** Sends with retries and a fresh login when the session expired; anything but 2xx becomes a `FrigateError`. */
  private async expect(spec: RequestSpec, what: string): Promise<Answer> {
    const policy = this.target.retry ?? DEFAULT_RETRY_POLICY;
    return withRetries(
      async () => {
        let answer = await this.send(spec, true);
        if (answer.status === 401 && this.session && this.target.auth && 'username' in this.target.auth) {
          answer.body.resume();
          this.session = undefined;
          answer = await this.send(spec, true);
        }
        if (answer.status >= 200 && answer.status < 300) return answer;
        const detail = await readText(answer.body).catch(() => '');
        throw this.failure(answer.status, detail, what);
      },
      {
        policy,
        signal: spec.signal,
        isRetryable: (error) =>
          error instanceof FrigateError && (error.failure === 'server' || error.failure === 'unreachable' || (spec.idempotent && (error.failure === 'dropped' || error.failure === 'timeout'))),
      },
    );
  }

  private failure(status: number, body: string, what: string): FrigateError {
    let message = body.trim();
    try {
      const parsed = JSON.parse(body) as { message?: unknown; detail?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
      else if (parsed.detail !== undefined) message = JSON.stringify(parsed.detail);
    } catch {
      message = message.startsWith('<') ? '' : message.slice(0, 200);
    }
    const suffix = message ? `: ${message}` : '';
    if (status === 401) return new FrigateError('unauthorized', `${this.description} refused ${what} (401)${suffix || ': log in with a user and password or a token'}`, status);
    if (status === 403) return new FrigateError('forbidden', `${this.description} forbids ${what} (403): the user needs the admin role${suffix}`, status);
    if (status === 404) return new FrigateError('not-found', `${what} not found on ${this.description}${suffix}`, status);
    if (status === 400 && /not enabled/i.test(message)) return new FrigateError('disabled', `${this.description}: ${message}`, status);
    if (status === 400 || status === 422) return new FrigateError('rejected', `${this.description} rejected ${what}${suffix}`, status);
    if (status >= 500) return new FrigateError('server', `${this.description} failed ${what} with HTTP ${status}${suffix}`, status);
    return new FrigateError('protocol', `${this.description} answered ${what} with HTTP ${status}${suffix}`, status);
  }

  /** One HTTP exchange; `authenticate` logs in first when the target has a user and password. */
  private async send(spec: RequestSpec, authenticate: boolean): Promise<Answer> {
    if (spec.signal?.aborted) throw new CancelledError();
    if (authenticate) await this.ensureSession(spec.signal);
    const headers: Record<string, string | number> = this.headers(spec.method);
    if (spec.body) {
      headers['Content-Type'] = spec.body.type;
      headers['Content-Length'] = spec.body.data.length;
    }
    const url = this.url(spec.path);
    const timeoutMs = this.target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const secure = url.protocol === 'https:';
    const options = { method: spec.method, headers, ...(secure ? { rejectUnauthorized: !this.target.insecure, ...(this.target.ca ? { ca: this.target.ca } : {}) } : {}) };
    // The caller's signal is shared by every request in flight (a backup downloads eight images at
    // once): this request listens on a signal of its own that follows it, until its answer is read.
    const scope = spec.signal ? followSignal(spec.signal) : undefined;
    const signal = scope?.signal;
    let answered = false;
    return new Promise<Answer>((resolve, reject) => {
      const request = (secure ? httpsRequest : httpRequest)(url, options, (response) => {
        answered = true;
        request.setTimeout(0);
        response.setTimeout(timeoutMs, () => response.destroy(new FrigateError('timeout', `${this.description} stopped sending ${spec.path} for ${formatDuration(timeoutMs)}`)));
        const onAbortBody = () => response.destroy(new CancelledError());
        signal?.addEventListener('abort', onAbortBody, { once: true });
        response.on('close', () => {
          signal?.removeEventListener('abort', onAbortBody);
          scope?.release();
        });
        // Errors reach whoever reads the body; without a listener an unread failed body would crash.
        response.on('error', () => {});
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response });
      });
      const onAbort = () => request.destroy(new CancelledError());
      signal?.addEventListener('abort', onAbort, { once: true });
      request.setTimeout(timeoutMs, () => request.destroy(new FrigateError('timeout', `${this.description} did not answer ${spec.method} ${spec.path} within ${formatDuration(timeoutMs)}`)));
      request.on('error', (error: NodeJS.ErrnoException) => reject(this.networkError(error, spec)));
      request.on('close', () => {
        signal?.removeEventListener('abort', onAbort);
        if (!answered) scope?.release();
      });
      request.end(spec.body?.data);
    });
  }

  /** Logs in (once for requests made at the same time) when the target has a user and password and no session yet. */
  private async ensureSession(signal?: AbortSignal): Promise<void> {
    const auth = this.target.auth;
    if (!auth || !('username' in auth) || this.session) return;
    this.loggingIn ??= this.login(signal).finally(() => (this.loggingIn = undefined));
    await this.loggingIn;
  }

  /** The headers of every request: what it accepts, and its authentication. */
  private headers(method: RequestSpec['method']): Record<string, string> {
    const auth = this.target.auth;
    const headers: Record<string, string> = { Accept: 'application/json, */*' };
    if (auth && 'token' in auth) headers.Authorization = `Bearer ${auth.token}`;
    if (this.session) headers.Cookie = this.session;
    if (method !== 'GET') Object.assign(headers, WRITE_HEADERS);
    return headers;
  }

  /** Keeps a base path (Frigate behind a proxy at https://host/frigate/) in front of every route. */
  private url(route: string): URL {
    return new URL(`${this.base.pathname.replace(/\/$/, '')}${route}`, this.base);
  }

  private networkError(error: NodeJS.ErrnoException, spec: RequestSpec): Error {
    if (error instanceof FrigateError || error instanceof CancelledError) return error;
    const code = error.code ?? '';
    if (TLS_CODES.test(code)) {
      return new FrigateError('tls', `TLS verification of ${this.description} failed (${code}): trust its certificate (tls.ca) or, knowingly, set tls.insecure: true`);
    }
    if (CONNECT_FAILURES.has(code)) return new FrigateError('unreachable', `could not connect to ${this.description} (${code})`);
    if (DROPPED.has(code) || /socket hang up/.test(error.message)) {
      return new FrigateError('dropped', `${this.description} dropped the connection during ${spec.method} ${spec.path} (${code || error.message})`);
    }
    return new FrigateError('server', `${spec.method} ${spec.path} on ${this.description} failed: ${error.message}`);
  }
}

function jsonBody(value: unknown): { type: string; data: Buffer } {
  return { type: 'application/json', data: Buffer.from(JSON.stringify(value)) };
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
