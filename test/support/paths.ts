import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root, found from wherever the compiled test runs. */
export const REPO_ROOT = (() => {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'cli', 'main.ts'))) return dir;
  }
  throw new Error(`no repository root above ${__dirname}`);
})();

/** The contracts of the outside systems the simulators follow, with their sources (README.md there). */
export const CONTRACT_FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'contracts');

/**
 * Markdown files that must survive parse → serialize byte for byte: the runbooks the project ships and
 * runbooks written for the test around Markdown's edge cases (line endings, fences, HTML, whitespace).
 */
export function roundTripRunbooks(): string[] {
  const runbooks = join(REPO_ROOT, 'runbooks');
  const fixtures = join(REPO_ROOT, 'test', 'fixtures', 'runbooks');
  return [
    ...readdirSync(runbooks).filter((file) => file.endsWith('.runbook.md')).map((file) => join(runbooks, file)),
    ...readdirSync(fixtures).filter((file) => file.endsWith('.md') && file !== 'README.md').map((file) => join(fixtures, file)),
  ];
}

export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

/** Fails before anything starts, naming each missing file and what makes it. */
export function requireFiles(files: ReadonlyArray<readonly [path: string, hint: string]>): void {
  const missing = files.filter(([path]) => !existsSync(path)).map(([path, hint]) => `missing ${path}: ${hint}`);
  if (missing.length > 0) throw new Error(missing.join('\n'));
}
