import { interpolate, InterpolationError } from '../runbook/interpolate';
import type { Step } from '../runbook/steps';
import { secretName } from '../secrets';

export interface KnownStepParams {
  /** The step's parameters as the run will see them, as far as they are known before it starts. */
  params: Record<string, unknown>;
  /** Fields (dotted paths) whose value is known only when the step runs: left out of `params`. */
  unknownFields: ReadonlySet<string>;
}

/**
 * A step's parameters with the values known before the first step runs: every `${params.x}` that has
 * a value (a default or a supplied one) is interpolated as the run will interpolate it, so the
 * action's schema can refuse a bad value before anything has run. A field whose value is not known
 * yet (an earlier step's result, a parameter without a value, a `secret:NAME` resolved only when the
 * step runs) is left out.
 */
export function knownStepParams(step: Step, paramValues: Readonly<Record<string, unknown>>): KnownStepParams {
  const known = Object.fromEntries(Object.entries(paramValues).filter(([, value]) => secretName(value) === undefined));
  const unknownFields = new Set<string>();
  const leaveOut = (_reference: string, field: string) => {
    unknownFields.add(field);
    return undefined;
  };
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(step.params)) {
    try {
      const interpolated = interpolate(value, { params: known, steps: {} }, leaveOut, key);
      if (interpolated !== undefined) params[key] = interpolated;
    } catch (error) {
      // A malformed reference is reported where references are checked; its field waits until it is fixed.
      if (!(error instanceof InterpolationError)) throw error;
      unknownFields.add(key);
    }
  }
  return { params, unknownFields };
}

/** Whether a problem's field is, or lies inside, a field whose value is not known yet. */
export function isUnknownField(field: string | undefined, unknownFields: ReadonlySet<string>): boolean {
  return field !== undefined && [...unknownFields].some((unknown) => field === unknown || field.startsWith(`${unknown}.`));
}
