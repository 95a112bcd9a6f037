import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ActionContext, Inventory } from '../core/actions/spec';
import { BrowseModel } from '../core/browse/model';
import type { BrowseNode } from '../core/browse/node';
import { paramsFromPicks, type ChoiceStep, type NodeStep, type PaletteCommand, type Picked, type TextStep } from '../core/browse/palette';
import { paramSchemaAt } from '../core/actions/fields';
import { errorMessage, isCancellationError } from '../core/errors';
import { INVENTORY_FILE } from '../core/paths';
import { loadWorkspaceAt } from '../core/workspace';
import { builtinBrowsers } from '../actions';
import { runActionCommand, runActionSteps, type RunActionOutcome, type RunStepsOutcome } from './actionCommand';
import { withReadingContext } from './backupBrowsing';
import { planOperationsAsText } from './confirm';
import type { Services } from './services';

/** A pick list of more than this many nodes is not read further: it would be no use to a person. */
const MOST_NODES = 2000;
const PAGE = 200;

interface Session {
  services: Services;
  command: PaletteCommand;
  workspaceDir: string;
  inventory: Inventory;
  model: BrowseModel;
  /** The nodes each step offered, by the path listed: a step that asks again (all picked?) does not list again. */
  offered: Map<string, Promise<BrowseNode[]>>;
}

/** Why a command stops before its action runs: said to the person, or nothing when they cancelled. */
class Stop extends Error {}

/**
 * Runs a declared palette command: its picks in order (nodes from the browse model, fixed choices),
 * then its action through the same runner as notebook cells. Undefined when the person cancelled a
 * pick or a pick could not be offered (which is said).
 */
export async function runPaletteCommand(services: Services, command: PaletteCommand): Promise<RunActionOutcome | RunStepsOutcome | undefined> {
  const eachRun = command.steps.find((step): step is NodeStep => step.kind === 'node' && step.eachRun === true);
  const folder = vscode.workspace.workspaceFolders?.[0];
  // The runner says why nothing can run here, as every palette command does.
  if (!folder || folder.uri.scheme !== 'file' || !vscode.workspace.isTrusted) return eachRun ? runActionSteps(services, { action: command.action, title: command.title, steps: [] }) : runActionCommand(services, { action: command.action, title: command.title });
  const workspaceDir = folder.uri.fsPath;
  let inventory: Inventory;
  try {
    inventory = (await loadWorkspaceAt(workspaceDir)).inventory;
  } catch (error) {
    services.showError(`${command.title}: ${errorMessage(error)}`);
    return undefined;
  }
  const session: Session = { services, command, workspaceDir, inventory, model: new BrowseModel(builtinBrowsers, services.registry(), join(workspaceDir, INVENTORY_FILE)), offered: new Map() };
  const picked: Record<string, unknown> = {};
  let runs: unknown[] = [];
  try {
    for (const step of command.steps) {
      if (step.kind === 'choice') picked[step.param] = await choose(session, step);
      else if (step.kind === 'text') {
        if (step.when?.(picked) ?? true) picked[step.param] = await typeIn(session, step);
      } else if (step.eachRun) runs = (await pickNodes(session, step, picked)).map((pick) => pick.value);
      else {
        const picks = await pickNodes(session, step, picked);
        const [first] = picks;
        if (!step.many) {
          picked[step.param] = first?.value;
          if (first?.node && step.params) Object.assign(picked, step.params(first.node));
        }
        // All of them picked: left out, so one added later is included too.
        else if (picks.length < (await offered(session, step, picked)).length) picked[step.param] = picks.map((pick) => pick.value);
      }
    }
    for (const [param, { setting, fallback }] of Object.entries(command.settings ?? {})) picked[param] = vscode.workspace.getConfiguration().get(setting, fallback);
    if (!eachRun && command.agreeToPlan !== undefined && !(await agreedToPlan(session, command.agreeToPlan, picked))) return undefined;
  } catch (error) {
    if (error instanceof Stop) {
      if (error.message) services.showError(`${command.title}: ${error.message}`);
      return undefined;
    }
    throw error;
  }
  if (eachRun) {
    return runActionSteps(services, { action: command.action, title: command.title, steps: runs.map((value) => ({ label: String(value), params: paramsFromPicks({ ...picked, [eachRun.param]: value }) })) });
  }
  return runActionCommand(services, { action: command.action, title: command.title, params: paramsFromPicks(picked) }, command.conclude);
}

/** An input box checked as it is typed against the action's schema for the parameter. */
async function typeIn(session: Session, step: TextStep): Promise<string> {
  const action = session.services.registry().get(session.command.action);
  const schema = action && paramSchemaAt(action.params, step.param);
  const text = await vscode.window.showInputBox({
    title: `${session.command.title}: ${step.question}`,
    ...(step.placeholder === undefined ? {} : { placeHolder: step.placeholder }),
    ignoreFocusOut: true,
    validateInput: (typed) => {
      const checked = schema?.safeParse(typed);
      return checked && !checked.success ? (checked.error.issues[0]?.message ?? 'not a valid value') : undefined;
    },
  });
  if (text === undefined) throw new Stop();
  return text;
}

async function choose(session: Session, step: ChoiceStep): Promise<string | boolean> {
  const choice = await vscode.window.showQuickPick(
    step.options.map((option) => ({ label: option.label ?? String(option.value), description: option.description, value: option.value })),
    { title: `${session.command.title}: ${step.question}`, ignoreFocusOut: true },
  );
  if (!choice) throw new Stop();
  return choice.value;
}

/**
 * Reads in a cancellable notification, in a reading context of its own. A failure or a cancel
 * becomes a `Stop` (the cancel says nothing; the failure is said once, by the command).
 */
function whileReading<Result>(session: Session, what: string, read: (ctx: ActionContext) => Promise<Result>): Thenable<Result> {
  const { services, command } = session;
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `${command.title}: ${what}`, cancellable: true }, async (_progress, token) => {
    const abort = new AbortController();
    const cancellation = token.onCancellationRequested(() => abort.abort());
    try {
      return await withReadingContext(services, session.workspaceDir, { tag: command.title, askHostKeys: true, inventory: session.inventory, signal: abort.signal }, read);
    } catch (error) {
      if (error instanceof Stop) throw error;
      throw new Stop(isCancellationError(error) ? '' : errorMessage(error));
    } finally {
      cancellation.dispose();
    }
  });
}

/** The nodes a step offers under what was picked so far, listed once per path. */
function offered(session: Session, step: NodeStep, picked: Picked): Promise<BrowseNode[]> {
  const under = step.under(picked);
  let nodes = session.offered.get(under);
  if (!nodes) {
    nodes = Promise.resolve(whileReading(session, `reading ${under}`, (ctx) => readNodes(session, step, under, ctx)));
    session.offered.set(under, nodes);
  }
  return nodes;
}

async function readNodes(session: Session, step: NodeStep, under: string, ctx: ActionContext): Promise<BrowseNode[]> {
  const found: BrowseNode[] = [];
  let cursor: string | undefined;
  do {
    const page = await session.model.children(under, { limit: PAGE, ...(step.details ? { details: true } : {}), ...(cursor === undefined ? {} : { cursor }) }, ctx);
    const failed = page.nodes.find((node) => node.kind === 'error');
    if (failed) throw new Stop(failed.description ?? failed.label);
    found.push(...page.nodes.filter((node) => node.kind !== 'empty' && (step.accept?.(node) ?? true)));
    cursor = page.next;
  } while (cursor !== undefined && found.length < MOST_NODES);
  return found;
}

/** A value picked, and the node it is of (none for a label the inventory names). */
interface NodePick {
  value: unknown;
  node?: BrowseNode;
}

/** The nodes picked: those the inventory names, the only one, or the person's pick(s). */
async function pickNodes(session: Session, step: NodeStep, picked: Picked): Promise<NodePick[]> {
  const pickOf = (node: BrowseNode): NodePick => ({ value: step.value ? step.value(node) : node.label, node });
  const preferred = step.preferred?.(picked, session.inventory);
  // Named in the inventory: taken as named, and the action says so if one is not there.
  if (preferred?.all) return preferred.labels.map((label) => ({ value: label }));
  const nodes = await offered(session, step, picked);
  if (nodes.length === 0) throw new Stop(step.none);
  if (nodes.length === 1 && !step.many) return [pickOf(nodes[0] as BrowseNode)];
  const preferredNode = nodes.find((node) => preferred?.labels.includes(node.label));
  if (preferredNode && !step.many) return [pickOf(preferredNode)];
  const items = nodes.map((node) => ({
    label: node.label,
    description: [node.description, node.status && (node.status.level === 'warning' || node.status.level === 'error') ? node.status.reason : undefined].filter(Boolean).join(' · '),
    ...(node.detail === undefined ? {} : { detail: node.detail }),
    picked: step.many === true,
    node,
  }));
  const title = `${session.command.title}: ${step.question}`;
  if (step.many) {
    const chosen = await vscode.window.showQuickPick(items, { title, canPickMany: true, ignoreFocusOut: true });
    if (!chosen || chosen.length === 0) throw new Stop();
    return chosen.map((item) => pickOf(item.node));
  }
  const chosen = await vscode.window.showQuickPick(items, { title, ignoreFocusOut: true, matchOnDescription: true, matchOnDetail: true });
  if (!chosen) throw new Stop();
  return [pickOf(chosen.node)];
}

/** The action's plan in a modal to agree to; a destructive plan is put to the person by the runner instead, with the same plan. */
async function agreedToPlan(session: Session, button: string, params: Picked): Promise<boolean> {
  const { services, command } = session;
  const action = services.registry().get(command.action);
  if (!action) return true;
  const plan = await whileReading(session, 'planning', (ctx) => action.plan(action.params.parse(paramsFromPicks(params)), ctx));
  if (plan.destructive) return true;
  const choice = await vscode.window.showInformationMessage(`${command.title}: ${plan.summary}`, { modal: true, detail: planOperationsAsText(plan) }, button);
  return choice === button;
}
