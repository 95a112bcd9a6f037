import { join } from 'node:path';
import * as vscode from 'vscode';
import { FileExistsError, pathExists, writeFileAtomically } from '../core/atomicFiles';
import { errorMessage } from '../core/errors';
import { INVENTORY_FILE } from '../core/paths';
import { loadRuntime } from './lazy';
import type { Services } from './services';

/** Set when a workspace folder holds `lifeboat.yaml`: the walkthrough's first step is done. */
export const HAS_INVENTORY_CONTEXT = 'lifeboat.hasInventory';
/** Set when a workspace `lifeboat.yaml` names a host under `hosts:` or a store under `stores:`. */
export const HAS_HOST_OR_STORE_CONTEXT = 'lifeboat.hasHostOrStore';

/**
 * What "Lifeboat: Open lifeboat.yaml" writes when there is none: one local location, so a first backup has somewhere
 * to go and shows in the Backups view, and a host, a store and their locations as comments to fill in
 * (taking out each example line's leading `# ` gives a valid inventory).
 * Secrets stay out of it: the store names them as `secret:NAME`.
 */
export const STARTER_INVENTORY = `# Lifeboat's inventory: the hosts, stores and backup locations runbooks and the Backups view
# reach, each by name. VS Code completes and checks it from Lifeboat's schema (hover a key for its
# description). Secrets are never written here: write secret:NAME and set it with
# "Lifeboat: Set Secret…".

# SSH hosts; host, user and port fall back to ~/.ssh/config.
# hosts:
#   nas:
#     host: nas.lan
#     user: backup

# S3 buckets (AWS, Garage, MinIO, SeaweedFS …).
# stores:
#   offsite:
#     endpoint: https://s3.example.net
#     bucket: backups
#     credentials:
#       accessKeyId: secret:offsite_key_id
#       secretAccessKey: secret:offsite_secret_key

# Where backups are kept: a folder of this workspace, a folder on a host, or a prefix in a store.
locations:
  local:
    path: backups
#   nas:
#     host: nas
#     path: /srv/backups
#     keep: 14
#   offsite:
#     store: offsite
#     prefix: lifeboat/
`;

/** The walkthrough's context keys and their values, as last set. */
export type WalkthroughContext = Readonly<Record<typeof HAS_INVENTORY_CONTEXT | typeof HAS_HOST_OR_STORE_CONTEXT, boolean>>;

/**
 * Keeps the context keys the walkthrough's steps complete on (package.json `contributes.walkthroughs`)
 * in step with the workspace: set at activation, and again whenever a `lifeboat.yaml` is created,
 * changed or deleted or the workspace folders change.
 */
export class WalkthroughProgress implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<WalkthroughContext>();
  /** Fires after the context keys were set to new values. */
  readonly onDidChange = this.changed.event;
  private current: WalkthroughContext | undefined;
  /** Only the newest reading sets the keys: an older one may finish after it. */
  private readings = 0;
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly services: Services) {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${INVENTORY_FILE}`);
    this.disposables = [
      this.changed,
      watcher,
      ...[watcher.onDidCreate, watcher.onDidChange, watcher.onDidDelete].map((event) => event(() => void this.refresh())),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.refresh()),
    ];
    void this.refresh();
  }

  /** The values the context keys were last set to; undefined until the first reading is done. */
  get context(): WalkthroughContext | undefined {
    return this.current;
  }

  /** Reads the workspace folders' `lifeboat.yaml` again and sets the context keys. */
  async refresh(): Promise<void> {
    const reading = ++this.readings;
    const context = await readWorkspace();
    if (reading !== this.readings) return;
    await Promise.all(Object.entries(context).map(([key, value]) => vscode.commands.executeCommand('setContext', key, value)));
    this.current = context;
    this.changed.fire(context);
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}

async function readWorkspace(): Promise<WalkthroughContext> {
  let hasInventory = false;
  let hasHostOrStore = false;
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    if (folder.uri.scheme !== 'file') continue;
    const file = join(folder.uri.fsPath, INVENTORY_FILE);
    if (!(await pathExists(file))) continue;
    hasInventory = true;
    // A file that does not load names nothing yet; the Backups view shows why it does not load.
    const inventory = await loadRuntime()
      .loadInventory(file, { required: false })
      .catch(() => undefined);
    hasHostOrStore ||= Object.keys(inventory?.hosts ?? {}).length > 0 || Object.keys(inventory?.stores ?? {}).length > 0;
  }
  return { [HAS_INVENTORY_CONTEXT]: hasInventory, [HAS_HOST_OR_STORE_CONTEXT]: hasHostOrStore };
}

/**
 * "Lifeboat: Open lifeboat.yaml": opens the workspace folder's inventory (the folder picked, when there
 * are several), first writing the starter inventory there when it has none.
 */
export async function openInventory(services: Services): Promise<vscode.Uri | undefined> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((folder) => folder.uri.scheme === 'file');
  if (folders.length === 0) {
    services.showError('Open a folder first: Lifeboat reads lifeboat.yaml from the workspace folder.');
    return undefined;
  }
  const folder = folders.length === 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: `Folder to create ${INVENTORY_FILE} in` });
  if (!folder) return undefined;
  const file = vscode.Uri.joinPath(folder.uri, INVENTORY_FILE);
  try {
    await writeFileAtomically(file.fsPath, STARTER_INVENTORY, { overwrite: false });
    services.log.info(`[walkthrough] wrote a starter ${file.fsPath}`);
  } catch (error) {
    if (!(error instanceof FileExistsError)) {
      services.showError(`Cannot create ${file.fsPath}: ${errorMessage(error)}`);
      return undefined;
    }
  }
  await vscode.window.showTextDocument(file);
  return file;
}
