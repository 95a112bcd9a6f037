import type * as z from 'zod';
import type { InventoryFile } from '../inventory/schema';
import type { ClientPool } from './clients';
import type { PlanHandOver } from './handOver';

/** What an action reports while it works; every field is optional so each action reports what it knows. */
export interface ProgressUpdate {
  message?: string;
  items?: number;
  totalItems?: number;
  bytes?: number;
  totalBytes?: number;
}

export interface ProgressReporter {
  report(update: ProgressUpdate): void;
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Live output of a step (a shell's stdout/stderr); the runner decides where it goes. */
export interface OutputSink {
  write(stream: 'stdout' | 'stderr', chunk: string): void;
}

/** Resolves `secret:NAME` references; every value it hands out is masked wherever output is recorded. */
export interface SecretResolver {
  resolve(name: string): Promise<string>;
}

/** A host key no known_hosts file lists, as it is put to the person who may trust it. */
export interface UnknownHostKey {
  /** `[host]:port` or `host`, as known_hosts names it. */
  host: string;
  keyType: string;
  fingerprint: string;
  /** The known_hosts line that trusts exactly this key, and the file it is added to. */
  knownHostsLine: string;
  knownHostsFile: string;
}

/** Asked once for a host key nobody has vouched for yet; true adds it to known_hosts. */
export type HostKeyApproval = (key: UnknownHostKey) => Promise<boolean>;

/** The validated `lifeboat.yaml` of the workspace; empty when there is none. */
export type Inventory = Readonly<InventoryFile>;

export interface ActionContext {
  /** The folder relative paths in parameters are resolved against. */
  workspaceDir: string;
  signal: AbortSignal;
  progress: ProgressReporter;
  log: Logger;
  output: OutputSink;
  secrets: SecretResolver;
  inventory: Inventory;
  /** Connections to hosts, clusters and stores, shared by the steps of one run. */
  clients: ClientPool;
  /** Asks about an unknown SSH host key; left out (the CLI), an unknown key fails with the line to add. */
  approveHostKey?: HostKeyApproval;
  /** The runbook the step belongs to, as another run is told who holds a location's lock. */
  runbook?: string;
  /** Runbook parameters, for actions (like `shell`) that hand them on to a child process. */
  runbookParams: Readonly<Record<string, unknown>>;
  /**
   * The environment variables the references in the step's script fields were rewritten to, with
   * their values; an action with `scriptFields` puts them into its script's environment.
   */
  scriptVariables?: Readonly<Record<string, string>>;
  /**
   * Given to the plan a run follows (the plan shown before a destructive step runs) and to that run:
   * the plan may leave in it what it read and started, which the run then takes. Left out when a plan
   * is only shown: a dry run starts nothing.
   */
  handOver?: PlanHandOver;
}

/**
 * Which parameters of an action hold shell script text, as dotted field paths. A list names fixed
 * fields; a function reads the step's parameters as written (before interpolation), for actions
 * where it depends on the other arguments (an argument list that runs `sh -c SCRIPT`).
 */
export type ScriptFields = readonly string[] | ((params: Readonly<Record<string, unknown>>) => readonly string[]);

export type OperationKind = 'read' | 'create' | 'overwrite' | 'delete' | 'run' | 'verify';

export interface PlannedOperation {
  kind: OperationKind;
  target: string;
  bytes?: number;
  items?: number;
  detail?: string;
}

/** The dry run of one invocation: what would be read, written and deleted. */
export interface ActionPlan {
  summary: string;
  operations: PlannedOperation[];
  /** True when this invocation would overwrite or delete existing data; the runner then asks first. */
  destructive: boolean;
}

export interface ActionSpec<Schema extends z.ZodType = z.ZodType, Result = unknown> {
  id: string;
  title: string;
  description: string;
  params: Schema;
  /** Whether the action can ever overwrite or delete data (its plan says whether a given call does). */
  destructive: boolean;
  /**
   * The action only reads. A dry run runs it for real, so the steps after it are planned with its
   * actual results (the archive `archive.list` finds is the one the restore plan names).
   */
  readOnly?: boolean;
  /**
   * Runs long, making many small objects that live a moment each (a snapshot mirror over 100 000
   * events, or one that keeps watching). Where the process is its own (the CLI), the collector is
   * told to keep the heap near what is live while it runs, for somewhat more collector time; V8's
   * default lets promoted garbage fill the old generation to several times that. The extension
   * host is shared with other extensions and is left as it is.
   */
  steadyHeap?: boolean;
  /**
   * Fields whose text a shell runs. A `${params.x}` or `${steps.<id>.<field>}` written in one is
   * never pasted there: it becomes a reference to an environment variable holding the value
   * (`ctx.scriptVariables`), so a value can never become code.
   */
  scriptFields?: ScriptFields;
  plan(params: z.output<Schema>, ctx: ActionContext): Promise<ActionPlan>;
  run(params: z.output<Schema>, ctx: ActionContext): Promise<Result>;
  render(result: Result): string;
}

/** The script fields of one invocation of `action`, for parameters as they are written. */
export function scriptFieldsOf(action: ActionSpec, params: Readonly<Record<string, unknown>>): ReadonlySet<string> {
  const fields = typeof action.scriptFields === 'function' ? action.scriptFields(params) : (action.scriptFields ?? []);
  return new Set(fields);
}

/**
 * Keeps the schema and the result type tied together at the definition site while the registry
 * stores actions under the erased `ActionSpec` type.
 */
export function defineAction<Schema extends z.ZodType, Result>(spec: ActionSpec<Schema, Result>): ActionSpec {
  return spec as unknown as ActionSpec;
}
