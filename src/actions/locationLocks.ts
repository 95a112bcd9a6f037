/**
 * The lock files of locations on other machines (see core/locks.ts): a folder on an SSH host, an S3
 * prefix, a Lease in a cluster. A folder on this machine is `folderLockStore`.
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { CUSTOM_RESOURCES, type KubeClient, type KubeObject } from '../clients/kube';
import { KubeError } from '../clients/kubeErrors';
import { S3StoreError, type S3Store } from '../clients/s3';
import { makeRemoteFolders, removeRemoteFile, SftpError, type SftpSession } from '../clients/ssh';
import type { ActionContext } from '../core/actions/spec';
import { temporarySibling } from '../core/atomicFiles';
import { printable } from '../core/render';
import { acquireLock, LOCK_FILE_NAME, STALE_AFTER_MS, type HeldLock, type LockStore } from '../core/locks';

/**
 * Written whole under a temporary name over SFTP and hard-linked to its name, which fails when a
 * lock is there (the folder made first when missing); replaced by OpenSSH's atomic rename.
 */
export function hostFolderLockStore(sftp: () => Promise<SftpSession>, folder: string, description: string): LockStore {
  const file = path.posix.join(folder, LOCK_FILE_NAME);
  const besideLock = (label: string) => path.posix.join(folder, path.basename(temporarySibling(file, label)));
  const writeWhole = async (session: SftpSession, name: string, content: string) => pipeline(Readable.from([Buffer.from(content)]), session.createFile(name));
  return {
    description,
    create: async (content) => {
      const session = await sftp();
      await makeRemoteFolders(session, folder);
      const written = besideLock('new');
      await writeWhole(session, written, content);
      try {
        await session.link(written, file);
        return true;
      } catch (error) {
        // OpenSSH answers a link onto an existing name with a plain failure: look.
        if (await session.stat(file).then(() => true, () => false)) return false;
        throw error;
      } finally {
        await removeRemoteFile(session, written);
      }
    },
    read: async () =>
      (await sftp()).readFile(file).then(
        (data) => data.toString('utf8'),
        (error: unknown) => (error instanceof SftpError && error.noSuchFile ? undefined : Promise.reject(error)),
      ),
    replace: async (content) => {
      const session = await sftp();
      const next = besideLock('next');
      await writeWhole(session, next, content);
      await session.replace(next, file);
    },
    remove: async () => removeRemoteFile(await sftp(), file),
  };
}

/** Created by a conditional write; on a store without them, two runs starting at the same moment may both write it, and the read-back lets only the last one through. */
export function s3PrefixLockStore(store: S3Store, prefix: string, description: string, signal: AbortSignal): LockStore {
  const key = `${prefix}${LOCK_FILE_NAME}`;
  return {
    description,
    create: async (content) => {
      if (await store.head(key, signal)) return false;
      try {
        await store.putBytes(key, content, { ifAbsent: true, signal });
        return true;
      } catch (error) {
        if (error instanceof S3StoreError && error.kind === 'exists') return false;
        throw error;
      }
    },
    read: async () => {
      try {
        return (await buffer((await store.getStream(key, { signal })).body)).toString('utf8');
      } catch (error) {
        if (error instanceof S3StoreError && error.kind === 'no-such-key') return undefined;
        throw error;
      }
    },
    replace: async (content) => void (await store.putBytes(key, content, { signal })),
    remove: () => store.delete(key, signal),
  };
}

/** The annotation of a Lease that holds the lock's content (who, since when, renewed when). */
const LOCK_ANNOTATION = 'lifeboat.io/lock';

/**
 * A Kubernetes Lease (coordination.k8s.io/v1), for runs in pods that share no folder: created only
 * when absent (the API server refuses a second create), the holder in an annotation and in the
 * Lease's own fields (`holderIdentity`, `renewTime`) so `kubectl get lease` names it too.
 */
export function kubeLeaseLockStore(kube: KubeClient, namespace: string, name: string, description: string): LockStore {
  const resource = CUSTOM_RESOURCES.lease;
  const leaseFields = (content: string, renewed: string) => ({
    holderIdentity: holderIdentity(content),
    leaseDurationSeconds: STALE_AFTER_MS / 1000,
    renewTime: renewed,
  });
  const absent = (error: unknown) => error instanceof KubeError && error.failure === 'not-found';
  return {
    description,
    create: async (content) => {
      const now = microTime();
      try {
        await kube.createObject(resource, namespace, {
          apiVersion: `${resource.group}/${resource.version}`,
          kind: resource.kind,
          metadata: { name, annotations: { [LOCK_ANNOTATION]: content } },
          spec: { ...leaseFields(content, now), acquireTime: now },
        });
        return true;
      } catch (error) {
        if (error instanceof KubeError && error.failure === 'conflict') return false;
        throw error;
      }
    },
    read: async () => {
      let lease: KubeObject;
      try {
        lease = await kube.getObject(resource, namespace, name);
      } catch (error) {
        if (absent(error)) return undefined;
        throw error;
      }
      const content = lease.metadata.annotations?.[LOCK_ANNOTATION];
      // Another program's Lease (a controller's leader election) is never taken over, however old.
      if (content === undefined) throw new Error(`${description} exists and is not a Lifeboat lock (held by ${printable(String(lease.spec?.holderIdentity ?? 'no one'))}); Lifeboat leaves it alone: choose another Lease name`);
      return content;
    },
    replace: async (content) => void (await kube.patchObject(resource, namespace, name, { metadata: { annotations: { [LOCK_ANNOTATION]: content } }, spec: leaseFields(content, microTime()) })),
    remove: async () => kube.deleteObject(resource, namespace, name).catch((error: unknown) => (absent(error) ? undefined : Promise.reject(error))),
  };
}

/** A Lease's times are MicroTime: RFC 3339 with microseconds. */
function microTime(date = new Date()): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

/** "pid 4121 on mirror-7c9d…" from the lock's content, for `kubectl get lease`; the content itself stays as written. */
function holderIdentity(content: string): string {
  try {
    const holder = JSON.parse(content) as { pid?: unknown; host?: unknown };
    return `pid ${String(holder.pid)} on ${String(holder.host)}`;
  } catch {
    return 'lifeboat';
  }
}

/** Takes the lock of a location for the step `action` runs, naming its runbook to whoever finds it. */
export function lockLocation(store: LockStore, action: string, ctx: ActionContext): Promise<HeldLock> {
  return acquireLock(store, { action, runbook: ctx.runbook }, ctx.log);
}
