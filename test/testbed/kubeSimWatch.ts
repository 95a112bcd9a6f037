/**
 * Watches of the Kubernetes API simulator's custom objects, as the API server serves them
 * (`GET …/{plural}?watch=true`): a chunked `application/json` answer of one event per line,
 * `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{…}}`. Every change of an object takes the
 * next resourceVersion (a deletion too); a watch from a resourceVersion sends the changes after it,
 * one from none (or `0`) first an ADDED for each object there is; a resourceVersion older than the
 * kept history gets the ERROR event with the 410 `Expired` Status and the end of the stream, as the
 * watch cache answers it. `labelSelector` and `fieldSelector` (`metadata.name`, `metadata.namespace`)
 * filter as the API server does: an object that stops matching is DELETED for the watch, one that starts
 * matching ADDED. `timeoutSeconds` ends the stream; `allowWatchBookmarks` adds BOOKMARK events.
 */
import type { ServerResponse } from 'node:http';
import { StatusError, type SimObject, type SimResource } from './kubeSimObjects';

/** One change of an object: what the API server's watch cache keeps. */
interface Change {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  revision: number;
  object: SimObject;
  /** The object before a MODIFIED change. */
  previous?: SimObject;
}

/** How many changes are kept for watches that resume; older resourceVersions are expired (410). */
const KEPT_CHANGES = 1000;

/** An open watch: decides what each change means to it, and writes its events. */
interface Watcher {
  onChange(change: Change): void;
  bookmark(revision: number): void;
  drop(): void;
}

/** The changes of every object, in order, and the watches that follow them. */
export class ObjectHistory {
  private readonly changes: Change[] = [];
  /** Changes up to this revision are forgotten: a watch from an older one is expired. */
  private compactedThrough = 0;
  private lastRevision = 0;
  private readonly watchers = new Set<Watcher>();

  record(change: Change): void {
    this.lastRevision = change.revision;
    this.changes.push(change);
    if (this.changes.length > KEPT_CHANGES) this.compactedThrough = this.changes.splice(0, this.changes.length - KEPT_CHANGES).at(-1)?.revision ?? this.compactedThrough;
    for (const watcher of this.watchers) watcher.onChange(change);
  }

  /** The objects as each kept change left them, oldest first: every state an object went through, however slowly it is looked at. */
  states(): SimObject[] {
    return this.changes.map((change) => change.object);
  }

  /** Forgets every change so far, as etcd's compaction does: a watch resuming from before now gets 410 Gone. */
  compact(): void {
    this.compactedThrough = this.lastRevision;
    this.changes.length = 0;
  }

  /** Cuts every open watch's connection, as a proxy or a restarting API server would. */
  dropWatches(): void {
    for (const watcher of this.watchers) watcher.drop();
    this.watchers.clear();
  }

  /** Sends a BOOKMARK with the current resourceVersion to the watches that allow them. */
  bookmark(): void {
    for (const watcher of this.watchers) watcher.bookmark(this.lastRevision);
  }

  /** How many watches are open. */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** Serves one watch on `response`; `current` are the objects there are now, which a watch without a resourceVersion starts with. */
  serve(request: WatchRequest, current: readonly SimObject[], response: ServerResponse): void {
    const send = (type: string, object: unknown) => response.write(`${JSON.stringify({ type, object })}\n`);
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    // The API server answers at once: a client waits for the headers before it reads any event.
    response.flushHeaders();
    const from = request.resourceVersion;
    if (from !== undefined && from !== '0' && Number(from) < this.compactedThrough) {
      send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.compactedThrough})`, reason: 'Expired', code: 410 });
      response.end();
      return;
    }
    const matches = (object: SimObject | undefined) => object !== undefined && request.matches(object);
    let timeout: NodeJS.Timeout | undefined;
    const watcher: Watcher = {
      onChange: (change) => {
        if (!request.isOfKind(change.object)) return;
        const now = matches(change.object);
        const before = change.type === 'MODIFIED' && matches(change.previous);
        if (change.type === 'DELETED') {
          if (now) send('DELETED', change.object);
        } else if (now) send(before ? 'MODIFIED' : 'ADDED', change.object);
        else if (before) send('DELETED', change.object);
      },
      bookmark: (revision) => {
        if (request.allowBookmarks) send('BOOKMARK', { kind: request.resource.kind, apiVersion: `${request.resource.group}/${request.resource.version}`, metadata: { resourceVersion: String(revision), creationTimestamp: null } });
      },
      drop: () => response.socket?.destroy(),
    };
    const close = () => {
      clearTimeout(timeout);
      this.watchers.delete(watcher);
    };
    response.on('close', close);
    if (from === undefined || from === '0') {
      for (const object of current) if (request.matches(object)) send('ADDED', object);
    } else {
      for (const change of this.changes) if (change.revision > Number(from)) watcher.onChange(change);
    }
    this.watchers.add(watcher);
    // 0, as no timeout, leaves the server's own (here: none).
    if (request.timeoutSeconds) {
      timeout = setTimeout(() => {
        watcher.bookmark(this.lastRevision);
        close();
        response.end();
      }, request.timeoutSeconds * 1000);
    }
  }
}

/** What a watch asks for: its path's resource and namespace, its selectors and options. */
export class WatchRequest {
  readonly resourceVersion: string | undefined;
  readonly timeoutSeconds: number | undefined;
  readonly allowBookmarks: boolean;
  private readonly fields: (object: SimObject) => boolean;

  constructor(
    readonly resource: SimResource,
    readonly namespace: string | undefined,
    query: URLSearchParams,
    private readonly labels: (labels: Record<string, string>) => boolean,
  ) {
    this.resourceVersion = query.get('resourceVersion') ?? undefined;
    if (this.resourceVersion !== undefined && !/^\d+$/.test(this.resourceVersion)) throw new StatusError(400, 'BadRequest', `invalid resource version: ${this.resourceVersion}`);
    const timeout = query.get('timeoutSeconds');
    this.timeoutSeconds = timeout === null ? undefined : Number(timeout);
    if (this.timeoutSeconds !== undefined && !(Number.isInteger(this.timeoutSeconds) && this.timeoutSeconds >= 0)) throw new StatusError(400, 'BadRequest', `invalid timeoutSeconds: ${String(timeout)}`);
    this.allowBookmarks = query.get('allowWatchBookmarks') === 'true';
    this.fields = fieldMatcher(query.get('fieldSelector') ?? '');
  }

  /** Whether an object is of the watched resource, in the watched namespace. */
  isOfKind(object: SimObject): boolean {
    return object.apiVersion === `${this.resource.group}/${this.resource.version}` && object.kind === this.resource.kind && (this.namespace === undefined || object.metadata.namespace === this.namespace);
  }

  /** Whether the object is one this watch (or list) selects. */
  matches(object: SimObject): boolean {
    return this.isOfKind(object) && this.labels(object.metadata.labels ?? {}) && this.fields(object);
  }
}

/** The field selectors custom resources support, for lists and watches: `metadata.name` and `metadata.namespace` with `=`, `==` or `!=`, comma-separated. */
export function fieldMatcher(selector: string): (object: SimObject) => boolean {
  const terms = selector
    .split(',')
    .map((term) => term.trim())
    .filter(Boolean)
    .map((term) => {
      const match = /^([^=!]+)(==|=|!=)(.*)$/.exec(term);
      if (!match) throw new StatusError(400, 'BadRequest', `invalid selector: '${term}'; can't understand '${term}'`);
      const [, field = '', operator, value] = match;
      if (field !== 'metadata.name' && field !== 'metadata.namespace') throw new StatusError(400, 'BadRequest', `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
      const key = field === 'metadata.name' ? 'name' : 'namespace';
      return (object: SimObject) => (object.metadata[key] === value) === (operator !== '!=');
    });
  return (object) => terms.every((term) => term(object));
}

/**
 * The simulator's objects by key, recording every change into `history`: a new key is ADDED, a
 * replaced one MODIFIED (the caller gave it its new resourceVersion), a deleted one DELETED with a
 * resourceVersion of its own.
 */
export class WatchedObjects extends Map<string, SimObject> {
  constructor(
    private readonly history: ObjectHistory,
    private readonly nextRevision: () => string,
  ) {
    super();
  }

  override set(key: string, object: SimObject): this {
    const previous = this.get(key);
    super.set(key, object);
    this.history.record({ type: previous ? 'MODIFIED' : 'ADDED', revision: Number(object.metadata.resourceVersion), object, ...(previous ? { previous } : {}) });
    return this;
  }

  override delete(key: string): boolean {
    const object = this.get(key);
    if (!object) return false;
    super.delete(key);
    const resourceVersion = this.nextRevision();
    this.history.record({ type: 'DELETED', revision: Number(resourceVersion), object: { ...object, metadata: { ...object.metadata, resourceVersion } } });
    return true;
  }
}
