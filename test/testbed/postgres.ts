/**
 * A real PostgreSQL server for integration tests (Debian `postgresql-15`, which scripts/test.sh
 * installs): a fresh cluster in a temporary folder, listening on a free loopback port and on a Unix
 * socket in that folder, with `trust` authentication for the superuser `postgres`. PostgreSQL refuses
 * to run as root: as root, the server runs as `nobody`, which owns the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { conninfoValue } from '../../src/actions/pg/database';
import type { KubeApiSimulator, SimPod } from './kubeSim';
import { freePort } from './sshd';

/** Where Debian puts PostgreSQL 15's programs (not on PATH: `/usr/bin` has only wrappers). */
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
const UNPRIVILEGED_UID = 65534;
const UNPRIVILEGED_GID = 65534;
const START_TIMEOUT_MS = 30_000;

export interface TestPostgres {
  port: number;
  /** The data folder, which also holds the Unix socket. */
  dir: string;
  /**
   * The connection environment of a database pod (as a CloudNativePG instance has PGHOST and friends):
   * PostgreSQL's programs on PATH, the socket folder, the port and the superuser.
   */
  podEnv: Record<string, string>;
  /** Runs SQL with psql in `database` and returns what it printed (unaligned, tuples only, `|` between columns). */
  sql(database: string, statements: string): Promise<string>;
  stop(): Promise<void>;
}

/** Whether the PostgreSQL server programs are installed. */
export function postgresInstalled(): boolean {
  return existsSync(join(POSTGRES_BIN, 'postgres')) && existsSync(join(POSTGRES_BIN, 'initdb'));
}

const asRoot = process.getuid?.() === 0;

/** A server program, run as `nobody` when we are root. */
function serverCommand(program: string, args: readonly string[]): [string, string[]] {
  const binary = join(POSTGRES_BIN, program);
  return asRoot ? ['setpriv', [`--reuid=${UNPRIVILEGED_UID}`, `--regid=${UNPRIVILEGED_GID}`, '--clear-groups', '--', binary, ...args]] : [binary, [...args]];
}

function runToEnd(command: string, args: readonly string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors = (errors + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${errors.trim()}`))));
    // A program that exits without reading its input (pg_isready) is not a failure of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}

/**
 * Starts a server. `settings` are extra `-c name=value` server settings; durability is off by
 * default (`fsync`, `full_page_writes`): a test's database lives as long as the test.
 */
export async function startPostgres(settings: Readonly<Record<string, string>> = {}): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-postgres-'));
  if (asRoot) await chown(dir, UNPRIVILEGED_UID, UNPRIVILEGED_GID);
  const data = join(dir, 'data');
  const env = { PATH: `${POSTGRES_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, LC_ALL: 'C' };
  await runToEnd(...serverCommand('initdb', ['--pgdata', data, '--username', 'postgres', '--auth', 'trust', '--encoding', 'UTF8', '--no-sync']), env);
  const port = await freePort();
  const serverSettings = { listen_addresses: '127.0.0.1', unix_socket_directories: dir, fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off', ...settings };
  const [command, args] = serverCommand('postgres', ['-D', data, '-p', String(port), ...Object.entries(serverSettings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]);
  const logPath = join(dir, 'server.log');
  const logFile = openSync(logPath, 'a');
  const server: ChildProcess = spawn(command, args, { env, stdio: ['ignore', logFile, logFile] });
  closeSync(logFile);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const podEnv = { PATH: env.PATH, PGHOST: dir, PGPORT: String(port), PGUSER: 'postgres' };
  const clientEnv = { ...env, ...podEnv };
  const log = () => readFile(logPath, 'utf8').catch(() => '');

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`PostgreSQL exited at start-up:\n${await log()}`);
    const ready = await runToEnd(join(POSTGRES_BIN, 'pg_isready'), ['--quiet'], clientEnv).then(
      () => true,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(`PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s:\n${await log()}`);
    }
    await sleep(100);
  }

  return {
    port,
    dir,
    podEnv,
    sql: (database, statements) => runToEnd(join(POSTGRES_BIN, 'psql'), ['--no-psqlrc', '--quiet', '--tuples-only', '--no-align', '--set', 'ON_ERROR_STOP=1', '--dbname', `dbname=${conninfoValue(database)}`], clientEnv, statements),
    async stop() {
      // SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, no waiting for clients.
      if (server.exitCode === null) server.kill('SIGINT');
      await Promise.race([exited, sleep(15_000).then(() => server.kill('SIGKILL'))]);
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An SQL identifier, double-quoted (for test data with hostile names). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** An SQL string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * A CloudNativePG Cluster's instances as pods of the simulated cluster, in the `postgres` container
 * with the labels CloudNativePG sets: `<cluster>-1` the primary, whose exec reaches `server`, and
 * `<cluster>-2` a replica whose environment leads nowhere (so only the primary can answer).
 */
export function addCnpgInstancePods(kube: KubeApiSimulator, server: TestPostgres, namespace: string, cluster: string): SimPod {
  const labels = (role: string) => ({ 'cnpg.io/cluster': cluster, 'cnpg.io/instanceRole': role, role });
  kube.addPod({ namespace, name: `${cluster}-2`, labels: labels('replica'), containers: ['postgres'], env: { ...server.podEnv, PGHOST: '/nonexistent' } });
  return kube.addPod({ namespace, name: `${cluster}-1`, labels: labels('primary'), containers: ['postgres'], env: server.podEnv });
}
