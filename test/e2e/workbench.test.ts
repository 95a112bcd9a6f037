/**
 * Lifeboat as a person uses it: the demo lab (scripts/demo-lab.sh) opened in a real VS Code
 * (code-server) in headless Chromium, with this checkout loaded as the extension under development.
 * Key states are saved as screenshots in .test-tools/screenshots/ for a person to look at, and
 * every failure leaves one there too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO_ROOT, requireFiles } from '../support/paths';
import { saveScreenshot } from '../vscode/codeServer';
import { closeLabWorkbench, openLabWorkbench, type LabWorkbench, type Workbench } from './workbench';

/** The names scripts/demo-lab.sh gives the lab's archives. */
const ARCHIVE_NAME = /app-\d{8}-\d{6}\.tar\.gz/;

describe('Lifeboat in VS Code (code-server in Chromium)', function () {
  this.timeout(90_000);

  let temp: string;
  let lab: string;
  const opened: LabWorkbench = {};
  let workbench: Workbench;

  before(async function () {
    requireFiles([
      [join(REPO_ROOT, 'dist', 'extension.js'), 'run node esbuild.config.mjs'],
      [CLI, 'run node esbuild.config.mjs'],
    ]);
    temp = mkdtempSync(join(tmpdir(), 'lifeboat-e2e-'));
    lab = join(temp, 'lab');
    execFileSync('bash', [join(REPO_ROOT, 'scripts', 'demo-lab.sh'), lab], { stdio: 'pipe' });
    workbench = await openLabWorkbench(temp, lab, opened);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !workbench) return;
    await saveScreenshot(workbench.page, `failure-${this.currentTest.fullTitle().replace(/[^A-Za-z0-9]+/g, '-')}`);
  });

  after(async function () {
    const failed = this.test?.parent?.tests.some((test) => test.state === 'failed');
    if (failed && opened.server) console.error(`\ncode-server output:\n${opened.server.log.join('').trimEnd()}`);
    await closeLabWorkbench(opened);
    rmSync(temp, { recursive: true, force: true });
  });

  it('shows the lab in the Lifeboat views: runbooks by title, the backup location with its archives', async () => {
    assert.deepEqual(await workbench.showLifeboatViews(), ['Runbooks', 'Backups', 'Runs']);
    // The lab holds every bundled runbook besides its tour: more rows than the view shows at once.
    let runbooks: string[] = [];
    await waitUntil('the Runbooks view lists the tour of the lab', async () => (runbooks = await workbench.allViewRows('Runbooks')).some((row) => row.includes('Tour of the lab'))).catch((error: Error) => {
      throw new Error(`${error.message}; it lists ${runbooks.join(' | ')}`);
    });
    for (const title of ['Back up a folder to local archives', 'Restore a local archive', 'Verify local backups']) {
      assert.ok(runbooks.some((row) => row.includes(title)), `Runbooks lists "${title}": ${runbooks.join(' | ')}`);
    }
    // Locations start collapsed; expanding one lists its archives.
    await workbench.viewRow('Backups', /^local/).click();
    await workbench.viewRow('Backups', ARCHIVE_NAME).waitFor();
    const archives = (await workbench.viewRows('Backups')).filter((row) => ARCHIVE_NAME.test(row));
    assert.equal(archives.length, 2, `Backups lists the lab's two archives: ${archives.join(' | ')}`);
    // The CLI runs that made them, by their runbook's title rather than its path.
    await workbench.viewRow('Runs', 'Back up a folder to local archives').waitFor();
    const runs = await workbench.viewRows('Runs');
    assert.equal(runs.filter((row) => row.startsWith('Back up a folder to local archives')).length, 2, `Runs names the lab's two backup runs by title: ${runs.join(' | ')}`);
    await workbench.restPointer();
    await saveScreenshot(workbench.page, 'lifeboat-views');
  });

  it('Run All on the lab tour shows the shell output and the table of archives', async () => {
    await workbench.openFile('lab-tour.runbook.md');
    await workbench.clickNotebookToolbar('Run All');
    await workbench.restPointer();
    const shell = await workbench.waitForWebview('body', (text) => text.includes('Application data in app/:'));
    assert.match(shell, /\bapp\/data\b/, 'du lists the application folders');
    const table = await workbench.waitForWebview('table', (text) => ARCHIVE_NAME.test(text));
    assert.equal(table.match(new RegExp(ARCHIVE_NAME, 'g'))?.length, 2, `the lab's two archives are listed:\n${table}`);
    await workbench.waitForNotebookToolbar('Run All');
    await saveScreenshot(workbench.page, 'runbook-after-run-all');
  });

  it('"Lifeboat: Show Log" shows the Lifeboat log in the Output panel', async () => {
    await workbench.runCommand('Lifeboat: Show Log');
    assert.equal(await workbench.outputChannel(), 'Lifeboat');
  });

  it('"Lifeboat: Verify Archives…" verifies the lab\'s archives and shows the details', async () => {
    // The run before left the same archive names in the notebook's outputs.
    await workbench.runCommand('View: Close All Editors');
    await workbench.runCommand('Lifeboat: Verify Archives');
    await workbench.answerInput('Verify Archives: path', 'backups');
    const done = await workbench.waitForNotification('Verify Archives: done');
    await done.getByRole('button', { name: 'Show Details' }).click();
    const details = await workbench.waitForWebview('table', (text) => text.includes('Readable') && ARCHIVE_NAME.test(text));
    assert.equal(details.match(new RegExp(ARCHIVE_NAME, 'g'))?.length, 2, `both archives are verified:\n${details}`);
    await workbench.restPointer();
    await saveScreenshot(workbench.page, 'verify-archives-details');
  });

  it('Run All asks for a missing parameter, and a restore that would overwrite runs only after a modal that names the target', async () => {
    writeFileSync(join(lab, 'drill.runbook.md'), DRILL_RUNBOOK);
    await workbench.runCommand('View: Close All Editors');
    await workbench.openFile('drill.runbook.md');
    await workbench.clickNotebookToolbar('Run All');
    await workbench.answerInput("Runbook parameter 'target'", 'restored');
    const config = join(lab, 'restored', 'config', 'app.yaml');
    await waitUntil('the first run restores the archive into the new folder', () => existsSync(config));
    await workbench.waitForNotebookToolbar('Run All');
    writeFileSync(config, 'changed after the backup\n');

    // The second run finds the files in place: the restore overwrites, so it asks first.
    await workbench.clickNotebookToolbar('Run All');
    await workbench.page.locator('.monaco-dialog-box').waitFor();
    await workbench.restPointer();
    await saveScreenshot(workbench.page, 'restore-confirmation');
    const question = await workbench.answerDialog('Run');
    assert.match(question, /Cell 3 \(archive\.restore\) will overwrite/);
    assert.match(question, /restored/);
    await waitUntil('the confirmed restore puts the archived file back', () => readFileSync(config, 'utf8') !== 'changed after the backup\n');
    await workbench.waitForNotebookToolbar('Run All');
    await workbench.restPointer();
    await saveScreenshot(workbench.page, 'restore-after-confirmation');
  });
});

async function waitUntil(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Restores the newest lab archive into a folder the person names when Run All asks. */
const DRILL_RUNBOOK = `---
title: Restore drill
params:
  target:
    type: path
    description: Folder to restore into
---

# Restore drill

\`\`\`lifeboat {id=newest}
action: archive.list
location: backups
prefix: app
archive: latest
\`\`\`

\`\`\`lifeboat
action: archive.restore
archive: \${steps.newest.selected.path}
target: \${params.target}
overwrite: true
\`\`\`
`;
