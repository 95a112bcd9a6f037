import { execFile, spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The command Debian's cron hands to `/bin/sh -c` for a crontab line: the text after the time
 * fields, `\%` and `\\` un-escaped, cut at the first bare `%` (cron's do_command.c), written here
 * from cron's source rather than taken from Lifeboat's code, so the two are checked against each other.
 */
export function commandAsCronRunsIt(line: string): string {
  const text = line.replace(/^(@\w+|(\S+\s+){5})\s*/, '');
  let command = '';
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === '\\' && (text[index + 1] === '%' || text[index + 1] === '\\')) command += text[++index];
    else if (character === '%') break;
    else command += character;
  }
  return command;
}

/** Runs a crontab line's command with the environment cron gives a job; resolves with the shell's exit code. */
export function runAsCron(line: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', commandAsCronRunsIt(line)], {
      cwd: homedir(),
      env: { PATH: '/usr/bin:/bin', HOME: homedir(), SHELL: '/bin/sh', LOGNAME: userInfo().username },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

/** A user's crontab on this machine (the SSH host of the tests); the tests save each one first and put it back after. */
export async function crontabNow(user?: string): Promise<string | undefined> {
  return run('crontab', [...asUser(user), '-l']).then(
    ({ stdout }) => stdout,
    (error: { stderr?: string }) => {
      if (/no crontab for/.test(error.stderr ?? '')) return undefined;
      throw error;
    },
  );
}

export async function setCrontab(text: string | undefined, user?: string): Promise<void> {
  if (text === undefined) {
    await run('crontab', [...asUser(user), '-r']).catch(() => undefined);
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn('crontab', [...asUser(user), '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`crontab - exited with ${code}: ${stderr}`))));
    child.stdin.end(text);
  });
}

/**
 * Saves a user's crontab before a test changes it, on disk as well as in memory, and returns what puts
 * it back. A run killed before its `after` leaves the saved copy behind; the next run puts that back
 * first, so a killed run's lines never outlive it.
 */
export async function keepCrontab(user?: string): Promise<() => Promise<void>> {
  const savedFile = join(tmpdir(), `lifeboat-tests-crontab-${user ?? userInfo().username}.json`);
  const leftByKilledRun = await readFile(savedFile, 'utf8').then(
    (text) => JSON.parse(text) as { crontab: string | null },
    () => undefined,
  );
  if (leftByKilledRun) await setCrontab(leftByKilledRun.crontab ?? undefined, user);
  const saved = await crontabNow(user);
  await writeFile(savedFile, JSON.stringify({ crontab: saved ?? null }));
  return async () => {
    await setCrontab(saved, user);
    const now = await crontabNow(user);
    if (now !== saved) throw new Error(`${user ?? 'this user'}'s crontab is not back as it was:\n${now ?? '(none)'}`);
    await rm(savedFile, { force: true });
  };
}

const asUser = (user: string | undefined) => (user ? ['-u', user] : []);
