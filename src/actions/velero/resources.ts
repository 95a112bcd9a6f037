import * as z from 'zod';
import { CUSTOM_RESOURCES, KubeError, type CustomResource, type KubeClient, type KubeObject } from '../../clients/kube';
import type { ActionContext } from '../../core/actions/spec';
import { clusterParam, kubeClientFor } from '../clusters/target';

/** The Velero objects Lifeboat reads and writes, all of `velero.io/v1` (contract: Velero 1.18). */
export const VELERO_RESOURCES = {
  backup: CUSTOM_RESOURCES.veleroBackup,
  restore: CUSTOM_RESOURCES.veleroRestore,
  schedule: CUSTOM_RESOURCES.veleroSchedule,
  backupStorageLocation: CUSTOM_RESOURCES.veleroBackupStorageLocation,
  downloadRequest: { group: 'velero.io', version: 'v1', plural: 'downloadrequests', kind: 'DownloadRequest' },
  podVolumeBackup: { group: 'velero.io', version: 'v1', plural: 'podvolumebackups', kind: 'PodVolumeBackup' },
  deleteBackupRequest: { group: 'velero.io', version: 'v1', plural: 'deletebackuprequests', kind: 'DeleteBackupRequest' },
} as const satisfies Record<string, CustomResource>;

export type VeleroKind = keyof typeof VELERO_RESOURCES;

/** The label Velero puts on every backup a Schedule makes (and `--from-schedule` puts on its backup). */
export const SCHEDULE_NAME_LABEL = 'velero.io/schedule-name';

/**
 * The phases after which an object no longer changes by itself. A phase not listed here (one a newer
 * Velero adds, like 1.18's `Queued` and `ReadyToStart` were) is treated as still in progress.
 */
export const TERMINAL_PHASES: Readonly<Record<VeleroKind, ReadonlySet<string>>> = {
  backup: new Set(['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation']),
  restore: new Set(['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation']),
  // A schedule never finishes; `FailedValidation` is where it stops until its spec changes.
  schedule: new Set(['FailedValidation']),
  // Validation runs again and again: both phases are a settled answer.
  backupStorageLocation: new Set(['Available', 'Unavailable']),
  downloadRequest: new Set(['Processed']),
  podVolumeBackup: new Set(['Completed', 'Failed', 'Canceled']),
  deleteBackupRequest: new Set(['Processed']),
};

/** The phases of a backup or restore that ended without everything in it. */
export const FAILED_PHASES: ReadonlySet<string> = new Set(['PartiallyFailed', 'Failed', 'FailedValidation']);

export function phaseOf(object: KubeObject): string | undefined {
  const phase = object.status?.phase;
  return typeof phase === 'string' && phase !== '' ? phase : undefined;
}

export function isTerminal(kind: VeleroKind, object: KubeObject): boolean {
  const phase = phaseOf(object);
  return phase !== undefined && TERMINAL_PHASES[kind].has(phase);
}

const DNS_LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';

/** A Kubernetes namespace name (a DNS label). */
export const namespaceName = z.string().regex(new RegExp(`^${DNS_LABEL}$`), 'a Kubernetes namespace name (lowercase letters, digits and -)');

/** A namespace a backup includes: a name, or `*` for all of them. */
export const includedNamespace = z.string().regex(new RegExp(`^(\\*|${DNS_LABEL})$`), 'a Kubernetes namespace name, or * for all');

/** The namespace Velero runs in and keeps its objects in (`velero install --namespace`). */
export const veleroNamespaceParam = namespaceName
  .default('velero')
  .describe('The namespace Velero is installed in.');

/** The parameters every Velero action starts with: which cluster, and where Velero is in it. */
export const veleroTargetParams = { cluster: clusterParam, veleroNamespace: veleroNamespaceParam };

/** A Kubernetes object name (DNS subdomain), for backups, schedules and locations. */
export const veleroObjectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Kubernetes object name (lowercase letters, digits, - and .)');

export class VeleroNotInstalledError extends KubeError {
  constructor(cluster: string) {
    super('not-found', `Velero is not installed in cluster ${cluster} (no velero.io/v1 Backup resource)`, 404);
    this.name = 'VeleroNotInstalledError';
  }
}

/**
 * Velero on one inventory cluster: its objects in the Velero namespace, with a missing Velero (its
 * resources answer 404) told as one sentence instead of the API's 404.
 */
export class VeleroCluster {
  constructor(
    readonly client: KubeClient,
    /** The inventory's name for the cluster. */
    readonly cluster: string,
    readonly namespace: string,
  ) {}

  static async connect(ctx: ActionContext, params: { cluster: string; veleroNamespace: string }): Promise<VeleroCluster> {
    return new VeleroCluster(await kubeClientFor(ctx, params.cluster), params.cluster, params.veleroNamespace);
  }

  /** Where objects are, for messages: `namespace velero of cluster prod`. */
  get where(): string {
    return `namespace ${this.namespace} of cluster ${this.cluster}`;
  }

  list(kind: VeleroKind, labelSelector?: string): Promise<KubeObject[]> {
    return this.explained(() => this.client.listObjects(VELERO_RESOURCES[kind], this.namespace, labelSelector));
  }

  get(kind: VeleroKind, name: string): Promise<KubeObject> {
    return this.explained(() => this.client.getObject(VELERO_RESOURCES[kind], this.namespace, name));
  }

  create(kind: VeleroKind, body: KubeObject): Promise<KubeObject> {
    return this.explained(() => this.client.createObject(VELERO_RESOURCES[kind], this.namespace, body));
  }

  /**
   * The backup storage locations, failing when there is none: Velero keeps its objects in the
   * namespace it was installed in, and an empty one means a wrong `veleroNamespace`.
   */
  async locations(): Promise<KubeObject[]> {
    const locations = await this.list('backupStorageLocation');
    if (locations.length === 0) {
      throw new KubeError('not-found', `no BackupStorageLocation in ${this.where}: Velero keeps its objects in the namespace it was installed in (\`veleroNamespace\`, '${this.namespace}' here)`, 404);
    }
    return locations;
  }

  /** The object, or a clear error naming what there is instead when it does not exist. */
  async find(kind: VeleroKind, name: string): Promise<KubeObject> {
    try {
      return await this.get(kind, name);
    } catch (error) {
      if (!(error instanceof KubeError) || error.failure !== 'not-found' || error instanceof VeleroNotInstalledError) throw error;
      const names = (await this.list(kind)).map((object) => object.metadata.name).sort();
      const shown = names.slice(0, 10).join(', ') + (names.length > 10 ? `, and ${names.length - 10} more` : '');
      const there = names.length > 0 ? `; there are: ${shown}` : '; there is none';
      throw new KubeError('not-found', `no ${VELERO_RESOURCES[kind].kind} '${name}' in ${this.where}${there}`, 404);
    }
  }

  /**
   * A 404 means either the object is missing or the resource itself is (Velero's CRDs are not
   * installed); a list of backups answers which: it is 404 only when the resource is missing.
   */
  private async explained<Value>(request: () => Promise<Value>): Promise<Value> {
    try {
      return await request();
    } catch (error) {
      if (!(error instanceof KubeError) || error.failure !== 'not-found') throw error;
      const installed = await this.client.listObjects(VELERO_RESOURCES.backup, this.namespace).then(
        () => true,
        (probe: unknown) => !(probe instanceof KubeError && probe.failure === 'not-found'),
      );
      throw installed ? error : new VeleroNotInstalledError(this.cluster);
    }
  }
}
