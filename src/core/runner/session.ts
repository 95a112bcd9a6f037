import { ClientPool } from '../actions/clients';
import { createActionContext } from '../actions/context';
import { PlanHandOver } from '../actions/handOver';
import { renderPlan } from '../actions/plan';
import type { ActionRegistry } from '../actions/registry';
import type { ActionPlan, ActionSpec, HostKeyApproval, Inventory, Logger, OutputSink, ProgressReporter, SecretResolver } from '../actions/spec';
import { scriptFieldsOf } from '../actions/spec';
import { CancelledError, errorMessage, formatProblem, isCancellationError, ValidationError } from '../errors';
import type { Redactor } from '../redact';
import { resolveSecretReferences, secretName, secretParamFields } from '../secrets';
import { findReferences, interpolateWithScripts, InterpolationError, type ScriptVariable } from '../runbook/interpolate';
import type { ParamDefinitions, ParamValue } from '../runbook/params';
import type { Step } from '../runbook/steps';
import type { RunRecorder } from './records';
import { lineInField, referenceSpan, scriptEnvironment } from './scriptReferences';
import { parseStepParams } from './validate';

export type StepStatus = 'succeeded' | 'failed' | 'cancelled' | 'planned' | 'refused';

export interface StepReport {
  step: Step;
  status: StepStatus;
  /** The action's typed result (secrets masked); for a planned step, the plan. */
  result?: unknown;
  /** The result or plan rendered as Markdown. */
  markdown?: string;
  error?: string;
  startedAt: Date;
  durationMs: number;
}

export type RunStatus = 'succeeded' | 'failed' | 'cancelled';

/** Where one step's progress, output and log lines go; the CLI and the notebook each build these. */
export interface StepObservers {
  progress: ProgressReporter;
  output: OutputSink;
  log: Logger;
}

export interface RunSessionOptions {
  registry: ActionRegistry;
  /** The runbook as it is named in messages and records. */
  runbook: string;
  workspaceDir: string;
  definitions: ParamDefinitions;
  params: Readonly<Record<string, ParamValue>>;
  secrets: SecretResolver;
  inventory: Inventory;
  redactor: Redactor;
  recorder?: RunRecorder;
  /** Asks about an unknown SSH host key (the extension); left out, such a key fails the step. */
  approveHostKey?: HostKeyApproval;
  /** Results of steps an earlier run of the same runbook produced, for a notebook run cell by cell. */
  earlierResults?: Readonly<Record<string, unknown>>;
  /** Asked before a step whose plan overwrites or deletes data; false refuses the step. */
  confirm(step: Step, plan: ActionPlan): Promise<boolean>;
  observe(step: Step): StepObservers;
}

export interface StepRunOptions {
  signal: AbortSignal;
  /** Plan every step instead of running it. */
  dryRun?: boolean;
}

/**
 * Runs the steps of one runbook with one set of parameters, keeping each step's result so later
 * steps can refer to it as `${steps.<id>.<field>}`. Used by the CLI and by the notebook controller.
 */
export class RunSession {
  private readonly results: Record<string, unknown>;
  /** Steps a dry run planned instead of running: later steps cannot use their results. */
  private readonly plannedIds = new Set<string>();
  private readonly clients = new ClientPool();

  constructor(private readonly options: RunSessionOptions) {
    this.results = { ...options.earlierResults };
    for (const [name, definition] of Object.entries(options.definitions)) {
      const value = options.params[name];
      // A `secret:NAME` value is registered when it is resolved; a true/false cannot be hidden.
      if (definition.secret && value !== undefined && typeof value !== 'boolean' && secretName(value) === undefined) options.redactor.add(String(value), `the secret parameter '${name}'`);
    }
  }

  async runAll(steps: readonly Step[], options: StepRunOptions & { onStepStart?(step: Step): void; onStepEnd?(report: StepReport): void }): Promise<{ status: RunStatus; reports: StepReport[] }> {
    const reports: StepReport[] = [];
    try {
      for (const step of steps) {
        options.onStepStart?.(step);
        const report = await this.runStep(step, options);
        reports.push(report);
        options.onStepEnd?.(report);
        if (report.status === 'cancelled') return { status: 'cancelled', reports };
        if (report.status === 'failed' || report.status === 'refused') return { status: 'failed', reports };
      }
      return { status: 'succeeded', reports };
    } finally {
      await this.close();
    }
  }

  /** Every step result so far, by step id: what a later run of single cells can refer to. */
  get stepResults(): Readonly<Record<string, unknown>> {
    return this.results;
  }

  /** Closes the connections the steps opened; the notebook calls it when its session ends. */
  async close(): Promise<void> {
    await this.clients.disposeAll();
  }

  async runStep(step: Step, { signal, dryRun = false }: StepRunOptions): Promise<StepReport> {
    const { registry, redactor } = this.options;
    const startedAt = new Date();
    const started = performance.now();
    const observers = this.options.observe(step);
    const output = redactor.sink(observers.output);
    let params: unknown = step.params;
    const finish = async (outcome: Omit<StepReport, 'step' | 'startedAt' | 'durationMs'>): Promise<StepReport> => {
      output.flush();
      const report: StepReport = {
        step,
        startedAt,
        durationMs: Math.round(performance.now() - started),
        ...outcome,
        result: redactor.redactValue(outcome.result),
        markdown: outcome.markdown === undefined ? undefined : redactor.redact(outcome.markdown),
        error: outcome.error === undefined ? undefined : redactor.redact(outcome.error),
      };
      await this.record(report, params);
      return report;
    };

    try {
      const action = registry.get(step.actionId);
      if (!action) throw new ValidationError([{ file: this.options.runbook, cell: step.cellNumber, field: 'action', message: `unknown action '${step.actionId}'` }]);
      const dry = dryRun || step.dryRun;
      const planOnly = dry && !action.readOnly;
      const waitingFor = dry ? this.plannedDependency(step) : undefined;
      const planned = async (plan: ActionPlan) => {
        if (step.id) this.plannedIds.add(step.id);
        return finish({ status: 'planned', result: plan, markdown: renderPlan(plan) });
      };
      if (waitingFor) {
        return await planned({ summary: `uses the result of step \`${waitingFor}\`, which a dry run does not produce; planned when that step has run`, operations: [], destructive: false });
      }
      // The record keeps `secret:NAME` as written; only the action sees the value.
      const interpolated = this.resolveStepParams(step, action);
      params = interpolated.params;
      const runbookParams = await this.runbookParamsWithSecrets(step);
      const scripts = scriptEnvironment(step, interpolated.scriptVariables, runbookParams, this.options.definitions, this.options.runbook);
      if (scripts.problems.length > 0) throw new ValidationError(scripts.problems);
      const parsed = parseStepParams(action, await this.resolveSecrets(step, params), step, this.options.runbook, redactor);
      if (!parsed.ok) throw new ValidationError(parsed.problems);

      const context = createActionContext({
        workspaceDir: this.options.workspaceDir,
        signal,
        progress: redactor.progress(observers.progress),
        log: redactor.logger(observers.log),
        output,
        secrets: this.options.secrets,
        inventory: this.options.inventory,
        clients: this.clients,
        runbook: this.options.runbook,
        runbookParams,
        scriptVariables: scripts.environment,
        approveHostKey: this.options.approveHostKey,
      });
      if (planOnly) return await planned(await action.plan(parsed.value, context));
      const handOver = new PlanHandOver();
      try {
        if (action.destructive) {
          const plan = await action.plan(parsed.value, { ...context, handOver });
          if (plan.destructive && !(await this.options.confirm(step, redactor.redactValue(plan)))) {
            return await finish({ status: 'refused', error: `not confirmed: ${plan.summary}`, markdown: renderPlan(plan) });
          }
        }
        if (signal.aborted) throw new CancelledError();
        const result = await action.run(parsed.value, { ...context, handOver });
        if (step.id) this.results[step.id] = result;
        return await finish({ status: 'succeeded', result, markdown: action.render(result) });
      } finally {
        await handOver.dispose();
      }
    } catch (error) {
      if (signal.aborted || isCancellationError(error)) return finish({ status: 'cancelled', error: 'cancelled' });
      return finish({ status: 'failed', error: describeFailure(error, step, this.options.runbook) });
    }
  }

  /** The first step this one refers to that was only planned, if any. */
  private plannedDependency(step: Step): string | undefined {
    return findReferences(step.params).find((reference) => reference.root === 'steps' && reference.name !== undefined && this.plannedIds.has(reference.name))?.name;
  }

  /**
   * Interpolates parameters and earlier results; an unset optional parameter leaves its field out.
   * In the fields the action runs as scripts, references become environment variables instead.
   */
  private resolveStepParams(step: Step, action: ActionSpec): { params: unknown; scriptVariables: ScriptVariable[] } {
    const { definitions, params } = this.options;
    try {
      const interpolated = interpolateWithScripts(step.params, { params, steps: this.results }, scriptFieldsOf(action, step.params), (reference, field) => {
        const [root, name] = reference.split('.');
        if (root === 'params' && name !== undefined && Object.hasOwn(definitions, name)) return undefined;
        const hint = root === 'steps' ? ' (did that step run, and does its result have this field?)' : '';
        throw new InterpolationError(field, `\${${reference}} has no value${hint}`);
      });
      return { params: interpolated.value, scriptVariables: interpolated.variables };
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      throw new ValidationError([{ file: this.options.runbook, cell: step.cellNumber, line: lineInField(step, error.field, error.offset), field: error.field, span: referenceSpan(step, error.field, error.offset), message: error.message }]);
    }
  }

  /** Runbook parameters as shell steps receive them: a `secret:NAME` value is the secret itself. */
  private async runbookParamsWithSecrets(step: Step): Promise<Readonly<Record<string, unknown>>> {
    const { params, secrets, runbook } = this.options;
    try {
      return (await resolveSecretReferences(params, secrets)) as Record<string, unknown>;
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      throw new ValidationError([{ file: runbook, cell: step.cellNumber, field: `params.${error.field}`, message: error.message }]);
    }
  }

  private async resolveSecrets(step: Step, params: unknown): Promise<unknown> {
    try {
      return await resolveSecretReferences(params, this.options.secrets);
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      throw new ValidationError([{ file: this.options.runbook, cell: step.cellNumber, line: step.lineOf(error.field), field: error.field, message: error.message }]);
    }
  }

  private async record(report: StepReport, params: unknown): Promise<void> {
    const { recorder, redactor } = this.options;
    if (!recorder) return;
    await recorder.append({
      runbook: this.options.runbook,
      cell: report.step.cellNumber,
      step: report.step.id,
      action: report.step.actionId,
      // A shell step's script is in the runbook; its parameters are the environment it ran with.
      params: report.step.kind === 'shell' ? { interpreter: (params as { interpreter?: string }).interpreter } : redactor.redactValue(params, secretParamFields(report.step.params, this.options.definitions)),
      status: report.status,
      durationMs: report.durationMs,
      error: report.error,
    });
  }
}

function describeFailure(error: unknown, step: Step, runbook: string): string {
  if (error instanceof ValidationError) return error.problems.map(formatProblem).join('\n');
  return `${runbook}, cell ${step.cellNumber} (${step.actionId}): ${errorMessage(error)}`;
}
