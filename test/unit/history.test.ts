import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MASK, Redactor } from '../../src/core/redact';
import { readRunHistory, renderRunMarkdown } from '../../src/core/runner/history';
import { RunRecorder, RUNS_DIR, type RunRecord } from '../../src/core/runner/records';

type Step = Parameters<RunRecorder['append']>[0];

const step = (cell: number, status: string, extra: Partial<Step> = {}): Step => ({ runbook: 'r.runbook.md', cell, action: 'shell', params: { interpreter: 'bash' }, status, durationMs: 5, ...extra });

/** Local time on a given day: run files are named by local date. */
const at = (day: number, hours: number, minutes = 0) => new Date(2026, 0, day, hours, minutes);

describe('run history', () => {
  let workspace: string;
  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-history-'));
  });
  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  async function record(startedAt: Date, steps: [Step, Date][]): Promise<RunRecorder> {
    const recorder = new RunRecorder(workspace, new Redactor(), startedAt);
    for (const [entry, time] of steps) await recorder.append(entry, time);
    return recorder;
  }

  it('is empty when nothing was recorded', async () => {
    assert.deepEqual(await readRunHistory(workspace), { runs: [], skippedLines: 0 });
  });

  it('groups the steps of each recorder into one run, newest run first, with its outcome', async () => {
    const first = await record(at(5, 9), [
      [step(1, 'succeeded'), at(5, 9, 1)],
      [step(3, 'failed', { error: 'exited with code 4', step: 'check' }), at(5, 9, 2)],
    ]);
    const second = await record(at(5, 10), [[step(1, 'succeeded', { runbook: 'other.runbook.md' }), at(5, 10, 1)]]);
    const planned = await record(at(5, 11), [[step(2, 'planned'), at(5, 11)]]);
    const cancelled = await record(at(5, 12), [
      [step(1, 'succeeded'), at(5, 12)],
      [step(2, 'cancelled'), at(5, 12, 1)],
    ]);

    const { runs, skippedLines } = await readRunHistory(workspace);
    assert.equal(skippedLines, 0);
    assert.deepEqual(
      runs.map((run) => [run.id, run.runbook, run.outcome, run.steps.map((entry) => entry.cell)]),
      [
        [cancelled.runId, 'r.runbook.md', 'cancelled', [1, 2]],
        [planned.runId, 'r.runbook.md', 'planned', [2]],
        [second.runId, 'other.runbook.md', 'succeeded', [1]],
        [first.runId, 'r.runbook.md', 'failed', [1, 3]],
      ],
    );
    const failed = runs[3]!;
    assert.equal(failed.startedAt, at(5, 9).toISOString());
    assert.equal(failed.durationMs, 2 * 60_000);
    assert.equal(failed.steps[1]?.error, 'exited with code 4');
    assert.ok(failed.user.length > 0 && failed.host.length > 0);
  });

  it('skips lines that are not records and reads records from before runs had ids', async () => {
    await record(at(6, 8), [[step(1, 'succeeded'), at(6, 8)]]);
    const legacy: Omit<RunRecord, 'run' | 'runStartedAt'> = { time: at(6, 7).toISOString(), user: 'u', host: 'h', runbook: 'old.runbook.md', cell: 2, action: 'archive.list', params: {}, status: 'succeeded', durationMs: 1000 };
    const file = join(workspace, RUNS_DIR, '2026-01-06.jsonl');
    await appendFile(file, ['{"torn": tru', '[1,2]', JSON.stringify({ ...legacy, cell: 'two' }), JSON.stringify(legacy), '', '{"time":"yesterday"}'].join('\n') + '\n');
    await appendFile(join(workspace, RUNS_DIR, 'notes.txt'), 'not a run file\n');

    const { runs, skippedLines } = await readRunHistory(workspace);
    assert.equal(skippedLines, 4);
    assert.deepEqual(runs.map((run) => run.runbook), ['r.runbook.md', 'old.runbook.md']);
    assert.equal(runs[1]?.startedAt, new Date(at(6, 7).getTime() - 1000).toISOString());
    assert.equal(runs[1]?.user, 'u');
  });

  it('keeps only the newest runs, and completes a run that went past midnight', async () => {
    await mkdir(join(workspace, RUNS_DIR), { recursive: true });
    for (let day = 1; day <= 4; day++) await record(at(day, 12), [[step(1, 'succeeded'), at(day, 12)]]);
    const overnight = await record(at(4, 23, 59), [
      [step(1, 'succeeded'), at(4, 23, 59)],
      [step(2, 'succeeded'), at(5, 0, 1)],
    ]);

    const { runs } = await readRunHistory(workspace, { limit: 2 });
    assert.deepEqual(runs.map((run) => run.startedAt), [at(4, 23, 59).toISOString(), at(4, 12).toISOString()]);
    assert.equal(runs[0]?.id, overnight.runId);
    assert.deepEqual(runs[0]?.steps.map((entry) => entry.cell), [1, 2], 'both halves of the run, from two files');
    assert.equal((await readRunHistory(workspace, { limit: 1 })).runs[0]?.steps.length, 2);
  });

  it('renders a run as Markdown with each step, its parameters and its error', async () => {
    await record(at(7, 9), [
      [step(1, 'succeeded', { action: 'archive.list', params: { location: 'backups' } }), at(7, 9)],
      [step(2, 'failed', { error: 'bad ``` fence', step: 'check' }), at(7, 9, 0)],
    ]);
    const [run] = (await readRunHistory(workspace)).runs;
    const markdown = renderRunMarkdown(run!);
    assert.match(markdown, /^# r\.runbook\.md: failed\n\nStarted 2026-01-07 09:00 by .+@.+, 0 ms in all\. Run `[0-9a-f-]{36}`\./);
    assert.match(markdown, /\| 1 \| {2}\| archive\.list \| succeeded \| 5 ms \|/);
    assert.match(markdown, /## Cell 2 \(check\): shell, failed/);
    assert.match(markdown, /"location": "backups"/);
    assert.match(markdown, /````text\nbad ``` fence\n````/);
  });

  it('records secrets masked value by value: lines stay JSON, numbers stay numbers, escaped secrets do not show', async () => {
    const quoted = 'pa"ss\\word';
    const redactor = new Redactor();
    redactor.add(quoted);
    redactor.add('1234');
    const recorder = new RunRecorder(workspace, redactor, at(8, 9));
    await recorder.append(step(1, 'failed', { durationMs: 1234, params: { token: quoted, size: 1234, note: `size 1234 for ${quoted}` }, error: `bad token ${JSON.stringify(quoted)}` }), at(8, 9, 1));

    const { runs, skippedLines } = await readRunHistory(workspace);
    assert.equal(skippedLines, 0, 'the record is still a JSON line');
    const [recorded] = runs[0]?.steps ?? [];
    assert.equal(recorded?.durationMs, 1234);
    assert.deepEqual(recorded?.params, { token: MASK, size: 1234, note: `size ${MASK} for ${MASK}` });
    assert.equal(recorded?.error, `bad token "${MASK}"`);
    assert.equal(runs[0]?.id, recorder.runId);
    const file = await readFile(join(workspace, RUNS_DIR, '2026-01-08.jsonl'), 'utf8');
    assert.ok(!file.includes(quoted) && !file.includes(JSON.stringify(quoted).slice(1, -1)), file);
  });
});
