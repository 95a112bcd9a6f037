/**
 * Where a Backrest installation keeps its config.json: a file here, or on an SSH host (read over
 * SFTP). On a host, restic runs there too, as Backrest runs it, so repository paths and the
 * environment mean what they mean to Backrest.
 */
import path from 'node:path';
import { sshConnectionFor, SftpError } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';
import { ValidationError } from '../../core/errors';
import { decodeText, readTextFile, TEXT_FILE_LIMITS } from '../../core/textFiles';
import { parseBackrestConfig, type BackrestConfig } from './config';

export interface BackrestSource {
  /** The config.json: on `host` an absolute path there, here relative to the workspace. */
  config: string;
  /** An inventory host (or ssh alias) Backrest runs on. */
  host?: string;
}

export interface LoadedBackrestConfig {
  config: BackrestConfig;
  /** `nas:/opt/backrest/config/config.json` or the local path, as messages name it. */
  shownAs: string;
}

const LIMIT = TEXT_FILE_LIMITS['Backrest config'];

async function readHere(ctx: ActionContext, file: string): Promise<string> {
  const absolute = path.resolve(ctx.workspaceDir, file);
  try {
    return await readTextFile(absolute, 'Backrest config', file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ValidationError([{ file, message: 'no such file: give the path of Backrest\'s config.json (in its container usually /config/config.json; on a host ~/.config/backrest/config.json)' }]);
    if (code === 'EISDIR') throw new ValidationError([{ file, message: 'is a folder, not Backrest\'s config.json' }]);
    throw error;
  }
}

async function readOnHost(ctx: ActionContext, host: string, file: string): Promise<string> {
  const shownAs = `${host}:${file}`;
  const connection = await sshConnectionFor(ctx.clients, ctx.inventory, host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
  const sftp = await connection.sftp();
  try {
    const { size, isDirectory } = await sftp.stat(file);
    if (isDirectory) throw new ValidationError([{ file: shownAs, message: 'is a folder, not Backrest\'s config.json' }]);
    if (size > LIMIT) throw new ValidationError([{ file: shownAs, message: `too large: ${size} bytes, and a Backrest config is read only up to ${LIMIT} bytes` }]);
    return decodeText(await sftp.readFile(file), 'Backrest config', shownAs);
  } catch (error) {
    if (error instanceof SftpError && error.noSuchFile) throw new ValidationError([{ file: shownAs, message: 'no such file on the host: give the path of Backrest\'s config.json there' }]);
    throw error;
  }
}

export async function loadBackrestConfig(ctx: ActionContext, source: BackrestSource): Promise<LoadedBackrestConfig> {
  const shownAs = source.host ? `${source.host}:${source.config}` : source.config;
  const text = source.host ? await readOnHost(ctx, source.host, source.config) : await readHere(ctx, source.config);
  return { config: parseBackrestConfig(text, shownAs), shownAs };
}
