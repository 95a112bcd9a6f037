import { homedir } from 'node:os';
import { join } from 'node:path';

/** `~` and `~/…` mean the user's home folder, as in a shell. */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}
