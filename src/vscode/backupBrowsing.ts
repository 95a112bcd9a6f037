import { newestFirst } from '../actions/archive/naming';
import { openArchiveLocation } from '../actions/frigate/destinations';
import { FACES_PREFIX } from '../actions/frigate/facesArchive';
import { createActionContext } from '../core/actions/context';
import type { ActionContext, Inventory } from '../core/actions/spec';
import { errorMessage } from '../core/errors';
import type { FaceBackupSighting } from '../actions/frigate/backupLocations';
import { Redactor } from '../core/redact';
import { loadWorkspaceAt } from '../core/workspace';
import { approveHostKey } from './hostKeys';
import { workspaceSecrets } from './secrets';
import type { Services } from './services';
import { taggedLogger } from './services';

/**
 * What the Backups view, the pick lists and the face backup status bar item read through, in the
 * runtime bundle: each read in its own short-lived action context (clients are closed when it is done).
 */

export interface ReadingOptions {
  /** Log lines are tagged with it. */
  tag: string;
  /**
   * Whether an unknown SSH host key is asked about, as in a run. Only for what a person just did
   * (expanding a node, a palette command); a timer never opens a dialog, so there the read fails instead.
   */
  askHostKeys: boolean;
  /** The workspace's inventory when the caller has read it already. */
  inventory?: Inventory;
  signal?: AbortSignal;
}

/** Runs `body` with an action context of its own for reads, and closes the connections it opened. */
export async function withReadingContext<T>(services: Services, workspaceDir: string, options: ReadingOptions, body: (ctx: ActionContext) => Promise<T>): Promise<T> {
  const inventory = options.inventory ?? (await loadWorkspaceAt(workspaceDir)).inventory;
  // A listing's log lines and errors reach the log and the tree's error nodes: secrets it used are masked there as in a run.
  // Short-secret warnings go to the log only: a timer's listing must not pop up a notification each time.
  const redactor = new Redactor((message) => services.log.warn(message));
  const ctx = createActionContext({
    workspaceDir,
    inventory,
    secrets: workspaceSecrets(services.context.secrets, (value, name) => redactor.add(value, `secret:${name}`)),
    approveHostKey: options.askHostKeys ? approveHostKey : undefined,
    log: redactor.logger(taggedLogger(services.log, options.tag)),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    return await body(ctx);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    const masked = redactor.redact(error.message);
    if (masked === error.message) throw error;
    throw Object.assign(new Error(masked), { name: error.name });
  } finally {
    await ctx.clients.disposeAll();
  }
}

/** The newest face archive across these locations, and the locations that could not be listed. */
export function findNewestFaceBackup(
  services: Services,
  workspaceDir: string,
  locations: readonly string[],
): Promise<{ newest: FaceBackupSighting | undefined; failures: { location: string; message: string }[] }> {
  return withReadingContext(services, workspaceDir, { tag: 'face backup status', askHostKeys: false }, async (ctx) => {
    let newest: FaceBackupSighting | undefined;
    const failures: { location: string; message: string }[] = [];
    for (const location of locations) {
      try {
        const { destination } = await openArchiveLocation({ folder: undefined, folderField: 'folder', location }, ctx);
        const [newestHere] = newestFirst(await destination.listArchives(FACES_PREFIX, ctx.signal));
        if (newestHere?.date && (!newest || newestHere.date > newest.date)) newest = { location, name: newestHere.name, date: newestHere.date };
      } catch (error) {
        failures.push({ location, message: errorMessage(error) });
      }
    }
    return { newest, failures };
  });
}
