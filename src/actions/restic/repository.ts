/**
 * A restic repository of the inventory, opened for one run: its password from the secrets, an S3
 * store's credentials and CA, an `sftp:` host's SSH settings, and where restic runs (here, or on an
 * inventory host over SSH).
 */
import * as z from 'zod';
import { ResticRepository, type ResticRepositoryConfig } from '../../clients/restic';
import { resticOverSsh } from '../../clients/resticRemote';
import { resolveSshTarget, sshConnectionFor, type SshTarget } from '../../clients/ssh';
import type { ActionContext, Inventory } from '../../core/actions/spec';
import { secretName } from '../../core/secrets';

export const repositoryParam = z.string().min(1).describe('A restic repository of `repositories:` in lifeboat.yaml.');

/** A snapshot id (full or short) or `latest`; never taken for an option, as restic reads it after `--`. */
export const snapshotParam = z
  .string()
  .min(1)
  .regex(/^(latest|[0-9a-f]{4,64})$/, 'expected a snapshot id (hexadecimal, 4 to 64 digits) or latest')
  .describe('A snapshot id (the short one will do) or `latest`.');

/** `sftp:NAME:/path`: NAME is a host of the inventory when it has no `@` and names one. */
const SFTP_INVENTORY_HOST = /^sftp:([^@:/][^:/]*):(.+)$/;

/** One word of restic's `sftp.command`, which restic splits at spaces honouring single and double quotes (no escapes). */
function sftpCommandWord(word: string): string {
  if (/^[^\s'"]+$/.test(word)) return word;
  if (!word.includes('"')) return `"${word}"`;
  if (!word.includes("'")) return `'${word}'`;
  throw new Error(`'${word}' holds both quote characters, which restic's sftp.command cannot carry`);
}

/** The `ssh … -s sftp` restic starts for an `sftp:` repository on an inventory host: that host's port, user, key and known_hosts, its host key checked. */
export function sftpCommand(target: SshTarget, proxyJump?: string): string {
  const words = [
    'ssh',
    '-p', String(target.port),
    '-l', target.user,
    ...target.identityFiles.flatMap((file) => ['-i', file]),
    ...(target.knownHostsFiles[0] ? ['-o', `UserKnownHostsFile=${target.knownHostsFiles[0]}`] : []),
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    ...(proxyJump ? ['-J', proxyJump] : []),
    // The subsystem's name follows the host: `ssh -s host sftp`; after `--` a host cannot pass for an option.
    '-s', '--', target.host, 'sftp',
  ];
  return words.map(sftpCommandWord).join(' ');
}

async function resolveValue(ctx: ActionContext, value: string): Promise<string> {
  const secret = secretName(value);
  return secret === undefined ? value : ctx.secrets.resolve(secret);
}

export function repositoryEntry(inventory: Inventory, name: string): NonNullable<Inventory['repositories']>[string] {
  const entry = inventory.repositories?.[name];
  if (!entry) throw new Error(`no restic repository '${name}' under \`repositories:\` in lifeboat.yaml`);
  return entry;
}

async function repositoryConfig(ctx: ActionContext, name: string): Promise<ResticRepositoryConfig> {
  const entry = repositoryEntry(ctx.inventory, name);
  const config: ResticRepositoryConfig = { repository: entry.repository, password: await resolveValue(ctx, entry.password) };
  if (entry.store) {
    const store = ctx.inventory.stores?.[entry.store];
    if (!store) throw new Error(`repository '${name}' names the S3 store '${entry.store}', which is not under \`stores:\` in lifeboat.yaml`);
    const env: Record<string, string> = {};
    if (store.credentials) {
      env.AWS_ACCESS_KEY_ID = await resolveValue(ctx, store.credentials.accessKeyId);
      env.AWS_SECRET_ACCESS_KEY = await resolveValue(ctx, store.credentials.secretAccessKey);
    } else if (store.profile) {
      env.AWS_PROFILE = store.profile;
    }
    config.env = env;
    config.options = { 's3.region': store.region, ...(store.pathStyle ?? store.endpoint !== undefined ? { 's3.bucket-lookup': 'path' } : {}) };
    if (store.caFile) config.caFile = store.caFile;
    if (store.tls?.insecure) {
      ctx.log.warn(`TLS verification is off for restic repository '${name}' (store '${entry.store}' has insecure: true)`);
      config.insecureTls = true;
    }
  }
  const sftpHost = SFTP_INVENTORY_HOST.exec(entry.repository)?.[1];
  const hostEntry = sftpHost === undefined ? undefined : ctx.inventory.hosts?.[sftpHost];
  if (sftpHost !== undefined && hostEntry) {
    if (entry.host) throw new Error(`repository '${name}': an sftp: repository on inventory host '${sftpHost}' is reached from this machine; leave out \`host\` (or write the sftp: address as that host sees it)`);
    const target = await resolveSshTarget(sftpHost, hostEntry);
    config.options = { ...config.options, 'sftp.command': sftpCommand(target, hostEntry.proxyJump) };
  }
  if (entry.host) {
    if (!ctx.inventory.hosts?.[entry.host]) throw new Error(`repository '${name}' runs restic on host '${entry.host}', which is not under \`hosts:\` in lifeboat.yaml`);
    const connection = await sshConnectionFor(ctx.clients, ctx.inventory, entry.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
    config.runner = resticOverSsh(connection, entry.host);
  }
  return config;
}

/** The repository for this run, opened on first use and shared by its later steps (one version check, one SSH connection). */
export async function openRepository(ctx: ActionContext, name: string): Promise<ResticRepository> {
  const opened = await ctx.clients.get(`restic:${name}`, async () => ({ repository: new ResticRepository(await repositoryConfig(ctx, name)), dispose: () => undefined }));
  return opened.repository;
}

/** `restic 0.14.0 on host nas`, as results say which restic ran. */
export async function ranBy(repository: ResticRepository, signal: AbortSignal): Promise<string> {
  await repository.versionOf({ signal });
  const where = repository.config.runner?.where;
  return `restic ${repository.versionText()}${where ? ` ${where}` : ''}`;
}
