/**
 * The browse model's data: what the Backups tree, the palette's pick lists and `lifeboat ls` show.
 * A backend describes its things as nodes; each surface renders nodes without knowing the backend.
 */

import type { ActionContext } from '../actions/spec';

export type StatusLevel = 'ok' | 'warning' | 'error' | 'unknown';

export interface NodeStatus {
  level: StatusLevel;
  /** Why, in a sentence: shown in tooltips and by `lifeboat ls`. */
  reason: string;
}

/** Runs an action with parameters bound from the node, through the runner (plan, confirmation, run record). */
export interface ActionOperation {
  kind: 'action';
  /** Names the operation on the node (`verify`, `delete`): menus and `lifeboat do` find it by this. */
  id: string;
  label: string;
  action: string;
  params: Record<string, unknown>;
  /** The action's own flag, filled in by the model from the registry: the runner asks before a destructive one runs. */
  destructive: boolean;
}

/** Opens a bundled runbook (or the workspace's copy of it) with parameters bound from the node. */
export interface RunbookOperation {
  kind: 'runbook';
  id: string;
  label: string;
  /** The file name of a runbook under `runbooks/`. */
  runbook: string;
  params: Record<string, string>;
}

export type Operation = ActionOperation | RunbookOperation;

/** What a browser declares; the model adds the action's destructive flag. */
export type DeclaredOperation = Omit<ActionOperation, 'destructive'> | RunbookOperation;

/**
 * Follows a node whose thing changes by itself (a running backup) as its source reports the changes:
 * `onChange` gets the node as it is now each time, undefined once the thing is gone. Resolves when the
 * node no longer changes (a finished backup: the node given last has no watch) or `ctx.signal` aborts.
 */
export type NodeWatch = (ctx: ActionContext, onChange: (node: DeclaredNode | undefined) => void) => Promise<void>;

/** Facts about the thing a node stands for, as JSON: read by pick steps and printed by `lifeboat ls --json`. */
export type Facts = Readonly<Record<string, string | number | boolean | null | readonly string[]>>;

export interface BrowseNode {
  /** Stable and unique: `frigate/home/people/Asha`, `locations/nas/frigate-faces-20260206-030000.tar.gz`. */
  path: string;
  /** What the node is, e.g. `location`, `archive`, `frigate.person`; `error` and `empty` are the model's own. */
  kind: string;
  label: string;
  description?: string;
  /** A second line where a surface has room for one (a pick list); read only when the page was asked `details`. */
  detail?: string;
  /** Markdown. */
  tooltip?: string;
  /** A codicon id, e.g. `folder-library`. */
  icon: string;
  status?: NodeStatus;
  hasChildren: boolean;
  operations: readonly Operation[];
  facts: Facts;
  /** Present while the thing changes by itself: surfaces that stay open follow it instead of reading again on a timer. */
  watch?: NodeWatch;
}

/** A node as a browser returns it, before the model completes its operations. */
export type DeclaredNode = Omit<BrowseNode, 'operations'> & { operations?: readonly DeclaredOperation[] };

export interface PageRequest {
  /** Where the previous page ended; absent for the first page. */
  cursor?: string;
  limit: number;
  /** Only nodes whose label contains this (case-insensitive); a browser that can filters where it lists. */
  filter?: string;
  /** Read what each node of the page needs one more read for (a face archive's contents): for a pick list of one page, not a tree. */
  details?: boolean;
}

export interface Page<Node = BrowseNode> {
  nodes: Node[];
  /** The cursor of the next page; absent on the last one. */
  next?: string;
  /** How many nodes there are in all, when the listing knows. */
  total?: number;
}

function escapeSegment(segment: string): string {
  return segment.replace(/%/g, '%25').replace(/\//g, '%2F');
}

/** Path segments are joined with `/`; a `/` or `%` inside a segment (a location named `a/b`) is escaped. */
export function joinPath(...segments: readonly string[]): string {
  return segments.map(escapeSegment).join('/');
}

/** The path of a node under `parent` (a path already joined). */
export function childPath(parent: string, ...segments: readonly string[]): string {
  return [parent, ...segments.map(escapeSegment)].join('/');
}

export function splitPath(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => segment.replace(/%2F/gi, '/').replace(/%25/g, '%'));
}

/** A leaf that says there is nothing here, so an empty listing does not look like a broken one. */
export function emptyNode(parent: string, message: string): DeclaredNode {
  return { path: childPath(parent, '!empty'), kind: 'empty', label: message, icon: 'info', hasChildren: false, facts: {} };
}

/** A listing that failed: a node with the message, which the surfaces open the log from. */
export function errorNode(parent: string, message: string): BrowseNode {
  return {
    path: childPath(parent, '!error'),
    kind: 'error',
    label: 'Failed to load (click for log)',
    description: message,
    tooltip: message,
    icon: 'error',
    status: { level: 'error', reason: message },
    hasChildren: false,
    operations: [],
    facts: { message },
  };
}

/**
 * One page of a listing that comes whole from its source (a folder, an API answer): filtered by label,
 * then cut at the cursor (an offset). Nodes are made for this page only, so memory stays flat while
 * paging through a long listing.
 */
export function pageOf<Item>(items: readonly Item[], request: PageRequest, label: (item: Item) => string, toNode: (item: Item) => DeclaredNode): Page<DeclaredNode> {
  const wanted = request.filter?.toLowerCase();
  const matching = wanted ? items.filter((item) => label(item).toLowerCase().includes(wanted)) : items;
  const start = request.cursor === undefined ? 0 : Number(request.cursor);
  if (!Number.isInteger(start) || start < 0) throw new Error(`not a cursor of this listing: '${request.cursor}'`);
  const end = Math.min(matching.length, start + Math.max(1, request.limit));
  const nodes = matching.slice(start, end).map(toNode);
  return end < matching.length ? { nodes, next: String(end), total: matching.length } : { nodes, total: matching.length };
}
