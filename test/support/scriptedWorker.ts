import { setTimeout as sleep } from 'node:timers/promises';
import { FileWriteError } from '../../src/core/errors';
import { serveWorkerJob } from '../../src/core/workerJob';

/** A worker for the tests of workerJob.ts: does what its job says, as a real job would. */
export type ScriptedJob = { outcome: 'result'; value: string } | { outcome: 'error-with-code' } | { outcome: 'write-error'; target: string } | { outcome: 'wait-for-cancel' } | { outcome: 'progress-and-warning' };

serveWorkerJob<ScriptedJob, number, string>(async (job, context) => {
  switch (job.outcome) {
    case 'result':
      return job.value;
    case 'error-with-code':
      throw Object.assign(new Error('EACCES: permission denied, open /nowhere'), { code: 'EACCES' });
    case 'write-error':
      throw new FileWriteError(job.target, Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }));
    case 'wait-for-cancel':
      await sleep(60_000, undefined, { signal: context.signal });
      return 'not cancelled';
    case 'progress-and-warning':
      context.progress(1);
      context.warning('left something out');
      return 'reported';
  }
});
