import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinActions } from '../../src/actions';
import type { PgDumpResult } from '../../src/actions/pg/dump';
import type { PgRestoreResult } from '../../src/actions/pg/restore';
import { openS3Store, type S3Store } from '../../src/clients/s3';
import { createActionContext } from '../../src/core/actions/context';
import type { ActionContext, ActionPlan, ProgressUpdate } from '../../src/core/actions/spec';
import { CancelledError } from '../../src/core/errors';
import { hostilePayloads } from '../support/payloads';
import { KubeApiSimulator } from '../testbed/kubeSim';
import { addCnpgInstancePods, quoteIdentifier, quoteLiteral, startPostgres, type TestPostgres } from '../testbed/postgres';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../testbed/s3rver';
import { startSshd, type Sshd } from '../testbed/sshd';

const HOSTILE_TABLE = 'we"ird; DROP TABLE items;-- $(x)';
/** Every row of the test tables, in order, as one value per table: what a round trip must give back. */
const SNAPSHOT = `SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM items t) || ' ' || (SELECT md5(string_agg(t::text, ',' ORDER BY note)) FROM ${quoteIdentifier(HOSTILE_TABLE)} t)`;

function action(id: string) {
  const found = builtinActions.find((candidate) => candidate.id === id);
  assert.ok(found, `action ${id} is registered`);
  return found;
}

describe('pg.dump and pg.restore with a real PostgreSQL behind the database pod', function () {
  this.timeout(120_000);
  let pg: TestPostgres;
  let kube: KubeApiSimulator;
  let sshd: Sshd;
  let s3: RunningS3rver;
  let store: S3Store;
  let workspace: string;
  let kubeconfig: string;
  const hostFolder = () => join(sshd.remoteDir, 'dumps');

  function context(overrides: Partial<ActionContext> = {}): ActionContext {
    return createActionContext({
      workspaceDir: workspace,
      inventory: {
        clusters: { prod: { kubeconfig } },
        hosts: { nas: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } },
        stores: { garage: { endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: { ...S3RVER_CREDENTIALS } } },
        locations: { nas: { host: 'nas', path: hostFolder() }, bucket: { store: 'garage', prefix: 'postgres' }, here: { path: 'dumps' }, relative: { host: 'nas', path: 'dumps' } },
      },
      ...overrides,
    });
  }

  /** Runs an action in a context of its own, or in `shared` (whose connections the caller closes). */
  async function run<Result>(id: string, params: Record<string, unknown>, overrides: Partial<ActionContext> = {}, shared?: ActionContext): Promise<Result> {
    const ctx = shared ?? context(overrides);
    try {
      return (await action(id).run(action(id).params.parse({ cluster: 'prod', namespace: 'db', clusterName: 'app-db', ...params }), ctx)) as Result;
    } finally {
      if (!shared) await ctx.clients.disposeAll();
    }
  }

  async function plan(id: string, params: Record<string, unknown>): Promise<ActionPlan> {
    const ctx = context();
    try {
      return await action(id).plan(action(id).params.parse({ cluster: 'prod', namespace: 'db', clusterName: 'app-db', ...params }), ctx);
    } finally {
      await ctx.clients.disposeAll();
    }
  }

  const snapshot = async (database: string) => (await pg.sql(database, SNAPSHOT)).trim();
  const localDumps = async () => (await readdir(join(workspace, 'dumps')).catch(() => [])).sort();
  const hostDumps = async () => (await readdir(hostFolder()).catch(() => [])).sort();
  const s3Keys = async () => {
    const keys: string[] = [];
    for await (const object of store.listObjects({ prefix: 'postgres/' })) keys.push(object.key);
    return keys.sort();
  };

  /** A database with two tables of rows: `items` (text and bytea) and one whose name is hostile SQL. */
  async function createDatabase(name: string, rows = 500): Promise<void> {
    await pg.sql('postgres', `CREATE DATABASE ${quoteIdentifier(name)}`);
    await pg.sql(
      name,
      `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, payload bytea);
       INSERT INTO items SELECT g, 'item ' || g || ' ''quoted'' \\ ünïcødé', decode(md5(g::text), 'hex') FROM generate_series(1, ${rows}) g;
       CREATE TABLE ${quoteIdentifier(HOSTILE_TABLE)} (note text PRIMARY KEY);
       INSERT INTO ${quoteIdentifier(HOSTILE_TABLE)} VALUES (${quoteLiteral("'; DROP TABLE items; --")}), (${quoteLiteral('$(touch /tmp/never)')}), (E'line\\nbreak');`,
    );
  }

  before(async () => {
    [pg, kube, sshd, s3] = await Promise.all([startPostgres(), KubeApiSimulator.start(), startSshd(), startS3rver({ buckets: ['backups'] })]);
    kubeconfig = await kube.writeKubeconfig();
    addCnpgInstancePods(kube, pg, 'db', 'app-db');
    kube.addPod({ namespace: 'db', name: 'web-0', containers: ['web'], env: { PATH: '/nonexistent' } });
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-pg-'));
    store = await openS3Store({ endpoint: s3.endpoint, region: 'us-east-1', bucket: 'backups', credentials: S3RVER_CREDENTIALS });
    await createDatabase('app');
    // More of what a dump holds, each a kind of the table of contents: a foreign key, a sequence, a function, a materialized view.
    await pg.sql(
      'app',
      `CREATE TABLE orders (id serial PRIMARY KEY, item int NOT NULL REFERENCES items (id));
       INSERT INTO orders (item) SELECT g FROM generate_series(1, 10) g;
       CREATE FUNCTION item_label(id int) RETURNS text LANGUAGE sql AS $$ SELECT name FROM public.items WHERE items.id = item_label.id $$;
       CREATE MATERIALIZED VIEW item_names AS SELECT id, item_label(id) AS label FROM items;`,
    );
  });

  after(async () => {
    await Promise.all([pg?.stop(), kube?.stop(), sshd?.stop(), s3?.stop()]);
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  it("plans a dump with the database's size and tables, writing nothing", async () => {
    const planned = await plan('pg.dump', { database: 'app', location: 'nas', file: 'planned.dump' });
    assert.equal(planned.destructive, false);
    assert.match(planned.summary, /^Dump database 'app' in pod db\/app-db-1 of cluster prod \(3 tables, [\d.]+ [KM]iB on disk\) to nas:.*\/dumps\/planned\.dump$/);
    assert.deepEqual(await hostDumps(), []);
  });

  it('dumps to a local folder in the custom format and restores it, every row coming back', async () => {
    const before = await snapshot('app');
    const dumped = await run<PgDumpResult>('pg.dump', { database: 'app', location: 'here', file: 'app.dump' });
    assert.equal(dumped.pod, 'db/app-db-1', 'the primary, not the replica');
    assert.deepEqual(await localDumps(), ['app.dump'], 'no temporary file is left');
    const bytes = await readFile(join(workspace, 'dumps', 'app.dump'));
    assert.equal(bytes.subarray(0, 5).toString(), 'PGDMP', 'a custom-format archive');
    assert.equal(dumped.bytes, bytes.length);

    const uncompressed = await run<PgDumpResult>('pg.dump', { database: 'app', location: 'here', file: 'app-uncompressed.dump', compression: 0 });
    assert.ok(uncompressed.bytes > dumped.bytes * 1.2, `--compress=0 gives ${uncompressed.bytes} bytes, the default level ${dumped.bytes}`);
    await rm(join(workspace, 'dumps', 'app-uncompressed.dump'));

    await pg.sql('app', `DELETE FROM items WHERE id > 10; DROP TABLE ${quoteIdentifier(HOSTILE_TABLE)}; CREATE TABLE kept_apart (x int);`);
    assert.notEqual(await snapshot('app').catch(() => 'gone'), before);
    const restored = await run<PgRestoreResult>('pg.restore', { database: 'app', location: 'here', file: 'app.dump' });
    assert.equal(await snapshot('app'), before);
    assert.equal((await pg.sql('app', 'SELECT count(*), max(item) FROM orders')).trim(), '10|10');
    assert.equal((await pg.sql('app', "SELECT count(*) FROM item_names WHERE label LIKE 'item %'")).trim(), '500', 'the materialized view is filled again');
    assert.equal(restored.toc.tables.length, 3);
    assert.equal(restored.tables, 4, 'a table the dump does not hold is left alone');
    await pg.sql('app', 'DROP TABLE kept_apart');
  });

  it('dumps to an SSH host and restores from it into another database', async () => {
    const dumped = await run<PgDumpResult>('pg.dump', { database: 'app', location: 'nas' });
    assert.match(dumped.file, /^app-\d{14}\.dump$/);
    assert.deepEqual(await hostDumps(), [dumped.file]);
    assert.equal(dumped.location, `nas:${join(hostFolder(), dumped.file)}`);
    await pg.sql('postgres', 'CREATE DATABASE app_copy');
    await run<PgRestoreResult>('pg.restore', { database: 'app_copy', location: 'nas', file: dumped.file });
    assert.equal(await snapshot('app_copy'), await snapshot('app'));
  });

  it('dumps to an S3 prefix and restores from it', async () => {
    const dumped = await run<PgDumpResult>('pg.dump', { database: 'app', location: 'bucket', file: 'app-s3.dump' });
    assert.equal(dumped.location, 's3://backups/postgres/app-s3.dump');
    assert.deepEqual(await s3Keys(), ['postgres/app-s3.dump']);
    const before = await snapshot('app');
    await pg.sql('app', 'UPDATE items SET name = name || \' changed\'');
    await run<PgRestoreResult>('pg.restore', { database: 'app', location: 'bucket', file: 'app-s3.dump' });
    assert.equal(await snapshot('app'), before);
  });

  it("plans a restore with the dump's table of contents, changing nothing", async () => {
    await pg.sql('app', 'DELETE FROM items WHERE id = 400');
    const changed = await snapshot('app');
    const planned = await plan('pg.restore', { database: 'app', location: 'here', file: 'app.dump' });
    assert.equal(planned.destructive, true);
    assert.match(planned.summary, /of database 'app', taken \d{4}-\d\d-\d\d [\d:]+ UTC\) holds in database 'app' in pod db\/app-db-1 of cluster prod/);
    for (const kind of ['3 TABLE', '3 TABLE DATA', '1 FK CONSTRAINT', '1 FUNCTION', '1 MATERIALIZED VIEW', '1 MATERIALIZED VIEW DATA', '1 SEQUENCE', '1 SEQUENCE OWNED BY', '1 SEQUENCE SET']) {
      assert.ok(planned.summary.includes(`${kind},`) || planned.summary.endsWith(kind), `${kind} in ${planned.summary}`);
    }
    assert.deepEqual(
      planned.operations.filter((operation) => operation.target.startsWith('table ')).map((operation) => operation.target),
      ['table public.items', 'table public.orders', `table public.${HOSTILE_TABLE}`],
    );
    assert.equal(await snapshot('app'), changed, 'a plan changes nothing');
    await run<PgRestoreResult>('pg.restore', { database: 'app', location: 'here', file: 'app.dump' });
  });

  it('refuses bad input with one located sentence, and changes nothing', async () => {
    const failure = (id: string, params: Record<string, unknown>) =>
      run(id, params).then(
        () => assert.fail(`${id} should have failed`),
        (error: Error) => error.message,
      );
    const before = await snapshot('app');
    assert.match(await failure('pg.dump', { database: 'nosuch', folder: 'dumps' }), /^`database`: there is no database 'nosuch' in pod db\/app-db-1 of cluster prod$/);
    assert.match(await failure('pg.dump', { database: 'app', location: 'here', file: 'app.dump' }), /^`file`: .*app\.dump already exists \([\d.]+ KiB\); pg\.dump never replaces a dump$/);
    assert.match(await failure('pg.dump', { database: 'app', location: 'nowhere' }), /^`location`: no location 'nowhere' under `locations:` in lifeboat\.yaml; there are: nas, bucket, here, relative$/);
    assert.match(await failure('pg.dump', { database: 'app', location: 'relative' }), /^`locations\.relative\.path` must be an absolute folder on host 'nas', not 'dumps'$/);
    assert.match(await failure('pg.dump', { database: 'app', folder: 'dumps', cluster: 'staging' }), /`cluster` names 'staging', which is not under `clusters:`/);
    assert.match(await failure('pg.dump', { database: 'app', folder: 'dumps', clusterName: 'other-db' }), /^`clusterName`: no running primary of CloudNativePG Cluster 'other-db' in namespace db of cluster prod/);
    assert.match(await failure('pg.dump', { database: 'app', folder: 'dumps', clusterName: undefined, pod: 'web-0' }), /^pod db\/web-0 of cluster prod has no `psql`: name the container with PostgreSQL's programs in `container`$/);
    assert.match(await failure('pg.restore', { database: 'app', folder: 'dumps', file: 'missing.dump' }), /^`file`: there is no dump missing\.dump in .*dumps$/);
    await writeFile(join(workspace, 'dumps', 'notes.dump'), 'not a dump at all\n');
    assert.match(await failure('pg.restore', { database: 'app', folder: 'dumps', file: 'notes.dump' }), /^`file`: .*notes\.dump is not a PostgreSQL custom-format dump that pg_restore in pod db\/app-db-1 of cluster prod can read: pg_restore: error: input file does not appear to be a valid archive/);
    assert.match(await failure('pg.restore', { database: 'nosuch', folder: 'dumps', file: 'app.dump' }), /^`database`: there is no database 'nosuch'/);
    // The head (and so the table of contents) is whole, the data is cut off: one transaction, so nothing changes.
    const whole = await readFile(join(workspace, 'dumps', 'app.dump'));
    await writeFile(join(workspace, 'dumps', 'cut.dump'), whole.subarray(0, whole.length - 200));
    assert.match(await failure('pg.restore', { database: 'app', folder: 'dumps', file: 'cut.dump' }), /^pg_restore failed for database 'app' in pod db\/app-db-1 of cluster prod \(exit status 1\): .*(end of file|could not read)/s);
    assert.equal(await snapshot('app'), before, 'nothing was lost');
    assert.throws(() => action('pg.dump').params.parse({ cluster: 'prod', namespace: 'db', clusterName: 'app-db', pod: 'x', database: 'app', folder: 'd' }), /give either `clusterName` \(a CloudNativePG Cluster\) or `pod`/);
    assert.throws(() => action('pg.dump').params.parse({ cluster: 'prod', namespace: 'db', pod: 'x', database: 'app', folder: 'd', location: 'here' }), /give either `location`/);
    assert.throws(() => action('pg.restore').params.parse({ cluster: 'prod', namespace: 'db', pod: 'x', database: 'app', folder: 'd', file: '../escape.dump' }), /a file name, without `\/`/);
    assert.throws(() => action('pg.restore').params.parse({ cluster: 'prod', namespace: 'db', pod: 'x', database: 'app', folder: 'd', file: '.hidden.dump' }), /names starting with `\.` are kept for dumps being written/);
  });

  describe('cancelled half-way', () => {
    before(async () => {
      // Enough rows that pg_dump and pg_restore take a while: 60 000 rows of 30 md5 digests (about 60 MiB).
      await pg.sql('postgres', 'CREATE DATABASE big');
      await pg.sql('big', "CREATE TABLE items (id int PRIMARY KEY, data text); INSERT INTO items SELECT g, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 30) i) FROM generate_series(1, 60000) g;");
    });

    /** Runs an action and cancels it once `started` says the stream is under way. */
    async function cancelled(id: string, params: Record<string, unknown>, started: (update: ProgressUpdate) => boolean | Promise<boolean>): Promise<unknown> {
      const controller = new AbortController();
      const watching = setInterval(() => {
        void Promise.resolve(started({})).then((yes) => yes && controller.abort());
      }, 20);
      const progress = { report: (update: ProgressUpdate) => void Promise.resolve(started(update)).then((yes) => yes && controller.abort()) };
      try {
        return await run(id, params, { signal: controller.signal, progress }).then(
          () => assert.fail(`${id} should have been cancelled`),
          (error: unknown) => error,
        );
      } finally {
        clearInterval(watching);
      }
    }

    it('leaves no dump and no temporary file on the SSH host, the S3 prefix or the local folder', async () => {
      const partialOnHost = async () => (await hostDumps()).some((name) => name.startsWith('.big.dump.partial-'));
      const hostBefore = await hostDumps();
      assert.ok((await cancelled('pg.dump', { database: 'big', location: 'nas', file: 'big.dump' }, partialOnHost)) instanceof CancelledError);
      assert.deepEqual(await hostDumps(), hostBefore);

      const partialHere = async () => (await localDumps()).some((name) => name.startsWith('.big.dump.partial-'));
      const localBefore = await localDumps();
      assert.ok((await cancelled('pg.dump', { database: 'big', location: 'here', file: 'big.dump' }, partialHere)) instanceof CancelledError);
      assert.deepEqual(await localDumps(), localBefore);

      const s3Before = await s3Keys();
      const streaming = (update: ProgressUpdate) => (update.bytes ?? 0) > 0;
      assert.ok((await cancelled('pg.dump', { database: 'big', location: 'bucket', file: 'big.dump' }, streaming)) instanceof CancelledError);
      assert.deepEqual(await s3Keys(), s3Before);
    });

    it('leaves the database as it was when a restore is cancelled', async () => {
      await run<PgDumpResult>('pg.dump', { database: 'big', location: 'nas', file: 'big.dump' });
      await pg.sql('big', 'DELETE FROM items WHERE id > 100');
      const streaming = (update: ProgressUpdate) => (update.bytes ?? 0) > 0 && (update.bytes ?? 0) < (update.totalBytes ?? 0);
      assert.ok((await cancelled('pg.restore', { database: 'big', location: 'nas', file: 'big.dump' }, streaming)) instanceof CancelledError);
      assert.equal((await pg.sql('big', 'SELECT count(*) FROM items')).trim(), '100', 'the restore was rolled back');
      await run<PgRestoreResult>('pg.restore', { database: 'big', location: 'nas', file: 'big.dump' });
      assert.equal((await pg.sql('big', 'SELECT count(*) FROM items')).trim(), '60000');
    });
  });

  it('dumps and restores databases and files with hostile names through the pod, the SSH host and a local folder, running none of them', async () => {
    const sentinel = join(sshd.remoteDir, 'sentinel');
    const podRoot = kube.podPath('db', 'app-db-1', '/');
    // Besides the shell payloads, names libpq would read as connection strings if they were passed bare.
    const payloads = [...hostilePayloads(sentinel), 'host=/nonexistent dbname=app', 'postgresql://nobody@192.0.2.1/app', "dbname='app' port=1"];
    const schema = action('pg.dump').params;
    const accepted = payloads.filter((payload) => schema.safeParse({ cluster: 'prod', namespace: 'db', clusterName: 'app-db', database: payload, location: 'nas' }).success);
    const validFile = (name: string) => schema.safeParse({ cluster: 'prod', namespace: 'db', clusterName: 'app-db', database: 'app', location: 'nas', file: name }).success;
    let files = 0;
    // One run's connections for every payload, as the steps of a runbook share them.
    const shared = context();
    try {
      for (const [index, database] of accepted.entries()) {
        await createDatabase(database, 20);
        const before = await snapshot(database);
        const file = validFile(database) ? database : undefined;
        if (file !== undefined) files++;
        // A payload that is a file name also names the dump on the SSH host, in its commands; the others go to the local folder.
        const location = file === undefined ? 'here' : 'nas';
        const dumped = await run<PgDumpResult>('pg.dump', { database, location, ...(file === undefined ? {} : { file }) }, {}, shared);
        if (file === undefined) assert.match(dumped.file, /^[A-Za-z0-9][A-Za-z0-9_-]*-[0-9a-f]{8}-\d{14}\.dump$/, `a default name is a plain file name, with a hash of the database's: ${dumped.file}`);
        else assert.equal(dumped.file, file, `payload ${index}`);
        await pg.sql(database, 'DELETE FROM items');
        await run<PgRestoreResult>('pg.restore', { database, location, file: dumped.file }, {}, shared);
        assert.equal(await snapshot(database), before, `payload ${index} round-trips`);
      }
    } finally {
      await shared.clients.disposeAll();
    }
    assert.equal(existsSync(sentinel), false, 'no payload ran on the host');
    assert.equal(existsSync(join(podRoot, sentinel)), false, 'no payload ran in the pod');
    // Long names are refused by PostgreSQL's 63-byte limit, before anything runs.
    const refused = payloads.length - accepted.length;
    assert.ok(accepted.length >= 30 && refused >= 1, `${accepted.length} accepted, ${refused} refused`);
    assert.ok(files >= 15, `${files} payloads also used as file names`);
  });
});
