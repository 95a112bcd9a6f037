import { homedir } from 'node:os';
import { join } from 'node:path';

/** The workspace's inventory, at its root; here rather than beside the YAML reader so views can name it without loading YAML. */
export const INVENTORY_FILE = 'lifeboat.yaml';

/** `~` and `~/…` mean the user's home folder, as in a shell. */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}
