import assert from 'node:assert/strict';
import * as z from 'zod';
import { environmentSecrets, silentLogger } from '../../src/core/actions/context';
import { PlanHandOver } from '../../src/core/actions/handOver';
import { ActionRegistry } from '../../src/core/actions/registry';
import { defineAction, type ActionContext } from '../../src/core/actions/spec';
import { Redactor } from '../../src/core/redact';
import { parseRunbook } from '../../src/core/runbook/parse';
import { RunSession } from '../../src/core/runner/session';
import { checkRunbook } from '../../src/core/runner/validate';

/** What a plan started for its run: here, a marker that records whether it was disposed of. */
class Started {
  disposed = false;
  constructor(readonly by: string) {}
  dispose(): void {
    this.disposed = true;
  }
}

class SomethingElse {
  dispose(): void {}
}

/**
 * A destructive action that leaves a `Started` in the hand-over when its plan has one, and reports in
 * its result what its run found there; `fail` makes the run fail after taking nothing.
 */
function handOverProbe(seen: { planHadHandOver: boolean[]; given: Started[] }) {
  return defineAction({
    id: 'test.handOver',
    title: 'Hand-over probe',
    description: 'Plans, starts work in its plan, and takes it in its run.',
    params: z.object({ fail: z.boolean().default(false) }).strict(),
    destructive: true,
    async plan(_params, ctx: ActionContext) {
      seen.planHadHandOver.push(ctx.handOver !== undefined);
      if (ctx.handOver) {
        const started = new Started('plan');
        seen.given.push(started);
        ctx.handOver.give(started);
      }
      return { summary: 'replace the thing', operations: [{ kind: 'overwrite', target: 'the thing' }], destructive: true };
    },
    async run(params, ctx: ActionContext) {
      if (params.fail) throw new Error('the run failed');
      const taken = ctx.handOver?.take(Started);
      return { takenFrom: taken?.by ?? 'nothing', disposedWhenTaken: taken?.disposed ?? false };
    },
    render: (result) => JSON.stringify(result),
  });
}

async function runOne(cell: string, options: { confirm: boolean; dryRun?: boolean }) {
  const seen = { planHadHandOver: [] as boolean[], given: [] as Started[] };
  const registry = new ActionRegistry([handOverProbe(seen)]);
  const document = parseRunbook(['---', 'title: hand-over', '---', '', '```lifeboat {id=probe}', 'action: test.handOver', cell, '```', ''].join('\n'));
  const { steps, definitions, problems } = checkRunbook(document, { file: 'probe.runbook.md', registry, params: {} });
  assert.deepEqual(problems, []);
  const session = new RunSession({
    registry,
    runbook: 'probe.runbook.md',
    workspaceDir: '/nonexistent',
    definitions,
    params: {},
    secrets: environmentSecrets({}),
    inventory: {},
    redactor: new Redactor(),
    confirm: async () => options.confirm,
    observe: () => ({ progress: { report() {} }, output: { write() {} }, log: silentLogger }),
  });
  const { reports } = await session.runAll(steps, { signal: new AbortController().signal, dryRun: options.dryRun });
  return { report: reports[0], seen };
}

describe('the plan before a run hands what it started to that run', () => {
  it('gives the run what its plan left, not disposed of', async () => {
    const { report, seen } = await runOne('fail: false', { confirm: true });
    assert.equal(report?.status, 'succeeded');
    assert.deepEqual(report?.result, { takenFrom: 'plan', disposedWhenTaken: false });
    assert.deepEqual(seen.planHadHandOver, [true]);
  });

  it('disposes of what the plan left when the plan is refused', async () => {
    const { report, seen } = await runOne('fail: false', { confirm: false });
    assert.equal(report?.status, 'refused');
    assert.equal(seen.given[0]?.disposed, true);
  });

  it('disposes of what the plan left when the run fails without taking it', async () => {
    const { report, seen } = await runOne('fail: true', { confirm: true });
    assert.equal(report?.status, 'failed');
    assert.equal(seen.given[0]?.disposed, true);
  });

  it('gives a plan that is only shown (a dry run) nothing to start work in', async () => {
    const { report, seen } = await runOne('fail: false', { confirm: true, dryRun: true });
    assert.equal(report?.status, 'planned');
    assert.deepEqual(seen.planHadHandOver, [false]);
    assert.deepEqual(seen.given, []);
  });

  it('hands a value only to a taker of its kind', async () => {
    const handOver = new PlanHandOver();
    const started = new Started('plan');
    handOver.give(started);
    assert.equal(handOver.take(SomethingElse), undefined);
    assert.equal(handOver.take(Started), started);
    assert.equal(handOver.take(Started), undefined);
    await handOver.dispose();
    assert.equal(started.disposed, false, 'what was taken belongs to the taker');
  });
});
