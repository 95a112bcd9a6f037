/**
 * Entry of `dist/runtime.js`: everything that needs schemas, actions or the runner. Registrations in
 * `extension.js` reach it through `loadRuntime()`; add what they need here.
 */
import { ActionRegistry } from '../core/actions/registry';
import { builtinActions, builtinBrowsers } from '../actions';
import { BrowseModel } from '../core/browse/model';

export function createRegistry(): ActionRegistry {
  return new ActionRegistry(builtinActions);
}

/** The browse model of a workspace whose inventory is `inventoryFile`: every backend's browser. */
export function createBrowseModel(registry: ActionRegistry, inventoryFile: string): BrowseModel {
  return new BrowseModel(builtinBrowsers, registry, inventoryFile);
}

export { runActionCommand } from './actionCommand';
export { cellStatusItems } from './cellStatus';
export { NotebookRunner } from './notebookRunner';
export { editParameters } from './parameterEditor';
export { createActionContext } from '../core/actions/context';
export { loadInventory } from '../core/workspace';
export { prefixOfArchiveName } from '../actions/archive/naming';
export { completeActionCell, completionScope } from '../core/assist/completions';
export { diagnoseRunbook } from '../core/assist/diagnostics';
export { runPaletteCommand } from './palette';
export { findNewestFaceBackup, withReadingContext } from './backupBrowsing';
