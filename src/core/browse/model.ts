import type { ActionRegistry } from '../actions/registry';
import type { ActionContext } from '../actions/spec';
import { errorMessage, isCancellationError } from '../errors';
import { errorNode, joinPath, pageOf, splitPath, type BrowseNode, type DeclaredNode, type Operation, type Page, type PageRequest } from './node';

/** What a browser reads through: the action context of the reading surface, and listings kept for the next page. */
export interface BrowseSession {
  ctx: ActionContext;
  /** The inventory file, for messages that point at an entry. */
  inventoryFile: string;
  /** The value of `load()` for `key`, read once until the model is refreshed: the next page of a listing does not list again. */
  cached<Value>(key: string, load: () => Promise<Value>): Promise<Value>;
  /**
   * Whether the surface goes on listing (a tree a person clicks through), so that reading ahead for
   * the listings likely next is worth starting; a surface that lists once and exits (`lifeboat ls`)
   * would leave that work running, or cut short, for nobody.
   */
  readAhead: boolean;
}

/**
 * A backend's things: the roots it contributes from the inventory (no network), and the children of
 * any of its nodes. Every node path it makes starts with `root`.
 */
export interface Browser {
  readonly root: string;
  roots(session: BrowseSession): readonly DeclaredNode[];
  children(path: readonly string[], request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>>;
}

/**
 * One model for every surface: the roots of every backend, the children of any node a page at a
 * time, and a failed listing as an error node (never an exception, except a cancellation).
 */
export class BrowseModel {
  private readonly listings = new Map<string, Promise<unknown>>();

  constructor(
    private readonly browsers: readonly Browser[],
    private readonly registry: ActionRegistry,
    private readonly inventoryFile: string,
    private readonly options: { readAhead: boolean } = { readAhead: true },
  ) {
    const roots = new Set<string>();
    for (const browser of browsers) {
      if (roots.has(browser.root)) throw new Error(`two browsers claim the root '${browser.root}'`);
      roots.add(browser.root);
    }
  }

  roots(ctx: ActionContext): BrowseNode[] {
    const session = this.session(ctx);
    return this.browsers.flatMap((browser) => {
      try {
        return browser.roots(session).map((node) => this.complete(node));
      } catch (error) {
        return [this.failure(browser.root, error, ctx)];
      }
    });
  }

  async children(path: string, request: PageRequest, ctx: ActionContext): Promise<Page> {
    const segments = splitPath(path);
    const browser = this.browsers.find((candidate) => candidate.root === segments[0]);
    if (!browser) return { nodes: [this.failure(path, new Error(`nothing is listed under '${path}'`), ctx)] };
    try {
      // A root's own segment (`frigate`) lists that backend's roots: a pick of "which Frigate?".
      const page = segments.length === 1 ? pageOf(browser.roots(this.session(ctx)), request, (node) => node.label, (node) => node) : await browser.children(segments, request, this.session(ctx));
      return { ...page, nodes: page.nodes.map((node) => this.complete(node)) };
    } catch (error) {
      if (isCancellationError(error) || ctx.signal.aborted) throw error;
      // Not kept: the next expand lists again.
      this.forget(path);
      return { nodes: [this.failure(path, error, ctx)] };
    }
  }

  /**
   * The node at `path`: a root, or found by listing the nodes above it page by page (the nearest
   * first: a person `frigate/home/people/Asha` is listed under `frigate/home`); undefined when there is none.
   */
  async node(path: string, ctx: ActionContext): Promise<BrowseNode | undefined> {
    const segments = splitPath(path);
    const wanted = joinPath(...segments);
    const root = this.roots(ctx).find((node) => node.path === wanted);
    if (root || !this.browsers.some((browser) => browser.root === segments[0])) return root;
    for (let length = segments.length - 1; length >= 2; length--) {
      const found = await this.listedNode(joinPath(...segments.slice(0, length)), wanted, ctx);
      if (found) return found;
    }
    return undefined;
  }

  private async listedNode(parent: string, wanted: string, ctx: ActionContext): Promise<BrowseNode | undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.children(parent, { limit: 500, ...(cursor === undefined ? {} : { cursor }) }, ctx);
      const error = page.nodes.find((node) => node.kind === 'error');
      if (error) throw new Error(error.description ?? error.label);
      const found = page.nodes.find((node) => node.path === wanted);
      if (found) return found;
      cursor = page.next;
    } while (cursor !== undefined);
    return undefined;
  }

  /**
   * Follows a node that changes by itself (`BrowseNode.watch`) until it settles or `ctx.signal` aborts:
   * `onChange` gets it completed at each change, undefined once it is gone, and the listing it came from
   * is read again for the next page. Resolves at once for a node without a watch; a watch that fails is
   * logged and ends, the node staying as last shown.
   */
  async watch(node: BrowseNode, ctx: ActionContext, onChange: (node: BrowseNode | undefined) => void): Promise<void> {
    if (!node.watch) return;
    const parent = joinPath(...splitPath(node.path).slice(0, -1));
    try {
      await node.watch(ctx, (changed) => {
        this.forget(parent);
        onChange(changed && this.complete(changed));
      });
    } catch (error) {
      if (isCancellationError(error) || ctx.signal.aborted) return;
      ctx.log.error(`following ${node.path} failed: ${errorMessage(error)}`);
    }
  }

  /** Forgets the listings under `path` (everything without one), so they are read again. */
  forget(path?: string): void {
    if (path === undefined) {
      this.listings.clear();
      return;
    }
    for (const key of this.listings.keys()) if (key === path || key.startsWith(`${path}/`)) this.listings.delete(key);
  }

  private session(ctx: ActionContext): BrowseSession {
    return {
      ctx,
      inventoryFile: this.inventoryFile,
      readAhead: this.options.readAhead,
      cached: async <Value>(key: string, load: () => Promise<Value>): Promise<Value> => {
        const shared = this.listings.get(key) as Promise<Value> | undefined;
        if (shared) {
          try {
            return await shared;
          } catch (error) {
            // The reader that started it was cancelled, not this one: this one lists for itself.
            if (!isCancellationError(error) || ctx.signal.aborted) throw error;
          }
        }
        const listing = load();
        this.listings.set(key, listing);
        // A failed listing is not kept.
        listing.catch(() => {
          if (this.listings.get(key) === listing) this.listings.delete(key);
        });
        return listing;
      },
    };
  }

  /** Operations of actions this build has, with the action's own destructive flag. */
  private complete(node: DeclaredNode): BrowseNode {
    const operations: Operation[] = [];
    for (const operation of node.operations ?? []) {
      if (operation.kind === 'runbook') operations.push(operation);
      else {
        const action = this.registry.get(operation.action);
        if (action) operations.push({ ...operation, destructive: action.destructive });
      }
    }
    return { ...node, operations };
  }

  private failure(path: string, error: unknown, ctx: ActionContext): BrowseNode {
    const message = `listing ${path} failed: ${errorMessage(error)}`;
    ctx.log.error(message);
    return errorNode(path, message);
  }
}
