import * as vscode from 'vscode';
import { LOCATIONS_ROOT } from '../actions/archive/browser';
import { frigateBackupsCheck, type FrigateBackupCheck } from '../actions/frigate/backupCheck';
import { FACES_PREFIX } from '../actions/frigate/facesArchive';
import { frigateRecordingsBackup } from '../actions/frigate/recordingsBackup';
import { frigateRecordingsList, type RecordingsListResult } from '../actions/frigate/recordingsList';
import type { ActionContext, Inventory } from '../core/actions/spec';
import { errorMessage, isCancellationError } from '../core/errors';
import { declaredFaceLocations, preferredFaceLocation, preferredRecordingsLocation } from '../actions/frigate/backupLocations';
import { joinPath } from '../core/browse/node';
import { formatBytes } from '../core/render';
import { loadWorkspaceAt } from '../core/workspace';
import { runActionCommand, runActionSteps, type RunActionOutcome, type RunStepsOutcome } from './actionCommand';
import { withReadingContext } from './backupBrowsing';
import { planOperationsAsText } from './confirm';
import { faceBackupMaxAgeHours } from './faceBackupStatus';
import { pickNode } from './pickNode';
import type { Services } from './services';

/** One name of an inventory section: the only one, the preferred one, or the person's pick. */
async function chooseName(names: readonly string[], title: string, preferred?: string): Promise<string | undefined> {
  if (names.length === 1) return names[0];
  if (preferred !== undefined && names.includes(preferred)) return preferred;
  return (await vscode.window.showQuickPick([...names], { title, ignoreFocusOut: true })) ?? undefined;
}

interface FrigateTarget {
  workspaceDir: string;
  inventory: Inventory;
  frigate: string;
}

interface FacesTarget extends FrigateTarget {
  location: string;
}

/** The Frigate instance of the workspace's lifeboat.yaml; undefined after an error or a cancelled pick. */
async function chooseFrigate(services: Services, title: string): Promise<FrigateTarget | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file' || !vscode.workspace.isTrusted) {
    services.showError(`${title}: open a trusted folder with a lifeboat.yaml first.`);
    return undefined;
  }
  const workspaceDir = folder.uri.fsPath;
  let inventory;
  try {
    inventory = (await loadWorkspaceAt(workspaceDir)).inventory;
  } catch (error) {
    services.showError(`${title}: ${errorMessage(error)}`);
    return undefined;
  }
  const instances = Object.keys(inventory.frigate ?? {});
  if (instances.length === 0) {
    services.showError(`${title}: lifeboat.yaml needs a Frigate instance under \`frigate:\`.`);
    return undefined;
  }
  const frigate = await chooseName(instances, `${title}: which Frigate?`);
  return frigate === undefined ? undefined : { workspaceDir, inventory, frigate };
}

/** The face backup location of an instance: the one it prefers, or the person's pick; undefined after an error or a cancelled pick. */
async function chooseFaceLocation(services: Services, target: FrigateTarget, title: string): Promise<string | undefined> {
  const locations = Object.keys(target.inventory.locations ?? {});
  if (locations.length === 0) {
    services.showError(`${title}: lifeboat.yaml needs a backup location under \`locations:\` (a folder, a folder on an SSH host, or an S3 store prefix).`);
    return undefined;
  }
  return chooseName(locations, `${title}: which backup location?`, preferredFaceLocation(target.inventory, target.frigate));
}

/** The Frigate instance and face backup location of the workspace's lifeboat.yaml; undefined after an error or a cancelled pick. */
async function chooseFacesTarget(services: Services, title: string): Promise<FacesTarget | undefined> {
  const target = await chooseFrigate(services, title);
  if (!target) return undefined;
  const location = await chooseFaceLocation(services, target, title);
  return location === undefined ? undefined : { ...target, location };
}

/**
 * "Backup Frigate Faces Now": `frigate.faces.backup` of the workspace's Frigate into every location
 * its `backups.faces` names, one step each in one run (every location then holds a fresh copy, which
 * is what Check Frigate Backups asks of each); an instance naming none backs up to `frigate-faces`
 * or the location picked.
 */
export async function backUpFrigateFacesNow(services: Services): Promise<RunStepsOutcome | undefined> {
  const title = 'Backup Frigate Faces Now';
  // Says why nothing can run here, as every palette command does.
  if (!vscode.workspace.workspaceFolders?.[0] || !vscode.workspace.isTrusted) return runActionSteps(services, { action: 'frigate.faces.backup', title, steps: [] });
  const target = await chooseFrigate(services, title);
  if (!target) return undefined;
  const declared = declaredFaceLocations(target.inventory, target.frigate);
  const locations = declared && declared.length > 0 ? [...new Set(declared)] : await chooseFaceLocation(services, target, title).then((location) => (location === undefined ? [] : [location]));
  if (locations.length === 0) return undefined;
  return runActionSteps(services, { action: 'frigate.faces.backup', title, steps: locations.map((location) => ({ label: location, params: { frigate: target.frigate, location } })) });
}

/**
 * A cancellable notification while `work` reads; resolves to undefined when the person cancelled
 * or after showing what failed, and closes the connections the reads opened.
 */
async function whileReading<Result>(services: Services, target: FrigateTarget, title: string, work: (ctx: ActionContext, progress: vscode.Progress<{ message?: string; increment?: number }>) => Promise<Result>): Promise<Result | undefined> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const abort = new AbortController();
    const cancellation = token.onCancellationRequested(() => abort.abort());
    try {
      return await withReadingContext(services, target.workspaceDir, { tag: title, askHostKeys: true, inventory: target.inventory, signal: abort.signal }, (ctx) => work(ctx, progress));
    } catch (error) {
      if (!isCancellationError(error)) services.showError(`${title}: ${errorMessage(error)}`);
      return undefined;
    } finally {
      cancellation.dispose();
    }
  });
}

/**
 * "Restore Frigate Faces…": pick a face archive of the instance's face backup location (newest
 * first, with who is in it, read from each archive's first KiB) and a method, then `frigate.faces.restore`.
 */
export async function restoreFrigateFaces(services: Services): Promise<RunActionOutcome | undefined> {
  const title = 'Restore Frigate Faces';
  if (!vscode.workspace.workspaceFolders?.[0] || !vscode.workspace.isTrusted) return runActionCommand(services, { action: 'frigate.faces.restore', title });
  const target = await chooseFacesTarget(services, title);
  if (!target) return undefined;
  const picked = await pickNode(services, {
    workspaceDir: target.workspaceDir,
    inventory: target.inventory,
    under: joinPath(LOCATIONS_ROOT, target.location),
    title,
    accept: (node) => node.kind === 'archive' && node.facts.faces === true,
    noneMessage: `no face archive (${FACES_PREFIX}-*.tar.gz) in location '${target.location}'.`,
  });
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

/**
 * "Check Frigate Backups": `frigate.backups.check` through the runner like every palette command
 * (a run in the history); the verdict comes as a notification that offers the report.
 */
export async function checkFrigateBackupsCommand(services: Services): Promise<RunActionOutcome | undefined> {
  const title = 'Check Frigate Backups';
  const target = await chooseFrigate(services, title);
  if (!target) return undefined;
  return runActionCommand(services, { action: frigateBackupsCheck.id, title, params: { frigate: target.frigate, maxAgeHours: faceBackupMaxAgeHours() } }, (result) => {
    const { verdict, reasons } = result as Pick<FrigateBackupCheck, 'verdict' | 'reasons'>;
    const why = reasons[0] ? ` (${reasons[0]}${reasons.length > 1 ? `, and ${reasons.length - 1} more` : ''})` : '';
    return { message: `${title}: ${VERDICT_TEXT[verdict]}${why}.`, warning: verdict !== 'ok' };
  });
}

const VERDICT_TEXT: Record<FrigateBackupCheck['verdict'], string> = {
  ok: 'ok, the face backups are fresh and complete',
  stale: 'stale',
  failing: 'failing',
};

/**
 * "Back Up Frigate Recordings…": the Frigate instance, an SSH host location and the cameras to back
 * up, then the dry run's plan to agree to, then `frigate.recordings.backup` through the runner.
 */
export async function backUpFrigateRecordings(services: Services): Promise<RunActionOutcome | undefined> {
  const title = 'Back Up Frigate Recordings';
  const target = await chooseFrigate(services, title);
  if (!target) return undefined;
  const hostLocations = Object.entries(target.inventory.locations ?? {}).flatMap(([name, entry]) => ('host' in entry ? [name] : []));
  if (hostLocations.length === 0) {
    services.showError(`${title}: lifeboat.yaml needs a location on an SSH host (\`host:\` and \`path:\` under \`locations:\`) to back recordings up to.`);
    return undefined;
  }
  const location = await chooseName(hostLocations, `${title}: to which location?`, preferredRecordingsLocation(target.inventory, target.frigate));
  if (location === undefined) return undefined;

  const listing = await whileReading(services, target, `${title}: listing the cameras of Frigate '${target.frigate}'`, (ctx) => frigateRecordingsList.run(frigateRecordingsList.params.parse({ frigate: target.frigate }), ctx) as Promise<RecordingsListResult>);
  if (!listing) return undefined;
  if (listing.cameras.length === 0) {
    services.showError(`${title}: Frigate '${target.frigate}' has no recordings.`);
    return undefined;
  }
  const cameraItems = listing.cameras.map(({ camera, days }) => ({
    label: camera,
    description: `${days.length} day(s) · ${days.reduce((sum, day) => sum + day.files, 0)} files · ${formatBytes(days.reduce((sum, day) => sum + day.bytes, 0))}`,
    picked: true,
  }));
  const cameras = await vscode.window.showQuickPick(cameraItems, { title: `${title}: which cameras?`, canPickMany: true, ignoreFocusOut: true });
  if (!cameras || cameras.length === 0) return undefined;
  // All cameras picked: left out, so a camera added later is backed up too.
  const params = { frigate: target.frigate, location, ...(cameras.length === cameraItems.length ? {} : { cameras: cameras.map((camera) => camera.label) }) };

  const plan = await whileReading(services, target, `${title}: planning`, (ctx) => frigateRecordingsBackup.plan(frigateRecordingsBackup.params.parse(params), ctx));
  if (!plan) return undefined;
  // A destructive plan (retention) is put to the person by the runner, with the same plan.
  if (!plan.destructive) {
    const choice = await vscode.window.showInformationMessage(`${title}: ${plan.summary}`, { modal: true, detail: planOperationsAsText(plan) }, 'Back Up');
    if (choice !== 'Back Up') return undefined;
  }
  return runActionCommand(services, { action: frigateRecordingsBackup.id, title, params });
}
