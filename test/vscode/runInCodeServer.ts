/**
 * Runs the extension-host suite (out/test/vscode/suite/index.js) inside a real VS Code: code-server
 * from .test-tools/ (scripts/setup-code-server.sh), driven by Debian chromium through playwright-core.
 * Machines that can download VS Code would load the same suite with @vscode/test-electron; here
 * nothing can be downloaded (see TESTBED.md, "A real VS Code on these machines").
 *
 * Builds nothing: expects dist/ and out/ from `node esbuild.config.mjs --tests`.
 * Ends with "N passed, N failed" and exits non-zero on a failure, a timeout or a broken harness.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { format } from 'node:util';
import { chromium } from 'playwright-core';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { REPO_ROOT } from '../support/paths';
import { FIXTURE_FILES } from './fixtures';
import type { SuiteResult } from './protocol';
import { EXTENSION_HOST_LABEL, RESULT_MARKER } from './protocol';

const CODE_SERVER = join(REPO_ROOT, '.test-tools', 'code-server', 'node_modules', '.bin', 'code-server');
const SUITE = join(REPO_ROOT, 'out', 'test', 'vscode', 'suite', 'index.js');
const SCREENSHOTS = join(REPO_ROOT, '.test-tools', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';

/** From loading the workbench to the suite's exit, which takes ~7 s here; generous for a busy machine. */
const TIMEOUT_MS = 120_000;
const LISTEN_TIMEOUT_MS = 30_000;

/** User settings that keep the workbench from opening tabs, prompting or going online during a run. */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
};

/** Chromium from Debian, headless, with nothing that reaches the network on its own. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

interface Outcome {
  /** What the workbench passed to `codeAutomationExit`: 0 when `run()` resolved. */
  exitCode: number;
  result: SuiteResult | undefined;
  /** The workbench's console lines that did not come from the suite. */
  workbenchLog: string[];
}

async function main(): Promise<number> {
  for (const [path, hint] of [
    [CODE_SERVER, 'run scripts/setup-code-server.sh'],
    [SUITE, 'run node esbuild.config.mjs --tests'],
    [join(REPO_ROOT, 'dist', 'extension.js'), 'run node esbuild.config.mjs'],
  ] as const) {
    if (!existsSync(path)) throw new Error(`missing ${path}: ${hint}`);
  }

  const started = Date.now();
  const temp = mkdtempSync(join(tmpdir(), 'lifeboat-vscode-'));
  const workspace = join(temp, 'workspace');
  mkdirSync(workspace);
  for (const [name, content] of Object.entries(FIXTURE_FILES)) {
    mkdirSync(dirname(join(workspace, name)), { recursive: true });
    writeFileSync(join(workspace, name), content);
  }
  mkdirSync(join(temp, 'user-data', 'User'), { recursive: true });
  writeFileSync(join(temp, 'user-data', 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));

  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  let serverLog: string[] = [];
  let passed = false;
  try {
    const codeServer = startCodeServer(temp, workspace);
    server = codeServer.child;
    serverLog = codeServer.log;
    killOnInterrupt(server, temp);
    const address = await codeServer.address;

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    const outcome = await runSuite(page, address, workspace);
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
    if (!passed && serverLog.length > 0) console.error(`\ncode-server output:\n${serverLog.join('').trimEnd()}`);
    if (!passed && page) await saveScreenshot(page);
    await browser?.close().catch(() => undefined);
    if (server) await stop(server);
    rmSync(temp, { recursive: true, force: true });
  }
  return passed ? 0 : 1;
}

interface CodeServer {
  child: ChildProcess;
  /** `host:port`, once code-server logs that it listens. */
  address: Promise<string>;
  /** Its output, shown when a run fails (an extension host that crashed says so here). */
  log: string[];
}

function startCodeServer(temp: string, workspace: string): CodeServer {
  const args = [
    '--bind-addr', '127.0.0.1:0',
    '--auth', 'none',
    '--user-data-dir', join(temp, 'user-data'),
    '--extensions-dir', join(temp, 'extensions'),
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    workspace,
  ];
  const child = spawn(CODE_SERVER, args, {
    // Without these code-server writes its config (with a password) into ~/.config.
    env: { ...process.env, XDG_CONFIG_HOME: join(temp, 'config'), XDG_DATA_HOME: join(temp, 'data') },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so stop() also ends the server and extension host processes it forks.
    detached: true,
  });
  const log: string[] = [];
  const address = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not listen within ${LISTEN_TIMEOUT_MS} ms:\n${log.join('')}`)), LISTEN_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      log.push(chunk.toString());
      const match = /HTTP server listening on http:\/\/([\d.]+:\d+)\//.exec(log.join(''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited early (${signal ?? code}):\n${log.join('')}`));
    });
  });
  return { child, address, log };
}

async function runSuite(page: Page, address: string, workspace: string): Promise<Outcome> {
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

  // The authority must be the one the browser uses, or the workbench cannot resolve the paths.
  const remote = (path: string) => `vscode-remote://${address}${path}`;
  const payload = [
    ['extensionDevelopmentPath', remote(REPO_ROOT)],
    ['extensionTestsPath', remote(SUITE.replace(/\.js$/, ''))],
  ];
  const url = `http://${address}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
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

async function saveScreenshot(page: Page): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `vscode-${new Date().toISOString().replace(/[:.]/g, '-')}.png`);
  try {
    await page.screenshot({ path, timeout: 10_000 });
    console.error(`Screenshot: ${path}`);
  } catch (error) {
    console.error(`No screenshot: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Ends code-server's process group: SIGTERM, then SIGKILL if it is still there after 5 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const group = -child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signal(group, 'SIGTERM');
  const timer = setTimeout(() => signal(group, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  // The extension host can outlive the launcher for a moment; leave nothing of the group behind.
  signal(group, 'SIGKILL');
}

/**
 * code-server runs in its own process group, so Ctrl-C in the terminal does not reach it: end it here.
 * playwright-core closes the browser it launched when the process exits.
 */
function killOnInterrupt(server: ChildProcess, temp: string): void {
  for (const [name, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(name, () => {
      if (server.pid !== undefined) signal(-server.pid, 'SIGKILL');
      rmSync(temp, { recursive: true, force: true });
      process.exit(code);
    });
  }
}

function signal(group: number, name: NodeJS.Signals): void {
  try {
    process.kill(group, name);
  } catch {
    // The group is already gone.
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
