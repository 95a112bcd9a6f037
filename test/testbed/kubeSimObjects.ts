/**
 * The custom objects of the Kubernetes API simulator and the controllers that act on them, following
 * the contracts (EXTERNAL-SYSTEMS.md §2 Velero, §3 Flux, §7 CloudNativePG): Velero backups go
 * New → InProgress → Completed with progress, expiration and the storage-location label; restores
 * New → InProgress → Completed; schedules become Enabled; storage locations Available; Flux
 * kustomizations reconcile unless suspended and record `lastHandledReconcileAt`; CNPG backups go
 * started → running → completed (through finalizing for volume snapshots), or failed with an error;
 * CNPG Clusters go from setting up their primary to healthy, with their instances counted ready.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { WorkloadStore } from './kubeSimWorkloads';
import { ObjectHistory, WatchedObjects } from './kubeSimWatch';

export interface SimResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const SIM_RESOURCES: readonly SimResource[] = [
  { group: 'velero.io', version: 'v1', plural: 'backups', kind: 'Backup' },
  { group: 'velero.io', version: 'v1', plural: 'restores', kind: 'Restore' },
  { group: 'velero.io', version: 'v1', plural: 'schedules', kind: 'Schedule' },
  { group: 'velero.io', version: 'v1', plural: 'backupstoragelocations', kind: 'BackupStorageLocation' },
  { group: 'velero.io', version: 'v1', plural: 'deletebackuprequests', kind: 'DeleteBackupRequest' },
  { group: 'velero.io', version: 'v1', plural: 'downloadrequests', kind: 'DownloadRequest' },
  { group: 'velero.io', version: 'v1', plural: 'podvolumebackups', kind: 'PodVolumeBackup' },
  { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', kind: 'Kustomization' },
  { group: 'postgresql.cnpg.io', version: 'v1', plural: 'backups', kind: 'Backup' },
  { group: 'postgresql.cnpg.io', version: 'v1', plural: 'clusters', kind: 'Cluster' },
  // Kubernetes API reference, Lease v1 coordination.k8s.io: stored as written, no controller.
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' },
];

type Json = Record<string, unknown>;

export interface SimObject {
  apiVersion: string;
  kind: string;
  metadata: Json & { name: string; namespace: string; generation: number; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Json;
  status?: Json;
}

/** A Kubernetes `Status` failure, the body of every error answer. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Json,
  ) {
    super(message);
  }

  body(): Json {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, ...(this.details ? { details: this.details } : {}), code: this.code };
  }
}

/** Velero's terminal phases end the controller's work on an object; `Stuck` keeps a backup InProgress until the outcome is changed. */
type Outcome = 'Completed' | 'PartiallyFailed' | 'Failed' | 'Stuck';

/** A pod volume Velero's node agent would back up with kopia when a backup asks for fs backups. */
export interface SimPodVolume {
  namespace: string;
  pod: string;
  volume: string;
  bytes: number;
}

const DEFAULT_BACKUP_TTL = '720h0m0s';
const SIMULATED_ITEMS = 42;
/** Controller steps a Velero backup spends InProgress, its items counted up at each. */
const BACKUP_STEPS = 3;
/** Backup phases whose files are in the object store. */
const VELERO_BACKUP_UPLOADED: ReadonlySet<string> = new Set(['Completed', 'PartiallyFailed', 'Failed']);
/** Backup phases that do not hold the queue: waiting in it, or done. */
const VELERO_BACKUP_NOT_RUNNING: ReadonlySet<string> = new Set(['New', 'Queued', 'FailedValidation', 'Deleting', ...VELERO_BACKUP_UPLOADED]);
/** Where Velero's object store layout keeps each DownloadRequest target of a backup, after `backups/<name>/<name>`. */
const DOWNLOAD_SUFFIXES: Readonly<Record<string, string>> = {
  BackupLog: '-logs.gz',
  BackupContents: '.tar.gz',
  BackupResourceList: '-resource-list.json.gz',
  BackupResults: '-results.gz',
  BackupVolumeSnapshots: '-volumesnapshots.json.gz',
  BackupItemOperations: '-itemoperations.json.gz',
  // After `restores/<name>/restore-<name>`.
  RestoreResults: '-results.gz',
};

export class ObjectStore {
  /** Every change of the objects, for watches (kubeSimWatch.ts). */
  readonly history = new ObjectHistory();
  private readonly objects = new WatchedObjects(this.history, () => this.nextRevision());
  private readonly timers = new Set<NodeJS.Timeout>();
  private revision = 1;
  /** Outcome a test wants for the next Velero backup or restore, or CloudNativePG backup, of a given name. */
  readonly outcomes = new Map<string, Outcome>();
  /** The namespaces' ordinary objects, which restores write into. */
  readonly workloads = new WorkloadStore();
  /** Why a Flux Kustomization of a given name fails every reconciliation (its build, say), while a test wants it to. */
  readonly kustomizationFailures = new Map<string, string>();
  /** API groups whose resources are not installed: every request for them answers 404, as without the CRDs. */
  readonly uninstalledGroups = new Set<string>();
  /** Volumes of the simulated pods that a backup with `defaultVolumesToFsBackup` backs up. */
  readonly podVolumes: SimPodVolume[] = [];
  /** Each finished restore's messages (`namespace/name` → its RestoreResults file), as Velero uploads them. */
  private readonly restoreResults = new Map<string, Json>();
  /** The object store behind the backup storage locations, serving what DownloadRequests point at. */
  readonly veleroBucket = new VeleroBucketServer();

  constructor(
    /** Pause between two controller steps. */
    private readonly stepMs: number,
  ) {}

  static resourceFor(group: string, version: string, plural: string): SimResource | undefined {
    return SIM_RESOURCES.find((resource) => resource.group === group && resource.version === version && resource.plural === plural);
  }

  create(resource: SimResource, namespace: string, body: unknown): SimObject {
    const object = body as Partial<SimObject> | null;
    const apiVersion = `${resource.group}/${resource.version}`;
    if (!object || typeof object !== 'object' || object.apiVersion !== apiVersion || object.kind !== resource.kind) {
      throw new StatusError(400, 'BadRequest', `the body must be a ${resource.kind} of ${apiVersion}`);
    }
    const metadata = { ...(object.metadata ?? {}) } as Json;
    if (typeof metadata.name !== 'string' || metadata.name === '') {
      if (typeof metadata.generateName !== 'string') throw new StatusError(422, 'Invalid', `${resource.kind}.${resource.group} is invalid: metadata.name: Required value: name or generateName is required`);
      metadata.name = metadata.generateName + randomBytes(3).toString('hex').slice(0, 5);
    }
    const name = metadata.name as string;
    const key = this.key(resource, namespace, name);
    if (this.objects.has(key)) {
      throw new StatusError(409, 'AlreadyExists', `${resource.plural}.${resource.group} "${name}" already exists`, { name, group: resource.group, kind: resource.plural });
    }
    const created: SimObject = {
      ...object,
      apiVersion,
      kind: resource.kind,
      metadata: { ...metadata, name, namespace, uid: randomUUID(), generation: 1, resourceVersion: this.nextRevision(), creationTimestamp: now() },
    } as SimObject;
    this.objects.set(key, created);
    this.startController(resource, created);
    return created;
  }

  get(resource: SimResource, namespace: string, name: string): SimObject {
    const object = this.objects.get(this.key(resource, namespace, name));
    if (!object) throw new StatusError(404, 'NotFound', `${resource.plural}.${resource.group} "${name}" not found`, { name, group: resource.group, kind: resource.plural });
    return object;
  }

  /** The objects of a namespace, or of every namespace when it is left out. */
  list(resource: SimResource, namespace: string | undefined, selector: (labels: Record<string, string>) => boolean): Json {
    const prefix = namespace === undefined ? `${resource.group}/${resource.plural}/` : this.key(resource, namespace, '');
    const items = [...this.objects.entries()].filter(([key, object]) => key.startsWith(prefix) && selector(object.metadata.labels ?? {})).map(([, object]) => object);
    return { apiVersion: `${resource.group}/${resource.version}`, kind: `${resource.kind}List`, metadata: { resourceVersion: String(this.revision) }, items };
  }

  /** A JSON merge patch (RFC 7386); the generation counts spec changes as the API server's does. */
  patch(resource: SimResource, namespace: string, name: string, patch: unknown): SimObject {
    const current = this.get(resource, namespace, name);
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new StatusError(400, 'BadRequest', 'a merge patch must be a JSON object');
    const patched = mergePatch(current, patch) as SimObject;
    const specChanged = JSON.stringify(patched.spec) !== JSON.stringify(current.spec);
    if (specChanged && resource.group === 'postgresql.cnpg.io' && resource.plural === 'backups') {
      throw new StatusError(422, 'Invalid', `Backup.postgresql.cnpg.io "${name}" is invalid: spec: Invalid value: "object": BackupSpec is immutable`);
    }
    patched.metadata = { ...patched.metadata, name, namespace, generation: current.metadata.generation + (specChanged ? 1 : 0), resourceVersion: this.nextRevision() };
    this.objects.set(this.key(resource, namespace, name), patched);
    if (resource.plural === 'kustomizations') this.after(() => this.reconcileKustomization(resource, namespace, name));
    return patched;
  }

  delete(resource: SimResource, namespace: string, name: string): SimObject {
    const object = this.get(resource, namespace, name);
    this.objects.delete(this.key(resource, namespace, name));
    return object;
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.veleroBucket.stop();
  }

  private key(resource: SimResource, namespace: string, name: string): string {
    return `${resource.group}/${resource.plural}/${namespace}/${name}`;
  }

  private nextRevision(): string {
    this.revision += 1;
    return String(this.revision);
  }

  /** Sets status fields (and labels) of an object that still exists, as a controller's update would. */
  private update(resource: SimResource, namespace: string, name: string, change: (object: SimObject) => void): SimObject | undefined {
    const object = this.objects.get(this.key(resource, namespace, name));
    if (!object) return undefined;
    const updated = structuredClone(object);
    change(updated);
    updated.metadata.resourceVersion = this.nextRevision();
    this.objects.set(this.key(resource, namespace, name), updated);
    return updated;
  }

  private after(step: () => void, steps = 1): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      step();
    }, this.stepMs * steps);
    this.timers.add(timer);
  }

  private startController(resource: SimResource, object: SimObject): void {
    const { name, namespace } = object.metadata;
    const set = (change: (object: SimObject) => void) => this.update(resource, namespace, name, change);
    const status = (target: SimObject) => (target.status ??= {});
    switch (`${resource.group}/${resource.plural}`) {
      case 'velero.io/backups': {
        set((backup) => (backup.status = { phase: 'New' }));
        this.after(() => this.runVeleroBackup(resource, object));
        break;
      }
      case 'velero.io/restores': {
        set((restore) => (restore.status = { phase: 'New' }));
        this.after(() => this.runVeleroRestore(resource, object));
        break;
      }
      case 'velero.io/schedules':
        this.after(() =>
          set((schedule) => {
            const cron = String(schedule.spec?.schedule ?? '');
            const valid = cron.trim().split(/\s+/).length === 5 || cron.startsWith('@');
            // What an earlier run left (`lastBackup`) stays.
            schedule.status = valid ? { ...schedule.status, phase: 'Enabled' } : { phase: 'FailedValidation', validationErrors: [`invalid schedule: ${cron}`] };
          }),
        );
        break;
      case 'velero.io/downloadrequests':
        set((request) => (request.status = { phase: 'New' }));
        this.after(() => this.processDownloadRequest(resource, namespace, name));
        break;
      case 'velero.io/podvolumebackups':
        this.runPodVolumeBackup(resource, object);
        break;
      case 'velero.io/backupstoragelocations':
        this.after(() =>
          set((location) => {
            const bucket = (location.spec?.objectStorage as Json | undefined)?.bucket;
            location.status = bucket
              ? { phase: 'Available', lastValidationTime: now(), lastSyncedTime: now() }
              : { phase: 'Unavailable', lastValidationTime: now(), message: 'BackupStorageLocation is unavailable: spec.objectStorage.bucket is empty' };
          }),
        );
        break;
      case 'velero.io/deletebackuprequests':
        this.after(() => this.deleteVeleroBackup(resource, object));
        break;
      case 'kustomize.toolkit.fluxcd.io/kustomizations':
        this.after(() => this.reconcileKustomization(resource, namespace, name));
        break;
      case 'postgresql.cnpg.io/clusters': {
        // The operator sets the primary up, then the replicas; a test's outcome `Stuck` keeps it setting up, `Failed` ends unrecoverable.
        const instances = typeof object.spec?.instances === 'number' ? object.spec.instances : 1;
        const instanceNames = Array.from({ length: instances }, (_, index) => `${name}-${index + 1}`);
        const outcome = this.outcomes.get(name) ?? 'Completed';
        this.after(() => set((cluster) => (cluster.status = { instances, instanceNames, phase: 'Setting up primary', targetPrimary: `${name}-1` })));
        if (outcome === 'Stuck') break;
        const settled: Json =
          outcome === 'Failed'
            ? { phase: 'Cluster is in an unrecoverable state, needs manual intervention', phaseReason: 'simulated failure: the primary instance cannot start' }
            : { phase: 'Cluster in healthy state', readyInstances: instances, currentPrimary: `${name}-1`, instancesStatus: { healthy: instanceNames } };
        this.after(() => set((cluster) => Object.assign(status(cluster), settled)), 2);
        break;
      }
      case 'postgresql.cnpg.io/backups': {
        const cluster = String((object.spec?.cluster as Json | undefined)?.name ?? '');
        const method = String(object.spec?.method ?? 'barmanObjectStore');
        // A test's outcome for this name: `Failed` ends failed with an error, `Stuck` keeps it running.
        const outcome = this.outcomes.get(name) ?? 'Completed';
        set((backup) => (backup.status = { phase: 'pending' }));
        this.after(() => set((backup) => Object.assign(status(backup), { phase: 'started', startedAt: now(), method, online: true, instanceID: { podName: `${cluster}-1` } })));
        this.after(() => set((backup) => Object.assign(status(backup), { phase: 'running', backupId: compactTime(), beginWal: '000000010000000000000004', beginLSN: '0/4000028' })), 2);
        if (outcome === 'Stuck') break;
        if (outcome === 'Failed') {
          this.after(() => set((backup) => Object.assign(status(backup), { phase: 'failed', stoppedAt: now(), error: 'simulated failure: barman-cloud-backup exited with status 1' })), 3);
          break;
        }
        // Where the data went: the snapshots taken, the in-tree Barman's destination; the plugin keeps its own.
        const byMethod: Json = method === 'volumeSnapshot' ? { snapshotBackupStatus: { elements: [{ name, type: 'PG_DATA' }] } } : method === 'plugin' ? {} : { destinationPath: `s3://backups/${cluster}` };
        if (method === 'volumeSnapshot') this.after(() => set((backup) => Object.assign(status(backup), { phase: 'finalizing' })), 3);
        this.after(
          () =>
            set((backup) =>
              Object.assign(status(backup), {
                phase: 'completed',
                stoppedAt: now(),
                backupName: `backup-${compactTime()}`,
                endWal: '000000010000000000000005',
                endLSN: '0/5000060',
                serverName: cluster,
                ...byMethod,
              }),
            ),
          method === 'volumeSnapshot' ? 4 : 3,
        );
        break;
      }
    }
  }

  private runVeleroBackup(resource: SimResource, object: SimObject): void {
    const { name, namespace } = object.metadata;
    const spec = object.spec ?? {};
    const location = String(spec.storageLocation ?? 'default');
    const locations = SIM_RESOURCES.find((candidate) => candidate.plural === 'backupstoragelocations') as SimResource;
    if (!this.objects.has(this.key(locations, namespace, location))) {
      this.update(resource, namespace, name, (backup) => {
        backup.status = {
          phase: 'FailedValidation',
          validationErrors: [`an existing backup storage location was not specified at backup creation time and the server default '${location}' does not exist. Please address this issue (see \`velero backup-location -h\` for options) and create a new backup. Error: backupstoragelocations.velero.io "${location}" not found`],
        };
      });
      return;
    }
    // Velero 1.18's backup queue: one backup runs at a time here, the others wait Queued with their place.
    this.update(resource, namespace, name, (backup) => (backup.status = { phase: 'Queued' }));
    this.after(() => this.advanceBackupQueue(resource, namespace, name));
  }

  /** The queued backups of a namespace in creation order, and whether one is already past the queue and not finished. */
  private backupQueue(resource: SimResource, namespace: string): { queued: string[]; running: boolean } {
    const prefix = this.key(resource, namespace, '');
    const queued: string[] = [];
    let running = false;
    for (const [key, backup] of this.objects) {
      if (!key.startsWith(prefix)) continue;
      const phase = String(backup.status?.phase ?? 'New');
      if (phase === 'Queued') queued.push(backup.metadata.name);
      else if (!VELERO_BACKUP_NOT_RUNNING.has(phase)) running = true;
    }
    return { queued, running };
  }

  private advanceBackupQueue(resource: SimResource, namespace: string, name: string): void {
    const { queued, running } = this.backupQueue(resource, namespace);
    const position = queued.indexOf(name) + 1;
    if (position === 0) return;
    if (position === 1 && !running) {
      this.update(resource, namespace, name, (backup) => (backup.status = { phase: 'ReadyToStart' }));
      this.after(() => this.startVeleroBackup(resource, namespace, name));
      return;
    }
    this.update(resource, namespace, name, (backup) => Object.assign(backup.status ?? {}, { queuePosition: position }));
    this.after(() => this.advanceBackupQueue(resource, namespace, name));
  }

  private startVeleroBackup(resource: SimResource, namespace: string, name: string): void {
    const backup = this.objects.get(this.key(resource, namespace, name));
    if (!backup) return;
    const spec = backup.spec ?? {};
    const location = String(spec.storageLocation ?? 'default');
    const started = new Date();
    const ttlHours = parseHours(String(spec.ttl ?? DEFAULT_BACKUP_TTL));
    this.update(resource, namespace, name, (updated) => {
      updated.metadata.labels = { ...updated.metadata.labels, 'velero.io/storage-location': location };
      updated.metadata.annotations = {
        ...updated.metadata.annotations,
        'velero.io/source-cluster-k8s-gitversion': 'v1.31.0',
        'velero.io/source-cluster-k8s-major-version': '1',
        'velero.io/source-cluster-k8s-minor-version': '31',
        'velero.io/resource-timeout': '10m0s',
      };
      updated.status = {
        phase: 'InProgress',
        version: 1,
        formatVersion: '1.1.0',
        startTimestamp: started.toISOString().replace(/\.\d+Z$/, 'Z'),
        expiration: new Date(started.getTime() + ttlHours * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        progress: { totalItems: SIMULATED_ITEMS, itemsBackedUp: 0 },
      };
    });
    if (spec.defaultVolumesToFsBackup === true) {
      const included = Array.isArray(spec.includedNamespaces) ? spec.includedNamespaces.map(String) : ['*'];
      const volumes = this.podVolumes.filter((volume) => included.includes('*') || included.includes(volume.namespace));
      const podVolumeBackups = SIM_RESOURCES.find((candidate) => candidate.plural === 'podvolumebackups') as SimResource;
      for (const volume of volumes) {
        this.create(podVolumeBackups, namespace, {
          apiVersion: 'velero.io/v1',
          kind: 'PodVolumeBackup',
          metadata: { generateName: `${name}-`, labels: { 'velero.io/backup-name': name } },
          spec: {
            node: 'node-1',
            pod: { kind: 'Pod', namespace: volume.namespace, name: volume.pod, uid: `${volume.namespace}-${volume.pod}` },
            volume: volume.volume,
            backupStorageLocation: location,
            repoIdentifier: `s3:http://minio.velero.svc:9000/velero/kopia/${volume.namespace}`,
            // Kopia is the only uploader new fs backups use: restic ones are refused since Velero 1.17.
            uploaderType: 'kopia',
            tags: { backup: name, ns: volume.namespace, pod: volume.pod, volume: volume.volume },
          },
        });
      }
    }
    this.after(() => this.progressVeleroBackup(resource, namespace, name, 1));
  }

  private progressVeleroBackup(resource: SimResource, namespace: string, name: string, step: number): void {
    const outcome = this.outcomes.get(name) ?? 'Completed';
    if (outcome === 'Stuck' || step < BACKUP_STEPS) {
      const done = outcome === 'Stuck' ? Math.floor(SIMULATED_ITEMS / 2) : Math.floor((SIMULATED_ITEMS * step) / BACKUP_STEPS);
      const updated = this.update(resource, namespace, name, (backup) => Object.assign(backup.status ?? {}, { progress: { totalItems: SIMULATED_ITEMS, itemsBackedUp: done } }));
      if (updated) this.after(() => this.progressVeleroBackup(resource, namespace, name, step + 1));
      return;
    }
    this.update(resource, namespace, name, (backup) => {
      const hooks = ((backup.spec?.hooks as Json | undefined)?.resources ?? []) as Json[];
      const hooksAttempted = hooks.reduce((sum, hook) => sum + (Array.isArray(hook.pre) ? hook.pre.length : 0) + (Array.isArray(hook.post) ? hook.post.length : 0), 0);
      Object.assign(backup.status ?? {}, {
        phase: outcome,
        completionTimestamp: now(),
        progress: { totalItems: SIMULATED_ITEMS, itemsBackedUp: outcome === 'Failed' ? Math.floor(SIMULATED_ITEMS / 2) : SIMULATED_ITEMS },
        warnings: outcome === 'Completed' ? 0 : 1,
        errors: outcome === 'Completed' ? 0 : 2,
        ...(outcome === 'Failed' ? { failureReason: 'simulated failure' } : {}),
        hookStatus: hooksAttempted > 0 ? { hooksAttempted, hooksFailed: 0 } : {},
      });
    });
  }

  /** Velero's node agent: a pod volume copied by kopia, its bytes counted as it goes. */
  private runPodVolumeBackup(resource: SimResource, object: SimObject): void {
    const { name, namespace } = object.metadata;
    const spec = object.spec ?? {};
    const pod = (spec.pod ?? {}) as Json;
    const volume = String(spec.volume ?? '');
    const totalBytes = this.podVolumes.find((candidate) => candidate.namespace === pod.namespace && candidate.pod === pod.name && candidate.volume === volume)?.bytes ?? 1024 * 1024;
    const set = (change: (target: SimObject) => void) => this.update(resource, namespace, name, change);
    set((backup) => (backup.status = { phase: 'New' }));
    this.after(() => set((backup) => (backup.status = { phase: 'InProgress', startTimestamp: now(), progress: { totalBytes, bytesDone: Math.floor(totalBytes / 2) } })));
    this.after(
      () =>
        set((backup) =>
          Object.assign(backup.status ?? {}, {
            phase: 'Completed',
            completionTimestamp: now(),
            path: `/host_pods/${String(pod.uid ?? '')}/volumes/kubernetes.io~csi/${volume}/mount`,
            snapshotID: randomBytes(16).toString('hex'),
            progress: { totalBytes, bytesDone: totalBytes },
          }),
        ),
      2,
    );
  }

  /**
   * Velero's DownloadRequest controller: once the target's file is in the object store, a signed URL
   * to it. The URL's host is the location's `publicUrl` or `s3Url` when it has one (often an in-cluster
   * address), else the simulated object store on this machine.
   */
  private processDownloadRequest(resource: SimResource, namespace: string, name: string): void {
    const request = this.objects.get(this.key(resource, namespace, name));
    if (!request) return;
    const target = (request.spec?.target ?? {}) as Json;
    const velero = (plural: string) => SIM_RESOURCES.find((candidate) => candidate.group === 'velero.io' && candidate.plural === plural) as SimResource;
    // A restore's files are kept in the location of its backup.
    const restore = String(target.kind).startsWith('Restore') ? this.objects.get(this.key(velero('restores'), namespace, String(target.name ?? ''))) : undefined;
    const backup = this.objects.get(this.key(velero('backups'), namespace, String((restore ? restore.spec?.backupName : target.name) ?? '')));
    const finished = backup !== undefined && VELERO_BACKUP_UPLOADED.has(String((restore ?? backup).status?.phase));
    const suffix = DOWNLOAD_SUFFIXES[String(target.kind)];
    // Velero retries until the backup's (or restore's) files are uploaded.
    if (!backup || !finished || suffix === undefined) return this.after(() => this.processDownloadRequest(resource, namespace, name));
    const locations = SIM_RESOURCES.find((candidate) => candidate.plural === 'backupstoragelocations') as SimResource;
    const location = this.objects.get(this.key(locations, namespace, String(backup.spec?.storageLocation ?? 'default')));
    const storage = (location?.spec?.objectStorage ?? {}) as Json;
    const config = (location?.spec?.config ?? {}) as Json;
    const [folder, owner, file] = restore ? ['restores', restore.metadata.name, `restore-${restore.metadata.name}`] : ['backups', backup.metadata.name, backup.metadata.name];
    const key = [storage.bucket ?? 'velero', storage.prefix, folder, owner, `${file}${suffix}`].filter((part) => typeof part === 'string' && part !== '').join('/');
    if (target.kind === 'RestoreResults') this.veleroBucket.put(`/${key}`, gzipSync(JSON.stringify(this.restoreResults.get(`${namespace}/${owner}`) ?? {})));
    if (target.kind === 'BackupLog') this.veleroBucket.put(`/${key}`, gzipSync(veleroBackupLog(backup)));
    if (target.kind === 'BackupResourceList') this.veleroBucket.put(`/${key}`, gzipSync(JSON.stringify(veleroBackupResourceList(backup))));
    const signature = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=minio%2F${compactTime().slice(0, 8)}%2Fminio%2Fs3%2Faws4_request&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=${randomBytes(32).toString('hex')}`;
    const published = typeof config.publicUrl === 'string' ? config.publicUrl : typeof config.s3Url === 'string' ? config.s3Url : undefined;
    const answer = (base: string) =>
      this.update(resource, namespace, name, (processed) => {
        processed.status = { phase: 'Processed', downloadURL: `${base.replace(/\/+$/, '')}/${key}?${signature}`, expiration: new Date(Date.now() + 10 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z') };
      });
    if (published) answer(published);
    else void this.veleroBucket.start().then(answer);
  }

  private runVeleroRestore(resource: SimResource, object: SimObject): void {
    const { name, namespace } = object.metadata;
    const backupName = String(object.spec?.backupName ?? '');
    const backups = SIM_RESOURCES.find((candidate) => candidate.group === 'velero.io' && candidate.plural === 'backups') as SimResource;
    const backup = this.objects.get(this.key(backups, namespace, backupName));
    if (!backup || backup.status?.phase !== 'Completed') {
      this.update(resource, namespace, name, (restore) => {
        restore.status = { phase: 'FailedValidation', validationErrors: [backup ? `backup "${backupName}" is not completed` : `Error retrieving backup: backups.velero.io "${backupName}" not found`] };
      });
      return;
    }
    this.update(resource, namespace, name, (restore) => {
      restore.status = { phase: 'InProgress', startTimestamp: now(), progress: { totalItems: SIMULATED_ITEMS, itemsRestored: 0 } };
    });
    this.after(() => {
      const outcome = this.outcomes.get(name) ?? 'Completed';
      const landed = outcome === 'Failed' ? undefined : this.workloads.restore(veleroBackupResourceList(backup), object.spec ?? {}, { backup: backupName, restore: name });
      const included = [object.spec?.includedNamespaces, backup.spec?.includedNamespaces].find(Array.isArray)?.map(String) ?? ['default'];
      const firstNamespace = included[0] ?? 'default';
      const mapping = (object.spec?.namespaceMapping ?? {}) as Record<string, string>;
      const results = veleroRestoreResults(landed?.skipped ?? [], outcome, mapping[firstNamespace] ?? firstNamespace);
      this.restoreResults.set(`${namespace}/${name}`, results);
      this.update(resource, namespace, name, (restore) => {
        Object.assign(restore.status ?? {}, {
          phase: outcome,
          completionTimestamp: now(),
          progress: { totalItems: SIMULATED_ITEMS, itemsRestored: SIMULATED_ITEMS },
          warnings: countResultMessages(results.warnings),
          errors: countResultMessages(results.errors),
          ...(outcome === 'Failed' ? { failureReason: 'simulated failure' } : {}),
        });
      });
    });
  }

  /**
   * What Velero's backup deletion controller does with a DeleteBackupRequest (§2.7): refuses a backup
   * still running or kept in a read-only location, else marks it Deleting, then removes it and the
   * restores made from it, and records the request Processed (with `errors` when it could not).
   */
  private deleteVeleroBackup(resource: SimResource, request: SimObject): void {
    const { name, namespace } = request.metadata;
    const backupName = String(request.spec?.backupName ?? '');
    const velero = (plural: string) => SIM_RESOURCES.find((candidate) => candidate.group === 'velero.io' && candidate.plural === plural) as SimResource;
    const processed = (errors: string[]) => this.update(resource, namespace, name, (done) => (done.status = { phase: 'Processed', ...(errors.length > 0 ? { errors } : {}) }));
    const backup = this.objects.get(this.key(velero('backups'), namespace, backupName));
    if (!backup) return void processed(['backup not found']);
    const phase = String(backup.status?.phase ?? 'New');
    if (['New', 'Queued', 'ReadyToStart', 'InProgress'].includes(phase)) return void processed(['backup is still in progress']);
    const location = String(backup.spec?.storageLocation ?? 'default');
    if (this.objects.get(this.key(velero('backupstoragelocations'), namespace, location))?.spec?.accessMode === 'ReadOnly') {
      return void processed([`cannot delete backup because backup storage location ${location} is currently in read-only mode`]);
    }
    this.update(resource, namespace, name, (started) => (started.status = { phase: 'InProgress' }));
    this.update(velero('backups'), namespace, backupName, (deleting) => Object.assign((deleting.status ??= {}), { phase: 'Deleting' }));
    this.after(() => {
      this.objects.delete(this.key(velero('backups'), namespace, backupName));
      for (const [key, restore] of this.objects) {
        if (key.startsWith(this.key(velero('restores'), namespace, '')) && restore.spec?.backupName === backupName) this.objects.delete(key);
      }
      processed([]);
    });
  }

  /** What kustomize-controller does: nothing while suspended, else apply and record the request handled. */
  private reconcileKustomization(resource: SimResource, namespace: string, name: string): void {
    this.update(resource, namespace, name, (kustomization) => {
      if (kustomization.spec?.suspend === true) return;
      const requestedAt = kustomization.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'];
      const revision = `main@sha1:${randomBytes(20).toString('hex')}`;
      const failure = this.kustomizationFailures.get(name);
      // A failed reconciliation still handles the request: Ready says why it failed (fluxcd/pkg meta.ReconciliationFailedReason).
      const ready = failure === undefined ? { status: 'True', reason: 'ReconciliationSucceeded', message: `Applied revision: ${revision}` } : { status: 'False', reason: 'ReconciliationFailed', message: failure };
      kustomization.status = {
        ...kustomization.status,
        observedGeneration: kustomization.metadata.generation,
        ...(requestedAt ? { lastHandledReconcileAt: requestedAt } : {}),
        conditions: [{ type: 'Ready', ...ready, lastTransitionTime: now(), observedGeneration: kustomization.metadata.generation }],
      };
    });
  }
}

/** RFC 7386: objects merge recursively, `null` removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Json = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [key, value] of Object.entries(patch as Json)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function compactTime(): string {
  return now().replace(/[-:TZ]/g, '');
}

function parseHours(duration: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!match) return 720;
  return Number(match[1] ?? 0) + Number(match[2] ?? 0) / 60 + Number(match[3] ?? 0) / 3600;
}

/** The object store behind the simulated backup storage locations, as a signed URL reaches it: GET of a stored key, 404 otherwise. */
export class VeleroBucketServer {
  private readonly stored = new Map<string, Buffer>();
  private server: Server | undefined;
  private starting: Promise<string> | undefined;

  put(path: string, body: Buffer): void {
    this.stored.set(path, body);
  }

  /** Starts serving on a free loopback port; the base URL. */
  start(): Promise<string> {
    this.starting ??= new Promise((resolve) => {
      const server = createServer((request, response) => {
        const body = request.method === 'GET' ? this.stored.get(new URL(request.url ?? '/', 'http://bucket').pathname) : undefined;
        if (!body) {
          response.writeHead(404, { 'Content-Type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
          return;
        }
        response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length }).end(body);
      });
      this.server = server;
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    });
    return this.starting;
  }

  stop(): void {
    this.server?.closeAllConnections();
    this.server?.close();
  }
}

/** A backup's log as Velero's server writes it (logrus text format), one line per item backed up. */
function veleroBackupLog(backup: SimObject): string {
  const status = backup.status ?? {};
  const progress = (status.progress ?? {}) as Json;
  const id = `${backup.metadata.namespace}/${backup.metadata.name}`;
  const namespaces = Array.isArray(backup.spec?.includedNamespaces) ? backup.spec.includedNamespaces.map(String) : ['default'];
  const line = (level: string, message: string, source: string, extra = '') => `time="${String(status.startTimestamp ?? now())}" level=${level} msg="${message}" backup=${id} logSource="${source}"${extra}`;
  const lines = [line('info', 'Setting up backup temp file', 'pkg/controller/backup_controller.go:663'), line('info', 'Starting backup', 'pkg/controller/backup_controller.go:703')];
  const items = Number(progress.itemsBackedUp ?? 0);
  for (let item = 1; item <= items; item++) {
    lines.push(line('info', `Backed up ${item} items out of an estimated total of ${String(progress.totalItems ?? items)} (estimate will change throughout the backup)`, 'pkg/backup/backup.go:499', ` name=item-${item} namespace=${namespaces[item % namespaces.length] ?? ''} progress= resource=configmaps`));
  }
  for (let warning = 1; warning <= Number(status.warnings ?? 0); warning++) lines.push(line('warning', `simulated warning ${warning}`, 'pkg/backup/item_backupper.go:240'));
  for (let error = 1; error <= Number(status.errors ?? 0); error++) lines.push(line('error', `simulated error ${error}`, 'pkg/backup/item_backupper.go:260'));
  lines.push(line('info', status.phase === 'Completed' ? 'Backup completed' : `Backup ${String(status.phase)}`, 'pkg/controller/backup_controller.go:763'));
  return `${lines.join('\n')}\n`;
}

/**
 * A backup's resource list as Velero uploads it (`<backup>-resource-list.json.gz`): `group/version/Kind`
 * (`v1/Kind` for the core group) to `namespace/name` entries, cluster-scoped ones by name alone. Each
 * namespace backed up holds the same small application: a Deployment, its Service, ConfigMap and PVC.
 */
function veleroBackupResourceList(backup: SimObject): Record<string, string[]> {
  const namespaces = Array.isArray(backup.spec?.includedNamespaces) ? backup.spec.includedNamespaces.map(String).filter((namespace) => namespace !== '*') : ['default'];
  const each = (name: (namespace: string) => string) => namespaces.map((namespace) => `${namespace}/${name(namespace)}`);
  return {
    'v1/Namespace': namespaces,
    'apps/v1/Deployment': each((namespace) => namespace),
    'v1/Service': each((namespace) => namespace),
    'v1/ConfigMap': each((namespace) => `${namespace}-config`),
    'v1/PersistentVolumeClaim': each((namespace) => `${namespace}-data`),
  };
}

/** Velero's restore messages of one kind (`pkg/util/results` Result): Velero's own, cluster-scoped, and by namespace. */
interface RestoreMessages {
  velero?: string[];
  cluster?: string[];
  namespaces?: Record<string, string[]>;
}

function countResultMessages(result: RestoreMessages): number {
  return (result.velero?.length ?? 0) + (result.cluster?.length ?? 0) + Object.values(result.namespaces ?? {}).reduce((sum, messages) => sum + messages.length, 0);
}

/**
 * A restore's RestoreResults file (`restore-<name>-results.gz`, `{warnings, errors}`): a warning for
 * each object left as it was (`existingResourcePolicy: none`), worded as Velero's restore does; three
 * warnings and an error in `namespace` for a restore a test wants to fail.
 */
function veleroRestoreResults(skipped: readonly string[], outcome: Outcome, namespace: string): { warnings: RestoreMessages; errors: RestoreMessages } {
  const warnings: Required<RestoreMessages> = { velero: [], cluster: [], namespaces: {} };
  for (const entry of skipped) {
    const [, kind = '', where, name = ''] = /^(\S+) (?:([^/]+)\/)?(.+)$/.exec(entry) ?? [];
    const message = `could not restore, ${kind} "${name}" already exists. Warning: the in-cluster version is different than the backed-up version`;
    if (where === undefined) warnings.cluster.push(message);
    else (warnings.namespaces[where] ??= []).push(message);
  }
  if (outcome === 'Completed') return { warnings, errors: {} };
  warnings.velero.push('simulated warning 1', 'simulated warning 2', 'simulated warning 3');
  return { warnings, errors: { namespaces: { [namespace]: [`error restoring persistentvolumeclaims/${namespace}/${namespace}-data: simulated failure`] } } };
}
