import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { shellAction } from '../../src/actions/shell';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext } from '../../src/core/actions/spec';
import { isCancellationError } from '../../src/core/errors';
import type { ShellResult } from '../../src/actions/shell';

/** A process that is a zombie has exited; only its entry is left for the parent to reap. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('shell action', () => {
  let workspaceDir: string;
  let chunks: { stream: string; chunk: string }[];
  let context: (overrides?: Partial<ActionContext>) => ActionContext;

  beforeEach(async () => {
    workspaceDir = await mkdtemp(join(tmpdir(), 'lifeboat-shell-'));
    chunks = [];
    context = (overrides = {}) =>
      createActionContext({ workspaceDir, output: { write: (stream, chunk) => chunks.push({ stream, chunk }) }, ...overrides });
  });

  afterEach(async () => {
    await rm(workspaceDir, { recursive: true, force: true });
  });

  const run = (script: string, ctx: ActionContext, extra: Record<string, unknown> = {}) =>
    shellAction.run(shellAction.params.parse({ script, ...extra }), ctx) as Promise<ShellResult>;

  it('streams stdout and stderr while the script runs and keeps them in the result', async () => {
    const result = await run('echo one; echo two >&2; echo three', context());
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, 'one\nthree\n');
    assert.equal(result.stderr, 'two\n');
    assert.deepEqual(
      chunks.filter((c) => c.stream === 'stderr').map((c) => c.chunk),
      ['two\n'],
    );
  });

  it('hands runbook parameters over as environment variables, never inside the script', async () => {
    const hostile = '$(touch pwned); `touch pwned2`';
    const result = await run('printf "%s|%s" "$LIFEBOAT_PARAM_DATE" "$LIFEBOAT_PARAM_NAME"; ls', context({ runbookParams: { date: '20260124', name: hostile } }));
    assert.equal(result.stdout, `20260124|${hostile}`);
  });

  it('runs in the workspace and fails at the first failing command', async () => {
    await assert.rejects(run('pwd > where.txt; false; echo not reached > after.txt', context()), /exited with code 1/);
    assert.equal((await readFile(join(workspaceDir, 'where.txt'), 'utf8')).trim(), workspaceDir);
    await assert.rejects(readFile(join(workspaceDir, 'after.txt')));
  });

  it('fails a pipeline when any part fails (pipefail)', async () => {
    await assert.rejects(run('false | cat', context()), /exited with code 1/);
  });

  it('puts the end of stderr into the error', async () => {
    await assert.rejects(run('echo "disk full" >&2; exit 3', context()), /exited with code 3:\ndisk full/);
  });

  it('runs sh scripts with sh', async () => {
    const result = await run('echo "$0"', context(), { interpreter: 'sh' });
    assert.equal(result.stdout.trim(), 'sh');
  });

  it('stops the whole process tree when cancelled', async () => {
    const abort = new AbortController();
    const pidFile = join(workspaceDir, 'child.pid');
    const running = run(`sleep 60 & echo $! > ${pidFile}; sleep 60 & wait`, context({ signal: abort.signal }));
    let childPid = 0;
    await waitFor(async () => {
      childPid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      return childPid > 0;
    }, 'the background child to start');
    assert.ok(isRunning(childPid));
    abort.abort();
    await assert.rejects(running, (error: unknown) => isCancellationError(error));
    await waitFor(() => !isRunning(childPid), 'the background child to stop');
  });

  it('stops a script that runs past its timeout', async () => {
    await assert.rejects(run('sleep 30', context(), { timeoutSeconds: 0.2 }), /timed out after 0.2 s/);
  });

  it('reads the script from a file only its user can read, removed once the step ends; $0 and $# stay as for -c', async () => {
    const script = 'stat -c %a "$BASH_SOURCE"; echo "$BASH_SOURCE"; echo "$0 $#"';
    const result = await run(script, context());
    const [mode, file, shell] = result.stdout.trim().split('\n');
    assert.equal(mode, '600');
    assert.equal(shell, 'bash 0');
    assert.equal(existsSync(file as string), false, 'the script file is removed');
    assert.equal(existsSync(dirname(file as string)), false);
  });

  it('gives the script the variables its references were rewritten to, over `env` of the same name', async () => {
    const result = await run('printf %s "$LIFEBOAT_STEP_FIND_PATH"', context({ scriptVariables: { LIFEBOAT_STEP_FIND_PATH: '/b/$(x).tar.gz' } }), { env: { LIFEBOAT_STEP_FIND_PATH: 'other' } });
    assert.equal(result.stdout, '/b/$(x).tar.gz');
  });

  it('refuses an environment value with a NUL byte at its field, and one from the runbook by its variable, before starting', async () => {
    const parsed = shellAction.params.safeParse({ script: 'true', env: { X: 'a\0b' } });
    assert.deepEqual(parsed.error?.issues.map((issue) => [issue.path.join('.'), issue.message]), [['env.X', 'an environment variable cannot hold a NUL byte']]);
    await assert.rejects(run('touch ran', context({ runbookParams: { note: 'a\0b' } })), /^Error: LIFEBOAT_PARAM_NOTE holds a NUL byte, which no environment variable can carry: the script does not run$/);
    assert.equal(existsSync(join(workspaceDir, 'ran')), false);
  });

  it('plans without running anything', async () => {
    const plan = await shellAction.plan(shellAction.params.parse({ script: 'touch created\n\necho x' }), context());
    assert.equal(plan.destructive, false);
    assert.match(plan.summary, /2 lines/);
    await assert.rejects(readFile(join(workspaceDir, 'created')));
  });
});
