/**
 * What every runner of the extension-host suite needs, whichever VS Code it starts (code-server here,
 * a downloaded desktop VS Code with runInElectron.ts): the suite's entry point, its workspace and how
 * a runner ends.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../support/paths';
import { FIXTURE_FILES } from './fixtures';

/** `run()` for VS Code's `extensionTestsPath` (compiled by `node esbuild.config.mjs --tests`). */
export const SUITE_ENTRY = join(REPO_ROOT, 'out', 'test', 'vscode', 'suite', 'index.js');

/** Creates `parent/workspace` holding FIXTURE_FILES (some in subfolders), the folder the suite expects open; returns its path. */
export function createSuiteWorkspace(parent: string): string {
  const workspace = join(parent, 'workspace');
  mkdirSync(workspace);
  for (const [name, content] of Object.entries(FIXTURE_FILES)) {
    mkdirSync(dirname(join(workspace, name)), { recursive: true });
    writeFileSync(join(workspace, name), content);
  }
  return workspace;
}

/** Runs a suite runner's `main`: its exit code becomes the process's; a broken harness prints why and exits 1. */
export function runSuiteRunner(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    },
  );
}
