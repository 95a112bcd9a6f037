import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { CancelledError, describeSystemError, errorMessage, isCancellationError } from '../../core/errors';
import { KubeError, type KubeClient } from '../../clients/kube';
import { formatDuration, printable } from '../../core/render';
import { VELERO_RESOURCES, phaseOf, type VeleroCluster } from './resources';

/** What a backup holds per kind (`apps/v1/Deployment` → `namespace/name`s), as its BackupResourceList says, or why it could not be read. */
export type BackupContents = { read: true; kinds: Record<string, string[]> } | { read: false; reason: string };

/** A DownloadRequest answers within seconds when Velero runs; longer means it is not answering. */
const DOWNLOAD_WAIT_MS = 30_000;

/**
 * The signed URL Velero hands out for one of its files (`velero backup logs` and `describe --details`
 * ask the same way): a DownloadRequest for `kind` of `name`, waited for until it carries its URL.
 * `what` names the file for the error when Velero does not answer in time.
 */
export async function veleroDownloadUrl(velero: VeleroCluster, kind: string, name: string, options: { what: string; timeoutMs: number; signal: AbortSignal }): Promise<URL> {
  const request = await velero.create('downloadRequest', {
    apiVersion: 'velero.io/v1',
    kind: 'DownloadRequest',
    metadata: { name: `${name.slice(0, 200)}-${randomUUID()}` },
    spec: { target: { kind, name } },
  });
  try {
    const processed = await velero.client.waitForObject(VELERO_RESOURCES.downloadRequest, velero.namespace, request.metadata.name, {
      isDone: (object) => typeof object.status?.downloadURL === 'string' && object.status.downloadURL !== '',
      intervalMs: 250,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return new URL(String(processed.status?.downloadURL));
  } catch (error) {
    if (error instanceof KubeError && !options.signal.aborted && !isCancellationError(error) && error.failure === 'server') {
      throw new Error(`Velero in cluster ${velero.cluster} gave no download URL for ${options.what} within ${formatDuration(options.timeoutMs)} (DownloadRequest ${request.metadata.name} is still ${phaseOf(request) ?? 'New'}): is the Velero server running?`);
    }
    throw error;
  }
}

/** A gzipped JSON file Velero keeps in the object store, or why it could not be read. */
type VeleroJson = { read: true; value: unknown } | { read: false; reason: string };

/**
 * Reads one of Velero's gzipped JSON files (`kind` of the backup or restore `name`) from its storage
 * location, as `velero backup describe --details` does. The signed URL points at the object store,
 * which may not be reachable from here: then the answer says so, naming the URL's host.
 */
async function readVeleroJson(velero: VeleroCluster, kind: string, name: string, what: string, signal: AbortSignal): Promise<VeleroJson> {
  try {
    const url = await veleroDownloadUrl(velero, kind, name, { what, timeoutMs: DOWNLOAD_WAIT_MS, signal });
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(DOWNLOAD_WAIT_MS)]) });
    } catch (error) {
      if (signal.aborted) throw error;
      return { read: false, reason: `its storage location at ${url.host} is not reachable from here (${describeSystemError((error as { cause?: unknown }).cause ?? error)})` };
    }
    if (!response.ok) return { read: false, reason: `its storage location at ${url.host} answered ${response.status} ${response.statusText}` };
    return { read: true, value: JSON.parse(gunzipSync(Buffer.from(await response.arrayBuffer())).toString('utf8')) as unknown };
  } catch (error) {
    if (isCancellationError(error)) throw error;
    return { read: false, reason: errorMessage(error) };
  }
}

/** Reads the backup's resource list; the caller goes on without it when it cannot be read. */
export async function readBackupContents(velero: VeleroCluster, backup: string, signal: AbortSignal): Promise<BackupContents> {
  const file = await readVeleroJson(velero, 'BackupResourceList', backup, `the resource list of backup ${backup}`, signal);
  if (!file.read) return file;
  const list = file.value;
  if (!list || typeof list !== 'object' || Array.isArray(list)) return { read: false, reason: 'its resource list is not a JSON object' };
  const kinds = Object.fromEntries(Object.entries(list).map(([kind, items]) => [kind, Array.isArray(items) ? items.map(String) : []]));
  return { read: true, kinds };
}

/** A finished restore's warnings and errors, one line each as `velero restore describe` groups them: `velero: …`, `cluster: …`, `namespace pelican: …`. */
export interface RestoreMessages {
  warnings: string[];
  errors: string[];
}

/** One kind of Velero's restore messages (`pkg/util/results` Result): Velero's own, cluster-scoped ones, and by namespace. */
function messageLines(result: unknown): string[] {
  const { velero, cluster, namespaces } = (result && typeof result === 'object' ? result : {}) as { velero?: unknown; cluster?: unknown; namespaces?: unknown };
  const lines = (scope: string, messages: unknown) => (Array.isArray(messages) ? messages.map((message) => `${scope}: ${printable(String(message))}`) : []);
  const byNamespace = namespaces && typeof namespaces === 'object' ? Object.entries(namespaces).flatMap(([namespace, messages]) => lines(`namespace ${printable(namespace)}`, messages)) : [];
  return [...lines('velero', velero), ...lines('cluster', cluster), ...byNamespace];
}

/** Reads a finished restore's messages from its RestoreResults file (`{warnings, errors}`, gzipped JSON). */
export async function readRestoreMessages(velero: VeleroCluster, restore: string, signal: AbortSignal): Promise<{ read: true; messages: RestoreMessages } | { read: false; reason: string }> {
  const file = await readVeleroJson(velero, 'RestoreResults', restore, `the results of restore ${restore}`, signal);
  if (!file.read) return file;
  const { warnings, errors } = (file.value && typeof file.value === 'object' ? file.value : {}) as { warnings?: unknown; errors?: unknown };
  return { read: true, messages: { warnings: messageLines(warnings), errors: messageLines(errors) } };
}

/** The namespace of a `namespace/name` entry; cluster-scoped entries have none. */
export function entryNamespace(entry: string): string | undefined {
  const slash = entry.indexOf('/');
  return slash > 0 ? entry.slice(0, slash) : undefined;
}

/** The namespaces the backup holds objects of. */
export function namespacesIn(contents: BackupContents): string[] {
  if (!contents.read) return [];
  const namespaces = new Set<string>(contents.kinds['v1/Namespace'] ?? []);
  for (const entries of Object.values(contents.kinds)) for (const entry of entries) {
    const namespace = entryNamespace(entry);
    if (namespace) namespaces.add(namespace);
  }
  return [...namespaces].sort();
}

/** An object of the resource list where the restore puts it: its namespace after the mapping. */
export interface Landing {
  apiVersion: string;
  kind: string;
  /** The namespace in the backup; none for cluster-scoped objects. */
  source?: string;
  namespace?: string;
  name: string;
}

/** Where the restore puts one entry of the resource list (`apps/v1/Deployment`, `pelican/web`). */
export function landingOf(key: string, entry: string, mapping: Readonly<Record<string, string>> = {}): Landing {
  const slash = key.lastIndexOf('/');
  const [apiVersion, kind] = [key.slice(0, slash), key.slice(slash + 1)];
  if (key === 'v1/Namespace') return { apiVersion, kind, source: entry, name: mapping[entry] ?? entry };
  const source = entryNamespace(entry);
  if (source === undefined) return { apiVersion, kind, name: entry };
  return { apiVersion, kind, source, namespace: mapping[source] ?? source, name: entry.slice(source.length + 1) };
}

/** How a landing is written: `pelican-copy/web (from pelican)`. */
export function describeLanding(landing: Landing): string {
  const where = landing.namespace === undefined ? landing.name : `${landing.namespace}/${landing.name}`;
  const target = landing.namespace ?? landing.name;
  return landing.source !== undefined && landing.source !== target ? `${where} (from ${landing.source})` : where;
}

/** Objects checked at most, a few requests at a time: a plan stays quick on a large backup. */
export const EXISTENCE_CHECK_LIMIT = 300;
const EXISTENCE_CHECK_CONCURRENCY = 8;

/** Whether each object exists in the cluster already (undefined: the cluster does not serve its kind, or past the limit). */
export async function existingLandings(client: KubeClient, landings: readonly Landing[], signal: AbortSignal): Promise<(boolean | undefined)[]> {
  const found: (boolean | undefined)[] = landings.map(() => undefined);
  let next = 0;
  const worker = async () => {
    while (next < Math.min(landings.length, EXISTENCE_CHECK_LIMIT)) {
      const index = next++;
      const landing = landings[index] as Landing;
      if (signal.aborted) throw new CancelledError();
      found[index] = await client.objectExists(landing.apiVersion, landing.kind, landing.namespace, landing.name);
    }
  };
  await Promise.all(Array.from({ length: EXISTENCE_CHECK_CONCURRENCY }, worker));
  return found;
}
