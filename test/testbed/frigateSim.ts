/**
 * A Frigate NVR simulator (Frigate cannot run on these machines) following EXTERNAL-SYSTEMS.md §1 and
 * the OpenAPI files of v0.16.0 and v0.17.0, quirks included:
 * - two ports: the authenticated one (8971 in Frigate; HTTPS with a self-signed certificate) that
 *   wants the `frigate_token` cookie or `Authorization: Bearer <jwt>`, and the internal one (5000;
 *   plain HTTP) where everything is open;
 * - `POST /api/login` sets the JWT cookie; writes that carry an `Origin` need `X-CSRF-TOKEN`;
 * - `GET /api/faces` lists every folder of the face library, the `train` folder too;
 * - `POST /api/faces/<name>/create` answers 200 with `success: false`;
 * - `register` re-crops and re-encodes the upload as `<name>_<epoch>.webp`, and answers "No face was
 *   detected." for images too small to hold one;
 * - face images download from the static `/clips/faces/<name>/<file>`, not under `/api`.
 * Faults can be injected per path: error statuses, slow answers, dropped connections, cut bodies.
 */
import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate, type TestCertificate } from './certificate';
import { HttpFailure, NGINX_NOT_FOUND, parseJson, readBody, safeName, sendJson, sendText } from './frigateSimHttp';
import { FRIGATE_SIM_ROUTES, routePattern } from './frigateSimRoutes';
import { solidWebp, webpSize } from './webp';

export interface FrigateSimUser {
  password: string;
  role: 'admin' | 'viewer';
}

export interface FrigateSimOptions {
  /** As `/api/version` prints it: `<VERSION>-<commit>`. */
  version?: string;
  users?: Record<string, FrigateSimUser>;
  faceRecognition?: boolean;
  /**
   * How long one `register` keeps Frigate busy; registrations are processed one at a time, as in
   * Frigate: its `register_face` route (frigate/api/classification.py) hands the image over one ZMQ
   * REQ socket to the embeddings process (`EmbeddingsContext.register_face`, frigate/embeddings/__init__.py),
   * which answers requests one by one in its main loop (`EmbeddingsResponder.check_for_request`,
   * frigate/comms/embeddings_updater.py); there `FaceRealTimeProcessor.handle_request`
   * (frigate/data_processing/real_time/face.py) decodes the image, runs the YuNet face detector
   * (`cv2.FaceDetectorYN`), crops, encodes WebP at quality 100 and writes the file. Read at
   * blakeblackshear/frigate e3fa701 (0.18 dev). 0 (the default) answers at once.
   */
  registerProcessingMs?: number;
}

export type FrigateFault =
  | { kind: 'status'; status: number; path?: RegExp; times?: number }
  | { kind: 'slow'; delayMs: number; path?: RegExp; times?: number }
  | { kind: 'drop'; path?: RegExp; times?: number }
  /** Sends the headers and half the body, then closes the connection. */
  | { kind: 'truncate'; path?: RegExp; times?: number };

export interface SimEvent {
  id: string;
  camera: string;
  label: string;
  start_time: number;
  end_time: number | null;
  has_snapshot: boolean;
  has_clip: boolean;
}

export interface RecordedRequest {
  port: 'authenticated' | 'internal';
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

const IMAGE_EXTENSIONS = /\.(webp|png|jpe?g)$/i;
/** Uploads smaller than this on either side hold no detectable face. */
const MIN_FACE_PIXELS = 40;
const SESSION_SECONDS = 86_400;
const COOKIE_NAME = 'frigate_token';
const NAME_PATTERN = /^[\p{L}\p{N}\s'_-]{1,50}$/u;

/** A baseline JPEG of 8×8 grey pixels: one DC-only block with one-symbol Huffman tables. */
const SNAPSHOT_JPEG = Buffer.concat([
  Buffer.from('ffd8ffdb004300', 'hex'),
  Buffer.alloc(64, 1),
  Buffer.from('ffc0000b080008000801011100', 'hex'),
  Buffer.from('ffc4001400' + '01' + '00'.repeat(15) + '00', 'hex'),
  Buffer.from('ffc4001410' + '01' + '00'.repeat(15) + '00', 'hex'),
  Buffer.from('ffda0008010100003f00', 'hex'),
  Buffer.from('3fffd9', 'hex'),
]);

export class FrigateSimulator {
  readonly requests: RecordedRequest[] = [];
  readonly events: SimEvent[] = [];
  private readonly faults: FrigateFault[] = [];
  private secret = createHash('sha256').update(String(Math.random())).digest();
  private lastEpoch = 0;
  /** Time spent processing registrations (one at a time), for a benchmark to hold a client's wall time against. */
  registerBusyMs = 0;
  private registrations: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly mediaDir: string,
    readonly certificate: TestCertificate,
    private readonly authenticated: Server,
    private readonly internal: Server,
    readonly version: string,
    private readonly users: Record<string, FrigateSimUser>,
    /** Switch face recognition off to see the 400 answers of the face routes. */
    public faceRecognition: boolean,
    private readonly registerProcessingMs: number,
  ) {}

  static async start(options: FrigateSimOptions = {}): Promise<FrigateSimulator> {
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-frigatesim-'));
    const certificate = await selfSignedCertificate(dir);
    const mediaDir = join(dir, 'media', 'frigate');
    await mkdir(join(mediaDir, 'clips', 'faces'), { recursive: true });
    const authenticated = createHttpsServer({ cert: certificate.cert, key: certificate.key });
    const internal = createHttpServer();
    const simulator = new FrigateSimulator(
      mediaDir,
      certificate,
      authenticated,
      internal,
      options.version ?? '0.16.0-c2f8de9',
      options.users ?? { admin: { password: 'frigate-admin-pass', role: 'admin' } },
      options.faceRecognition ?? true,
      options.registerProcessingMs ?? 0,
    );
    authenticated.on('request', (request, response) => void simulator.handle('authenticated', request, response));
    internal.on('request', (request, response) => void simulator.handle('internal', request, response));
    await Promise.all([authenticated, internal].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
    return simulator;
  }

  /** The authenticated port (8971 in Frigate), over HTTPS. */
  get url(): string {
    return `https://127.0.0.1:${(this.authenticated.address() as AddressInfo).port}`;
  }

  /** The internal, unauthenticated port (5000 in Frigate), over HTTP. */
  get internalUrl(): string {
    return `http://127.0.0.1:${(this.internal.address() as AddressInfo).port}`;
  }

  get facesDir(): string {
    return join(this.mediaDir, 'clips', 'faces');
  }

  /** A JWT as Frigate signs it, for Bearer auth. */
  token(user: string, lifetimeSeconds = SESSION_SECONDS): string {
    const role = this.users[user]?.role ?? 'viewer';
    const issued = Math.floor(Date.now() / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: user, role, exp: issued + lifetimeSeconds, iat: issued })}`;
    return `${unsigned}.${createHmac('sha256', this.secret).update(unsigned).digest('base64url')}`;
  }

  /** Makes every issued token invalid, as a restart with a new JWT secret or an expired session does. */
  endSessions(): void {
    this.secret = createHash('sha256').update(String(Math.random())).digest();
  }

  injectFault(fault: FrigateFault): void {
    this.faults.push({ times: 1, ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Writes a face image into the library, as Frigate keeps it on disk. */
  async addFace(name: string, file: string, data: Buffer): Promise<void> {
    await mkdir(join(this.facesDir, name), { recursive: true });
    await writeFile(join(this.facesDir, name, file), data);
  }

  /** The library as it is on disk, `<person>/<file>` → sha256, with or without the `train` folder. */
  async facesOnDisk({ train = true }: { train?: boolean } = {}): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const person of await readdir(this.facesDir)) {
      if (!train && person === 'train') continue;
      for (const file of await readdir(join(this.facesDir, person))) {
        found.set(`${person}/${file}`, createHash('sha256').update(await readFile(join(this.facesDir, person, file))).digest('hex'));
      }
    }
    return found;
  }

  /** Removes every person's folder from disk, keeping `train`: a library lost but for its recent attempts. */
  async removePeople(): Promise<void> {
    for (const person of await readdir(this.facesDir)) if (person !== 'train') await rm(join(this.facesDir, person), { recursive: true });
  }

  async stop(): Promise<void> {
    for (const server of [this.authenticated, this.internal]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await rm(join(this.mediaDir, '..', '..'), { recursive: true, force: true });
  }

  private async handle(port: RecordedRequest['port'], request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://frigate');
    const method = request.method ?? 'GET';
    this.requests.push({ port, method, path: url.pathname, headers: request.headers });
    const body = await readBody(request);
    const fault = this.takeFault(url.pathname);
    if (fault?.kind === 'drop') return void request.socket.destroy();
    if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.kind === 'status') return sendText(response, fault.status, 'Internal Server Error');
    try {
      if (port === 'authenticated' && !this.isPublic(method, url.pathname) && !this.user(request)) {
        throw new HttpFailure(401, '<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n');
      }
      const written = ['GET', 'HEAD', 'OPTIONS', 'TRACE'].includes(method) ? false : true;
      if (written && request.headers.origin && !request.headers['x-csrf-token']) throw new HttpFailure(401, { success: false, message: 'Missing CSRF header' });
      if (port === 'authenticated' && written && !this.isPublic(method, url.pathname) && this.user(request)?.role !== 'admin') {
        throw new HttpFailure(403, { success: false, message: 'Insufficient permissions' });
      }
      await this.route(method, url, request, body, response, fault?.kind === 'truncate');
    } catch (error) {
      if (!(error instanceof HttpFailure)) return sendText(response, 500, 'Internal Server Error');
      if (typeof error.body === 'string') sendText(response, error.status, error.body, 'text/html');
      else sendJson(response, error.status, error.body);
    }
  }

  private takeFault(path: string): FrigateFault | undefined {
    const index = this.faults.findIndex((fault) => !fault.path || fault.path.test(path));
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private isPublic(method: string, path: string): boolean {
    return (method === 'GET' && path === '/api/version') || (method === 'POST' && path === '/api/login');
  }

  /** The user of a request's Bearer token or cookie (Bearer first, as Frigate's `/auth` checks). */
  private user(request: IncomingMessage): (FrigateSimUser & { name: string }) | undefined {
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const cookie = (request.headers.cookie ?? '').split(/;\s*/).find((part) => part.startsWith(`${COOKIE_NAME}=`))?.slice(COOKIE_NAME.length + 1);
    const token = bearer ?? cookie;
    if (!token) return undefined;
    const [header, claims, signature] = token.split('.');
    if (!header || !claims || !signature) return undefined;
    if (createHmac('sha256', this.secret).update(`${header}.${claims}`).digest('base64url') !== signature) return undefined;
    const payload = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { sub: string; exp: number };
    const user = this.users[payload.sub];
    return user && payload.exp > Date.now() / 1000 ? { ...user, name: payload.sub } : undefined;
  }

  private async route(method: string, url: URL, request: IncomingMessage, body: Buffer, response: ServerResponse, truncate: boolean): Promise<void> {
    for (const route of FRIGATE_SIM_ROUTES) {
      if (route.method !== method) continue;
      const match = routePattern(route).exec(url.pathname);
      if (!match) continue;
      const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((found) => found[1] as string);
      const params = Object.fromEntries(names.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]));
      // Handlers see only the query parameters the route declares, so the table is what they read.
      const query = new URLSearchParams([...url.searchParams].filter(([name]) => route.query?.includes(name)));
      if (route.faceWrite && !this.faceRecognition) throw new HttpFailure(400, { message: 'Face recognition is not enabled.', success: false });
      return route.handle(this, { params, query, request, body, response, truncate });
    }
    throw new HttpFailure(404, url.pathname.startsWith('/api/') ? { detail: 'Not Found' } : NGINX_NOT_FOUND);
  }

  // The handlers below are called from FRIGATE_SIM_ROUTES (frigateSimRoutes.ts).

  async createFace(name: string, response: ServerResponse): Promise<void> {
    await mkdir(join(this.facesDir, safeName(name.replace(/ /g, '_'))), { recursive: true });
    sendJson(response, 200, { success: false, message: 'Successfully created face folder.' });
  }

  sendSnapshot(eventId: string, download: boolean, response: ServerResponse): void {
    const event = this.events.find((candidate) => candidate.id === eventId);
    if (!event?.has_snapshot) throw new HttpFailure(404, { success: false, message: 'Snapshot not available' });
    response.writeHead(200, {
      'Content-Type': 'image/jpeg',
      'Content-Length': SNAPSHOT_JPEG.length,
      'X-Frame-Time': String(event.start_time),
      ...(event.end_time ? { 'Cache-Control': 'private, max-age=31536000' } : {}),
      ...(download ? { 'Content-Disposition': `attachment; filename=snapshot-${event.id}.jpg` } : {}),
    });
    response.end(SNAPSHOT_JPEG);
  }

  login(body: Buffer, response: ServerResponse): void {
    const credentials = parseJson(body) as { user?: unknown; password?: unknown };
    if (typeof credentials.user !== 'string' || typeof credentials.password !== 'string') {
      throw new HttpFailure(422, { detail: [{ type: 'missing', loc: ['body', typeof credentials.user !== 'string' ? 'user' : 'password'], msg: 'Field required' }] });
    }
    if (this.users[credentials.user]?.password !== credentials.password) throw new HttpFailure(401, { message: 'Login failed' });
    response.writeHead(200, { 'Set-Cookie': `${COOKIE_NAME}=${this.token(credentials.user)}; HttpOnly; Max-Age=${SESSION_SECONDS}; Path=/; SameSite=lax`, 'Content-Length': 0 });
    response.end();
  }

  async listFaces(): Promise<Record<string, string[]>> {
    const faces: Record<string, string[]> = {};
    let folders: string[];
    try {
      folders = (await readdir(this.facesDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    } catch {
      return faces;
    }
    for (const folder of folders.sort()) {
      faces[folder] = (await readdir(join(this.facesDir, folder))).filter((file) => IMAGE_EXTENSIONS.test(file)).sort();
    }
    return faces;
  }

  async sendFile(response: ServerResponse, file: string, truncate: boolean): Promise<void> {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new HttpFailure(404, NGINX_NOT_FOUND);
    const type = file.endsWith('.webp') ? 'image/webp' : file.endsWith('.png') ? 'image/png' : 'image/jpeg';
    response.writeHead(200, { 'Content-Type': type, 'Content-Length': info.size, 'Last-Modified': info.mtime.toUTCString() });
    if (truncate) {
      const data = await readFile(file);
      response.write(data.subarray(0, Math.floor(data.length / 2)), () => response.socket?.destroy());
      return;
    }
    createReadStream(file).pipe(response);
  }

  async register(name: string, request: IncomingMessage, body: Buffer, response: ServerResponse): Promise<void> {
    const form = await new Response(body, { headers: { 'content-type': request.headers['content-type'] ?? '' } }).formData().catch(() => undefined);
    const file = form?.get('file');
    if (!file || typeof file === 'string') throw new HttpFailure(422, { detail: [{ type: 'missing', loc: ['body', 'file'], msg: 'Field required', input: null }] });
    const upload = Buffer.from(await file.arrayBuffer());
    const processed = this.registrations.then(() => this.processRegistration(name, upload));
    this.registrations = processed.catch(() => undefined);
    await processed;
    sendJson(response, 200, { message: 'Successfully registered face.', success: true });
  }

  /** What Frigate's embeddings process does with one registration, one at a time. */
  private async processRegistration(name: string, upload: Buffer): Promise<void> {
    const started = performance.now();
    try {
      if (this.registerProcessingMs > 0) await new Promise((resolve) => setTimeout(resolve, this.registerProcessingMs));
      await this.storeRegistration(name, upload);
    } finally {
      this.registerBusyMs += performance.now() - started;
    }
  }

  private async storeRegistration(name: string, upload: Buffer): Promise<void> {
    const size = webpSize(upload) ?? pngSize(upload);
    if (!size || Math.min(size.width, size.height) < MIN_FACE_PIXELS) throw new HttpFailure(400, { message: 'No face was detected.', success: false });
    // Frigate crops to the detected face and re-encodes: the stored file is never the upload.
    const digest = createHash('sha256').update(upload).digest();
    const cropped = solidWebp({ width: Math.round(size.width * 0.8), height: Math.round(size.height * 0.8), color: { red: digest[0] ?? 0, green: digest[1] ?? 0, blue: digest[2] ?? 0 } });
    const folder = join(this.facesDir, safeName(name));
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, `${name}_${this.epoch()}.webp`), cropped);
  }

  async deleteFaces(name: string, body: Buffer, response: ServerResponse): Promise<void> {
    const request = parseJson(body) as { ids?: unknown };
    if (request.ids === undefined && !this.version.startsWith('0.16.')) {
      throw new HttpFailure(422, { detail: [{ type: 'missing', loc: ['body', 'ids'], msg: 'Field required', input: null }] });
    }
    const ids = Array.isArray(request.ids) ? request.ids.filter((id): id is string => typeof id === 'string') : [];
    const folder = join(this.facesDir, safeName(name));
    for (const id of ids) await rm(join(folder, safeName(id)), { force: true });
    if (name !== 'train' && (await readdir(folder).catch(() => ['?'])).length === 0) await rmdir(folder);
    sendJson(response, 200, { success: true, message: 'Successfully deleted faces.' });
  }

  async renameFace(oldName: string, body: Buffer, response: ServerResponse): Promise<void> {
    const newName = (parseJson(body) as { new_name?: unknown }).new_name;
    if (typeof newName !== 'string' || !NAME_PATTERN.test(newName) || safeName(newName) !== newName) {
      throw new HttpFailure(400, { success: false, message: `Invalid name: ${String(newName)}` });
    }
    await rename(join(this.facesDir, safeName(oldName)), join(this.facesDir, newName)).catch(() => {
      throw new HttpFailure(400, { success: false, message: `Face ${oldName} does not exist.` });
    });
    sendJson(response, 200, { success: true, message: `Successfully renamed face to ${newName}.` });
  }

  listEvents(query: URLSearchParams): unknown[] {
    const camera = query.get('camera') ?? query.get('cameras') ?? 'all';
    const label = query.get('label') ?? query.get('labels') ?? 'all';
    const after = query.has('after') ? Number(query.get('after')) : undefined;
    const before = query.has('before') ? Number(query.get('before')) : undefined;
    const hasSnapshot = query.get('has_snapshot');
    const limit = Number(query.get('limit') ?? 100);
    const ascending = query.get('sort') === 'date_asc';
    return this.events
      .filter((event) => camera === 'all' || camera.split(',').includes(event.camera))
      .filter((event) => label === 'all' || label.split(',').includes(event.label))
      .filter((event) => (after === undefined || event.start_time > after) && (before === undefined || event.start_time < before))
      .filter((event) => hasSnapshot === null || event.has_snapshot === (hasSnapshot === '1'))
      .sort((a, b) => (ascending ? a.start_time - b.start_time : b.start_time - a.start_time))
      .slice(0, limit)
      .map((event) => ({
        sub_label: null,
        zones: [],
        thumbnail: null,
        plus_id: null,
        retain_indefinitely: false,
        top_score: null,
        false_positive: null,
        box: null,
        model_hash: null,
        detector_type: null,
        model_type: null,
        data: { score: 0.83, top_score: 0.86, attributes: [], type: 'object' },
        ...event,
      }));
  }

  /** `datetime.now().timestamp()`, kept unique when two registrations land in the same microsecond. */
  private epoch(): string {
    this.lastEpoch = Math.max(Date.now() / 1000, this.lastEpoch + 0.000001);
    return this.lastEpoch.toFixed(6);
  }
}

function pngSize(file: Buffer): { width: number; height: number } | undefined {
  if (file.length < 24 || file.toString('latin1', 1, 4) !== 'PNG') return undefined;
  return { width: file.readUInt32BE(16), height: file.readUInt32BE(20) };
}
