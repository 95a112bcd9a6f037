import path from 'node:path';
import { expandHome } from '../core/paths';

/**
 * Resolves a path from action parameters the way a person means it: `~/x` is under their home,
 * anything relative is under the workspace.
 */
export function resolveUserPath(input: string, workspaceDir: string): string {
  return path.resolve(workspaceDir, expandHome(input));
}

/** True when `candidate` is `root` itself or lies below it (both absolute, already resolved). */
export function isInsideOrEqual(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  if (relative === '') return true;
  return relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/** Archive entry names always use `/`, whatever the platform. */
export function toPosixPath(relative: string): string {
  return relative.split(path.sep).join('/');
}
