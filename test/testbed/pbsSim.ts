/**
 * A Proxmox Backup Server simulator (PBS cannot run on these machines) following EXTERNAL-SYSTEMS.md §6
 * and test/fixtures/contracts/pbs-api-3.2.json (routes read from the proxmox/proxmox-backup mirror the
 * contract cites):
 * - HTTPS only, with a self-signed certificate, as a fresh PBS has;
 * - API token auth: `Authorization: PBSAPIToken <tokenid>:<secret>` or `PBSAPIToken=…`, the secret
 *   percent-encoded or not;
 * - every answer wrapped as `{"data": …}`, a failure as its status with the message as plain text;
 * - datastores, their snapshots (SnapshotListItem) and groups (GroupListItem), their status;
 * - `verify` starts a worker task and answers its UPID; the task logs each snapshot, marks its
 *   verification state, fails when a snapshot is damaged, and stops early when asked to abort.
 * Wording of messages the contract does not give (unknown datastore, bad token, task log lines) is
 * the simulator's own: clients must not depend on it.
 * Faults can be injected per path: error statuses and dropped connections.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate, type TestCertificate } from './certificate';

export type PbsBackupType = 'vm' | 'ct' | 'host';

export interface PbsSimFile {
  filename: string;
  'crypt-mode'?: 'none' | 'encrypt' | 'sign-only';
  size?: number;
}

export interface PbsSimSnapshot {
  type: PbsBackupType;
  id: string;
  /** Unix epoch seconds. */
  time: number;
  size?: number;
  comment?: string;
  protected?: boolean;
  owner?: string;
  files?: PbsSimFile[];
  verification?: { state: 'ok' | 'failed'; upid: string };
  /** The backup namespace, `a/b` for a nested one; the root when left out. */
  ns?: string;
  /** A chunk of it is damaged: verifying it fails. */
  corrupt?: boolean;
}

export interface PbsSimDatastore {
  comment?: string;
  maintenance?: string;
  total: number;
  used: number;
  snapshots: PbsSimSnapshot[];
}

export interface PbsSimOptions {
  /** Token id (`user@realm!name`) → secret. */
  tokens?: Record<string, string>;
  datastores?: Record<string, PbsSimDatastore>;
  /** How long verifying one snapshot takes. */
  verifyMsPerSnapshot?: number;
  node?: string;
}

export type PbsFault = { kind: 'status'; status: number; path?: RegExp; times?: number } | { kind: 'drop'; path?: RegExp; times?: number };

export interface PbsRecordedRequest {
  method: string;
  /** The request target exactly as sent, percent-encoding included. */
  rawPath: string;
  /** Path segments after `/api2/json/`, each decoded once. */
  segments: string[];
  authorization: string | undefined;
}

export interface PbsSimTask {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  authId: string;
  lines: string[];
  exitstatus: string | undefined;
  abortRequested: boolean;
}

const API_PREFIX = '/api2/json/';
/** PROXMOX_SAFE_ID_REGEX_STR (proxmox-schema), the format of DATASTORE_SCHEMA. */
const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const BACKUP_TYPES = new Set(['vm', 'ct', 'host']);
/** BACKUP_NS_RE (pbs-api-types): safe ids joined by `/`, at most 8 levels. */
const NAMESPACE = /^[A-Za-z0-9_][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*){0,7}$/;
const ABORTED = 'abort requested - aborting task';

class PbsFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class PbsSimulator {
  readonly requests: PbsRecordedRequest[] = [];
  readonly tasks = new Map<string, PbsSimTask>();
  private readonly faults: PbsFault[] = [];
  private taskCounter = 0;

  private constructor(
    private readonly dir: string,
    readonly certificate: TestCertificate,
    private readonly server: Server,
    readonly tokens: Record<string, string>,
    readonly datastores: Record<string, PbsSimDatastore>,
    private readonly verifyMsPerSnapshot: number,
    readonly node: string,
  ) {}

  static async start(options: PbsSimOptions = {}): Promise<PbsSimulator> {
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-pbssim-'));
    const certificate = await selfSignedCertificate(dir, 'pbs');
    const server = createServer({ cert: certificate.cert, key: certificate.key });
    const simulator = new PbsSimulator(dir, certificate, server, options.tokens ?? {}, options.datastores ?? {}, options.verifyMsPerSnapshot ?? 20, options.node ?? 'pbs');
    server.on('request', (request, response) => void simulator.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return simulator;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The certificate's SHA-256 fingerprint as PBS shows it: upper-case hex pairs joined by colons. */
  get fingerprint(): string {
    return new X509Certificate(this.certificate.cert).fingerprint256;
  }

  injectFault(fault: PbsFault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Resolves once a task is running (or has run) whose type matches. */
  async waitForTask(predicate: (task: PbsSimTask) => boolean, timeoutMs = 10_000): Promise<PbsSimTask> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = [...this.tasks.values()].find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no such task started in time');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async stop(): Promise<void> {
    for (const task of this.tasks.values()) task.abortRequested = true;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawPath = request.url ?? '/';
    const [pathPart = '', queryPart = ''] = rawPath.split('?', 2);
    let segments: string[] = [];
    try {
      if (!pathPart.startsWith(API_PREFIX)) throw new PbsFailure(404, 'Path not found.');
      segments = pathPart.slice(API_PREFIX.length).split('/').map((segment) => decodeURIComponent(segment));
    } catch (error) {
      this.requests.push({ method: request.method ?? '', rawPath, segments, authorization: request.headers.authorization });
      const failure = error instanceof PbsFailure ? error : new PbsFailure(400, 'invalid percent-encoding in path');
      return sendText(response, failure.status, failure.message);
    }
    this.requests.push({ method: request.method ?? '', rawPath, segments, authorization: request.headers.authorization });
    const fault = this.takeFault(pathPart);
    if (fault?.kind === 'drop') {
      request.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') return sendText(response, fault.status, `simulated failure ${fault.status}`);
    try {
      const authId = this.authenticate(request.headers.authorization);
      const params = await this.parameters(request, queryPart);
      const answer = this.route(request.method ?? 'GET', segments, params, authId);
      sendJson(response, 200, answer);
    } catch (error) {
      if (error instanceof PbsFailure) return sendText(response, error.status, error.message);
      sendText(response, 500, error instanceof Error ? error.message : String(error));
    }
  }

  private takeFault(path: string): PbsFault | undefined {
    const index = this.faults.findIndex((fault) => !fault.path || fault.path.test(path));
    if (index < 0) return undefined;
    const fault = this.faults[index] as PbsFault;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  /** The token's auth id; either separator after `PBSAPIToken`, the secret percent-encoded or not. */
  private authenticate(header: string | undefined): string {
    const match = /^PBSAPIToken[ =]([^:]+):(.+)$/.exec(header ?? '');
    if (!match) throw new PbsFailure(401, 'authentication failure');
    const [, tokenId = '', encoded = ''] = match;
    let secret: string;
    try {
      secret = decodeURIComponent(encoded);
    } catch {
      throw new PbsFailure(401, 'authentication failure');
    }
    if (this.tokens[tokenId] === undefined || this.tokens[tokenId] !== secret) throw new PbsFailure(401, 'authentication failure');
    return tokenId;
  }

  /** Query and body parameters merged, as the API server hands them to a method. */
  private async parameters(request: IncomingMessage, query: string): Promise<Record<string, string>> {
    const params: Record<string, string> = Object.fromEntries(new URLSearchParams(query));
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (body === '') return params;
    if ((request.headers['content-type'] ?? '').startsWith('application/json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new PbsFailure(400, 'unable to parse JSON body');
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PbsFailure(400, 'expected a JSON object as body');
      for (const [key, value] of Object.entries(parsed)) params[key] = String(value);
      return params;
    }
    return { ...params, ...Object.fromEntries(new URLSearchParams(body)) };
  }

  private route(method: string, segments: string[], params: Record<string, string>, authId: string): unknown {
    const [first, second, store, leaf, ...rest] = segments;
    if (first === 'admin' && second === 'datastore') {
      if (store === undefined && method === 'GET') return { data: Object.entries(this.datastores).map(([name, entry]) => ({ store: name, comment: entry.comment ?? null, ...(entry.maintenance ? { maintenance: entry.maintenance } : {}) })) };
      if (store !== undefined && leaf !== undefined && rest.length === 0) {
        const datastore = this.datastore(store);
        if (method === 'GET' && leaf === 'snapshots') return { data: this.snapshots(datastore, params) };
        if (method === 'GET' && leaf === 'groups') return { data: this.groups(datastore, params) };
        if (method === 'GET' && leaf === 'status') return { data: { total: datastore.total, used: datastore.used, avail: datastore.total - datastore.used } };
        if (method === 'POST' && leaf === 'verify') return { data: this.startVerify(store, datastore, params, authId) };
      }
    }
    // nodes/{node}/tasks/{upid}[/status|/log]
    if (first === 'nodes' && store === 'tasks') return this.taskRoute(method, second ?? '', leaf ?? '', rest, params);
    throw new PbsFailure(404, 'Path not found.');
  }

  private datastore(name: string): PbsSimDatastore {
    if (!SAFE_ID.test(name)) throw new PbsFailure(400, `parameter verification errors\n\nparameter 'store': value does not match the regex pattern`);
    const datastore = this.datastores[name];
    if (!datastore) throw new PbsFailure(400, `no such datastore '${name}'`);
    return datastore;
  }

  private snapshots(datastore: PbsSimDatastore, params: Record<string, string>): unknown[] {
    const type = params['backup-type'];
    if (type !== undefined && !BACKUP_TYPES.has(type)) throw new PbsFailure(400, `parameter verification errors\n\nparameter 'backup-type': value '${type}' is not defined in the enumeration.`);
    const ns = namespaceOf(params);
    return datastore.snapshots
      .filter((snapshot) => (snapshot.ns ?? '') === ns && (type === undefined || snapshot.type === type) && (params['backup-id'] === undefined || snapshot.id === params['backup-id']))
      .map((snapshot) => ({
        'backup-type': snapshot.type,
        'backup-id': snapshot.id,
        'backup-time': snapshot.time,
        ...(snapshot.comment === undefined ? {} : { comment: snapshot.comment }),
        ...(snapshot.verification ? { verification: snapshot.verification } : {}),
        files: snapshot.files ?? [{ filename: 'index.json.blob', 'crypt-mode': 'none', size: 512 }],
        ...(snapshot.size === undefined ? {} : { size: snapshot.size }),
        owner: snapshot.owner ?? 'root@pam',
        protected: snapshot.protected ?? false,
      }));
  }

  private groups(datastore: PbsSimDatastore, params: Record<string, string>): unknown[] {
    const ns = namespaceOf(params);
    const groups = new Map<string, PbsSimSnapshot[]>();
    for (const snapshot of datastore.snapshots.filter((candidate) => (candidate.ns ?? '') === ns)) groups.set(`${snapshot.type}/${snapshot.id}`, [...(groups.get(`${snapshot.type}/${snapshot.id}`) ?? []), snapshot]);
    return [...groups.values()].map((members) => {
      const newest = members.reduce((a, b) => (a.time >= b.time ? a : b));
      return {
        'backup-type': newest.type,
        'backup-id': newest.id,
        'last-backup': newest.time,
        'backup-count': members.length,
        files: (newest.files ?? [{ filename: 'index.json.blob' }]).map((file) => file.filename),
        owner: newest.owner ?? 'root@pam',
        ...(newest.comment === undefined ? {} : { comment: newest.comment }),
      };
    });
  }

  /** `verify` as src/api2/admin/datastore.rs starts it: a snapshot, a group or the whole datastore. */
  private startVerify(store: string, datastore: PbsSimDatastore, params: Record<string, string>, authId: string): string {
    const type = params['backup-type'];
    const id = params['backup-id'];
    const timeText = params['backup-time'];
    if (type !== undefined && !BACKUP_TYPES.has(type)) throw new PbsFailure(400, `parameter verification errors\n\nparameter 'backup-type': value '${type}' is not defined in the enumeration.`);
    const time = timeText === undefined ? undefined : Number(timeText);
    if (time !== undefined && !Number.isInteger(time)) throw new PbsFailure(400, `parameter verification errors\n\nparameter 'backup-time': value '${timeText}' is not an integer`);
    const ns = namespaceOf(params);
    const inNamespace = (candidate: PbsSimSnapshot) => (candidate.ns ?? '') === ns;
    const ignoreVerified = params['ignore-verified'] === undefined ? true : params['ignore-verified'] === 'true' || params['ignore-verified'] === '1';
    let scope: PbsSimSnapshot[];
    let workerType: string;
    let workerId: string;
    if (type !== undefined && id !== undefined && time !== undefined) {
      const snapshot = datastore.snapshots.find((candidate) => inNamespace(candidate) && candidate.type === type && candidate.id === id && candidate.time === time);
      if (!snapshot) throw new PbsFailure(400, `snapshot ${type}/${id}/${rfc3339(time)} does not exist!`);
      scope = [snapshot];
      workerType = 'verify_snapshot';
      workerId = `${store}:${type}/${id}/${time.toString(16).toUpperCase().padStart(8, '0')}`;
    } else if (type !== undefined && id !== undefined && time === undefined) {
      scope = datastore.snapshots.filter((candidate) => inNamespace(candidate) && candidate.type === type && candidate.id === id);
      workerType = 'verify_group';
      workerId = `${store}:${type}/${id}`;
    } else if (type === undefined && id === undefined && time === undefined) {
      // The whole datastore, or a namespace and every namespace below it.
      scope = datastore.snapshots.filter((candidate) => ns === '' || inNamespace(candidate) || (candidate.ns ?? '').startsWith(`${ns}/`));
      workerType = 'verify';
      workerId = store;
    } else {
      throw new PbsFailure(400, 'parameters do not specify a backup group or snapshot');
    }
    const task = this.newTask(workerType, workerId, authId);
    void this.runVerify(task, store, scope.sort((a, b) => a.time - b.time), ignoreVerified);
    return task.upid;
  }

  private newTask(type: string, id: string, authId: string): PbsSimTask {
    const starttime = Math.floor(Date.now() / 1000);
    // The proxy daemon's process as PBS would name it: fixed numbers, so a UPID varies only by task and time.
    const pid = 0x1a2b;
    const pstart = 0x4242;
    const taskId = ++this.taskCounter;
    const hex = (value: number) => value.toString(16).toUpperCase().padStart(8, '0');
    const upid = `UPID:${this.node}:${hex(pid)}:${hex(pstart)}:${hex(taskId)}:${hex(starttime)}:${type}:${escapeUnit(id)}:${authId}:`;
    const task: PbsSimTask = { upid, node: this.node, pid, pstart, starttime, type, id, authId, lines: [], exitstatus: undefined, abortRequested: false };
    this.tasks.set(upid, task);
    return task;
  }

  private async runVerify(task: PbsSimTask, store: string, scope: PbsSimSnapshot[], ignoreVerified: boolean): Promise<void> {
    const failed: string[] = [];
    task.lines.push(`verify datastore ${store}`);
    for (const snapshot of scope) {
      await new Promise((resolve) => setTimeout(resolve, this.verifyMsPerSnapshot));
      if (task.abortRequested) {
        task.lines.push(`TASK ERROR: ${ABORTED}`);
        task.exitstatus = `Error: ${ABORTED}`;
        return;
      }
      const name = `${store}:${snapshot.type}/${snapshot.id}/${rfc3339(snapshot.time)}`;
      if (ignoreVerified && snapshot.verification) {
        task.lines.push(`SKIPPED: verify ${name} (recently verified)`);
        continue;
      }
      task.lines.push(`verify ${name}`);
      for (const file of snapshot.files ?? []) task.lines.push(`  check ${file.filename}`);
      if (snapshot.corrupt) {
        task.lines.push(`  verify ${name}/drive-scsi0.img.fidx failed: chunk verification failed`);
        failed.push(`${snapshot.type}/${snapshot.id}/${rfc3339(snapshot.time)}`);
      }
      snapshot.verification = { state: snapshot.corrupt ? 'failed' : 'ok', upid: task.upid };
    }
    if (failed.length > 0) {
      task.lines.push('Failed to verify the following snapshots/groups:');
      for (const name of failed) task.lines.push(`\t${name}`);
      task.lines.push('TASK ERROR: verification failed - please check the log for details');
      task.exitstatus = 'Error: verification failed - please check the log for details';
      return;
    }
    task.lines.push('TASK OK');
    task.exitstatus = 'OK';
  }

  private taskRoute(method: string, node: string, upid: string, rest: string[], params: Record<string, string>): unknown {
    if (node !== 'localhost' && node !== this.node) throw new PbsFailure(400, `parameter verification errors\n\nparameter 'node': no such node '${node}'`);
    const task = this.tasks.get(upid);
    if (!task) throw new PbsFailure(400, `unable to parse UPID '${upid}'`);
    const [leaf, ...more] = rest;
    if (more.length > 0) throw new PbsFailure(404, 'Path not found.');
    if (leaf === undefined && method === 'DELETE') {
      task.abortRequested = true;
      return { data: null };
    }
    if (leaf === 'status' && method === 'GET') {
      const [user, tokenName] = task.authId.split('!');
      return {
        data: {
          upid: task.upid,
          node: task.node,
          pid: task.pid,
          pstart: task.pstart,
          starttime: task.starttime,
          type: task.type,
          id: task.id,
          user,
          ...(tokenName === undefined ? {} : { tokenid: tokenName }),
          status: task.exitstatus === undefined ? 'running' : 'stopped',
          ...(task.exitstatus === undefined ? {} : { exitstatus: task.exitstatus }),
        },
      };
    }
    if (leaf === 'log' && method === 'GET') {
      const start = Number(params.start ?? 0);
      const limit = Number(params.limit ?? 50);
      // Lines are numbered from 1; a line is sent once its number reaches `start` (read_task_log).
      const lines = task.lines.map((text, index) => ({ n: index + 1, t: text })).filter((line) => line.n >= start);
      return {
        data: limit === 0 ? lines : lines.slice(0, limit),
        total: task.lines.length,
        success: 1,
        ...(params['test-status'] === 'true' || params['test-status'] === '1' ? { active: task.exitstatus === undefined } : {}),
      };
    }
    throw new PbsFailure(404, 'Path not found.');
  }
}

/** The `ns` parameter, checked as PBS checks it; the root namespace is the empty one. */
function namespaceOf(params: Record<string, string>): string {
  const ns = params.ns ?? '';
  if (ns !== '' && !NAMESPACE.test(ns)) throw new PbsFailure(400, `parameter verification errors\n\nparameter 'ns': value does not match the regex pattern`);
  return ns;
}

function rfc3339(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** systemd's unit name escaping, which a UPID applies to its worker id. */
function escapeUnit(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      if (char === '/') return '-';
      if (/[A-Za-z0-9_.]/.test(char)) return char;
      return `\\x${byte.toString(16).padStart(2, '0')}`;
    })
    .join('');
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
