import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** A path from a parameter: `~/` means the home folder, a relative path is relative to the workspace. */
export function resolvePath(workspaceDir: string, path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(workspaceDir, path);
}
