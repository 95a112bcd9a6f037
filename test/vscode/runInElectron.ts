/**
 * Runs the extension-host suite (out/test/vscode/suite/index.js) in a desktop VS Code downloaded by
 * @vscode/test-electron: the standard runner, for machines that can reach Microsoft's update servers
 * (and have a display, or xvfb-run). Machines that cannot use runInCodeServer.ts, which loads the very
 * same suite into code-server.
 *
 * Builds nothing: expects dist/ and out/ from `node esbuild.config.mjs --tests`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { REPO_ROOT, requireFiles } from '../support/paths';
import { createSuiteWorkspace, runSuiteRunner, SUITE_ENTRY } from './suiteWorkspace';

/** Error codes of a download that cannot reach the server, as opposed to a failing suite. */
const OFFLINE = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH)\b/;

async function main(): Promise<number> {
  requireFiles([
    [SUITE_ENTRY, 'run node esbuild.config.mjs --tests'],
    [join(REPO_ROOT, 'dist', 'extension.js'), 'run node esbuild.config.mjs'],
  ]);
  const temp = mkdtempSync(join(tmpdir(), 'lifeboat-electron-'));
  try {
    const workspace = createSuiteWorkspace(temp);
    await runTests({
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: SUITE_ENTRY,
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    });
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (OFFLINE.test(message)) {
      console.error(
        `Could not download VS Code (${message}).\n` +
          '@vscode/test-electron needs to reach update.code.visualstudio.com. On a machine without that access, ' +
          'run the same suite in code-server instead: npm run test:vscode',
      );
    } else {
      console.error(`The extension-host suite failed in VS Code: ${message}`);
    }
    return 1;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

runSuiteRunner(main);
