import { access } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { builtinBrowsers } from '../actions';
import { createActionContext } from '../core/actions/context';
import type { ActionRegistry } from '../core/actions/registry';
import type { ActionContext } from '../core/actions/spec';
import { BrowseModel } from '../core/browse/model';
import type { BrowseNode, Operation } from '../core/browse/node';
import { Redactor } from '../core/redact';
import { literalText } from '../core/runbook/interpolate';
import { parseRunbook } from '../core/runbook/parse';
import { INVENTORY_FILE } from '../core/paths';
import { printable } from '../core/render';
import { loadInventory } from '../core/workspace';
import { readYaml } from '../core/yamlData';
import { EXIT, parseCommandLine, readParamArguments, readRunbookFile, UsageError } from './args';
import { runDocument, runOptions } from './run';
import { cliSecrets } from './secrets';
import { Terminal } from './terminal';

const PAGE = 50;

/** The model over the inventory of the current folder (or `--inventory`), read as the CLI reads everything: secrets from the environment or the secrets file, host keys never asked. */
async function openModel(values: { inventory?: string; secrets?: string; verbose?: boolean }, registry: ActionRegistry, terminal: Terminal, signal: AbortSignal) {
  const workspaceDir = process.cwd();
  const inventoryFile = values.inventory ?? join(workspaceDir, INVENTORY_FILE);
  const inventory = await loadInventory(inventoryFile, { required: values.inventory !== undefined });
  const redactor = new Redactor((message) => terminal.line(`lifeboat: warning: ${message}`));
  const secrets = await cliSecrets(values.secrets, (value, name) => redactor.add(value, `secret '${name}'`));
  const ctx = createActionContext({ workspaceDir, inventory, secrets, signal, log: redactor.logger(terminal.logger('ls')) });
  return { ctx, redactor, model: new BrowseModel(builtinBrowsers, registry, inventoryFile, { readAhead: false }) };
}

/** Stops the listing on Ctrl-C (exit 130). */
function interruptible(): { signal: AbortSignal; done: () => void } {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    signal: abort.signal,
    done: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

function describeOperation(operation: Operation): string {
  return `${operation.id}${operation.kind === 'action' && operation.destructive ? '!' : ''}`;
}

function nodeJson(node: BrowseNode): Record<string, unknown> {
  return {
    path: node.path,
    kind: node.kind,
    label: node.label,
    description: node.description ?? null,
    status: node.status ?? null,
    hasChildren: node.hasChildren,
    operations: node.operations.map((operation) =>
      operation.kind === 'action'
        ? { id: operation.id, label: operation.label, action: operation.action, params: operation.params, destructive: operation.destructive }
        : { id: operation.id, label: operation.label, runbook: operation.runbook, params: operation.params },
    ),
    facts: node.facts,
  };
}

/** Rows padded into columns: path, status, description, operations (`!` marks a destructive one). */
function table(nodes: readonly BrowseNode[]): string {
  const rows = nodes.map((node) => [
    `${printable(node.path)}${node.hasChildren ? '/' : ''}`,
    node.status?.level ?? '',
    printable(node.description ?? ''),
    node.operations.map(describeOperation).join(' '),
  ]);
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => (row[column] as string).length)));
  return rows.map((row) => row.map((cell, column) => (column < 3 ? cell.padEnd(widths[column] as number) : cell)).join('  ').trimEnd()).join('\n');
}

/** `lifeboat ls [PATH]`: the nodes under PATH (the roots without one), a page at a time unless `--all`. */
export async function lsCommand(args: readonly string[], registry: ActionRegistry): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { inventory: { type: 'string' }, secrets: { type: 'string' }, json: { type: 'boolean' }, all: { type: 'boolean' }, verbose: { type: 'boolean' } });
  if (positionals.length > 1) throw new UsageError(`lifeboat ls: expected at most one path, got ${positionals.length}`);
  const terminal = new Terminal(process.stderr, values.verbose);
  const stop = interruptible();
  const { ctx, redactor, model } = await openModel(values, registry, terminal, stop.signal);
  try {
    const path = positionals[0]?.replace(/\/+$/, '');
    let nodes: BrowseNode[];
    let more: number | undefined;
    if (path === undefined || path === '') nodes = model.roots(ctx);
    else {
      nodes = [];
      let cursor: string | undefined;
      do {
        const page = await model.children(path, { limit: PAGE, ...(cursor === undefined ? {} : { cursor }) }, ctx);
        nodes.push(...page.nodes);
        cursor = page.next;
        if (cursor !== undefined && !values.all) more = (page.total ?? 0) - nodes.length;
      } while (cursor !== undefined && values.all);
      // A typo lists nothing, as a leaf does: only a node that is there lists nothing quietly.
      if (nodes.length === 0 && !(await model.node(path, ctx))) throw new UsageError(`lifeboat ls: nothing at '${path}'; \`lifeboat ls\` shows what there is`);
    }
    if (values.json) for (const node of nodes) process.stdout.write(`${redactor.redact(JSON.stringify(nodeJson(node)))}\n`);
    else if (nodes.length > 0) process.stdout.write(`${redactor.redact(table(nodes))}\n`);
    if (more !== undefined) terminal.line(`… and ${more > 0 ? more : 'more'} more: lifeboat ls ${path ?? ''} --all`);
    // The model has logged why (on stderr): the node's message is not printed twice.
    return nodes.some((node) => node.kind === 'error') ? EXIT.stepFailed : EXIT.ok;
  } catch (error) {
    if (stop.signal.aborted) return EXIT.cancelled;
    throw error;
  } finally {
    stop.done();
    await ctx.clients.disposeAll();
  }
}

async function findNode(model: BrowseModel, path: string, ctx: ActionContext): Promise<BrowseNode> {
  const node = await model.node(path, ctx);
  if (!node) throw new UsageError(`lifeboat do: nothing at '${path}'; \`lifeboat ls\` shows what there is`);
  return node;
}

/** A runbook of one action cell running the operation, its parameters written so that none is read as a reference. */
function operationRunbook(node: BrowseNode, operation: Extract<Operation, { kind: 'action' }>): string {
  const literal = (value: unknown): unknown => (typeof value === 'string' ? literalText(value) : Array.isArray(value) ? value.map(literal) : value);
  // JSON is YAML, and each value is one line of it.
  const fields = Object.entries(operation.params).map(([key, value]) => `${key}: ${JSON.stringify(literal(value))}`);
  return ['---', `title: ${JSON.stringify(`${operation.label} ${node.label}`)}`, '---', '', '```lifeboat {id=operation}', `action: ${operation.action}`, ...fields, '```', ''].join('\n');
}

/** A `--param` value as YAML reads a scalar; anything else (a list, a mapping, invalid YAML) stays the text typed. */
function scalarOf(text: string): unknown {
  const read = readYaml(text);
  return read.ok && (typeof read.data === 'number' || typeof read.data === 'boolean') ? read.data : text;
}

/** The workspace's own copy of a bundled runbook (beside lifeboat.yaml or under runbooks/), else the one shipped with the CLI. */
async function runbookFile(workspaceDir: string, name: string): Promise<string> {
  for (const candidate of [join(workspaceDir, name), join(workspaceDir, 'runbooks', name)]) {
    try {
      await access(candidate);
      return candidate;
    } catch {
      // Not there: the next place.
    }
  }
  // dist/cli.js → runbooks/ of the package.
  return join(__dirname, '..', 'runbooks', name);
}

/** `lifeboat do PATH OPERATION`: one of a node's operations, through the same runner as `lifeboat run`. */
export async function doCommand(args: readonly string[], registry: ActionRegistry): Promise<number> {
  const { values, positionals } = parseCommandLine(args, runOptions);
  if (positionals.length !== 2) throw new UsageError('lifeboat do: expected a path and an operation, e.g. lifeboat do locations/nas/backup-20260101.tar.gz verify');
  const [path, operationId] = positionals as [string, string];
  const terminal = new Terminal(process.stderr, values.verbose);
  const stop = interruptible();
  let node: BrowseNode;
  const { ctx, model } = await openModel(values, registry, terminal, stop.signal);
  try {
    node = await findNode(model, path, ctx);
  } finally {
    stop.done();
    await ctx.clients.disposeAll();
  }
  const operation = node.operations.find((candidate) => candidate.id === operationId);
  if (!operation) {
    const offered = node.operations.map((candidate) => candidate.id);
    throw new UsageError(`lifeboat do: ${node.path} has no operation '${operationId}'; ${offered.length > 0 ? `it has: ${offered.join(', ')}` : 'it has none'}`);
  }
  const workspace = async () => ({ workspaceDir: ctx.workspaceDir, inventory: ctx.inventory });
  if (operation.kind === 'action') {
    // `--param` sets the action's own parameters here, read as a cell would read them (`3` a number, `true` a boolean).
    const params = { ...operation.params, ...Object.fromEntries(Object.entries(readParamArguments(values.param)).map(([name, text]) => [name, scalarOf(text)])) };
    const shown = `lifeboat do ${node.path} ${operation.id}`;
    return runDocument({ document: parseRunbook(operationRunbook(node, { ...operation, params })), shown, workspace, values: { ...values, param: undefined } }, registry);
  }
  const file = await runbookFile(ctx.workspaceDir, operation.runbook);
  // A bundled runbook is named by its file name, not by a path into the CLI's install folder.
  const own = file.startsWith(`${ctx.workspaceDir}${sep}`) ? { file } : {};
  return runDocument({ document: parseRunbook(await readRunbookFile(file)), shown: operation.runbook, ...own, workspace, values, bound: operation.params }, registry);
}
