/**
 * Runs the extension-host suite (out/test/vscode/suite/index.js) inside a real VS Code: code-server
 * from .test-tools/ (scripts/setup-code-server.sh), driven by Debian chromium through playwright-core.
 * Machines that can download VS Code can load the same suite with runInElectron.ts
 * (@vscode/test-electron); here nothing can be downloaded (see TESTBED.md, "A real VS Code on these
 * machines").
 *
 * Builds nothing: expects dist/ and out/ from `node esbuild.config.mjs --tests`.
 * Ends with "N passed, N failed" and exits non-zero on a failure, a timeout or a broken harness.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { REPO_ROOT, requireFiles } from '../support/paths';
import type { CodeServer } from './codeServer';
import { launchChromium, openPage, saveScreenshot, startCodeServer, stopCodeServer, stopOnInterrupt, workbenchUrl } from './codeServer';
import type { SuiteResult } from './protocol';
import { EXTENSION_HOST_LABEL, RESULT_MARKER } from './protocol';
import { createSuiteWorkspace, runSuiteRunner, SUITE_ENTRY } from './suiteWorkspace';

/** From loading the workbench to the suite's exit, which takes ~7 s here; generous for a busy machine. */
const TIMEOUT_MS = 120_000;

interface Outcome {
  /** What the workbench passed to `codeAutomationExit`: 0 when `run()` resolved. */
  exitCode: number;
  result: SuiteResult | undefined;
  /** The workbench's console lines that did not come from the suite. */
  workbenchLog: string[];
}

async function main(): Promise<number> {
  requireFiles([
    [SUITE_ENTRY, 'run node esbuild.config.mjs --tests'],
    [join(REPO_ROOT, 'dist', 'extension.js'), 'run node esbuild.config.mjs'],
  ]);

  const started = Date.now();
  const temp = mkdtempSync(join(tmpdir(), 'lifeboat-vscode-'));
  const workspace = createSuiteWorkspace(temp);

  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let passed = false;
  try {
    server = startCodeServer(temp, workspace);
    stopOnInterrupt(server, () => rmSync(temp, { recursive: true, force: true }));
    const address = await server.address;

    browser = await launchChromium();
    page = await openPage(browser);
    const outcome = await runSuite(page, workbenchUrl(address, workspace, SUITE_ENTRY.replace(/\.js$/, '')));
    const { result } = outcome;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (!result) {
      console.error(`\nThe suite ended (exit code ${outcome.exitCode}) without reporting its results.`);
    } else {
      console.log(`\n${result.passes} passed, ${result.failures} failed${result.pending ? `, ${result.pending} skipped` : ''} (VS Code in code-server, ${seconds} s)`);
    }
    passed = outcome.exitCode === 0 && result !== undefined && result.failures === 0 && result.passes > 0;
    if (!passed) printWorkbenchLog(outcome.workbenchLog);
  } finally {
    if (!passed && server && server.log.length > 0) console.error(`\ncode-server output:\n${server.log.join('').trimEnd()}`);
    if (!passed && page) await saveScreenshot(page, `vscode-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    await browser?.close().catch(() => undefined);
    if (server) await stopCodeServer(server);
    rmSync(temp, { recursive: true, force: true });
  }
  return passed ? 0 : 1;
}

async function runSuite(page: Page, url: string): Promise<Outcome> {
  let result: SuiteResult | undefined;
  const workbenchLog: string[] = [];
  // Arguments arrive as handles to read one by one; a chain keeps the lines in their order.
  let forwarded = Promise.resolve();
  page.on('console', (message) => {
    forwarded = forwarded.then(async () => {
      const line = await readConsoleMessage(message);
      if (!line.fromSuite) workbenchLog.push(line.text);
      else if (line.text.startsWith(RESULT_MARKER)) result = JSON.parse(line.text.slice(RESULT_MARKER.length)) as SuiteResult;
      else console.log(line.text);
    });
  });
  page.on('pageerror', (error) => workbenchLog.push(`uncaught: ${error.message}`));

  let settle: (code: number) => void = () => undefined;
  const exitCode = new Promise<number>((resolve) => {
    settle = resolve;
  });
  // The workbench calls this when the extension tests settle, instead of closing a desktop window.
  // Exposed before loading the page, so it exists when the workbench looks for it.
  await page.exposeFunction('codeAutomationExit', (code: number) => settle(code));

  await page.goto(url);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the suite did not finish within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
  });
  try {
    const code = await Promise.race([exitCode, timeout]);
    await forwarded;
    return { exitCode: code, result, workbenchLog };
  } catch (error) {
    await forwarded;
    printWorkbenchLog(workbenchLog);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

interface ConsoleLine {
  /** Labelled by the suite; everything else is the workbench's log (and unlabelled extension host output). */
  fromSuite: boolean;
  text: string;
}

/**
 * The workbench's log service writes `console.log('%c INFO', 'color: …', message, ...args)`. Returns
 * the message formatted as Node would have printed it, with its level unless it is INFO.
 */
async function readConsoleMessage(message: ConsoleMessage): Promise<ConsoleLine> {
  const values = await Promise.all(message.args().map((handle) => handle.jsonValue().catch(() => '[unserializable]') as Promise<unknown>));
  const [level, , first, ...rest] = values;
  if (typeof level !== 'string' || !level.startsWith('%c') || typeof first !== 'string') return { fromSuite: false, text: `${message.type()}: ${message.text()}` };
  const severity = level.slice(2).trim();
  const fromSuite = first.startsWith(EXTENSION_HOST_LABEL);
  const text = format(fromSuite ? first.slice(EXTENSION_HOST_LABEL.length).replace(/^ /, '') : first, ...rest);
  return { fromSuite, text: severity === 'INFO' ? text : `${severity} ${text}` };
}

/** Shown only when a run fails: in a passing run it is noise (offline gallery errors, service workers). */
function printWorkbenchLog(lines: readonly string[]): void {
  if (lines.length > 0) console.error(`\nWorkbench log:\n${lines.map((line) => `  ${line}`).join('\n')}`);
}

runSuiteRunner(main);
