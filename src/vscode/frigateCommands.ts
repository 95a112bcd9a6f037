import * as vscode from 'vscode';
import { openArchiveLocation } from '../actions/frigate/destinations';
import { FACES_PREFIX } from '../actions/frigate/facesArchive';
import { createActionContext } from '../core/actions/context';
import { errorMessage } from '../core/errors';
import { formatBytes, formatLocalDateTime } from '../core/render';
import { loadWorkspaceAt } from '../core/workspace';
import { timestampFromName } from '../actions/archive/naming';
import { runActionCommand, type RunActionOutcome } from './actionCommand';
import { workspaceSecrets } from './secrets';
import type { Services } from './services';

/** The location face backups go to when the inventory has one by this name. */
const DEFAULT_FACES_LOCATION = 'frigate-faces';

/** One name of an inventory section: the only one, the preferred one, or the person's pick. */
async function chooseName(names: readonly string[], title: string, preferred?: string): Promise<string | undefined> {
  if (names.length === 1) return names[0];
  if (preferred !== undefined && names.includes(preferred)) return preferred;
  return (await vscode.window.showQuickPick([...names], { title, ignoreFocusOut: true })) ?? undefined;
}

interface FacesTarget {
  workspaceDir: string;
  frigate: string;
  location: string;
}

/** The Frigate instance and backup location of the workspace's lifeboat.yaml; undefined after an error or a cancelled pick. */
async function chooseFacesTarget(services: Services, title: string): Promise<FacesTarget | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  // Without a trusted local folder there is nothing to choose from; the action command explains what is missing.
  if (!folder || folder.uri.scheme !== 'file' || !vscode.workspace.isTrusted) return undefined;
  const workspaceDir = folder.uri.fsPath;
  let inventory;
  try {
    inventory = (await loadWorkspaceAt(workspaceDir)).inventory;
  } catch (error) {
    services.showError(`${title}: ${errorMessage(error)}`);
    return undefined;
  }
  const instances = Object.keys(inventory.frigate ?? {});
  const locations = Object.keys(inventory.locations ?? {});
  if (instances.length === 0 || locations.length === 0) {
    services.showError(`${title}: lifeboat.yaml needs a Frigate instance under \`frigate:\` and a backup location under \`locations:\` (a folder or an S3 store prefix).`);
    return undefined;
  }
  const frigate = await chooseName(instances, `${title}: which Frigate?`);
  if (frigate === undefined) return undefined;
  const location = await chooseName(locations, `${title}: which backup location?`, DEFAULT_FACES_LOCATION);
  if (location === undefined) return undefined;
  return { workspaceDir, frigate, location };
}

/** "Backup Frigate Faces Now": `frigate.faces.backup` of the workspace's Frigate to its face backup location. */
export async function backUpFrigateFacesNow(services: Services): Promise<RunActionOutcome | undefined> {
  const title = 'Backup Frigate Faces Now';
  if (!vscode.workspace.workspaceFolders?.[0] || !vscode.workspace.isTrusted) return runActionCommand(services, { action: 'frigate.faces.backup', title });
  const target = await chooseFacesTarget(services, title);
  if (!target) return undefined;
  return runActionCommand(services, { action: 'frigate.faces.backup', title, params: { frigate: target.frigate, location: target.location } });
}

/** "Restore Frigate Faces…": pick a face archive (newest first, with its date and size) and a method, then `frigate.faces.restore`. */
export async function restoreFrigateFaces(services: Services): Promise<RunActionOutcome | undefined> {
  const title = 'Restore Frigate Faces';
  if (!vscode.workspace.workspaceFolders?.[0] || !vscode.workspace.isTrusted) return runActionCommand(services, { action: 'frigate.faces.restore', title });
  const target = await chooseFacesTarget(services, title);
  if (!target) return undefined;
  const ctx = createActionContext({ workspaceDir: target.workspaceDir, inventory: (await loadWorkspaceAt(target.workspaceDir)).inventory, secrets: workspaceSecrets(services.context.secrets, () => {}) });
  let archives;
  try {
    const { destination } = await openArchiveLocation({ folder: undefined, folderField: 'folder', location: target.location }, ctx);
    archives = await destination.listArchives(FACES_PREFIX, ctx.signal);
  } catch (error) {
    services.showError(`${title}: ${errorMessage(error)}`);
    return undefined;
  } finally {
    await ctx.clients.disposeAll();
  }
  if (archives.length === 0) {
    services.showError(`${title}: no face archive (${FACES_PREFIX}-*.tar.gz) in location '${target.location}'.`);
    return undefined;
  }
  const items = archives
    .map((archive) => ({ archive, date: timestampFromName(archive.name) }))
    .sort((a, b) => (b.date?.getTime() ?? 0) - (a.date?.getTime() ?? 0))
    .map(({ archive, date }) => ({ label: archive.name, description: `${date ? formatLocalDateTime(date) : 'undated'} · ${formatBytes(archive.bytes)}` }));
  const picked = await vscode.window.showQuickPick(items, { title: `${title}: which backup?`, ignoreFocusOut: true });
  if (!picked) return undefined;
  const method = await vscode.window.showQuickPick(
    [
      { label: 'files', description: 'byte for byte into the Frigate pod (Kubernetes exec)' },
      { label: 'api', description: "through Frigate's API: images are re-cropped and renamed, some may be rejected" },
    ],
    { title: `${title}: how?`, ignoreFocusOut: true },
  );
  if (!method) return undefined;
  return runActionCommand(services, { action: 'frigate.faces.restore', title, params: { frigate: target.frigate, location: target.location, archive: picked.label, method: method.label } });
}
