/**
 * The custom objects of the Kubernetes API simulator and the controllers that act on them, following
 * the contracts (EXTERNAL-SYSTEMS.md §2 Velero, §3 Flux, §7 CloudNativePG): Velero backups go
 * New → InProgress → Completed with progress, expiration and the storage-location label; restores
 * New → InProgress → Completed; schedules become Enabled; storage locations Available; Flux
 * kustomizations reconcile unless suspended and record `lastHandledReconcileAt`; CNPG backups go
 * started → running → completed.
 */
import { randomBytes, randomUUID } from 'node:crypto';

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
  { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations', kind: 'Kustomization' },
  { group: 'postgresql.cnpg.io', version: 'v1', plural: 'backups', kind: 'Backup' },
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

/** Velero's terminal phases end the controller's work on an object. */
type Outcome = 'Completed' | 'PartiallyFailed' | 'Failed';

const DEFAULT_BACKUP_TTL = '720h0m0s';
const SIMULATED_ITEMS = 42;

export class ObjectStore {
  private readonly objects = new Map<string, SimObject>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private revision = 1;
  /** Outcome a test wants for the next Velero backup or restore of a given name. */
  readonly outcomes = new Map<string, Outcome>();
  /** API groups whose resources are not installed: every request for them answers 404, as without the CRDs. */
  readonly uninstalledGroups = new Set<string>();
  /** Why a Flux Kustomization of a given name fails every reconciliation (its build, say), while a test wants it to. */
  readonly kustomizationFailures = new Map<string, string>();

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
    if (specChanged && resource.group === 'postgresql.cnpg.io') {
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
            schedule.status = valid ? { phase: 'Enabled' } : { phase: 'FailedValidation', validationErrors: [`invalid schedule: ${cron}`] };
          }),
        );
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
      case 'kustomize.toolkit.fluxcd.io/kustomizations':
        this.after(() => this.reconcileKustomization(resource, namespace, name));
        break;
      case 'postgresql.cnpg.io/backups': {
        const cluster = String((object.spec?.cluster as Json | undefined)?.name ?? '');
        const method = String(object.spec?.method ?? 'barmanObjectStore');
        set((backup) => (backup.status = { phase: 'pending' }));
        this.after(() => set((backup) => Object.assign(status(backup), { phase: 'started', startedAt: now(), method, online: true, instanceID: { podName: `${cluster}-1` } })));
        this.after(() => set((backup) => Object.assign(status(backup), { phase: 'running', backupId: compactTime(), beginWal: '000000010000000000000004', beginLSN: '0/4000028' })), 2);
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
                destinationPath: `s3://backups/${cluster}`,
              }),
            ),
          3,
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
    const started = new Date();
    const ttlHours = parseHours(String(spec.ttl ?? DEFAULT_BACKUP_TTL));
    this.update(resource, namespace, name, (backup) => {
      backup.metadata.labels = { ...backup.metadata.labels, 'velero.io/storage-location': location };
      backup.metadata.annotations = {
        ...backup.metadata.annotations,
        'velero.io/source-cluster-k8s-gitversion': 'v1.31.0',
        'velero.io/source-cluster-k8s-major-version': '1',
        'velero.io/source-cluster-k8s-minor-version': '31',
        'velero.io/resource-timeout': '10m0s',
      };
      backup.status = {
        phase: 'InProgress',
        version: 1,
        formatVersion: '1.1.0',
        startTimestamp: started.toISOString().replace(/\.\d+Z$/, 'Z'),
        expiration: new Date(started.getTime() + ttlHours * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        progress: { totalItems: SIMULATED_ITEMS, itemsBackedUp: Math.floor(SIMULATED_ITEMS / 2) },
      };
    });
    this.after(() => {
      const outcome = this.outcomes.get(name) ?? 'Completed';
      this.update(resource, namespace, name, (backup) => {
        Object.assign(backup.status ?? {}, {
          phase: outcome,
          completionTimestamp: now(),
          progress: { totalItems: SIMULATED_ITEMS, itemsBackedUp: outcome === 'Failed' ? Math.floor(SIMULATED_ITEMS / 2) : SIMULATED_ITEMS },
          warnings: outcome === 'Completed' ? 0 : 1,
          errors: outcome === 'Completed' ? 0 : 2,
          ...(outcome === 'Failed' ? { failureReason: 'simulated failure' } : {}),
          hookStatus: {},
        });
      });
    });
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
      this.update(resource, namespace, name, (restore) => {
        Object.assign(restore.status ?? {}, {
          phase: outcome,
          completionTimestamp: now(),
          progress: { totalItems: SIMULATED_ITEMS, itemsRestored: SIMULATED_ITEMS },
          warnings: outcome === 'Completed' ? 0 : 3,
          errors: outcome === 'Completed' ? 0 : 1,
          ...(outcome === 'Failed' ? { failureReason: 'simulated failure' } : {}),
        });
      });
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
