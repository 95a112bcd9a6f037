import assert from 'node:assert/strict';
import { joinPath, splitPath, type Page } from '../../src/core/browse/node';

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
