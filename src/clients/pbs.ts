/**
 * Proxmox Backup Server over its REST API (contract: EXTERNAL-SYSTEMS.md §6; the datastore list and
 * status, verify and task routes as proxmox-backup 3.2 serves them). Authenticates with an API token
 * (`Authorization: PBSAPIToken <tokenid>:<secret>`), trusts the server's certificate only when it
 * matches the SHA-256 fingerprint pinned in the inventory (or, without a pin, when it verifies
 * against the system's certificate authorities), and decides that before a byte of the request, the
 * token included, is sent. Retries 5xx answers and dropped connections of requests that can be
 * repeated, with backoff. Every value in a path is one percent-encoded segment.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CancelledError, followSignal } from '../core/errors';
import { formatBytes, formatDuration } from '../core/render';
import { connectJudged, normalizeFingerprint } from './pinnedTls';
import { DEFAULT_RETRY_POLICY, sleep, withRetries, type RetryPolicy } from './retry';

export interface PbsTarget {
  /** e.g. `https://pbs.lan:8007`. */
  url: string;
  /** `user@realm!tokenname`. */
  tokenId: string;
  tokenSecret: string;
  /** The certificate's SHA-256 fingerprint, `aa:bb:…` (either case); without it the system's CAs decide. */
  fingerprint?: string;
  /** How the server is named in messages: the inventory entry's name. */
  name?: string;
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** The largest answer read; more is refused rather than held in memory. */
  maxResponseBytes?: number;
}

/**
 * `fingerprint`: the certificate is not the pinned one; `tls`: no pin and the certificate does not
 * verify; `unreachable`: the request never left; `dropped`: the connection broke after it may have arrived.
 */
export type PbsFailure = 'fingerprint' | 'tls' | 'unauthorized' | 'forbidden' | 'not-found' | 'rejected' | 'server' | 'timeout' | 'unreachable' | 'dropped' | 'protocol';

export class PbsError extends Error {
  constructor(
    readonly failure: PbsFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PbsError';
  }
}

export type PbsBackupType = 'vm' | 'ct' | 'host';
export const PBS_BACKUP_TYPES: readonly PbsBackupType[] = ['vm', 'ct', 'host'];

export interface PbsDatastore {
  store: string;
  comment?: string;
  /** Set when the datastore is in maintenance mode. */
  maintenance?: string;
}

export interface PbsDatastoreStatus {
  total: number;
  used: number;
  avail: number;
}

export interface PbsSnapshotFile {
  filename: string;
  cryptMode?: 'none' | 'encrypt' | 'sign-only';
  size?: number;
}

export interface PbsSnapshot {
  type: PbsBackupType;
  id: string;
  /** Unix epoch seconds. */
  time: number;
  comment?: string;
  verification?: { state: 'ok' | 'failed'; upid: string };
  /** Fingerprint of the encryption key, for encrypted snapshots. */
  fingerprint?: string;
  files: PbsSnapshotFile[];
  size?: number;
  owner?: string;
  protected: boolean;
}

export interface PbsGroup {
  type: PbsBackupType;
  id: string;
  lastBackup: number;
  backupCount: number;
  owner?: string;
  comment?: string;
}

/** What a verify covers: the whole datastore, one group, or one snapshot. */
export type PbsVerifyScope = { kind: 'datastore' } | { kind: 'group'; type: PbsBackupType; id: string } | { kind: 'snapshot'; type: PbsBackupType; id: string; time: number };

export interface PbsVerifyOptions {
  /** The backup namespace (`a/b`); the root when left out. A datastore verify covers the namespaces below it too. */
  ns?: string;
  /** Skip snapshots verified before (PBS's default is true). */
  ignoreVerified?: boolean;
  /** With `ignoreVerified`, verify again those verified more than this many days ago. */
  outdatedAfterDays?: number;
}

export interface PbsTaskStatus {
  upid: string;
  status: 'running' | 'stopped';
  /** `OK`, `WARNINGS: <n>`, `Error: <message>` or `unknown`, once stopped. */
  exitstatus?: string;
  type: string;
  starttime: number;
}

export interface PbsTaskLogLine {
  n: number;
  t: string;
}

export interface PbsTaskOutcome {
  upid: string;
  exitstatus: string;
  /** Every line the task logged. */
  log: string[];
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Segments after `/api2/json/`, each encoded here. */
  segments: readonly string[];
  query?: Record<string, string | number | boolean | undefined>;
  body?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** May be sent again after it may have reached the server. */
  idempotent: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** A snapshot is listed in well under 1 KiB: room for a datastore of several hundred thousand. */
const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
/** The official client asks its tasks at node `localhost` (pbs-client/src/task_log.rs). */
const TASK_NODE = 'localhost';
const TOKEN_ID = /^[^\s@:!]+@[^\s@:!]+![A-Za-z0-9_][A-Za-z0-9._-]*$/;
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);
/** How long to wait between status reads of a running task, at first and at most. */
const POLL_FIRST_MS = 200;
const POLL_MAX_MS = 2000;
/** At most this many log lines are read per request, and kept for a failure's message. */
const LOG_PAGE = 500;

/** One path segment, `.` and `..` included, that no URL parser or server can read as anything but a name. */
function encodeSegment(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E');
}

export class PbsClient {
  /** How the server is named in messages: `PBS 'home' (pbs.lan:8007)`. */
  readonly description: string;
  private readonly base: URL;
  private readonly pin: string | undefined;

  constructor(private readonly target: PbsTarget) {
    try {
      this.base = new URL(target.url);
    } catch {
      throw new PbsError('protocol', `Proxmox Backup Server URL '${target.url}' is not a URL`);
    }
    this.description = target.name ? `PBS '${target.name}' (${this.base.host})` : `PBS at ${this.base.host}`;
    if (this.base.protocol !== 'https:') throw new PbsError('protocol', `Proxmox Backup Server URL '${target.url}' must start with https:// (PBS serves only HTTPS, on port 8007)`);
    if (!TOKEN_ID.test(target.tokenId)) throw new PbsError('protocol', `API token id '${target.tokenId}' of ${this.description} is not of the form user@realm!tokenname`);
    this.pin = target.fingerprint === undefined ? undefined : normalizeFingerprint(target.fingerprint);
  }

  /** Nothing to close: every request has its own connection, judged by the pin before it is used. */
  dispose(): void {}

  /** `GET /admin/datastore`: the datastores the token may see. */
  async datastores(signal?: AbortSignal): Promise<PbsDatastore[]> {
    const data = await this.json({ method: 'GET', segments: ['admin', 'datastore'], signal, idempotent: true });
    return asArray(data, 'the datastore list', this.description).map((item) => {
      const entry = asObject(item, 'a datastore', this.description);
      return {
        store: requireString(entry.store, 'store', this.description),
        ...optionalString('comment', entry.comment),
        ...optionalString('maintenance', entry.maintenance),
      };
    });
  }

  /** `GET /admin/datastore/{store}/status`: space in bytes. */
  async datastoreStatus(store: string, signal?: AbortSignal): Promise<PbsDatastoreStatus> {
    const data = await this.datastoreCall(store, { method: 'GET', segments: ['admin', 'datastore', store, 'status'], signal, idempotent: true });
    const status = asObject(data, `the status of datastore '${store}'`, this.description);
    return { total: requireNumber(status.total, 'total', this.description), used: requireNumber(status.used, 'used', this.description), avail: requireNumber(status.avail, 'avail', this.description) };
  }

  /** `GET /admin/datastore/{store}/snapshots` of one namespace (the root by default), optionally of one backup type and id. */
  async snapshots(store: string, filter: { type?: PbsBackupType; id?: string; ns?: string } = {}, signal?: AbortSignal): Promise<PbsSnapshot[]> {
    const data = await this.datastoreCall(store, {
      method: 'GET',
      segments: ['admin', 'datastore', store, 'snapshots'],
      query: { 'backup-type': filter.type, 'backup-id': filter.id, ns: filter.ns },
      signal,
      idempotent: true,
    });
    return asArray(data, `the snapshots of datastore '${store}'`, this.description).map((item) => this.snapshot(item));
  }

  /** `GET /admin/datastore/{store}/groups`. */
  async groups(store: string, signal?: AbortSignal): Promise<PbsGroup[]> {
    const data = await this.datastoreCall(store, { method: 'GET', segments: ['admin', 'datastore', store, 'groups'], signal, idempotent: true });
    return asArray(data, `the groups of datastore '${store}'`, this.description).map((item) => {
      const group = asObject(item, 'a backup group', this.description);
      return {
        type: backupType(group['backup-type'], this.description),
        id: requireString(group['backup-id'], 'backup-id', this.description),
        lastBackup: requireNumber(group['last-backup'], 'last-backup', this.description),
        backupCount: requireNumber(group['backup-count'], 'backup-count', this.description),
        ...optionalString('owner', group.owner),
        ...optionalString('comment', group.comment),
      };
    });
  }

  /** `POST /admin/datastore/{store}/verify`: starts the verify task and answers its UPID. */
  async startVerify(store: string, scope: PbsVerifyScope, options: PbsVerifyOptions = {}, signal?: AbortSignal): Promise<string> {
    const data = await this.datastoreCall(store, {
      method: 'POST',
      segments: ['admin', 'datastore', store, 'verify'],
      body: {
        ...(scope.kind === 'datastore' ? {} : { 'backup-type': scope.type, 'backup-id': scope.id }),
        ...(scope.kind === 'snapshot' ? { 'backup-time': scope.time } : {}),
        ns: options.ns,
        'ignore-verified': options.ignoreVerified,
        'outdated-after': options.outdatedAfterDays,
      },
      signal,
      // A repeated POST could start a second verify of terabytes.
      idempotent: false,
    });
    if (typeof data !== 'string' || !data.startsWith('UPID:')) throw new PbsError('protocol', `${this.description} answered the verify of datastore '${store}' without a task id (UPID)`);
    return data;
  }

  async taskStatus(upid: string, signal?: AbortSignal): Promise<PbsTaskStatus> {
    const data = await this.json({ method: 'GET', segments: ['nodes', TASK_NODE, 'tasks', upid, 'status'], signal, idempotent: true });
    const status = asObject(data, `the status of task ${upid}`, this.description);
    const state = status.status;
    if (state !== 'running' && state !== 'stopped') throw new PbsError('protocol', `${this.description} gave task ${upid} the status ${JSON.stringify(state)}, neither running nor stopped`);
    return {
      upid,
      status: state,
      ...optionalString('exitstatus', status.exitstatus),
      type: typeof status.type === 'string' ? status.type : '',
      starttime: typeof status.starttime === 'number' ? status.starttime : 0,
    };
  }

  /**
   * Log lines numbered `start` and after (numbers start at 1), at most `limit`, and whether the task
   * is still running (`test-status`, as the official client follows a task: one request per look).
   */
  async taskLog(upid: string, start: number, limit = LOG_PAGE, signal?: AbortSignal): Promise<{ lines: PbsTaskLogLine[]; active: boolean | undefined }> {
    const answer = await this.envelope({ method: 'GET', segments: ['nodes', TASK_NODE, 'tasks', upid, 'log'], query: { start, limit, 'test-status': true }, signal, idempotent: true });
    const lines = asArray(answer.data, `the log of task ${upid}`, this.description).map((item) => {
      const line = asObject(item, 'a task log line', this.description);
      return { n: requireNumber(line.n, 'n', this.description), t: typeof line.t === 'string' ? line.t : '' };
    });
    return { lines, active: typeof answer.active === 'boolean' ? answer.active : undefined };
  }

  /** `DELETE /nodes/{node}/tasks/{upid}`: asks the task to abort; it stops at its next check. */
  async stopTask(upid: string, signal?: AbortSignal): Promise<void> {
    await this.json({ method: 'DELETE', segments: ['nodes', TASK_NODE, 'tasks', upid], signal, idempotent: true });
  }

  /**
   * Follows a task until it stops, handing each new log line to `onLog`. Cancelled through `signal`,
   * it asks PBS to stop the task before it throws, so nothing keeps running unseen. Answers the exit
   * status and the whole log; whether that status is a success is the caller's to judge.
   */
  async waitForTask(upid: string, options: { signal?: AbortSignal; onLog?: (line: string) => void; pollMs?: number } = {}): Promise<PbsTaskOutcome> {
    const log: string[] = [];
    let next = 1;
    let delay = options.pollMs ?? POLL_FIRST_MS;
    /** Reads the lines not seen yet; answers whether the task was running at the last read. */
    const readLog = async (signal: AbortSignal | undefined): Promise<boolean | undefined> => {
      for (;;) {
        const { lines, active } = await this.taskLog(upid, next, LOG_PAGE, signal);
        for (const line of lines) {
          if (line.n < next) continue;
          log.push(line.t);
          options.onLog?.(line.t);
          next = line.n + 1;
        }
        if (lines.length < LOG_PAGE) return active;
      }
    };
    try {
      for (;;) {
        // The status only once the log says the task ended (or cannot say): its exit status is there.
        if ((await readLog(options.signal)) !== true) {
          const status = await this.taskStatus(upid, options.signal);
          if (status.status === 'stopped') {
            // Lines the task wrote between that read and its end.
            await readLog(options.signal);
            return { upid, exitstatus: status.exitstatus ?? 'unknown', log };
          }
        }
        await sleep(delay, options.signal);
        delay = Math.min(POLL_MAX_MS, delay * 2);
      }
    } catch (error) {
      if (!options.signal?.aborted) throw error;
      // Not under the caller's signal, which has aborted: the stop request must still go out.
      await this.stopTask(upid, AbortSignal.timeout(this.target.timeoutMs ?? DEFAULT_TIMEOUT_MS)).catch(() => undefined);
      throw new CancelledError(`Cancelled; asked ${this.description} to stop task ${upid}`);
    }
  }

  private snapshot(item: unknown): PbsSnapshot {
    const entry = asObject(item, 'a snapshot', this.description);
    const verification = entry.verification;
    let verified: PbsSnapshot['verification'];
    if (verification && typeof verification === 'object') {
      const { state, upid } = verification as Record<string, unknown>;
      if (state === 'ok' || state === 'failed') verified = { state, upid: typeof upid === 'string' ? upid : '' };
    }
    const files = Array.isArray(entry.files) ? entry.files : [];
    return {
      type: backupType(entry['backup-type'], this.description),
      id: requireString(entry['backup-id'], 'backup-id', this.description),
      time: requireNumber(entry['backup-time'], 'backup-time', this.description),
      ...optionalString('comment', entry.comment),
      ...(verified ? { verification: verified } : {}),
      ...optionalString('fingerprint', entry.fingerprint),
      files: files.map((file) => {
        const fields = asObject(file, 'a snapshot file', this.description);
        const cryptMode = fields['crypt-mode'];
        return {
          filename: requireString(fields.filename, 'filename', this.description),
          ...(cryptMode === 'none' || cryptMode === 'encrypt' || cryptMode === 'sign-only' ? { cryptMode } : {}),
          ...(typeof fields.size === 'number' ? { size: fields.size } : {}),
        };
      }),
      ...(typeof entry.size === 'number' ? { size: entry.size } : {}),
      ...optionalString('owner', entry.owner),
      protected: entry.protected === true,
    };
  }

  /**
   * A call on one datastore. PBS answers an unknown datastore with a plain 400; the datastore list
   * then tells whether that was the reason, so the message can name the datastores there are.
   */
  private async datastoreCall(store: string, spec: RequestSpec): Promise<unknown> {
    try {
      return await this.json(spec);
    } catch (error) {
      if (!(error instanceof PbsError) || (error.status !== 400 && error.status !== 404)) throw error;
      const known = await this.datastores(spec.signal).catch(() => undefined);
      if (!known || known.some((entry) => entry.store === store)) throw error;
      const names = known.map((entry) => `'${entry.store}'`).join(', ');
      throw new PbsError('not-found', `datastore '${store}' does not exist on ${this.description}${names ? `; it has ${names}` : '; the token sees no datastore there'}`, error.status);
    }
  }

  private async json(spec: RequestSpec): Promise<unknown> {
    return (await this.envelope(spec)).data;
  }

  /** The whole `{"data": …}` answer, for the routes that put more beside `data` (a task log's `active`). */
  private async envelope(spec: RequestSpec): Promise<{ data: unknown } & Record<string, unknown>> {
    const text = await withRetries(() => this.send(spec), {
      policy: this.target.retry ?? DEFAULT_RETRY_POLICY,
      signal: spec.signal,
      isRetryable: (error) =>
        error instanceof PbsError &&
        (error.failure === 'unreachable' || (spec.idempotent && (error.failure === 'server' || error.failure === 'dropped' || error.failure === 'timeout'))),
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new PbsError('protocol', `${this.description} answered ${this.routeName(spec)} with something other than JSON`);
    }
    if (!parsed || typeof parsed !== 'object' || !('data' in parsed)) throw new PbsError('protocol', `${this.description} answered ${this.routeName(spec)} without its "data" envelope`);
    return parsed as { data: unknown } & Record<string, unknown>;
  }

  /** The route as messages name it: method and path, without the query. */
  private routeName(spec: RequestSpec): string {
    return `${spec.method} /api2/json/${spec.segments.map(encodeSegment).join('/')}`;
  }

  private path(spec: RequestSpec): string {
    const prefix = this.base.pathname.replace(/\/$/, '');
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(spec.query ?? {})) if (value !== undefined) query.set(key, String(value));
    const search = query.size > 0 ? `?${query}` : '';
    return `${prefix}/api2/json/${spec.segments.map(encodeSegment).join('/')}${search}`;
  }

  /** One exchange; answers the body of a 2xx, anything else becomes a `PbsError`. */
  private send(spec: RequestSpec): Promise<string> {
    if (spec.signal?.aborted) return Promise.reject(new CancelledError());
    const body = spec.body ? JSON.stringify(Object.fromEntries(Object.entries(spec.body).filter(([, value]) => value !== undefined))) : undefined;
    const headers: Record<string, string | number> = {
      Accept: 'application/json',
      // The official client percent-encodes the secret; PBS decodes it.
      Authorization: `PBSAPIToken ${this.target.tokenId}:${encodeURIComponent(this.target.tokenSecret)}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }),
    };
    const timeoutMs = this.target.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const scope = spec.signal ? followSignal(spec.signal) : undefined;
    const signal = scope?.signal;
    const route = this.routeName(spec);
    const exchange = new Promise<string>((resolve, reject) => {
      // Whatever breaks the exchange after a cancellation is the cancellation. Settling twice is a no-op:
      // the first outcome stands.
      const fail = (error: Error) => reject(signal?.aborted ? new CancelledError() : error);
      // The path is handed over as it is: a URL object would read `%2E%2E` as `..` and climb out of the route.
      const request = httpsRequest(
        {
          method: spec.method,
          host: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port || 443,
          path: this.path(spec),
          headers,
          // Node hands the request its socket once `ready` is called (the typings only know the
          // synchronous form): the certificate is judged before the request can be written.
          createConnection: ((_options: unknown, ready: (error: Error | null, socket?: Socket) => void) => {
            this.connect(ready);
            return undefined;
          }) as unknown as RequestOptions['createConnection'],
        },
        (response) => {
          request.setTimeout(0);
          const chunks: Buffer[] = [];
          response.setTimeout(timeoutMs, () => response.destroy(new PbsError('timeout', `${this.description} stopped sending ${route} for ${formatDuration(timeoutMs)}`)));
          const limit = this.target.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
          let received = 0;
          response.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received > limit) response.destroy(new PbsError('protocol', `${this.description} answered ${route} with more than ${formatBytes(limit)}; refusing to read on`));
            else chunks.push(chunk);
          });
          response.on('error', (error: NodeJS.ErrnoException) => fail(this.networkError(error, route)));
          // An answer cut off without an error event still settles the request.
          response.on('close', () => fail(new PbsError('dropped', `${this.description} closed the connection in the middle of answering ${route}`)));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(text);
            else reject(this.failure(status, text, route));
          });
        },
      );
      const onAbort = () => request.destroy(new CancelledError());
      signal?.addEventListener('abort', onAbort, { once: true });
      request.setTimeout(timeoutMs, () => request.destroy(new PbsError('timeout', `${this.description} did not answer ${route} within ${formatDuration(timeoutMs)}`)));
      request.on('error', (error: NodeJS.ErrnoException) => fail(this.networkError(error, route)));
      request.on('close', () => signal?.removeEventListener('abort', onAbort));
      request.end(body);
    });
    // The answer is read whole before the exchange settles.
    return scope ? exchange.finally(scope.release) : exchange;
  }

  /**
   * Opens the TLS connection and judges the certificate before the request is written: the pinned
   * fingerprint, or without a pin the system's CAs and the host name.
   */
  private connect(ready: (error: Error | null, socket?: Socket) => void): void {
    connectJudged(this.base, (presented, socket) => this.judgeCertificate(presented, socket)).then(
      (socket) => ready(null, socket),
      (error: Error) => ready(error),
    );
  }

  private judgeCertificate(presented: string | undefined, socket: TLSSocket): PbsError | undefined {
    if (presented === undefined) return new PbsError('tls', `${this.description} presented no certificate`);
    if (this.pin !== undefined) {
      if (presented === this.pin) return undefined;
      return new PbsError(
        'fingerprint',
        `${this.description} presented a certificate with SHA-256 fingerprint ${presented}, but lifeboat.yaml pins ${this.pin}: refusing to send the API token. If the server's certificate was renewed, check the new fingerprint on the server and update \`fingerprint\``,
      );
    }
    if (socket.authorized) return undefined;
    const reason = String(socket.authorizationError ?? 'not trusted');
    return new PbsError(
      'tls',
      `the certificate of ${this.description} is not trusted (${reason}); it has SHA-256 fingerprint ${presented}. If that is the one the server shows, pin it as \`fingerprint: ${presented}\` in lifeboat.yaml`,
    );
  }

  private failure(status: number, body: string, route: string): PbsError {
    // PBS sends the error message as the body text.
    const message = body.trim().startsWith('<') ? '' : body.trim().replace(/\s+/g, ' ').slice(0, 300);
    const suffix = message ? `: ${message}` : '';
    if (status === 401) return new PbsError('unauthorized', `${this.description} refused API token '${this.target.tokenId}' (401)${suffix}: check the token id and its secret`, status);
    if (status === 403) return new PbsError('forbidden', `${this.description} does not allow API token '${this.target.tokenId}' ${route} (403)${suffix}: give the token a role on that path (e.g. DatastoreAudit, DatastoreVerify)`, status);
    if (status === 404) return new PbsError('not-found', `${this.description} has no ${route} (404)${suffix}`, status);
    if (status >= 500) return new PbsError('server', `${this.description} failed ${route} with HTTP ${status}${suffix}`, status);
    return new PbsError('rejected', `${this.description} rejected ${route} (HTTP ${status})${suffix}`, status);
  }

  private networkError(error: NodeJS.ErrnoException, route: string): Error {
    if (error instanceof PbsError || error instanceof CancelledError) return error;
    const code = error.code ?? '';
    if (CONNECT_FAILURES.has(code)) return new PbsError('unreachable', `could not connect to ${this.description} (${code})`);
    if (DROPPED.has(code) || /socket hang up/.test(error.message)) return new PbsError('dropped', `${this.description} dropped the connection during ${route} (${code || error.message})`);
    if (/SSL|TLS|CERT/.test(code)) return new PbsError('tls', `TLS with ${this.description} failed (${code})`);
    return new PbsError('server', `${route} on ${this.description} failed: ${error.message}`);
  }
}

function asArray(value: unknown, what: string, server: string): unknown[] {
  if (!Array.isArray(value)) throw new PbsError('protocol', `${server} answered ${what} with something other than a list`);
  return value;
}

function asObject(value: unknown, what: string, server: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new PbsError('protocol', `${server} answered ${what} with something other than an object`);
  return value as Record<string, unknown>;
}

function requireString(value: unknown, field: string, server: string): string {
  if (typeof value !== 'string') throw new PbsError('protocol', `${server} left out the text field '${field}'`);
  return value;
}

function requireNumber(value: unknown, field: string, server: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new PbsError('protocol', `${server} left out the number field '${field}'`);
  return value;
}

function optionalString<Key extends string>(key: Key, value: unknown): Partial<Record<Key, string>> {
  return typeof value === 'string' ? ({ [key]: value } as Partial<Record<Key, string>>) : {};
}

function backupType(value: unknown, server: string): PbsBackupType {
  if (value === 'vm' || value === 'ct' || value === 'host') return value;
  throw new PbsError('protocol', `${server} named the backup type ${JSON.stringify(value)}, not vm, ct or host`);
}
