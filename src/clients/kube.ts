import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { delimiter } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { Readable } from 'node:stream';
import type * as KubernetesSdk from '@kubernetes/client-node';
import type { WebSocket } from 'ws';
import type { Disposable } from '../core/actions/clients';
import { CancelledError } from '../core/errors';
import { formatDuration } from '../core/render';
import { KubeError, PodCommandError, kubeError } from './kubeErrors';
import type * as KubeSdkParts from './kubeSdk';

export { KubeError, PodCommandError } from './kubeErrors';

export type Sdk = typeof KubeSdkParts;

/** A cluster as the inventory names it: a kubeconfig file and a context in it. */
export interface ClusterTarget {
  /** Kubeconfig file (`~` allowed); `KUBECONFIG` (a list) or `~/.kube/config` when left out. */
  kubeconfig?: string;
  /** Context in the kubeconfig; its current context when left out. */
  context?: string;
  /** The cluster this process runs in, reached with the pod's service account instead of a kubeconfig. */
  inCluster?: boolean;
}

/** Where Kubernetes mounts a pod's service-account token, CA certificate and namespace. */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A kind of custom object: where it lives in the API. */
export interface CustomResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

/** The custom resources Lifeboat drives (contracts: Velero §2, Flux §3, CloudNativePG §7). */
export const CUSTOM_RESOURCES = {
  veleroBackup: { group: 'velero.io', version: 'v1', plural: 'backups', kind: 'Backup' },
  veleroRestore: { group: 'velero.io', version: 'v1', plural: 'restores', kind: 'Restore' },
  veleroSchedule: { group: 'velero.io', version: 'v1', plural: 'schedules', kind: 'Schedule' },
  veleroBackupStorageLocation: { group: 'velero.io', version: 'v1', plural: 'backupstoragelocations', kind: 'BackupStorageLocation' },
  fluxKustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', kind: 'Kustomization' },
  cnpgBackup: { group: 'postgresql.cnpg.io', version: 'v1', plural: 'backups', kind: 'Backup' },
  cnpgCluster: { group: 'postgresql.cnpg.io', version: 'v1', plural: 'clusters', kind: 'Cluster' },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' },
} as const satisfies Record<string, CustomResource>;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    [field: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface PodInfo {
  name: string;
  namespace: string;
  phase: string;
  ready: boolean;
  containers: string[];
  /** The container `kubectl exec` picks when none is named. */
  defaultContainer: string | undefined;
}

export interface PodRef {
  namespace: string;
  pod: string;
  /** The pod's default container when left out. */
  container?: string;
}

export interface ExecRequest extends PodRef {
  /** The program and its arguments; never a shell string. */
  command: readonly string[];
  stdin?: Readable;
  /** Receives the command's output; not ended by `exec`, so several commands can write to one sink. */
  stdout?: Writable;
  stderr?: Writable;
  signal?: AbortSignal;
}

/** The only subprotocol that can close stdin without closing the connection (and losing the output). */
const V5_PROTOCOL = 'v5.channel.k8s.io';
const STDIN_CHANNEL = Buffer.from([0]);
/** Stdin frames waiting in the websocket beyond this make the sender wait for the socket to drain. */
const STDIN_BUFFER_LIMIT = 4 * 1024 * 1024;
const STDERR_TAIL_CHARS = 2000;

let sdkLoading: Promise<Sdk> | undefined;

/** The SDK is megabytes of generated code: loaded when a cluster is first used, never at start-up. */
function loadSdk(): Promise<Sdk> {
  sdkLoading ??= import('./kubeSdk');
  return sdkLoading;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}

/** The kubeconfig files to read, in `KUBECONFIG` order, as kubectl does. */
export function kubeconfigFiles(target: ClusterTarget, env: NodeJS.ProcessEnv = process.env): string[] {
  if (target.kubeconfig) return [expandHome(target.kubeconfig)];
  const fromEnvironment = (env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '');
  return fromEnvironment.length > 0 ? fromEnvironment : [`${homedir()}/.kube/config`];
}

export class KubeClient implements Disposable {
  private readonly defaultContainers = new Map<string, string>();
  private objectApi: KubernetesSdk.KubernetesObjectApi | undefined;

  private constructor(
    private readonly sdk: Sdk,
    private readonly config: KubernetesSdk.KubeConfig,
    /** The context in use. */
    readonly context: string,
    readonly server: string,
  ) {}

  /** Reads the kubeconfig and selects the context; talks to nothing yet. */
  static async connect(target: ClusterTarget, env: NodeJS.ProcessEnv = process.env): Promise<KubeClient> {
    if (target.inCluster) return KubeClient.connectInCluster();
    const files = kubeconfigFiles(target, env);
    const existing = files.filter((file) => existsSync(file));
    if (existing.length === 0) {
      throw new KubeError('config', `no kubeconfig found at ${files.join(', ')}: set \`kubeconfig\` for the cluster in lifeboat.yaml, or KUBECONFIG`);
    }
    const sdk = await loadSdk();
    const config = new sdk.KubeConfig();
    for (const [index, file] of existing.entries()) {
      const part = index === 0 ? config : new sdk.KubeConfig();
      try {
        part.loadFromFile(file);
      } catch (error) {
        throw new KubeError('config', `cannot read kubeconfig ${file}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (part !== config) config.mergeConfig(part, true);
    }
    const context = target.context ?? config.getCurrentContext();
    if (!context || !config.getContextObject(context)) {
      const known = config.getContexts().map((entry) => entry.name);
      const wanted = target.context ? `context '${target.context}' is not` : 'no current context is set';
      throw new KubeError('config', `${wanted} in ${existing.join(', ')}; contexts: ${known.join(', ') || 'none'}`);
    }
    config.setCurrentContext(context);
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new KubeError('config', `context '${context}' names a cluster that is not in ${existing.join(', ')}`);
    return new KubeClient(sdk, config, context, cluster.server);
  }

  /**
   * The pod's own service account, as client-go's in-cluster config reads it: the API server from
   * KUBERNETES_SERVICE_HOST/PORT, the token and CA from the service-account folder, which is under
   * CONTAINER_SANDBOX_MOUNT_POINT when the runtime mounts the container's volumes there (HostProcess).
   */
  private static async connectInCluster(): Promise<KubeClient> {
    const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port, CONTAINER_SANDBOX_MOUNT_POINT: sandbox = '' } = process.env;
    if (!host || !port) {
      throw new KubeError('config', '`inCluster: true` needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which Kubernetes sets in a pod: run in the cluster, or give the cluster a kubeconfig in lifeboat.yaml');
    }
    const token = `${sandbox}${SERVICE_ACCOUNT_DIR}/token`;
    if (!existsSync(token)) throw new KubeError('config', `no service-account token at ${token}: the pod has no service account token mounted (automountServiceAccountToken: false?)`);
    const sdk = await loadSdk();
    const config = new sdk.KubeConfig();
    config.loadFromCluster(sandbox);
    return new KubeClient(sdk, config, config.getCurrentContext(), config.getCurrentCluster()?.server ?? `${host}:${port}`);
  }

  /** How errors name this cluster. */
  get description(): string {
    return `cluster '${this.context}' (${this.server})`;
  }

  dispose(): void {
    // Requests use per-call agents and exec sockets close with their command: nothing stays open.
  }

  async listPods(namespace: string, labelSelector?: string): Promise<PodInfo[]> {
    const core = this.config.makeApiClient(this.sdk.CoreV1Api);
    const selection = labelSelector ? ` matching ${labelSelector}` : '';
    const list = await this.call(`pods${selection} in namespace ${namespace}`, () => core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) }));
    return list.items.map((pod) => {
      const containers = pod.spec?.containers.map((container) => container.name) ?? [];
      const annotated = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
      return {
        name: pod.metadata?.name ?? '',
        namespace,
        phase: pod.status?.phase ?? 'Unknown',
        ready: pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ?? false,
        containers,
        defaultContainer: annotated && containers.includes(annotated) ? annotated : containers[0],
      };
    });
  }

  /** The pod to work with: a running, ready one matching the selector. */
  async findPod(namespace: string, labelSelector: string): Promise<PodInfo> {
    const pods = await this.listPods(namespace, labelSelector);
    const running = pods.find((pod) => pod.phase === 'Running' && pod.ready) ?? pods.find((pod) => pod.phase === 'Running');
    if (running) return running;
    const seen = pods.map((pod) => `${pod.name} (${pod.phase})`).join(', ');
    throw new KubeError('not-found', `no running pod matches ${labelSelector} in namespace ${namespace} on ${this.description}${seen ? `; found ${seen}` : ''}`);
  }

  /**
   * Runs a command in a pod with streamed stdin/stdout over the v5 exec protocol. Resolves when the
   * command exited 0; a non-zero exit rejects with `PodCommandError` carrying the code and the end
   * of stderr. Output is written with backpressure: a slow consumer pauses the socket.
   */
  async exec(request: ExecRequest): Promise<void> {
    const container = request.container ?? (await this.defaultContainer(request.namespace, request.pod));
    const where = `pod ${request.namespace}/${request.pod} (container ${container}) on ${this.description}`;
    if (request.signal?.aborted) throw new CancelledError();
    let socket: WebSocket | undefined;
    let stderrTail = '';
    const relay = (destination: Writable | undefined, onChunk?: (chunk: Buffer) => void) => {
      let waitingForDrain = false;
      return new Writable({
        write(chunk: Buffer, _encoding, done) {
          onChunk?.(chunk);
          if (destination && !destination.write(chunk) && socket && !waitingForDrain) {
            const paused = socket;
            waitingForDrain = true;
            paused.pause();
            destination.once('drain', () => {
              waitingForDrain = false;
              paused.resume();
            });
          }
          done();
        },
      });
    };
    const stdout = request.stdout ? relay(request.stdout) : null;
    const stderr = relay(request.stderr, (chunk) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    // The SDK sends the v5 "close stdin" frame when this stream ends; the data itself is sent below,
    // with backpressure the SDK's own stdin relay lacks.
    const stdinEnd = request.stdin ? new PassThrough() : null;

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        request.signal?.removeEventListener('abort', onAbort);
        if (error) {
          socket?.terminate();
          reject(error);
        } else resolve();
      };
      const onAbort = () => settle(new CancelledError());
      request.signal?.addEventListener('abort', onAbort, { once: true });

      const onStatus = (status: KubernetesSdk.V1Status) => {
        if (status.status === 'Success') return settle();
        const exitCode = status.details?.causes?.find((cause) => cause.reason === 'ExitCode')?.message;
        if (status.reason === 'NonZeroExitCode' && exitCode !== undefined) {
          return settle(new PodCommandError(Number(exitCode), request.command, where, stderrTail));
        }
        settle(new KubeError('command', `\`${request.command.join(' ')}\` in ${where} failed: ${status.message ?? status.reason ?? 'unknown failure'}`));
      };

      const streamStdin = async (opened: WebSocket, stdin: Readable, end: PassThrough) => {
        if (opened.protocol !== V5_PROTOCOL) {
          throw new KubeError('server', `${this.description} offered exec protocol '${opened.protocol}'; streaming stdin needs ${V5_PROTOCOL} (Kubernetes 1.30 or newer)`);
        }
        await sendStdin(opened, stdin, () => settled);
        end.end();
      };

      new this.sdk.Exec(this.config)
        .exec(request.namespace, request.pod, container, [...request.command], stdout, stderr, stdinEnd, false, onStatus)
        .then(
          (opened) => {
            socket = opened;
            if (settled) return opened.terminate();
            opened.on('close', () => settle(new KubeError('server', `the exec connection to ${where} closed before the command's exit status arrived`)));
            if (request.stdin && stdinEnd) streamStdin(opened, request.stdin, stdinEnd).catch(settle);
          },
          (error: unknown) => settle(kubeError(error, this.description, `exec in pod ${request.namespace}/${request.pod}`)),
        );
    });
  }

  /** Runs a command and returns its stdout as text: for small outputs (listings, versions). */
  async execText(request: Omit<ExecRequest, 'stdout'>): Promise<string> {
    const chunks: Buffer[] = [];
    const collect = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    await this.exec({ ...request, stdout: collect });
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * A tar stream of `paths` (relative to `directory`) read out of the pod by `tar cf -`. The stream
   * ends only once the command reported success, and fails with its error otherwise, so a truncated
   * archive never looks complete.
   */
  tarFromPod(ref: PodRef & { directory: string; paths?: readonly string[]; signal?: AbortSignal }): Readable {
    const archive = new PassThrough({ highWaterMark: 1024 * 1024 });
    const paths = ref.paths && ref.paths.length > 0 ? ref.paths : ['.'];
    this.exec({ ...ref, command: ['tar', 'cf', '-', '-C', ref.directory, '--', ...paths], stdout: archive }).then(
      () => archive.end(),
      (error: unknown) => archive.destroy(error instanceof Error ? error : new Error(String(error))),
    );
    return archive;
  }

  /** Unpacks a tar stream into `directory` in the pod (created when missing) with `tar xf -`. */
  async tarIntoPod(ref: PodRef & { directory: string; signal?: AbortSignal }, archive: Readable): Promise<void> {
    await this.exec({ ...ref, command: ['sh', '-c', 'mkdir -p "$1" && exec tar xf - -C "$1"', 'sh', ref.directory], stdin: archive });
  }

  async createObject(resource: CustomResource, namespace: string, body: KubeObject): Promise<KubeObject> {
    const api = this.config.makeApiClient(this.sdk.CustomObjectsApi);
    return this.call(`${resource.kind} ${namespace}/${body.metadata.name}`, () =>
      api.createNamespacedCustomObject({ ...resourcePath(resource), namespace, body }),
    ) as Promise<KubeObject>;
  }

  async deleteObject(resource: CustomResource, namespace: string, name: string): Promise<void> {
    const api = this.config.makeApiClient(this.sdk.CustomObjectsApi);
    await this.call(`${resource.kind} ${namespace}/${name}`, () => api.deleteNamespacedCustomObject({ ...resourcePath(resource), namespace, name }));
  }

  async getObject(resource: CustomResource, namespace: string, name: string): Promise<KubeObject> {
    const api = this.config.makeApiClient(this.sdk.CustomObjectsApi);
    return this.call(`${resource.kind} ${namespace}/${name}`, () => api.getNamespacedCustomObject({ ...resourcePath(resource), namespace, name })) as Promise<KubeObject>;
  }

  /**
   * Whether an object of any kind the server serves exists: `apiVersion` and `kind` as a manifest
   * names them, the path from the server's discovery (read once per client). Undefined when the server
   * does not serve that kind.
   */
  async objectExists(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<boolean | undefined> {
    this.objectApi ??= this.sdk.KubernetesObjectApi.makeApiClient(this.config);
    try {
      await this.objectApi.read({ apiVersion, kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) } });
      return true;
    } catch (error) {
      if (isUnservedKind(error)) return undefined;
      const failure = kubeError(error, this.description, `${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}`);
      if (failure.failure === 'not-found') return false;
      throw failure;
    }
  }

  /** The objects of any kind the server serves in a namespace (`kubectl get pvc -n NS`), as `objectExists` finds the kind; undefined when it does not serve it. */
  async listKind(apiVersion: string, kind: string, namespace: string): Promise<KubeObject[] | undefined> {
    this.objectApi ??= this.sdk.KubernetesObjectApi.makeApiClient(this.config);
    try {
      return (await this.objectApi.list(apiVersion, kind, namespace)).items as KubeObject[];
    } catch (error) {
      if (isUnservedKind(error)) return undefined;
      throw kubeError(error, this.description, `${kind} objects in namespace ${namespace}`);
    }
  }

  async listObjects(resource: CustomResource, namespace: string, labelSelector?: string): Promise<KubeObject[]> {
    const api = this.config.makeApiClient(this.sdk.CustomObjectsApi);
    const list = (await this.call(`${resource.kind} objects in namespace ${namespace}`, () =>
      api.listNamespacedCustomObject({ ...resourcePath(resource), namespace, ...(labelSelector ? { labelSelector } : {}) }),
    )) as { items?: KubeObject[] };
    return list.items ?? [];
  }

  /** The objects of a kind in a namespace that a field selector takes, with the list's resourceVersion: where a watch of them starts. */
  async listObjectsForWatch(resource: CustomResource, namespace: string, fieldSelector: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const api = this.config.makeApiClient(this.sdk.CustomObjectsApi);
    const list = (await this.call(`${resource.kind} objects in namespace ${namespace}`, () => api.listNamespacedCustomObject({ ...resourcePath(resource), namespace, fieldSelector }))) as {
      items?: KubeObject[];
      metadata?: { resourceVersion?: string };
    };
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /**
   * Watches the objects of a kind in a namespace (`?watch=true`) with the SDK's Watch: `onEvent` gets
   * each event as the server sends it, `done` is called once when the stream ends, with the reason when
   * it failed. Resolves to what ends the watch early.
   */
  watchObjects(
    resource: CustomResource,
    namespace: string,
    query: Record<string, string | number | boolean>,
    onEvent: (type: string, object: KubeObject) => void,
    done: (error: KubeError | undefined) => void,
  ): Promise<AbortController> {
    const path = `/apis/${resource.group}/${resource.version}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
    return new this.sdk.Watch(this.config).watch(path, query, (type: string, object: KubeObject) => onEvent(type, object), (error: unknown) => {
      // The Watch gives the HTTP status of a refused watch as `statusCode`, where kubeError looks for `code`.
      const status = (error as { statusCode?: unknown } | null)?.statusCode;
      const reported = typeof status === 'number' ? { code: status, message: (error as Error).message } : error;
      done(error ? kubeError(reported, this.description, `the watch of ${resource.kind} objects in namespace ${namespace}`) : undefined);
    });
  }

  /** The objects of a kind in every namespace the credentials can read (`kubectl get -A`). */
  async listObjectsInAllNamespaces(resource: CustomResource): Promise<KubeObject[]> {
    const api = this.config.makeApiClient(this.sdk.CustomObjectsApi);
    const list = (await this.call(`${resource.kind} objects in all namespaces`, () => api.listClusterCustomObject(resourcePath(resource)))) as { items?: KubeObject[] };
    return list.items ?? [];
  }

  /** A JSON merge patch (`application/merge-patch+json`), as `flux suspend` and `flux reconcile` send. */
  async patchObject(resource: CustomResource, namespace: string, name: string, patch: Record<string, unknown>): Promise<KubeObject> {
    const api = this.config.makeApiClient(this.sdk.CustomObjectsApi);
    const options = this.sdk.setHeaderOptions('Content-Type', this.sdk.PatchStrategy.MergePatch);
    return this.call(`${resource.kind} ${namespace}/${name}`, () =>
      api.patchNamespacedCustomObject({ ...resourcePath(resource), namespace, name, body: patch }, options),
    ) as Promise<KubeObject>;
  }

  /**
   * Polls an object until `isDone` says so (a terminal phase), reporting each new state; `timeoutMs`
   * bounds the wait.
   */
  async waitForObject(
    resource: CustomResource,
    namespace: string,
    name: string,
    options: {
      isDone: (object: KubeObject) => boolean;
      intervalMs?: number;
      timeoutMs: number;
      signal?: AbortSignal;
      onUpdate?: (object: KubeObject) => void;
      /** What the timeout error says after "did not … within <duration>", from the last state seen. */
      notDone?: (object: KubeObject) => string;
    },
  ): Promise<KubeObject> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      if (options.signal?.aborted) throw new CancelledError();
      const object = await this.getObject(resource, namespace, name);
      options.onUpdate?.(object);
      if (options.isDone(object)) return object;
      if (Date.now() >= deadline) {
        const phase = object.status?.phase;
        const state = options.notDone ? `: ${options.notDone(object)}` : phase ? ` (phase ${String(phase)})` : '';
        throw new KubeError('server', `${resource.kind} ${namespace}/${name} on ${this.description} did not finish within ${formatDuration(options.timeoutMs)}${state}`);
      }
      await sleep(options.intervalMs ?? 1000, undefined, { signal: options.signal });
    }
  }

  private async defaultContainer(namespace: string, pod: string): Promise<string> {
    const key = `${namespace}/${pod}`;
    const cached = this.defaultContainers.get(key);
    if (cached) return cached;
    const core = this.config.makeApiClient(this.sdk.CoreV1Api);
    const found = await this.call(`pod ${key}`, () => core.readNamespacedPod({ namespace, name: pod }));
    const containers = found.spec?.containers.map((container) => container.name) ?? [];
    const annotated = found.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
    const container = annotated && containers.includes(annotated) ? annotated : containers[0];
    if (!container) throw new KubeError('not-found', `pod ${key} on ${this.description} has no containers`);
    this.defaultContainers.set(key, container);
    return container;
  }

  /** A call through one of the SDK's typed APIs (kubeWorkloads.ts), its errors made as clear as every call's here. */
  request<Result>(what: string, call: (sdk: Sdk, config: KubernetesSdk.KubeConfig) => Promise<Result>): Promise<Result> {
    return this.call(what, () => call(this.sdk, this.config));
  }

  private async call<Result>(what: string, request: () => Promise<Result>): Promise<Result> {
    try {
      return await request();
    } catch (error) {
      throw kubeError(error, this.description, what);
    }
  }
}

/** What the SDK's object API throws when discovery finds no such kind on the server. */
function isUnservedKind(error: unknown): boolean {
  return error instanceof Error && /^(Unrecognized API version and kind|Failed to fetch resource metadata)/.test(error.message);
}

function resourcePath(resource: CustomResource): { group: string; version: string; plural: string } {
  return { group: resource.group, version: resource.version, plural: resource.plural };
}

/**
 * Sends a stream as stdin frames, waiting for the socket to drain when too much is queued; stops
 * reading once the command has finished (it may exit before reading all of its input).
 */
async function sendStdin(socket: WebSocket, stdin: Readable, finished: () => boolean): Promise<void> {
  for await (const chunk of stdin as AsyncIterable<Buffer | string>) {
    if (finished()) break;
    const frame = Buffer.concat([STDIN_CHANNEL, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    if (socket.bufferedAmount < STDIN_BUFFER_LIMIT) {
      socket.send(frame);
      continue;
    }
    await new Promise<void>((resolve, reject) => socket.send(frame, (error) => (error ? reject(error) : resolve())));
  }
}
