import { join } from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { DEFAULT_FACE_BACKUP_MAX_AGE_HOURS, describeFaceBackupAge, faceBackupLocations } from '../actions/frigate/backupLocations';
import { INVENTORY_FILE } from '../core/paths';
import { loadRuntime } from './lazy';
import type { Services } from './services';

const MAX_AGE_SETTING = 'lifeboat.frigate.faceBackupMaxAgeHours';
/** Often enough that a backup turning stale shows within minutes, rarely enough to cost nothing. */
const REFRESH_INTERVAL_MS = 10 * 60 * 1000;
/** The first look waits until activation is over: it loads the runtime bundle and may connect to hosts. */
const FIRST_REFRESH_DELAY_MS = 3000;
const CHECK_COMMAND = 'lifeboat.checkFrigateBackups';

/**
 * The status bar item with the age of the newest face backup across the face backup locations of the
 * first workspace folder's `lifeboat.yaml`; a warning when it is older than the setting allows. Shown only
 * when that inventory has a Frigate instance and a face backup location.
 */
export class FaceBackupStatus implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('lifeboat.faceBackupStatus', vscode.StatusBarAlignment.Left, 10);
  private visible = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly timers: NodeJS.Timeout[];
  /** The refreshes run one after another; `queued` is the one not started yet. */
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;

  constructor(private readonly services: Services) {
    this.item.name = 'Lifeboat Face Backup';
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${INVENTORY_FILE}`);
    this.disposables.push(
      this.item,
      watcher,
      ...[watcher.onDidCreate, watcher.onDidChange, watcher.onDidDelete].map((event) => event(() => void this.refresh())),
      services.onDidRecordRun(() => void this.refresh()),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration(MAX_AGE_SETTING)) void this.refresh();
      }),
    );
    this.timers = [setTimeout(() => void this.refresh(), FIRST_REFRESH_DELAY_MS), setInterval(() => void this.refresh(), REFRESH_INTERVAL_MS)];
  }

  /** Whether the item is in the status bar now. */
  get shown(): boolean {
    return this.visible;
  }

  /** Reads the locations again, after any refresh under way; calls before it starts share it. Resolves when the item is up to date. */
  refresh(): Promise<void> {
    if (!this.queued) {
      this.queued = this.chain.then(() => {
        this.queued = undefined;
        return this.update().catch((error: unknown) => this.services.log.error(`[face backup status] ${errorMessage(error)}`));
      });
      this.chain = this.queued;
    }
    return this.queued;
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    for (const disposable of this.disposables) disposable.dispose();
  }

  private async update(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder || folder.uri.scheme !== 'file' || !vscode.workspace.isTrusted) return this.hide();
    const workspaceDir = folder.uri.fsPath;
    const runtime = loadRuntime();
    const inventory = await runtime.loadInventory(join(workspaceDir, INVENTORY_FILE), { required: false }).catch(() => undefined);
    const locations = inventory ? faceBackupLocations(inventory) : [];
    if (!inventory || Object.keys(inventory.frigate ?? {}).length === 0 || locations.length === 0) return this.hide();
    const { newest, failures } = await runtime.findNewestFaceBackup(this.services, workspaceDir, locations);
    const age = describeFaceBackupAge(newest, failures, faceBackupMaxAgeHours());
    this.item.text = age.text;
    this.item.tooltip = `${age.tooltip}\n\nClick to check the Frigate backups.`;
    this.item.command = CHECK_COMMAND;
    this.item.backgroundColor = age.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
    this.visible = true;
  }

  private hide(): void {
    this.item.hide();
    this.visible = false;
  }
}

/** How old the newest face backup may be before it counts as stale, from the settings. */
export function faceBackupMaxAgeHours(): number {
  return vscode.workspace.getConfiguration('lifeboat.frigate').get<number>('faceBackupMaxAgeHours', DEFAULT_FACE_BACKUP_MAX_AGE_HOURS);
}
