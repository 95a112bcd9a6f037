import type { Inventory } from '../actions/spec';
import type { BrowseNode } from './node';

/** The values picked so far, by parameter name. */
export type Picked = Readonly<Record<string, unknown>>;

/** "Choose a node under this path": the browse model lists the children, the person picks. */
export interface NodeStep {
  kind: 'node';
  /** The parameter the pick sets; `from.host` sets `host` inside `from`. */
  param: string;
  /** Asked after the command's title: "which Frigate?". */
  question: string;
  /** The node whose children are offered, from what was picked before. */
  under: (picked: Picked) => string;
  /** Which children are offered; all by default. */
  accept?: (node: BrowseNode) => boolean;
  /** The parameter's value from a node picked; its label by default. */
  value?: (node: BrowseNode) => unknown;
  /** More parameters a node picked sets beside `param` (a mirror: where it writes and where it runs); one node picked only. */
  params?: (node: BrowseNode) => Picked;
  /**
   * Taken without asking: the labels the inventory already names for this (each one is a run of its
   * own when `eachRun`), or the one to take when it is offered; the only node offered is taken too.
   */
  preferred?: (picked: Picked, inventory: Inventory) => { labels: readonly string[]; all: boolean } | undefined;
  /** Several may be picked, all offered ones picked at first; picking them all leaves the parameter out. */
  many?: boolean;
  /** The action runs once per node picked, each a step of one run (a backup to each of several locations). */
  eachRun?: boolean;
  /** Read what the pick list shows beyond the tree (a face archive's contents). */
  details?: boolean;
  /** Said when nothing is offered. */
  none: string;
}

/** A fixed choice of values (a method, once or watching), each with what it means. */
export interface ChoiceStep {
  kind: 'choice';
  param: string;
  question: string;
  /** `label` is what the list shows, the value itself when left out (a value that is not a word needs one). */
  options: readonly { value: string | boolean; label?: string; description: string }[];
}

/** A value nothing can list (a folder on a host): typed, and checked as it is typed against the action's own schema for it. */
export interface TextStep {
  kind: 'text';
  /** The parameter it sets; `from.path` sets `path` inside `from`. */
  param: string;
  question: string;
  /** What the box shows greyed while it is empty: an example of a value. */
  placeholder?: string;
  /** Asked only when this holds for what was picked before (a remote only for `expired: archive`). */
  when?: (picked: Picked) => boolean;
}

export type PaletteStep = NodeStep | ChoiceStep | TextStep;

/** The action's parameters from the picks: `from.host` and `from.path` become `from: { host, path }`. */
export function paramsFromPicks(picked: Picked): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(picked)) {
    const [outer, ...inner] = name.split('.');
    let into = params;
    let key = outer as string;
    for (const part of inner) {
      const existing = into[key];
      into = (into[key] = typeof existing === 'object' && existing !== null ? existing : {}) as Record<string, unknown>;
      key = part;
    }
    into[key] = value;
  }
  return params;
}

/**
 * A palette command as a declaration: the picks it asks for, then its action through the runner
 * (validation, the destructive confirmation, the run record). The surface renders the picks.
 */
export interface PaletteCommand {
  /** The contributed command id. */
  command: string;
  /** Names the notification, the pick lists and the run. */
  title: string;
  action: string;
  steps: readonly PaletteStep[];
  /** Parameters taken from the editor's settings, by parameter name: the setting's id and the value when unset. */
  settings?: Readonly<Record<string, { setting: string; fallback: number | string | boolean }>>;
  /**
   * The button of a modal that shows the action's plan to agree to before it runs (a plan that is
   * destructive is put to the person by the runner instead); without it the action runs at once.
   */
  agreeToPlan?: string;
  /** How a succeeded run is told instead of "done in …" (a check's verdict). */
  conclude?: (result: unknown) => { message: string; warning: boolean };
}
