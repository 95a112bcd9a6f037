import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { joinPath, splitPath, type BrowseNode, type Page } from '../../src/core/browse/node';
import { REPO_ROOT } from './paths';

/**
 * What every listing must keep: each node's path is written as joinPath writes it (so `lifeboat ls`
 * and `do` reach it by that path) and lies under the path it was listed from.
 */
export function assertListedUnder(parent: string, page: Page): Page {
  const above = splitPath(parent);
  for (const node of page.nodes) {
    const segments = splitPath(node.path);
    assert.equal(joinPath(...segments), node.path, `${node.path} is not a path as joinPath writes it`);
    assert.deepEqual(segments.slice(0, above.length), above, `${node.path} is not under ${parent}`);
  }
  return page;
}

/**
 * The Backups view shows a node's operation only through a context menu entry of package.json whose
 * `when` names `op:<id>` (src/vscode/views/backupCommands.ts); an operation without one is unreachable
 * from the tree.
 */
export function assertOperationsInTreeMenu(node: BrowseNode): void {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
  const entries = manifest.contributes.menus['view/item/context'] ?? [];
  for (const operation of node.operations) {
    assert.ok(
      entries.some((entry) => new RegExp(`view == lifeboat\\.backups\\b.*op:${operation.id}\\b`).test(entry.when ?? '')),
      `${node.path}: its operation '${operation.id}' (${operation.label}) has no Backups view menu entry in package.json`,
    );
  }
}
