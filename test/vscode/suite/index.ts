import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';
import type { SuiteResult } from '../protocol';
import { EXTENSION_HOST_LABEL, RESULT_MARKER } from '../protocol';

const ACTIVATION_TEST = 'extension.test.js';

/**
 * Entry point VS Code loads from `extensionTestsPath` inside the extension host (the same contract as
 * `@vscode/test-electron`). It rejects when a test fails, which makes the workbench report exit code 1.
 */
export async function run(): Promise<void> {
  const result = await runMocha();
  log(`${RESULT_MARKER} ${JSON.stringify(result)}`);
  if (result.failures > 0) throw new Error(`${result.failures} extension-host test(s) failed`);
  // Nothing may be skipped silently: a suite that ran nothing is a broken harness, not a pass.
  if (result.passes === 0) throw new Error('no extension-host test ran');
}

/**
 * Logs a line the runner forwards. Under test, VS Code hands the extension host's console to the
 * workbench's log service, where it looks like the workbench's own lines, and it ignores assignments
 * to `console.*`; so the suite labels its own output instead. VS Code also drops console calls whose
 * first argument is not a string (mocha's blank lines): the label keeps them.
 */
function log(...args: unknown[]): void {
  const [first, ...rest] = args;
  if (typeof first === 'string') console.log(`${EXTENSION_HOST_LABEL} ${first}`, ...rest);
  else console.log(EXTENSION_HOST_LABEL, ...args);
}

async function runMocha(): Promise<SuiteResult> {
  // The spec reporter writes through this hook.
  Mocha.reporters.Base.consoleLog = log;
  // No colours: the output is read from a browser console, not a terminal.
  const mocha = new Mocha({ ui: 'tdd', color: false, reporter: 'spec', timeout: 30_000 });
  // The activation test runs first: any other test that opens a runbook would activate the extension.
  const files = readdirSync(__dirname)
    .filter((file) => file.endsWith('.test.js'))
    .sort((a, b) => Number(b === ACTIVATION_TEST) - Number(a === ACTIVATION_TEST) || a.localeCompare(b));
  if (files.length === 0) throw new Error(`no compiled tests in ${__dirname}`);
  for (const file of files) mocha.addFile(join(__dirname, file));

  return new Promise<SuiteResult>((resolve) => {
    const runner = mocha.run(() => {
      const { passes = 0, failures = 0, pending = 0 } = runner.stats ?? {};
      resolve({ passes, failures, pending });
    });
  });
}
