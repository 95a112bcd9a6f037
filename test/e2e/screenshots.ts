/**
 * `npm run screenshots`: the images under media/screenshots/, taken from the demo lab (scripts/demo-lab.sh
 * and its services, as `npm run demo` starts them) in the real workbench (code-server in headless
 * Chromium) with this checkout loaded as the extension, as the browser e2e does. Run it again when
 * the UI changes; the images are never edited by hand. docs/screenshots.md and the walkthrough show them.
 *
 * Needs dist/ and out/ from `node esbuild.config.mjs --tests`.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { S3RVER_CREDENTIALS } from '../testbed/s3rver';
import { saveScreenshot } from '../vscode/codeServer';
import { closeLabWorkbench, openLabWorkbench, type LabWorkbench, type Workbench } from './workbench';

const OUTPUT = join(REPO_ROOT, 'media', 'screenshots');
const LAB_SERVICES = join(REPO_ROOT, 'out', 'test', 'testbed', 'lab.js');
const LAB_SERVICES_TIMEOUT_MS = 60_000;
/** The names scripts/demo-lab.sh gives the lab's archives. */
const ARCHIVE_NAME = /app-\d{8}-\d{6}\.tar\.gz/;

async function main(): Promise<void> {
  requireFiles([
    [join(REPO_ROOT, 'dist', 'extension.js'), 'run node esbuild.config.mjs'],
    [CLI, 'run node esbuild.config.mjs'],
    [LAB_SERVICES, 'run node esbuild.config.mjs --tests'],
  ]);
  const temp = mkdtempSync(join(tmpdir(), 'lifeboat-screenshots-'));
  const lab = join(temp, 'lab');
  let services: ChildProcess | undefined;
  const opened: LabWorkbench = {};
  try {
    execFileSync('bash', [join(REPO_ROOT, 'scripts', 'demo-lab.sh'), lab], { stdio: 'inherit' });
    // The extension host inherits code-server's environment, where Lifeboat reads the lab's secrets.
    process.env.LIFEBOAT_SECRET_FRIGATE_PASSWORD = randomBytes(12).toString('hex');
    process.env.LIFEBOAT_SECRET_OFFSITE_SECRET_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    services = await startLabServices(lab);

    const workbench = await openLabWorkbench(temp, lab, opened);
    mkdirSync(OUTPUT, { recursive: true });

    await runbookAfterRunAll(workbench);
    await backupsTree(workbench);
    await walkthrough(workbench, lab);
  } catch (error) {
    if (opened.workbench) await saveScreenshot(opened.workbench.page, 'screenshots-failure');
    if (opened.server) console.error(`code-server output:\n${opened.server.log.join('').trimEnd()}`);
    throw error;
  } finally {
    await closeLabWorkbench(opened);
    if (services) await stopLabServices(services);
    rmSync(temp, { recursive: true, force: true });
  }
}

/** The lab's services (Frigate in a Kubernetes cluster, an SSH host, an S3 store) as `npm run demo` starts them; they rewrite the lab's lifeboat.yaml to name them. */
function startLabServices(lab: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [LAB_SERVICES, lab], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the lab services did not start within ${LAB_SERVICES_TIMEOUT_MS} ms:\n${output}`)), LAB_SERVICES_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('lab services ready')) return;
      clearTimeout(timer);
      resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the lab services exited (${code}) before they were ready:\n${output}`));
    });
  });
}

/** SIGTERM makes the lab stop its services (sshd runs as a daemon) before it exits. */
async function stopLabServices(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

/** The lab tour after Run All: its shell output and table of archives beside the Backups tree with the local location open. */
async function runbookAfterRunAll(workbench: Workbench): Promise<void> {
  await workbench.showLifeboatViews();
  await workbench.viewRow('Backups', /^local/).click();
  await workbench.viewRow('Backups', ARCHIVE_NAME).waitFor();
  await workbench.openFile('lab-tour.runbook.md');
  await workbench.clickNotebookToolbar('Run All');
  await workbench.restPointer();
  await workbench.waitForWebview('table', (text) => ARCHIVE_NAME.test(text));
  await workbench.waitForNotebookToolbar('Run All');
  await settle(workbench);
  await save(workbench, 'runbook-after-run-all');
}

/**
 * The Backups tree given the whole side bar, beside the lab's lifeboat.yaml that names what it shows:
 * a location with its archives, the SSH host with its checks, the Frigate instance with its people.
 */
async function backupsTree(workbench: Workbench): Promise<void> {
  await workbench.runCommand('View: Close All Editors');
  await workbench.openFile('lifeboat.yaml');
  for (const title of ['Runbooks', 'Runs']) await toggleSection(workbench, title);
  // A host and a Frigate are listed by name; the locations on them carry it with a suffix (nas-faces).
  await workbench.viewRow('Backups', /^nas(?!-)/).click();
  await workbench.viewRow('Backups', /^Reachable/).waitFor({ timeout: 30_000 });
  await workbench.viewRow('Backups', /^frigate(?!-)/).click();
  await workbench.viewRow('Backups', /^Asha/).waitFor({ timeout: 30_000 });
  await settle(workbench);
  await save(workbench, 'backups-tree');
  for (const title of ['Runbooks', 'Runs']) await toggleSection(workbench, title);
}

/** Collapses or expands a section of the Lifeboat side bar by clicking its header. */
async function toggleSection(workbench: Workbench, title: string): Promise<void> {
  await workbench.page.locator(`.sidebar .pane-header[aria-label="${title} Section"]`).click();
}

/**
 * The first run, replayed in the lab: without lifeboat.yaml the Backups view welcomes with Create
 * lifeboat.yaml and Get Started; Get Started opens the walkthrough; when lifeboat.yaml (which names
 * hosts and stores) is back, its first two steps are done.
 *
 * The walkthrough is opened before lifeboat.yaml comes back because VS Code 1.100 marks a step done
 * when its context turns true, but not when it is true already as the walkthrough is first read.
 */
async function walkthrough(workbench: Workbench, lab: string): Promise<void> {
  const { page } = workbench;
  await workbench.runCommand('View: Close All Editors');
  const inventory = join(lab, 'lifeboat.yaml');
  renameSync(inventory, `${inventory}.aside`);
  const welcome = page.locator('.sidebar .pane').filter({ has: page.locator('.pane-header[aria-label="Backups Section"]') }).locator('.welcome-view-content');
  await welcome.getByText('Create lifeboat.yaml').waitFor({ timeout: 30_000 });
  for (const title of ['Runbooks', 'Runs']) await toggleSection(workbench, title);
  await settle(workbench);
  await save(workbench, 'backups-welcome');

  await welcome.getByText('Get Started').click();
  await page.locator('.getting-started-step').first().waitFor({ timeout: 30_000 });
  renameSync(`${inventory}.aside`, inventory);
  for (const step of ['createInventory', 'addHostOrStore']) {
    await page.locator(`[data-done-step-id$="#firstBackup#${step}"][aria-checked="true"]`).waitFor({ timeout: 30_000 });
  }
  for (const title of ['Runbooks', 'Runs']) await toggleSection(workbench, title);
  await settle(workbench);
  await save(workbench, 'walkthrough');
}

/** Lets notifications fade and hovers go before a picture is taken. */
async function settle(workbench: Workbench): Promise<void> {
  await workbench.restPointer();
  await workbench.page.waitForTimeout(1500);
}

/**
 * Saves the window below its title bar, which names the window an "[Extension Development Host]"
 * because this checkout is loaded as the extension under development.
 */
async function save(workbench: Workbench, name: string): Promise<void> {
  const path = join(OUTPUT, `${name}.png`);
  const titleBar = await workbench.page.locator('.part.titlebar').boundingBox();
  const viewport = workbench.page.viewportSize();
  if (!titleBar || !viewport) throw new Error('the workbench shows no title bar');
  const top = titleBar.y + titleBar.height;
  await workbench.page.screenshot({ path, clip: { x: 0, y: top, width: viewport.width, height: viewport.height - top } });
  console.log(`wrote ${path}`);
}

main().catch((error: unknown) => {
  console.error(`screenshots: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
