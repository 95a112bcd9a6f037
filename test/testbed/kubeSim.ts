/**
 * A Kubernetes API server simulator (no real API server can run on these machines): HTTPS with a
 * per-run self-signed certificate on 127.0.0.1 and a free port, Bearer-token auth (also on websocket
 * upgrades), pods listed by label selector, exec over websockets with the v5 channel protocol running
 * the real command in the pod's sandbox folder, the custom objects of kubeSimObjects.ts, and the
 * discovery documents kubectl reads first (so `kubectl exec` works against it too).
 *
 * A pod's filesystem is its sandbox folder: the command runs there, and every argument that is an
 * absolute path is resolved inside it (`tar cf - -C /media/frigate/clips/faces .` reads
 * `<sandbox>/media/frigate/clips/faces`). Programs themselves come from this machine.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { selfSignedCertificate, type TestCertificate } from './certificate';
import { ObjectStore, SIM_RESOURCES, StatusError, type SimObject } from './kubeSimObjects';
import { fieldMatcher, WatchRequest } from './kubeSimWatch';
import { JobController } from './kubeSimJobs';
import { WORKLOAD_KINDS, WorkloadStore } from './kubeSimWorkloads';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;

/** The REST paths the simulator serves, written as the Kubernetes API reference writes them. */
export const KUBE_SIM_PATHS = {
  pods: '/api/v1/namespaces/{namespace}/pods',
  pod: '/api/v1/namespaces/{namespace}/pods/{name}',
  exec: '/api/v1/namespaces/{namespace}/pods/{name}/exec',
  customObjects: '/apis/{group}/{version}/namespaces/{namespace}/{plural}',
  customObject: '/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}',
  customObjectsInAllNamespaces: '/apis/{group}/{version}/{plural}',
  namespace: '/api/v1/namespaces/{name}',
  coreObject: '/api/v1/namespaces/{namespace}/{plural}/{name}',
  coreObjects: '/api/v1/namespaces/{namespace}/{plural}',
} as const;

/** The discovery paths kubectl reads before it acts (its REST mapper turns `pod` into a path with them). */
export const KUBE_SIM_DISCOVERY_PATHS = {
  coreVersions: '/api',
  coreResources: '/api/v1',
  groups: '/apis',
  groupResources: '/apis/{group}/{version}',
} as const;

/** The path parameters of a request, in template order, when the path fits the template. */
function matchPath(template: string, path: string): string[] | undefined {
  const match = new RegExp(`^${template.replace(/\{\w+\}/g, '([^/]+)')}$`).exec(path);
  return match ? match.slice(1).map((part) => decodeURIComponent(part)) : undefined;
}

export interface SimPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  containers: string[];
  phase: 'Running' | 'Pending' | 'Succeeded' | 'Failed';
  /** Why its containers wait (`CrashLoopBackOff`, `ImagePullBackOff`): they are then not ready, whatever the phase. */
  waiting?: string;
  /** The pod's filesystem. */
  root: string;
  /** The container's environment (a database pod's PGHOST, PGPORT, PGUSER), which every exec'd command sees. */
  env?: Record<string, string>;
}

export interface KubeSimOptions {
  /** Pause between two steps of the simulated controllers; short by default so tests stay quick. */
  controllerStepMs?: number;
  /** Exec subprotocols the server accepts, best first. */
  execProtocols?: readonly string[];
}

const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const;
/** Output queued in the websocket beyond this pauses the command's output. */
const SEND_BUFFER_LIMIT = 4 * 1024 * 1024;

export class KubeApiSimulator {
  readonly token = `sim-${Math.random().toString(36).slice(2)}`;
  readonly objects: ObjectStore;
  /** Every request answered, as `METHOD /path?query`: what a test counts (lists while a watch is open). */
  readonly requests: string[] = [];
  /** CronJobs, Jobs and the ConfigMaps and Secrets their pods read (kubeSimJobs.ts). */
  readonly jobs: JobController;
  private readonly pods = new Map<string, SimPod>();

  private constructor(
    readonly dir: string,
    private readonly server: Server,
    private readonly sockets: WebSocketServer,
    readonly certificate: TestCertificate,
    controllerStepMs: number,
  ) {
    this.objects = new ObjectStore(controllerStepMs);
    this.jobs = new JobController(this.objects, {
      dir,
      token: this.token,
      certificate,
      url: () => this.url,
      podStarted: (pod) => this.pods.set(`${pod.namespace}/${pod.name}`, { ...pod, phase: 'Running' }),
      podEnded: (namespace, name, phase) => {
        const pod = this.pods.get(`${namespace}/${name}`);
        if (pod && phase) pod.phase = phase;
        else this.pods.delete(`${namespace}/${name}`);
      },
    });
  }

  static async start(options: KubeSimOptions = {}): Promise<KubeApiSimulator> {
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-kubesim-'));
    const certificate = await selfSignedCertificate(dir);
    const protocols = options.execProtocols ?? EXEC_PROTOCOLS;
    const sockets = new WebSocketServer({
      noServer: true,
      handleProtocols: (offered) => protocols.find((protocol) => offered.has(protocol)) ?? false,
    });
    const server = createServer({ cert: certificate.cert, key: certificate.key });
    const simulator = new KubeApiSimulator(dir, server, sockets, certificate, options.controllerStepMs ?? 40);
    server.on('request', (request, response) => simulator.handle(request, response));
    server.on('upgrade', (request: IncomingMessage, socket, head) => simulator.upgrade(request, socket as Socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return simulator;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Adds a running pod whose filesystem is a fresh sandbox folder. */
  addPod(pod: { namespace: string; name: string; labels?: Record<string, string>; containers?: string[]; phase?: SimPod['phase']; env?: Record<string, string>; waiting?: string }): SimPod {
    const root = join(this.dir, 'pods', pod.namespace, pod.name);
    mkdirSync(root, { recursive: true });
    const added: SimPod = { labels: {}, containers: ['main'], phase: 'Running', ...pod, root };
    this.pods.set(`${pod.namespace}/${pod.name}`, added);
    this.objects.workloads.add('v1', 'Namespace', undefined, pod.namespace);
    return added;
  }

  /** Where a path inside a pod lives on this machine. */
  podPath(namespace: string, name: string, path: string): string {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`no simulated pod ${namespace}/${name}`);
    return join(pod.root, path);
  }

  /**
   * Writes a kubeconfig for this server. `token` and `certificateAuthority` default to the right
   * ones; tests pass others to see the failures users meet.
   */
  async writeKubeconfig(options: { file?: string; context?: string; token?: string; certificateAuthority?: string } = {}): Promise<string> {
    const file = options.file ?? join(this.dir, 'kubeconfig');
    const context = options.context ?? 'sim';
    const ca = Buffer.from(options.certificateAuthority ?? this.certificate.cert).toString('base64');
    const text = [
      'apiVersion: v1',
      'kind: Config',
      `current-context: ${context}`,
      'clusters:',
      `- name: ${context}-cluster`,
      '  cluster:',
      `    server: ${this.url}`,
      `    certificate-authority-data: ${ca}`,
      'users:',
      `- name: ${context}-user`,
      '  user:',
      `    token: ${options.token ?? this.token}`,
      'contexts:',
      `- name: ${context}`,
      '  context:',
      `    cluster: ${context}-cluster`,
      `    user: ${context}-user`,
      '',
    ].join('\n');
    await writeFile(file, text, { mode: 0o600 });
    return file;
  }

  async stop(): Promise<void> {
    this.objects.stop();
    await this.jobs.stopDeployments();
    for (const client of this.sockets.clients) client.terminate();
    this.sockets.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  private authorized(request: IncomingMessage): boolean {
    return request.headers.authorization === `Bearer ${this.token}`;
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        if (!this.authorized(request)) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
        this.requests.push(`${request.method ?? 'GET'} ${request.url ?? '/'}`);
        const url = new URL(request.url ?? '/', this.url);
        if (request.method === 'GET' && ['true', '1'].includes(url.searchParams.get('watch') ?? '')) return this.watch(url, response);
        const body = chunks.length > 0 ? parseJson(Buffer.concat(chunks).toString('utf8')) : undefined;
        const answer = this.route(request, body);
        send(response, answer.code, answer.body);
      } catch (error) {
        const status = error instanceof StatusError ? error : new StatusError(500, 'InternalError', String(error));
        send(response, status.code, status.body());
      }
    });
  }

  private route(request: IncomingMessage, body: unknown): { code: number; body: unknown } {
    const url = new URL(request.url ?? '/', this.url);
    const selector = labelMatcher(url.searchParams.get('labelSelector') ?? '');
    const fields = fieldMatcher(url.searchParams.get('fieldSelector') ?? '');
    const method = request.method ?? 'GET';
    if (method === 'GET') {
      const discovered = discovery(url.pathname, url.host);
      if (discovered) return { code: 200, body: discovered };
    }
    const batch = this.jobs.route(method, url.pathname, body, selector);
    if (batch) return batch;
    const podList = matchPath(KUBE_SIM_PATHS.pods, url.pathname);
    const onePod = matchPath(KUBE_SIM_PATHS.pod, url.pathname);
    if ((podList || onePod) && method === 'GET') {
      const [namespace = '', name] = onePod ?? podList ?? [];
      if (name) {
        const pod = this.pods.get(`${namespace}/${name}`);
        if (!pod) throw new StatusError(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
        return { code: 200, body: podObject(pod) };
      }
      const items = [...this.pods.values()].filter((pod) => pod.namespace === namespace && selector(pod.labels)).map(podObject);
      return { code: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items } };
    }
    const workload = this.workload(url.pathname, selector);
    if (workload && method === 'GET') return { code: 200, body: workload };
    const everyNamespace = matchPath(KUBE_SIM_PATHS.customObjectsInAllNamespaces, url.pathname);
    if (everyNamespace && method === 'GET') {
      const [group = '', version = '', plural = ''] = everyNamespace;
      const resource = ObjectStore.resourceFor(group, version, plural);
      if (!resource || this.objects.uninstalledGroups.has(group)) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
      return { code: 200, body: selectFields(this.objects.list(resource, undefined, selector), fields) };
    }
    const [group = '', version = '', namespace = '', plural = '', name] = matchPath(KUBE_SIM_PATHS.customObject, url.pathname) ?? matchPath(KUBE_SIM_PATHS.customObjects, url.pathname) ?? [];
    const resource = ObjectStore.resourceFor(group, version, plural);
    if (!resource || this.objects.uninstalledGroups.has(group)) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (!name && method === 'GET') return { code: 200, body: selectFields(this.objects.list(resource, namespace, selector), fields) };
    if (!name && method === 'POST') return { code: 201, body: this.objects.create(resource, namespace, body) };
    if (name && method === 'GET') return { code: 200, body: this.objects.get(resource, namespace, name) };
    if (name && method === 'PATCH') {
      const type = (request.headers['content-type'] ?? '').split(';')[0];
      if (type !== 'application/merge-patch+json') throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got ${type})`);
      return { code: 200, body: this.objects.patch(resource, namespace, name, body) };
    }
    if (name && method === 'DELETE') return { code: 200, body: this.objects.delete(resource, namespace, name) };
    throw new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }

  /** A watch of custom objects in a namespace or in all of them (kubeSimWatch.ts). */
  private watch(url: URL, response: ServerResponse): void {
    const everyNamespace = matchPath(KUBE_SIM_PATHS.customObjectsInAllNamespaces, url.pathname);
    const [group = '', version = '', namespace, plural = ''] = everyNamespace ? [everyNamespace[0], everyNamespace[1], undefined, everyNamespace[2]] : (matchPath(KUBE_SIM_PATHS.customObjects, url.pathname) ?? []);
    const resource = ObjectStore.resourceFor(group, version, plural);
    if (!resource || this.objects.uninstalledGroups.has(group)) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const watch = new WatchRequest(resource, namespace, url.searchParams, labelMatcher(url.searchParams.get('labelSelector') ?? ''));
    this.objects.history.serve(watch, this.objects.list(resource, namespace, () => true).items as SimObject[], response);
  }

  /**
   * A namespace's ordinary object (`kubeSimWorkloads.ts`) at its path, or the list of its kind in a
   * namespace or in all of them (a group's kind only, as `/apis/apps/v1/deployments`); undefined when
   * the path is none of these.
   */
  private workload(pathname: string, selector: (labels: Record<string, string>) => boolean): unknown {
    const [namespaceName] = matchPath(KUBE_SIM_PATHS.namespace, pathname) ?? [];
    const core = matchPath(KUBE_SIM_PATHS.coreObject, pathname) ?? matchPath(KUBE_SIM_PATHS.coreObjects, pathname);
    const grouped = matchPath(KUBE_SIM_PATHS.customObject, pathname) ?? matchPath(KUBE_SIM_PATHS.customObjects, pathname);
    const everyNamespace = matchPath(KUBE_SIM_PATHS.customObjectsInAllNamespaces, pathname);
    const [apiVersion, namespace, plural, name]: (string | undefined)[] =
      namespaceName !== undefined
        ? ['v1', undefined, 'namespaces', namespaceName]
        : core
          ? ['v1', ...core]
          : grouped
            ? [`${grouped[0]}/${grouped[1]}`, ...grouped.slice(2)]
            : everyNamespace
              ? [`${everyNamespace[0]}/${everyNamespace[1]}`, undefined, everyNamespace[2]]
              : [];
    const kind = apiVersion && plural ? WorkloadStore.kindOf(apiVersion, plural) : undefined;
    if (!kind) return undefined;
    if (name === undefined) return this.objects.workloads.list(kind.apiVersion, kind.kind, namespace, selector);
    const found = this.objects.workloads.get(kind.apiVersion, kind.kind, namespace, name);
    if (!found) throw new StatusError(404, 'NotFound', `${kind.plural} "${name}" not found`, { name, kind: kind.plural });
    return found;
  }

  private upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const refuse = (status: StatusError) => {
      const body = JSON.stringify(status.body());
      socket.end(`HTTP/1.1 ${status.code} ${status.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    };
    if (!this.authorized(request)) return refuse(new StatusError(401, 'Unauthorized', 'Unauthorized'));
    const url = new URL(request.url ?? '/', this.url);
    const execPath = matchPath(KUBE_SIM_PATHS.exec, url.pathname);
    if (!execPath) return refuse(new StatusError(404, 'NotFound', 'the server could not find the requested resource'));
    const pod = this.pods.get(`${execPath[0]}/${execPath[1]}`);
    if (!pod) return refuse(new StatusError(404, 'NotFound', `pods "${execPath[1]}" not found`));
    const container = url.searchParams.get('container') || pod.containers[0];
    if (!container || !pod.containers.includes(container)) {
      return refuse(new StatusError(400, 'BadRequest', `container ${container} is not valid for pod ${pod.name}`));
    }
    const command = url.searchParams.getAll('command');
    if (command.length === 0) return refuse(new StatusError(400, 'BadRequest', 'you must specify at least 1 command'));
    this.sockets.handleUpgrade(request, socket, head, (websocket) =>
      runExec(websocket, pod, command, { stdin: url.searchParams.get('stdin') === 'true', stdout: url.searchParams.get('stdout') === 'true', stderr: url.searchParams.get('stderr') === 'true' }),
    );
  }
}

/** Runs one exec session: frames in, frames out, then the channel-3 status and a normal close. */
function runExec(websocket: WebSocket, pod: SimPod, command: string[], streams: { stdin: boolean; stdout: boolean; stderr: boolean }): void {
  const [program = '', ...args] = command;
  const child = spawn(program, args.map((arg) => (arg.startsWith('/') ? join(pod.root, arg) : arg)), {
    cwd: pod.root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: pod.root, LC_ALL: 'C', ...pod.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const finish = (status: Record<string, unknown>) => {
    if (websocket.readyState !== websocket.OPEN) return;
    websocket.send(Buffer.concat([Buffer.from([CHANNEL.status]), Buffer.from(JSON.stringify({ metadata: {}, ...status }))]));
    websocket.close(1000);
  };
  let spawnFailed = false;
  child.on('error', (error: NodeJS.ErrnoException) => {
    spawnFailed = true;
    finish({ status: 'Failure', message: `exec: "${program}": ${error.code === 'ENOENT' ? 'executable file not found in $PATH' : error.message}`, reason: 'InternalError', code: 500 });
  });
  // Output waiting to be written to the socket pauses the command once it passes the limit, and
  // resumes it when the socket has taken half of it.
  let unsent = 0;
  const forward = (source: NodeJS.ReadableStream & { pause(): void; resume(): void; isPaused(): boolean }, channel: number, wanted: boolean) => {
    source.on('data', (chunk: Buffer) => {
      if (!wanted || websocket.readyState !== websocket.OPEN) return;
      unsent += chunk.length;
      websocket.send(Buffer.concat([Buffer.from([channel]), chunk]), () => {
        unsent -= chunk.length;
        if (unsent < SEND_BUFFER_LIMIT / 2 && source.isPaused()) source.resume();
      });
      if (unsent > SEND_BUFFER_LIMIT) source.pause();
    });
  };
  forward(child.stdout, CHANNEL.stdout, streams.stdout);
  forward(child.stderr, CHANNEL.stderr, streams.stderr);
  // EPIPE when the command exits before reading all its input is the command's business, not ours.
  child.stdin.on('error', () => {});
  if (!streams.stdin) child.stdin.end();
  websocket.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || data.length === 0) return;
    const channel = data[0];
    if (channel === CHANNEL.stdin && streams.stdin && !child.stdin.writableEnded) {
      // Messages already received still arrive after pause(): wait for one drain, not one per message.
      if (!child.stdin.write(data.subarray(1)) && !websocket.isPaused) {
        websocket.pause();
        child.stdin.once('drain', () => websocket.resume());
      }
    } else if (channel === CHANNEL.close && data[1] === CHANNEL.stdin && websocket.protocol === EXEC_PROTOCOLS[0]) {
      child.stdin.end();
    }
  });
  // Under v4 a client closes the connection when its stdin ends; what the command prints is lost.
  websocket.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.on('close', (code, signal) => {
    if (spawnFailed) return;
    if (code === 0) return finish({ status: 'Success' });
    const exitCode = code ?? 128 + 9;
    finish({
      status: 'Failure',
      message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}]${signal ? ` (${signal})` : ''}, exit code ${exitCode}`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
    });
  });
}

/** Discovery documents in their plain (not aggregated) form, listing what this simulator serves. */
function discovery(pathname: string, host: string): unknown {
  const resource = (name: string, kind: string, verbs: string[]) => ({ name, singularName: name.endsWith('/exec') ? '' : kind.toLowerCase(), namespaced: true, kind, verbs });
  if (pathname === KUBE_SIM_DISCOVERY_PATHS.coreVersions) {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }] };
  }
  if (pathname === KUBE_SIM_DISCOVERY_PATHS.coreResources) {
    const workloads = WORKLOAD_KINDS.filter((kind) => kind.apiVersion === 'v1').map((kind) => ({ ...resource(kind.plural, kind.kind, ['get', 'list']), namespaced: kind.namespaced }));
    return { kind: 'APIResourceList', groupVersion: 'v1', resources: [resource('pods', 'Pod', ['get', 'list']), resource('pods/exec', 'PodExecOptions', ['create', 'get']), ...workloads] };
  }
  const groupWorkloads = WORKLOAD_KINDS.filter((kind) => kind.apiVersion.includes('/'));
  const groups = [...new Set([...SIM_RESOURCES.map((simulated) => `${simulated.group}/${simulated.version}`), ...groupWorkloads.map((kind) => kind.apiVersion)])];
  if (pathname === KUBE_SIM_DISCOVERY_PATHS.groups) {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((groupVersion) => {
        const [name = '', version = ''] = groupVersion.split('/');
        const entry = { groupVersion, version };
        return { name, versions: [entry], preferredVersion: entry };
      }),
    };
  }
  const [group = '', version = ''] = matchPath(KUBE_SIM_DISCOVERY_PATHS.groupResources, pathname) ?? [];
  if (!groups.includes(`${group}/${version}`)) return undefined;
  const verbs = ['create', 'delete', 'get', 'list', 'patch'];
  const resources = [
    ...SIM_RESOURCES.filter((simulated) => simulated.group === group && simulated.version === version).map((simulated) => resource(simulated.plural, simulated.kind, verbs)),
    ...groupWorkloads.filter((kind) => kind.apiVersion === `${group}/${version}`).map((kind) => resource(kind.plural, kind.kind, ['get', 'list'])),
  ];
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources };
}

function podObject(pod: SimPod): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: pod.namespace, labels: pod.labels, uid: `${pod.namespace}-${pod.name}` },
    spec: { containers: pod.containers.map((name) => ({ name, image: `simulated/${name}` })) },
    status: { phase: pod.phase, conditions: [podReady(pod) ? { type: 'Ready', status: 'True' } : { type: 'Ready', status: 'False', reason: pod.phase === 'Succeeded' ? 'PodCompleted' : 'ContainersNotReady' }], containerStatuses: pod.containers.map((name) => containerStatus(pod, name)) },
  };
}

function podReady(pod: SimPod): boolean {
  return pod.phase === 'Running' && pod.waiting === undefined;
}

/** A container's status as the kubelet reports it (core/v1 ContainerStatus): its state is one of running, waiting or terminated. */
function containerStatus(pod: SimPod, name: string): Record<string, unknown> {
  const base = { name, image: `simulated/${name}`, ready: podReady(pod), restartCount: pod.waiting === 'CrashLoopBackOff' ? 5 : 0, started: pod.phase === 'Running' };
  if (pod.waiting !== undefined) return { ...base, state: { waiting: { reason: pod.waiting, message: `back-off restarting container ${name}` } } };
  if (pod.phase === 'Pending') return { ...base, state: { waiting: { reason: 'ContainerCreating' } } };
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') {
    return { ...base, started: false, state: { terminated: { exitCode: pod.phase === 'Failed' ? 1 : 0, reason: pod.phase === 'Failed' ? 'Error' : 'Completed' } } };
  }
  return { ...base, state: { running: { startedAt: '2026-12-01T00:00:00Z' } } };
}

/** Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated. */
export function labelMatcher(selector: string): (labels: Record<string, string>) => boolean {
  const terms = selector
    .split(',')
    .map((term) => term.trim())
    .filter(Boolean)
    .map((term) => {
      const match = /^(!?)([^=!]+)(?:(==|=|!=)(.*))?$/.exec(term);
      if (!match) throw new StatusError(400, 'BadRequest', `unable to parse requirement: ${term}`);
      const [, negated, key = '', operator, value = ''] = match;
      return (labels: Record<string, string>) => {
        const present = Object.hasOwn(labels, key);
        if (!operator) return negated ? !present : present;
        return operator === '!=' ? labels[key] !== value : labels[key] === value;
      };
    });
  return (labels) => terms.every((term) => term(labels));
}

/** A list answer with only the items a field selector takes. */
function selectFields(list: Record<string, unknown>, fields: (object: SimObject) => boolean): Record<string, unknown> {
  return { ...list, items: (list.items as SimObject[]).filter(fields) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new StatusError(400, 'BadRequest', 'the request body is not valid JSON');
  }
}

function send(response: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
