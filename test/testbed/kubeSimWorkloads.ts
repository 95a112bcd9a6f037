/**
 * The ordinary objects of the simulated cluster's namespaces (the kinds a simulated Velero backup holds:
 * Namespace, Deployment, Service, ConfigMap, PersistentVolumeClaim), and what a Velero restore does to
 * them (§2.2): each object of the backup lands in its namespace, or the one `namespaceMapping` names,
 * labelled `velero.io/backup-name` and `velero.io/restore-name`; one that exists already is left as it
 * is with a warning (`existingResourcePolicy: none`, the default) or updated (`update`).
 */

type Json = Record<string, unknown>;

export interface WorkloadKind {
  /** As a manifest and Velero's resource list name it: `v1`, `apps/v1`. */
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
];

export interface RestoreOutcome {
  restored: number;
  skipped: string[];
  updated: number;
}

export class WorkloadStore {
  private readonly objects = new Map<string, Json>();
  /**
   * Objects (`Kind namespace/name`) a test wants never to become ready: a PersistentVolumeClaim stays
   * Pending, a Deployment or StatefulSet has no ready replica.
   */
  readonly heldBack = new Set<string>();

  static kindOf(apiVersion: string, plural: string): WorkloadKind | undefined {
    return WORKLOAD_KINDS.find((candidate) => candidate.apiVersion === apiVersion && candidate.plural === plural);
  }

  /** Adds an object as a person's `kubectl apply` would; its namespace too. */
  add(apiVersion: string, kind: string, namespace: string | undefined, name: string, labels: Record<string, string> = {}): void {
    if (namespace !== undefined && kind !== 'Namespace') this.add('v1', 'Namespace', undefined, namespace);
    const existing = (this.get(apiVersion, kind, namespace, name)?.metadata.labels ?? {}) as Record<string, string>;
    const metadata = { name, ...(namespace === undefined ? {} : { namespace }), labels: { ...existing, ...labels }, generation: 1 };
    const held = this.heldBack.has(`${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}`);
    this.objects.set(this.key(apiVersion, kind, namespace, name), { apiVersion, kind, metadata, ...settledState(kind, held) });
  }

  /** An object whole, as the API server stores one it was sent (kubeSimJobs.ts writes Deployments so). */
  store(object: Json & { apiVersion: string; kind: string; metadata: { name: string; namespace: string } }): void {
    this.objects.set(this.key(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name), object);
  }

  /** The status a kind's controller reaches: one replica ready, unless `held`. */
  static settledStatus(kind: string, held: boolean): Json | undefined {
    return settledState(kind, held).status;
  }

  /** The objects of a kind in a namespace, or in every namespace when a namespaced kind's is left out (those the label selector matches), as a list answer. */
  list(apiVersion: string, kind: string, namespace: string | undefined, selector: (labels: Record<string, string>) => boolean = () => true): Json {
    const namespaced = WORKLOAD_KINDS.some((candidate) => candidate.apiVersion === apiVersion && candidate.kind === kind && candidate.namespaced);
    const prefix = namespace === undefined && namespaced ? `${apiVersion}/${kind}/` : this.key(apiVersion, kind, namespace, '');
    const items = [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .map(([, object]) => object)
      .filter((object) => selector(((object.metadata as Json).labels ?? {}) as Record<string, string>));
    return { apiVersion, kind: `${kind}List`, metadata: { resourceVersion: '1' }, items };
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): (Json & { metadata: Json }) | undefined {
    return this.objects.get(this.key(apiVersion, kind, namespace, name)) as (Json & { metadata: Json }) | undefined;
  }

  /**
   * Restores a backup's resource list (`group/version/Kind` → `namespace/name` entries) into the
   * cluster as Velero's restore controller does.
   */
  restore(resourceList: Readonly<Record<string, readonly string[]>>, spec: Json, names: { backup: string; restore: string }): RestoreOutcome {
    const included = Array.isArray(spec.includedNamespaces) ? spec.includedNamespaces.map(String) : ['*'];
    const mapping = (spec.namespaceMapping ?? {}) as Record<string, string>;
    const update = spec.existingResourcePolicy === 'update';
    const outcome: RestoreOutcome = { restored: 0, skipped: [], updated: 0 };
    const labels = { 'velero.io/backup-name': names.backup, 'velero.io/restore-name': names.restore };
    for (const [key, entries] of Object.entries(resourceList)) {
      const slash = key.lastIndexOf('/');
      const apiVersion = key.slice(0, slash);
      const kind = key.slice(slash + 1);
      for (const entry of entries) {
        const [first = '', second] = entry.split('/');
        const source = kind === 'Namespace' ? first : second === undefined ? undefined : first;
        if (source !== undefined && !included.includes('*') && !included.includes(source)) continue;
        const target = source === undefined ? undefined : (mapping[source] ?? source);
        const name = kind === 'Namespace' ? (target ?? first) : (second ?? first);
        const namespace = kind === 'Namespace' ? undefined : target;
        if (this.get(apiVersion, kind, namespace, name)) {
          if (update) {
            this.add(apiVersion, kind, namespace, name, labels);
            outcome.updated++;
          } else outcome.skipped.push(`${kind} ${namespace ? `${namespace}/` : ''}${name}`);
          continue;
        }
        this.add(apiVersion, kind, namespace, name, labels);
        outcome.restored++;
      }
    }
    return outcome;
  }

  private key(apiVersion: string, kind: string, namespace: string | undefined, name: string): string {
    return `${apiVersion}/${kind}/${namespace ?? ''}/${name}`;
  }
}

/**
 * The spec and status an object has once its controllers have acted, with the fields and reasons the
 * Kubernetes API reference gives (core/v1 PersistentVolumeClaimStatus, apps/v1 DeploymentStatus and
 * StatefulSetStatus, core/v1 NamespaceStatus); zero counts are left out as the API server's `omitempty` does.
 * One replica each; `held` is the state of one that cannot start.
 */
function settledState(kind: string, held: boolean): { spec?: Json; status?: Json } {
  const ready = held ? {} : { readyReplicas: 1, availableReplicas: 1 };
  switch (kind) {
    case 'Namespace':
      return { status: { phase: 'Active' } };
    case 'PersistentVolumeClaim':
      return { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } }, status: held ? { phase: 'Pending' } : { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } };
    case 'Deployment': {
      const available = held
        ? { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }
        : { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' };
      return { spec: { replicas: 1 }, status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, ...ready, ...(held ? { unavailableReplicas: 1 } : {}), conditions: [available] } };
    }
    case 'StatefulSet':
      return { spec: { replicas: 1 }, status: { observedGeneration: 1, replicas: 1, currentReplicas: 1, updatedReplicas: 1, ...ready } };
    default:
      return {};
  }
}
