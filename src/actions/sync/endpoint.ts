import { posix } from 'node:path';
import * as z from 'zod';
import type { SshConnection } from '../../clients/ssh';
import { sshConnectionFor } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';

/** A folder on an inventory host, as sync and tier parameters name it. */
export const hostFolderParam = z
  .object({
    host: z.string().min(1).describe('A host of `hosts:` in lifeboat.yaml, or an alias of ~/.ssh/config.'),
    path: z
      .string()
      .min(1)
      .refine((path) => path.startsWith('/'), 'expected an absolute path on that host, starting with /')
      .refine((path) => !path.includes('\0'), 'a path cannot contain a NUL byte')
      .refine((path) => !path.split('/').includes('..'), 'a path cannot go up with ..')
      .describe('Absolute folder on that host.'),
  })
  .strict();

export type HostFolderParam = z.output<typeof hostFolderParam>;

/** One side of a transfer: the folder, how messages name it, and the connection to its host. */
export interface Endpoint {
  host: string;
  /** The folder without a trailing slash (`/` stays `/`). */
  path: string;
  connection: SshConnection;
}

export function describeEndpoint(endpoint: Pick<Endpoint, 'host' | 'path'>): string {
  return `${endpoint.host}:${endpoint.path}`;
}

export function normalizedFolder(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

export async function openEndpoint(folder: HostFolderParam, ctx: ActionContext): Promise<Endpoint> {
  const connection = await sshConnectionFor(ctx.clients, ctx.inventory, folder.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
  return { host: folder.host, path: normalizedFolder(folder.path), connection };
}

/** Whether a program is on the host's PATH, as its login shell finds it. */
export async function hostHasProgram(connection: SshConnection, program: string, signal: AbortSignal): Promise<boolean> {
  const result = await connection.exec(['sh', '-c', 'command -v "$1" >/dev/null 2>&1', 'sh', program], { signal });
  return result.exitCode === 0;
}
