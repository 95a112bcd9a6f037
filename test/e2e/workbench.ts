import { rmSync } from 'node:fs';
import type { Browser, Locator, Page } from 'playwright-core';
import type { CodeServer } from '../vscode/codeServer';
import { launchChromium, openPage, startCodeServer, stopCodeServer, stopOnInterrupt, workbenchUrl } from '../vscode/codeServer';

const LIFEBOAT_ITEM = '.activitybar .action-label[aria-label="Lifeboat"]';
const QUICK_INPUT = '.quick-input-widget';
const QUICK_INPUT_ROW = `${QUICK_INPUT} .monaco-list-row`;

/** What a person does in the VS Code workbench, expressed through its UI (no API shortcuts). */
export class Workbench {
  constructor(readonly page: Page) {}

  /**
   * Until the extension's contributions are registered, the palette answers "No matching commands";
   * the Lifeboat activity-bar item is the first thing that shows they are.
   */
  async waitForLifeboat(timeout = 60_000): Promise<void> {
    await this.page.waitForSelector(LIFEBOAT_ITEM, { timeout });
  }

  /** Opens the Lifeboat container; returns the titles of its view sections, top to bottom. */
  async showLifeboatViews(): Promise<string[]> {
    await this.page.click(LIFEBOAT_ITEM);
    const headers = this.page.locator('.sidebar .pane-header');
    await headers.first().waitFor();
    return (await headers.allTextContents()).map((text) => text.trim());
  }

  /** The first row of a view section (a tree item) that shows `text`, e.g. to wait for it or click it. */
  viewRow(title: string, text: string | RegExp): Locator {
    return this.viewSection(title).locator('.monaco-list-row').filter({ hasText: text }).first();
  }

  /** The text of every row a view section shows now, top to bottom. */
  async viewRows(title: string): Promise<string[]> {
    return this.viewSection(title).locator('.monaco-list-row').allTextContents();
  }

  /**
   * The rows of a view section from its top to its end: a list draws only the rows in sight, so the
   * focus is moved down row by row (as a person would with the arrow keys) until it reaches the last
   * row, reading what each step brings into sight.
   */
  async allViewRows(title: string): Promise<string[]> {
    const section = this.viewSection(title);
    await section.locator('.monaco-list-row').first().waitFor();
    const focused = () => section.locator('.monaco-list-row.focused').first().textContent({ timeout: 5000 });
    await section.locator('.monaco-list').first().focus();
    await this.page.keyboard.press('End');
    const last = await focused();
    await this.page.keyboard.press('Home');
    const rows = await this.viewRows(title);
    for (let step = 0; step < 500; step++) {
      if ((await focused()) === last) break;
      await this.page.keyboard.press('ArrowDown');
      for (const row of await this.viewRows(title)) if (!rows.includes(row)) rows.push(row);
    }
    return rows;
  }

  private viewSection(title: string): Locator {
    return this.page.locator('.sidebar .pane').filter({ has: this.page.locator(`.pane-header[aria-label="${title} Section"]`) });
  }

  /** Runs a command from the palette by its title or the start of it ("Lifeboat: Show Log"). */
  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    await this.pick(title);
  }

  /**
   * Opens a workspace file through Quick Open, as Ctrl+P would (the browser keeps Ctrl+P for
   * printing). A file written a moment ago may not be in Quick Open's index yet: then it asks again.
   */
  async openFile(name: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('F1');
      await this.page.waitForSelector(QUICK_INPUT, { state: 'visible' });
      // F1 opens the palette with its ">" prefix; without it the same box searches files.
      await this.page.keyboard.press('Backspace');
      const input = this.page.locator(`${QUICK_INPUT} input`);
      await input.pressSequentially(name);
      const found = this.page.locator(QUICK_INPUT_ROW).filter({ hasText: name }).first();
      const nothing = this.page.locator(QUICK_INPUT_ROW).filter({ hasText: 'No matching results' }).first();
      await found.or(nothing).waitFor();
      if (await found.isVisible()) return found.click();
      if (attempt === 10) throw new Error(`Quick Open finds no file ${name}`);
      await this.page.keyboard.press('Escape');
      await this.page.waitForTimeout(1000);
    }
  }

  /** Types into the open quick input and clicks the first row that shows `label`. */
  private async pick(label: string): Promise<void> {
    const input = this.page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: 'visible' });
    await input.pressSequentially(label);
    await this.page.locator(QUICK_INPUT_ROW).filter({ hasText: label }).first().click();
  }

  /** Answers the input box titled `title` (a prompt of a command) with `text`. */
  async answerInput(title: string, text: string): Promise<void> {
    await this.page.locator(`${QUICK_INPUT} .quick-input-title`).filter({ hasText: title }).waitFor();
    await this.page.locator(`${QUICK_INPUT} input`).fill(text);
    await this.page.keyboard.press('Enter');
  }

  /** Waits for a modal dialog, returns its text and presses its button `button`. */
  async answerDialog(button: string, timeout = 30_000): Promise<string> {
    const dialog = this.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout });
    const text = await dialog.innerText();
    await dialog.getByRole('button', { name: button, exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    return text;
  }

  /** Waits for a notification containing `text`; returns it, to read or to press its buttons. */
  async waitForNotification(text: string, timeout = 30_000): Promise<Locator> {
    const toast = this.page.locator('.notification-toast').filter({ hasText: text }).first();
    await toast.waitFor({ timeout });
    return toast;
  }

  /** The value of the Output panel's channel picker, once the Output panel is showing. */
  async outputChannel(): Promise<string> {
    const picker = this.page.locator('.panel select').first();
    await picker.waitFor({ state: 'attached' });
    return picker.inputValue();
  }

  /** Clicks a button of the active notebook's toolbar ("Run All"). */
  async clickNotebookToolbar(label: string): Promise<void> {
    await this.notebookToolbarButton(label).click();
  }

  /** Waits until the notebook's toolbar shows `label` again (Run All replaces Stop Execution when a run ends). */
  async waitForNotebookToolbar(label: string, timeout = 30_000): Promise<void> {
    await this.notebookToolbarButton(label).waitFor({ timeout });
  }

  private notebookToolbarButton(label: string): Locator {
    return this.page.locator(`.notebook-toolbar-container .action-label[aria-label^="${label}"]`);
  }

  /**
   * Moves the pointer to the empty part of the title bar, where nothing shows a hover, and lets the
   * hovers of where it was fade, so none shows in a screenshot.
   */
  async restPointer(): Promise<void> {
    await this.page.mouse.move((this.page.viewportSize()?.width ?? 1400) * 0.8, 16);
    await this.page.waitForTimeout(500);
  }

  /**
   * Cell outputs and Markdown previews render inside webviews, nested iframes in the page: waits until
   * the text of an element matching `selector` in one of those frames satisfies `found`, and returns it.
   */
  async waitForWebview(selector: string, found: (text: string) => boolean, timeout = 30_000): Promise<string> {
    const deadline = Date.now() + timeout;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = await this.frameTexts(selector);
      const match = seen.find(found);
      if (match !== undefined) return match;
      await this.page.waitForTimeout(250);
    }
    // The first lines of each are enough to see what rendered instead.
    const shown = seen.map((text) => `---\n${text.slice(0, 400)}`).join('\n') || '(nothing)';
    throw new Error(`no webview showed what was expected within ${timeout} ms; \`${selector}\` in the webview frames showed:\n${shown}`);
  }

  /** The text of each element matching `selector` in every frame but the workbench's own (frames come and go while the notebook renders). */
  private async frameTexts(selector: string): Promise<string[]> {
    const perFrame = await Promise.all(
      this.page
        .frames()
        .filter((frame) => frame !== this.page.mainFrame())
        // innerText keeps a table's rows on lines of their own; the type is spelled out because the
        // project compiles without the DOM library.
        .map((frame) => frame.$$eval(selector, (elements) => elements.map((element) => (element as unknown as { innerText: string }).innerText)).catch(() => [] as string[])),
    );
    return perFrame.flat().filter((text) => text.trim() !== '');
  }
}

/** What `openLabWorkbench` started, set as each part starts, so a failure half-way still stops what runs. */
export interface LabWorkbench {
  server?: CodeServer;
  browser?: Browser;
  workbench?: Workbench;
}

/** code-server on the lab folder with this checkout as the extension, Chromium on its workbench, until Lifeboat shows. */
export async function openLabWorkbench(temp: string, lab: string, opened: LabWorkbench): Promise<Workbench> {
  const server = startCodeServer(temp, lab);
  opened.server = server;
  stopOnInterrupt(server, () => rmSync(temp, { recursive: true, force: true }));
  const address = await server.address;
  opened.browser = await launchChromium();
  const page = await openPage(opened.browser);
  await page.goto(workbenchUrl(address, lab));
  const workbench = new Workbench(page);
  opened.workbench = workbench;
  await workbench.waitForLifeboat();
  return workbench;
}

/** Closes the browser and stops code-server, whatever of them `openLabWorkbench` got to start. */
export async function closeLabWorkbench(opened: LabWorkbench): Promise<void> {
  await opened.browser?.close().catch(() => undefined);
  if (opened.server) await stopCodeServer(opened.server);
}
