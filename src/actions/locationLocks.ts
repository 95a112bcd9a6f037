/**
 * The lock files of locations on other machines (see core/locks.ts): a folder on an SSH host, an S3
 * prefix. A folder on this machine is `folderLockStore`.
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { S3StoreError, type S3Store } from '../clients/s3';
import { makeRemoteFolders, removeRemoteFile, SftpError, type SftpSession } from '../clients/ssh';
import type { ActionContext } from '../core/actions/spec';
import { temporarySibling } from '../core/atomicFiles';
import { acquireLock, LOCK_FILE_NAME, type HeldLock, type LockStore } from '../core/locks';

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

/** Takes the lock of a location for the step `action` runs, naming its runbook to whoever finds it. */
export function lockLocation(store: LockStore, action: string, ctx: ActionContext): Promise<HeldLock> {
  return acquireLock(store, { action, runbook: ctx.runbook }, ctx.log);
}
