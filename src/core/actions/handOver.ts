import type { Disposable } from './clients';

/**
 * What the plan of a step leaves for the run that follows it: the listing it showed, work it started
 * (downloads under way while an SSH connection is still being set up, or while a person reads the
 * plan). The run takes it and does what was planned, without reading it all again; whatever is not
 * taken (the plan was refused, or failed) is disposed of when the step ends.
 */
export class PlanHandOver implements Disposable {
  private left: Disposable | undefined;

  give(value: Disposable): void {
    void this.left?.dispose();
    this.left = value;
  }

  /** What the plan left, if it is of this kind; the caller then owns it and disposes of it. */
  take<Value extends Disposable>(kind: abstract new (...args: never[]) => Value): Value | undefined {
    const left = this.left;
    if (!(left instanceof kind)) return undefined;
    this.left = undefined;
    return left;
  }

  async dispose(): Promise<void> {
    const left = this.left;
    this.left = undefined;
    await left?.dispose();
  }
}
