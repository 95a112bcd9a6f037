import assert from 'node:assert/strict';
import { CancelledError, FileWriteError } from '../../src/core/errors';
import { runWorkerJob } from '../../src/core/workerJob';
import type { ScriptedJob } from '../support/scriptedWorker';
import { source } from '../support/scriptedWorker?worker-source';
import { within } from '../support/within';

function run(job: ScriptedJob, options: { signal?: AbortSignal; onProgress?: (progress: number) => void; onWarning?: (message: string) => void } = {}) {
  return runWorkerJob<ScriptedJob, number, string>(source, job, { signal: options.signal ?? new AbortController().signal, ...options });
}

describe('jobs on a worker thread (workerJob)', () => {
  it('resolves with what the worker returns', async () => {
    assert.equal(await run({ outcome: 'result', value: 'the result' }), 'the result');
  });

  it('passes progress and warnings on as the worker reports them', async () => {
    const progress: number[] = [];
    const warnings: string[] = [];
    assert.equal(await run({ outcome: 'progress-and-warning' }, { onProgress: (value) => progress.push(value), onWarning: (message) => warnings.push(message) }), 'reported');
    assert.deepEqual(progress, [1]);
    assert.deepEqual(warnings, ['left something out']);
  });

  it('rejects with the worker error message and errno code', async () => {
    await assert.rejects(run({ outcome: 'error-with-code' }), (error: NodeJS.ErrnoException) => {
      assert.equal(error.message, 'EACCES: permission denied, open /nowhere');
      assert.equal(error.code, 'EACCES');
      return true;
    });
  });

  it('keeps a FileWriteError one, naming the same file and cause', async () => {
    await assert.rejects(run({ outcome: 'write-error', target: '/backups/a.tar.gz' }), (error: unknown) => {
      assert.ok(error instanceof FileWriteError, String(error));
      assert.equal(error.target, '/backups/a.tar.gz');
      assert.equal(error.message, 'cannot write /backups/a.tar.gz: no space left on device (ENOSPC)');
      return true;
    });
  });

  it('stops the job when cancelled and rejects with CancelledError once the worker has ended', async () => {
    const cancel = new AbortController();
    const running = run({ outcome: 'wait-for-cancel' }, { signal: cancel.signal });
    setTimeout(() => cancel.abort(), 100);
    await within(10_000, assert.rejects(running, CancelledError));
  });

  it('refuses to start when already cancelled', async () => {
    const cancel = new AbortController();
    cancel.abort();
    await assert.rejects(run({ outcome: 'result', value: 'never' }, { signal: cancel.signal }), CancelledError);
  });
});
