import * as vscode from 'vscode';
import type { Inventory } from '../core/actions/spec';
import type { BrowseNode } from '../core/browse/node';
import { INVENTORY_FILE } from '../core/paths';
import { errorMessage, isCancellationError } from '../core/errors';
import { withReadingContext } from './backupBrowsing';
import { loadRuntime } from './lazy';
import type { Services } from './services';

/** A pick list of more than this many nodes is not read further: it would be no use to a person. */
const MOST_NODES = 2000;
const PAGE = 200;

export interface NodePick {
  workspaceDir: string;
  inventory: Inventory;
  /** The node whose children are offered, e.g. `locations/nas`. */
  under: string;
  title: string;
  /** Which children are offered; all by default. */
  accept?: (node: BrowseNode) => boolean;
  /** Said when nothing is offered. */
  noneMessage: string;
}

/**
 * A palette step "choose a node under this path": the browse model lists the children (with the
 * details a pick list can afford) in a cancellable notification, and the person picks one by its
 * label, with its description, its detail and its status shown. Undefined after a cancel, an error
 * (shown) or an empty list (said).
 */
export async function pickNode(services: Services, pick: NodePick): Promise<BrowseNode | undefined> {
  const nodes = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `${pick.title}: reading ${pick.under}`, cancellable: true }, async (_progress, token) => {
    const abort = new AbortController();
    const cancellation = token.onCancellationRequested(() => abort.abort());
    try {
      const model = loadRuntime().createBrowseModel(services.registry(), `${pick.workspaceDir}/${INVENTORY_FILE}`);
      return await withReadingContext(services, pick.workspaceDir, { tag: pick.title, askHostKeys: true, inventory: pick.inventory, signal: abort.signal }, async (ctx) => {
        const found: BrowseNode[] = [];
        let cursor: string | undefined;
        do {
          const page = await model.children(pick.under, { limit: PAGE, details: true, ...(cursor === undefined ? {} : { cursor }) }, ctx);
          const failed = page.nodes.find((node) => node.kind === 'error');
          if (failed) throw new Error(failed.description ?? failed.label);
          found.push(...page.nodes.filter((node) => node.kind !== 'empty' && (pick.accept?.(node) ?? true)));
          cursor = page.next;
        } while (cursor !== undefined && found.length < MOST_NODES);
        return found;
      });
    } catch (error) {
      if (!isCancellationError(error)) services.showError(`${pick.title}: ${errorMessage(error)}`);
      return undefined;
    } finally {
      cancellation.dispose();
    }
  });
  if (!nodes) return undefined;
  if (nodes.length === 0) {
    services.showError(`${pick.title}: ${pick.noneMessage}`);
    return undefined;
  }
  const items = nodes.map((node) => ({
    label: node.label,
    description: [node.description, node.status && node.status.level !== 'ok' && node.status.level !== 'unknown' ? node.status.reason : undefined].filter(Boolean).join(' · '),
    ...(node.detail === undefined ? {} : { detail: node.detail }),
    iconPath: new vscode.ThemeIcon(node.icon),
    node,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: `${pick.title}: which backup?`, ignoreFocusOut: true, matchOnDescription: true, matchOnDetail: true });
  return picked?.node;
}
