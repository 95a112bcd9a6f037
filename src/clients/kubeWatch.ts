import { setTimeout as sleep } from 'node:timers/promises';
import { KubeError, type CustomResource, type KubeClient, type KubeObject } from './kube';

/**
 * How long one watch request stays open: the server ends it then and it is opened again from the last
 * resourceVersion, so a connection that died without a word is replaced.
 */
const WATCH_SECONDS = 290;
/** A watch that lasted this long, or told anything, was sound: when it ends it is opened again at once. */
const SOUND_WATCH_MS = 10_000;
const MAX_RETRY_MS = 30_000;
/** Failures worth trying again: the server or the way to it, not the request or the credentials. */
const PASSING_FAILURES: ReadonlySet<KubeError['failure']> = new Set(['unreachable', 'server']);

export interface FollowOptions {
  signal: AbortSignal;
  /** The object as it is now: first as listed when following starts, then at each change; undefined once it is deleted. */
  onChange(object: KubeObject | undefined): void;
  /** Whether the object has settled (a terminal phase): following ends after the change that settles it. */
  isDone(object: KubeObject): boolean;
  /** The pause before opening a failed watch again, doubled at each failure in a row up to 30 s. */
  retryMs?: number;
  /** Told when a watch failed and is opened again after `delayMs`. */
  onRetry?(error: KubeError, delayMs: number): void;
}

/** How one watch request ended: following is over (settled, deleted or aborted), or it goes on from `resourceVersion`. */
type WatchEnd = { over: true } | { over: false; expired: boolean; resourceVersion: string; sound: boolean; error?: KubeError };

/**
 * Follows one object through the API's watch until it settles, is deleted, or `signal` aborts (then it
 * resolves quietly). As client-go's informers do: a list (by `metadata.name`) for the object and the
 * list's resourceVersion, then a watch from there; a watch that ends or drops is opened again from the
 * last resourceVersion seen (events and bookmarks carry it), and one answered 410 Gone (that
 * resourceVersion is no longer kept) lists again. Failures of the network or the server are tried
 * again; a refused request (credentials, permissions, a missing resource) rejects.
 */
export async function followObject(client: KubeClient, resource: CustomResource, namespace: string, name: string, options: FollowOptions): Promise<void> {
  const pause = (failures: number) => Math.min(MAX_RETRY_MS, (options.retryMs ?? 1000) * 2 ** (failures - 1));
  let resourceVersion: string | undefined;
  let failures = 0;
  while (!options.signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const listed = await client.listObjectsForWatch(resource, namespace, `metadata.name=${name}`);
        if (options.signal.aborted) return;
        const [object] = listed.items;
        options.onChange(object);
        if (!object || options.isDone(object)) return;
        resourceVersion = listed.resourceVersion;
      }
      const end = await watchOnce(client, resource, namespace, name, resourceVersion, options);
      if (end.over) return;
      resourceVersion = end.expired ? undefined : end.resourceVersion;
      if (end.error) throw end.error;
      // A watch that ended at once without a word waits as a failed one does.
      failures = end.sound || end.expired ? 0 : failures + 1;
    } catch (error) {
      if (options.signal.aborted) return;
      if (!(error instanceof KubeError) || !PASSING_FAILURES.has(error.failure)) throw error;
      failures += 1;
      options.onRetry?.(error, pause(failures));
    }
    if (failures > 0) await sleep(pause(failures), undefined, { signal: options.signal }).catch(() => undefined);
  }
}

/** One watch request from `since`: its events reported until it ends, the object settles, or `signal` aborts. */
function watchOnce(client: KubeClient, resource: CustomResource, namespace: string, name: string, since: string, options: FollowOptions): Promise<WatchEnd> {
  const started = Date.now();
  let resourceVersion = since;
  let told = false;
  let settled = false;
  let expired = false;
  let failure: KubeError | undefined;
  let watch: AbortController | undefined;
  const stop = () => watch?.abort();
  return new Promise<WatchEnd>((resolve) => {
    const ended = (error: KubeError | undefined) => {
      options.signal.removeEventListener('abort', stop);
      if (settled || options.signal.aborted) return resolve({ over: true });
      const cause = failure ?? (expired ? undefined : error);
      resolve({ over: false, expired, resourceVersion, sound: told || Date.now() - started >= SOUND_WATCH_MS, ...(cause ? { error: cause } : {}) });
    };
    const onEvent = (type: string, object: KubeObject) => {
      if (settled || expired || failure) return;
      if (type === 'ERROR') {
        const status = object as unknown as { code?: unknown; reason?: unknown; message?: unknown };
        if (status.code === 410) expired = true;
        else failure = new KubeError('server', `the watch of ${resource.kind} ${namespace}/${name} on ${client.description} failed: ${String(status.message ?? status.reason ?? 'an ERROR event')}`);
        return stop();
      }
      const at = object.metadata?.resourceVersion;
      if (typeof at === 'string' && at !== '') resourceVersion = at;
      told = true;
      if (type === 'DELETED') {
        settled = true;
        options.onChange(undefined);
        return stop();
      }
      // A BOOKMARK only moves the resourceVersion on.
      if (type !== 'ADDED' && type !== 'MODIFIED') return;
      options.onChange(object);
      if (options.isDone(object)) {
        settled = true;
        stop();
      }
    };
    options.signal.addEventListener('abort', stop, { once: true });
    const query = { fieldSelector: `metadata.name=${name}`, resourceVersion: since, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS };
    client.watchObjects(resource, namespace, query, onEvent, ended).then(
      (controller) => {
        watch = controller;
        if (settled || expired || failure || options.signal.aborted) controller.abort();
      },
      (error: unknown) => ended(new KubeError('config', error instanceof Error ? error.message : String(error))),
    );
  });
}
