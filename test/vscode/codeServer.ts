/**
 * A real VS Code on a machine that cannot download one (see TESTBED.md, "A real VS Code on these
 * machines"): code-server from .test-tools/ (scripts/setup-code-server.sh) on a free loopback port,
 * and Debian chromium driven by playwright-core. Shared by the extension-host runner
 * (runInCodeServer.ts) and the browser e2e (test/e2e/); scripts/demo.sh starts the same code-server
 * with the same user settings.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { REPO_ROOT, requireFiles } from '../support/paths';

const CODE_SERVER = join(REPO_ROOT, '.test-tools', 'code-server', 'node_modules', '.bin', 'code-server');
/** Keep the workbench from opening tabs, prompting or going online; the demo uses the same file. */
const USER_SETTINGS = join(REPO_ROOT, 'scripts', 'code-server-settings.json');
const SCREENSHOTS = join(REPO_ROOT, '.test-tools', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const LISTEN_TIMEOUT_MS = 30_000;

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

/** A laptop-sized window, so screenshots look like what a person sees. */
const VIEWPORT = { width: 1400, height: 900 };

export interface CodeServer {
  child: ChildProcess;
  /** `host:port`, once code-server logs that it listens. */
  address: Promise<string>;
  /** Its output, worth showing when something fails (an extension host that crashed says so here). */
  log: string[];
}

/**
 * Starts code-server for `workspace` on a free port of 127.0.0.1, keeping everything it writes (user
 * data, extensions, its config) inside `home`.
 */
export function startCodeServer(home: string, workspace: string): CodeServer {
  requireFiles([[CODE_SERVER, 'run scripts/setup-code-server.sh']]);
  const userData = join(home, 'user-data');
  mkdirSync(join(userData, 'User'), { recursive: true });
  copyFileSync(USER_SETTINGS, join(userData, 'User', 'settings.json'));
  const args = [
    '--bind-addr', '127.0.0.1:0',
    '--auth', 'none',
    '--user-data-dir', userData,
    '--extensions-dir', join(home, 'extensions'),
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    workspace,
  ];
  // VS Code puts its IPC sockets there, or else in /tmp, where nothing removes them after the run.
  const runtime = join(home, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  const child = spawn(CODE_SERVER, args, {
    // Without these code-server writes its config (with a password) into ~/.config.
    env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), XDG_RUNTIME_DIR: runtime },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so stopCodeServer() also ends the server and extension host processes it forks.
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

/**
 * The workbench for `workspace` with this checkout loaded as the extension under development (code-server
 * takes no `--extensionDevelopmentPath`, but the URL's payload does), and optionally a test entry point
 * to run in its extension host. The authority must be the one the browser uses, or the workbench
 * cannot resolve the paths.
 */
export function workbenchUrl(address: string, workspace: string, extensionTestsPath?: string): string {
  const remote = (path: string) => `vscode-remote://${address}${path}`;
  const payload = [['extensionDevelopmentPath', remote(REPO_ROOT)]];
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  return `http://${address}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export function openPage(browser: Browser): Promise<Page> {
  return browser.newPage({ viewport: VIEWPORT });
}

/** Saves `.test-tools/screenshots/NAME.png` and says where; a failing screenshot only logs why. */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  try {
    await page.screenshot({ path, timeout: 10_000 });
    console.error(`Screenshot: ${path}`);
  } catch (error) {
    console.error(`No screenshot: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Ends code-server's process group: SIGTERM, then SIGKILL if it is still there after 5 s. */
export async function stopCodeServer(server: CodeServer): Promise<void> {
  const { child } = server;
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
 * code-server runs in its own process group, so Ctrl-C in the terminal does not reach it: end it here,
 * then `cleanUp`. playwright-core closes the browser it launched when the process exits.
 */
export function stopOnInterrupt(server: CodeServer, cleanUp: () => void): void {
  for (const [name, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(name, () => {
      if (server.child.pid !== undefined) signal(-server.child.pid, 'SIGKILL');
      cleanUp();
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
