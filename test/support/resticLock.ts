import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Runs `body` while another restic process holds a lock on the local repository `repository`: a
 * backup from stdin, which keeps its lock until its stdin closes.
 */
export async function whileResticHoldsLock(repository: string, password: string, body: (holder: ChildProcess) => Promise<void>, extraArgs: readonly string[] = []): Promise<void> {
  const holder = spawn('restic', [...extraArgs, 'backup', '--stdin', '--stdin-filename', 'held'], {
    env: { ...process.env, RESTIC_REPOSITORY: repository, RESTIC_PASSWORD: password },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  try {
    for (let waited = 0; (await readdir(path.join(repository, 'locks'))).length === 0; waited += 50) {
      assert.ok(waited < 20_000, 'the holder never took its lock');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await body(holder);
  } finally {
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.stdin?.end();
    await exited;
  }
}
