import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root, found from wherever the compiled test runs. */
export const REPO_ROOT = (() => {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'cli', 'main.ts'))) return dir;
  }
  throw new Error(`no repository root above ${__dirname}`);
})();

/** `shared/` sits beside the repository (seeds, contracts). */
export const SEEDS_DIR = join(REPO_ROOT, '..', 'shared', 'seeds');
/** The contracts of the outside systems the simulators follow. */
export const CONTRACTS_DIR = join(REPO_ROOT, '..', 'shared', 'contracts');

export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

/** Fails before anything starts, naming each missing file and what makes it. */
export function requireFiles(files: ReadonlyArray<readonly [path: string, hint: string]>): void {
  const missing = files.filter(([path]) => !existsSync(path)).map(([path, hint]) => `missing ${path}: ${hint}`);
  if (missing.length > 0) throw new Error(missing.join('\n'));
}
