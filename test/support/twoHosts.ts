/**
 * Two real sshd servers on loopback standing for two hosts (a Pi 4 and a Pi 5), each with its own
 * folder, and helpers to read a folder tree the way a transfer must keep it: type, mode, whole-second
 * modification time and content.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Inventory } from '../../src/core/actions/spec';
import type { Sshd } from '../testbed/sshd';
import { startSshd } from '../testbed/sshd';

export interface TwoHosts {
  pi4: Sshd;
  pi5: Sshd;
  inventory: Inventory;
  stop(): Promise<void>;
}

export function hostEntry(sshd: Sshd, port = sshd.port) {
  return { host: sshd.host, port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath };
}

/** `pi4Config`/`pi5Config`: more sshd_config lines for that host (a PATH without rsync). */
export async function startTwoHosts(options: { pi4Config?: string[]; pi5Config?: string[] } = {}): Promise<TwoHosts> {
  const pi4 = await startSshd({ config: options.pi4Config });
  const pi5 = await startSshd({ config: options.pi5Config }).catch(async (error: unknown) => {
    await pi4.stop();
    throw error;
  });
  return {
    pi4,
    pi5,
    inventory: { hosts: { pi4: hostEntry(pi4), pi5: hostEntry(pi5) } } as Inventory,
    async stop() {
      await Promise.all([pi4.stop(), pi5.stop()]);
    },
  };
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'link';
  mode: number;
  mtimeSeconds: number;
  /** sha256 of a file's bytes, or a link's target. */
  content: string;
}

/** Every entry below `root`, by relative path. Folder times are left out where `withFolderTimes` is false. */
export async function readTree(root: string, options: { withFolderTimes?: boolean } = {}): Promise<Map<string, TreeEntry>> {
  const tree = new Map<string, TreeEntry>();
  const walk = async (dir: string, prefix: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const relative = prefix ? `${prefix}/${name}` : name;
      const stats = await lstat(path);
      const mode = stats.mode & 0o7777;
      const mtimeSeconds = Math.floor(stats.mtimeMs / 1000);
      if (stats.isSymbolicLink()) tree.set(relative, { type: 'link', mode: 0, mtimeSeconds: 0, content: await readlink(path) });
      else if (stats.isDirectory()) {
        tree.set(relative, { type: 'dir', mode, mtimeSeconds: options.withFolderTimes === false ? 0 : mtimeSeconds, content: '' });
        await walk(path, relative);
      } else tree.set(relative, { type: 'file', mode, mtimeSeconds, content: createHash('sha256').update(await readFile(path)).digest('hex') });
    }
  };
  await walk(root, '');
  return tree;
}
