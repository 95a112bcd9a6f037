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

/** A folder on an inventory host: how messages name it, and the paths of the files in it there. */
export abstract class HostFolder {
  constructor(
    protected readonly hostName: string,
    protected readonly folder: string,
  ) {}

  get description(): string {
    return `${this.hostName}:${this.folder}`;
  }

  finalLocation(name: string): string {
    return `${this.hostName}:${this.remotePath(name)}`;
  }

  protected remotePath(name: string): string {
    return path.posix.join(this.folder, name);
  }
}
