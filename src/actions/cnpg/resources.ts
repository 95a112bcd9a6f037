import { CUSTOM_RESOURCES, KubeError, type KubeClient, type KubeObject } from '../../clients/kube';
import type { ActionContext } from '../../core/actions/spec';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { namespaceName, veleroObjectName } from '../velero/resources';

/** The CloudNativePG objects Lifeboat reads and writes, of `postgresql.cnpg.io/v1` (contract: CloudNativePG 1.30). */
export const CNPG_RESOURCES = { backup: CUSTOM_RESOURCES.cnpgBackup, cluster: CUSTOM_RESOURCES.cnpgCluster } as const;

export type CnpgKind = keyof typeof CNPG_RESOURCES;

/** The backup methods of a Backup's `spec.method`; `barmanObjectStore` (the in-tree Barman) is the default and deprecated since 1.26. */
export const CNPG_METHODS = ['barmanObjectStore', 'volumeSnapshot', 'plugin'] as const;
export type CnpgMethod = (typeof CNPG_METHODS)[number];

/** The Barman Cloud plugin, which replaces the in-tree `barmanObjectStore` method. */
export const BARMAN_CLOUD_PLUGIN = 'barman-cloud.cloudnative-pg.io';

/** A Kubernetes object name (DNS subdomain): Clusters and Backups. */
export const cnpgObjectName = veleroObjectName;

/** Which cluster, and the namespace of the CloudNativePG Cluster in it. */
export const cnpgTargetParams = {
  cluster: clusterParam,
  namespace: namespaceName.describe('The namespace of the CloudNativePG Cluster.'),
};

export class CnpgNotInstalledError extends KubeError {
  constructor(cluster: string) {
    super('not-found', `CloudNativePG is not installed in cluster ${cluster} (no postgresql.cnpg.io/v1 Cluster resource)`, 404);
    this.name = 'CnpgNotInstalledError';
  }
}

export function phaseOf(object: KubeObject): string | undefined {
  const phase = object.status?.phase;
  return typeof phase === 'string' && phase !== '' ? phase : undefined;
}

/** A Backup's phases after which it no longer changes; any other phase (one a newer CloudNativePG adds too) is still running. */
export const BACKUP_TERMINAL_PHASES: ReadonlySet<string> = new Set(['completed', 'failed', 'walArchivingFailing', 'invalid backup definition']);

/**
 * CloudNativePG in one namespace of an inventory cluster, with a missing CloudNativePG (its
 * resources answer 404) told as one sentence and missing objects named with what there is.
 */
export class CnpgNamespace {
  constructor(
    readonly client: KubeClient,
    readonly cluster: string,
    readonly namespace: string,
  ) {}

  static async connect(ctx: ActionContext, params: { cluster: string; namespace: string }): Promise<CnpgNamespace> {
    return new CnpgNamespace(await kubeClientFor(ctx, params.cluster), params.cluster, params.namespace);
  }

  get where(): string {
    return `namespace ${this.namespace} of cluster ${this.cluster}`;
  }

  list(kind: CnpgKind): Promise<KubeObject[]> {
    return this.explained(() => this.client.listObjects(CNPG_RESOURCES[kind], this.namespace));
  }

  get(kind: CnpgKind, name: string): Promise<KubeObject> {
    return this.explained(() => this.client.getObject(CNPG_RESOURCES[kind], this.namespace, name));
  }

  create(kind: CnpgKind, body: KubeObject): Promise<KubeObject> {
    return this.explained(() => this.client.createObject(CNPG_RESOURCES[kind], this.namespace, body));
  }

  /** The object, or undefined when there is none of that name (CloudNativePG being installed). */
  async lookup(kind: CnpgKind, name: string): Promise<KubeObject | undefined> {
    try {
      return await this.get(kind, name);
    } catch (error) {
      if (error instanceof KubeError && error.failure === 'not-found' && !(error instanceof CnpgNotInstalledError)) return undefined;
      throw error;
    }
  }

  /** The object, or a clear error naming what there is instead. */
  async find(kind: CnpgKind, name: string): Promise<KubeObject> {
    const found = await this.lookup(kind, name);
    if (found) return found;
    const names = (await this.list(kind)).map((object) => object.metadata.name).sort();
    const shown = names.slice(0, 10).join(', ') + (names.length > 10 ? `, and ${names.length - 10} more` : '');
    throw new KubeError('not-found', `no CloudNativePG ${CNPG_RESOURCES[kind].kind} '${name}' in ${this.where}${names.length > 0 ? `; there are: ${shown}` : '; there is none'}`, 404);
  }

  /** The Backups of one CloudNativePG Cluster (`spec.cluster.name`). */
  async backupsOf(clusterName: string): Promise<KubeObject[]> {
    return (await this.list('backup')).filter((backup) => clusterNameOf(backup) === clusterName);
  }

  /** A 404 is a missing object or missing CRDs; listing Clusters tells which. */
  private async explained<Value>(request: () => Promise<Value>): Promise<Value> {
    try {
      return await request();
    } catch (error) {
      if (!(error instanceof KubeError) || error.failure !== 'not-found') throw error;
      const installed = await this.client.listObjects(CNPG_RESOURCES.cluster, this.namespace).then(
        () => true,
        (probe: unknown) => !(probe instanceof KubeError && probe.failure === 'not-found'),
      );
      throw installed ? error : new CnpgNotInstalledError(this.cluster);
    }
  }
}

export function clusterNameOf(backup: KubeObject): string {
  return String((backup.spec?.cluster as { name?: unknown } | undefined)?.name ?? '');
}

/** The method a Cluster backs up with: the Barman Cloud plugin, volume snapshots, or the in-tree Barman object store. */
export function configuredMethod(cluster: KubeObject): { method: CnpgMethod; plugin?: { name: string; parameters?: Record<string, string> } } | undefined {
  const spec = (cluster.spec ?? {}) as { plugins?: { name?: string; isWALArchiver?: boolean; parameters?: Record<string, string> }[]; backup?: { barmanObjectStore?: unknown; volumeSnapshot?: unknown } };
  const plugin = spec.plugins?.find((candidate) => candidate.name === BARMAN_CLOUD_PLUGIN) ?? spec.plugins?.find((candidate) => candidate.isWALArchiver);
  if (plugin?.name) return { method: 'plugin', plugin: { name: plugin.name, ...(plugin.parameters ? { parameters: plugin.parameters } : {}) } };
  if (spec.backup?.barmanObjectStore) return { method: 'barmanObjectStore' };
  if (spec.backup?.volumeSnapshot) return { method: 'volumeSnapshot' };
  return undefined;
}
