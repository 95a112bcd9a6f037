import type { S3ListPage, S3ObjectInfo } from '../../clients/s3';
import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, joinPath, type DeclaredNode, type DeclaredOperation, type NodeStatus, type Page, type PageRequest } from '../../core/browse/node';
import { formatAge, formatBytes, markdownEscape, printable } from '../../core/render';
import { s3StoreFor } from '../s3Stores';
import { s3Check } from './check';
import { CONTROL_CHARACTER } from './fields';
import { s3LifecycleGet } from './lifecycle';

export const S3_ROOT = 's3';
/** S3 answers at most this many keys and prefixes a request. */
const MAX_PAGE = 1000;

type StoreEntry = NonNullable<BrowseSession['ctx']['inventory']['stores']>[string];

function endpointOf(entry: StoreEntry): string {
  return entry.endpoint ?? `AWS S3 (${entry.region})`;
}

function storeOperations(store: string): DeclaredOperation[] {
  return [
    { kind: 'action', id: 'check', label: 'Check', action: s3Check.id, params: { store } },
    { kind: 'action', id: 'lifecycle', label: 'Lifecycle Rules', action: s3LifecycleGet.id, params: { store } },
  ];
}

function storeNode(name: string, entry: StoreEntry, inventoryFile: string): DeclaredNode {
  const insecure = entry.tls?.insecure === true;
  const status: NodeStatus | undefined = insecure ? { level: 'warning', reason: 'TLS verification is off for this store (tls.insecure: true)' } : undefined;
  const tooltip = [
    `**S3 store ${markdownEscape(name)}**`,
    '',
    `- Bucket: ${markdownEscape(entry.bucket)}`,
    `- Endpoint: ${markdownEscape(endpointOf(entry))}, region ${markdownEscape(entry.region)}`,
    `- Credentials: ${entry.credentials ? 'secret references of lifeboat.yaml' : 'the AWS credential chain'}`,
    ...(entry.caFile ? [`- Certificate authority: ${markdownEscape(entry.caFile)}`] : []),
    ...(insecure ? ['- $(warning) TLS verification is off (`tls.insecure: true`)'] : []),
    `- From ${markdownEscape(inventoryFile)}`,
  ];
  return {
    path: joinPath(S3_ROOT, name),
    kind: 's3.store',
    label: name,
    description: `${entry.bucket} · ${endpointOf(entry)}${insecure ? ' · TLS not verified' : ''}`,
    tooltip: tooltip.join('\n'),
    icon: insecure ? 'warning' : 'database',
    ...(status ? { status } : {}),
    hasChildren: true,
    operations: storeOperations(name),
    facts: { name, bucket: entry.bucket, endpoint: endpointOf(entry), region: entry.region, insecure },
  };
}

function bucketNode(store: string, entry: StoreEntry): DeclaredNode {
  return {
    path: joinPath(S3_ROOT, store, entry.bucket),
    kind: 's3.bucket',
    label: entry.bucket,
    description: endpointOf(entry),
    tooltip: `**Bucket ${markdownEscape(entry.bucket)}** of store ${markdownEscape(store)}: its top-level prefixes and objects. A filter lists the keys that start with it (S3 filters by prefix, case-sensitively).`,
    icon: 'archive',
    hasChildren: true,
    operations: [{ kind: 'action', id: 'lifecycle', label: 'Lifecycle Rules', action: s3LifecycleGet.id, params: { store } }],
    facts: { store, bucket: entry.bucket },
  };
}

function prefixNode(at: string, store: string, bucket: string, parentPrefix: string, prefix: string): DeclaredNode {
  const name = prefix.slice(parentPrefix.length);
  return {
    path: childPath(at, name),
    kind: 's3.prefix',
    label: printable(name),
    tooltip: `**${markdownEscape(printable(prefix))}** in bucket ${markdownEscape(bucket)}`,
    icon: 'folder',
    hasChildren: true,
    operations: [{ kind: 'action', id: 'check', label: 'Check Permissions Here', action: s3Check.id, params: { store, prefix } }],
    facts: { store, bucket, prefix },
  };
}

function objectNode(at: string, store: string, bucket: string, parentPrefix: string, object: S3ObjectInfo): DeclaredNode {
  const name = object.key.slice(parentPrefix.length);
  const storageClass = object.storageClass ?? 'STANDARD';
  const age = object.lastModified ? formatAge(object.lastModified) : undefined;
  const tooltip = [
    `**${markdownEscape(printable(object.key))}**`,
    '',
    `- Size: ${formatBytes(object.size)} (${object.size} bytes)`,
    `- Storage class: ${markdownEscape(storageClass)}`,
    ...(object.lastModified ? [`- Last modified: ${object.lastModified.toISOString()} (${age})`] : []),
    ...(object.etag ? [`- ETag: ${markdownEscape(object.etag)}`] : []),
  ];
  return {
    path: childPath(at, name),
    kind: 's3.object',
    label: printable(name),
    description: [formatBytes(object.size), storageClass, age].filter(Boolean).join(' · '),
    tooltip: tooltip.join('\n'),
    icon: 'file',
    hasChildren: false,
    facts: { store, bucket, key: object.key, size: object.size, storageClass, lastModified: object.lastModified?.toISOString() ?? null },
  };
}

/**
 * The prefixes and objects directly below a prefix, a page at a time, as S3 lists them (by key).
 * The filter is pushed down: S3 lists only the keys that start with the prefix and the filter.
 */
async function prefixChildren(store: string, entry: StoreEntry, prefix: string, at: string, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const filter = request.filter ?? '';
  if (CONTROL_CHARACTER.test(filter)) throw new Error(`filter: '${printable(filter)}' has a control character, which S3 keys here may not hold`);
  const maxKeys = Math.min(MAX_PAGE, Math.max(1, request.limit));
  const key = childPath(at, `!page ${maxKeys} ${filter} ${request.cursor ?? ''}`);
  const page = await session.cached<S3ListPage>(key, async () =>
    (await s3StoreFor(session.ctx, store)).listPage({ prefix: prefix + filter, delimiter: '/', maxKeys, signal: session.ctx.signal, ...(request.cursor ? { continuationToken: request.cursor } : {}) }),
  );
  const nodes = [
    ...page.prefixes.map((child) => prefixNode(at, store, entry.bucket, prefix, child)),
    // A "folder" marker (the key of the prefix itself) is the prefix node, not an object below it.
    ...page.objects.filter((object) => object.key !== prefix).map((object) => objectNode(at, store, entry.bucket, prefix, object)),
  ];
  if (nodes.length === 0 && !request.cursor && !page.nextToken) {
    const where = prefix ? `under ${printable(prefix)}` : `in bucket ${printable(entry.bucket)}`;
    return { nodes: [emptyNode(at, filter ? `No keys ${where} start with '${printable(filter)}'` : `No objects ${where}`)] };
  }
  return page.nextToken ? { nodes, next: page.nextToken } : { nodes };
}

/** The S3 stores of `stores:`: each one's bucket, its prefixes (as folders, split at '/') and objects with size, storage class and age. */
export const s3Browser: Browser = {
  root: S3_ROOT,
  roots(session) {
    return Object.entries(session.ctx.inventory.stores ?? {}).map(([name, entry]) => storeNode(name, entry, session.inventoryFile));
  },
  async children(path, request, session) {
    const [, store, bucket, ...segments] = path;
    const entry = store === undefined ? undefined : session.ctx.inventory.stores?.[store];
    if (store === undefined || !entry) return { nodes: [] };
    if (bucket === undefined) return { nodes: [bucketNode(store, entry)], total: 1 };
    // Every segment below the bucket is a prefix ending in '/'; an object (the last one without) has no children.
    if (bucket !== entry.bucket || segments.some((segment) => !segment.endsWith('/'))) return { nodes: [] };
    return prefixChildren(store, entry, segments.join(''), joinPath(...path), request, session);
  },
};
