/**
 * The PBS simulator stands in for a Proxmox Backup Server, so it must not drift from the contract:
 * every route of test/fixtures/contracts/pbs-api-3.2.json is called on it and its answer held against
 * the fields, types and values listed there, and the facts of EXTERNAL-SYSTEMS.md §6 (token header
 * forms, the `data` envelope, snapshot item fields) are checked against the contract text itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { CONTRACT_FIXTURES } from '../support/paths';
import { PbsSimulator } from '../testbed/pbsSim';

interface ContractRoute {
  method: string;
  path: string;
  from: string;
  query?: string[];
  returns: 'array' | 'object' | 'string' | 'null';
  fields?: Record<string, string>;
  enums?: Record<string, string[]>;
  envelope?: Record<string, string>;
}

const api = JSON.parse(readFileSync(join(CONTRACT_FIXTURES, 'pbs-api-3.2.json'), 'utf8')) as { source: string; routes: ContractRoute[] };
const contract = readFileSync(join(CONTRACT_FIXTURES, 'EXTERNAL-SYSTEMS.md'), 'utf8');
const section6 = contract.slice(contract.indexOf('## 6. Proxmox Backup Server'), contract.indexOf('## 7.'));

const TOKEN = 'root@pam!conformance';
const SECRET = 'd63e1a5c-7b0f-4c1e-9a61-3f0c2b9e8d47';
const STORE = 'pbs-ruapehu';

interface Answer {
  status: number;
  text: string;
}

function call(sim: PbsSimulator, method: string, path: string, options: { authorization?: string | null; body?: string; type?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const authorization = options.authorization === undefined ? `PBSAPIToken ${TOKEN}:${SECRET}` : options.authorization;
    if (authorization !== null) headers.Authorization = authorization;
    if (options.body !== undefined) headers['Content-Type'] = options.type ?? 'application/json';
    const url = new URL(sim.url);
    const outgoing = request({ method, host: url.hostname, port: url.port, path, headers, ca: sim.certificate.cert }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

function typeProblem(value: unknown, declared: string): string | undefined {
  const optional = declared.endsWith('?');
  const type = declared.replace(/\?$/, '');
  if (value === undefined || value === null) return optional ? undefined : 'missing';
  const actual = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  return actual === type ? undefined : `${actual}, not ${type}`;
}

/** Every problem of one item against the route's fields and enums: unknown fields included. */
function itemProblems(item: unknown, route: ContractRoute): string[] {
  if (!item || typeof item !== 'object') return [`item is ${typeof item}`];
  const record = item as Record<string, unknown>;
  const problems: string[] = [];
  for (const [field, declared] of Object.entries(route.fields ?? {})) {
    const problem = typeProblem(record[field], declared);
    if (problem) problems.push(`${field}: ${problem}`);
  }
  for (const field of Object.keys(record)) if (!(field in (route.fields ?? {}))) problems.push(`${field}: not in the contract`);
  for (const [path, values] of Object.entries(route.enums ?? {})) {
    const [field = '', sub] = path.split('.');
    const raw = record[field];
    const found = sub === undefined ? [raw] : (Array.isArray(raw) ? raw : [raw]).map((entry) => (entry && typeof entry === 'object' ? (entry as Record<string, unknown>)[sub] : undefined));
    for (const value of found) if (value !== undefined && !values.includes(String(value))) problems.push(`${path}: '${String(value)}' is not one of ${values.join(', ')}`);
  }
  return problems;
}

describe(`PBS simulator conforms to ${api.source.split(',')[0]}`, function () {
  this.timeout(30_000);
  let sim: PbsSimulator;
  let upid: string;

  before(async () => {
    sim = await PbsSimulator.start({
      tokens: { [TOKEN]: SECRET },
      verifyMsPerSnapshot: 5,
      datastores: {
        [STORE]: {
          comment: 'TrueNAS HDD',
          total: 14_600_000_000_000,
          used: 1_300_000_000_000,
          snapshots: [
            { type: 'vm', id: '100', time: 1_719_800_000, size: 34_359_738_368, comment: 'web01', files: [{ filename: 'index.json.blob', 'crypt-mode': 'none', size: 512 }, { filename: 'drive-scsi0.img.fidx', 'crypt-mode': 'none', size: 34_359_738_368 }], verification: { state: 'ok', upid: 'UPID:pbs:00000001:00000001:00000001:66827A40:verify:pbs\\x2druapehu:root@pam:' } },
            { type: 'ct', id: '101', time: 1_719_900_000, size: 1024, protected: true, files: [{ filename: 'root.pxar.didx', 'crypt-mode': 'encrypt', size: 1024 }] },
            { type: 'host', id: 'truenas', time: 1_719_950_000, corrupt: true },
            { type: 'vm', id: '300', time: 1_719_960_000, ns: 'site-a/prod' },
          ],
        },
        spare: { total: 1000, used: 10, snapshots: [{ type: 'vm', id: '200', time: 1_719_000_000 }], maintenance: 'read-only' },
      },
    });
    const started = JSON.parse((await call(sim, 'POST', `/api2/json/admin/datastore/${STORE}/verify`, { body: JSON.stringify({ 'backup-type': 'vm', 'backup-id': '100', 'ignore-verified': false }) })).text) as { data: string };
    upid = started.data;
  });

  after(async () => {
    await sim?.stop();
  });

  it('the contract file names the source snapshot §6 was read from', () => {
    assert.match(contract, /proxmox\/proxmox-backup \(GitHub mirror\) \| 4940514b0f05/);
    assert.match(api.source, /4940514b0f05/);
  });

  const pathFor = (route: ContractRoute) =>
    route.path
      .replace('{store}', STORE)
      .replace('{node}', 'localhost')
      .replace('{upid}', () => encodeURIComponent(upid));

  for (const route of api.routes) {
    it(`${route.method} ${route.path} answers as ${route.from.split(/[;(]/)[0]?.trim()}`, async () => {
      const query = route.path.endsWith('/log') ? '?start=1&limit=0&test-status=true' : route.path.endsWith('/snapshots') ? '?backup-type=vm' : '';
      const body = route.path.endsWith('/verify') ? JSON.stringify({}) : undefined;
      const answer = await call(sim, route.method, `${pathFor(route)}${query}`, body === undefined ? {} : { body });
      assert.equal(answer.status, 200, answer.text);
      const parsed = JSON.parse(answer.text) as Record<string, unknown>;
      assert.ok('data' in parsed, 'answers in the {"data": …} envelope');
      const data = parsed.data;
      if (route.returns === 'null') assert.equal(data, null);
      if (route.returns === 'string') assert.match(String(data), /^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:verify:[^:]*:root@pam!conformance:$/);
      if (route.returns === 'object') assert.deepEqual(itemProblems(data, route), []);
      if (route.returns === 'array') {
        assert.ok(Array.isArray(data), 'data is a list');
        assert.ok(data.length > 0, 'the sample answers at least one item');
        for (const item of data) assert.deepEqual(itemProblems(item, route), [], JSON.stringify(item));
      }
      for (const [field, declared] of Object.entries(route.envelope ?? {})) assert.equal(typeProblem(parsed[field], declared), undefined, field);
      for (const field of Object.keys(parsed)) assert.ok(field === 'data' || field in (route.envelope ?? {}), `envelope field ${field} is in the contract`);
    });
  }

  it('serves only the routes of the contract', async () => {
    for (const path of [`/api2/json/admin/datastore/${STORE}/prune`, `/api2/json/admin/datastore/${STORE}/snapshots/extra`, '/api2/json/version', '/admin/datastore']) {
      assert.equal((await call(sim, 'GET', path)).status, 404, path);
    }
  });

  it('takes the API token header with a space or `=` after PBSAPIToken, the secret plain or percent-encoded (§6)', async () => {
    assert.match(section6, /method `PBSAPIToken` to the value `TOKENID:TOKENSECRET`/);
    assert.match(section6, /accepts either a \*\*space or `=`\*\*/);
    assert.match(section6, /percent-encoded secret/);
    for (const authorization of [`PBSAPIToken ${TOKEN}:${SECRET}`, `PBSAPIToken=${TOKEN}:${SECRET}`, `PBSAPIToken ${TOKEN}:${encodeURIComponent(SECRET).replace(/-/g, '%2D')}`]) {
      assert.equal((await call(sim, 'GET', '/api2/json/admin/datastore', { authorization })).status, 200, authorization);
    }
    for (const authorization of [null, `PBSAPIToken ${TOKEN}:wrong`, `PBSAPIToken root@pam!other:${SECRET}`, `Bearer ${SECRET}`, `PVEAPIToken=${TOKEN}=${SECRET}`]) {
      assert.equal((await call(sim, 'GET', '/api2/json/admin/datastore', { authorization })).status, 401, String(authorization));
    }
  });

  it('lists snapshots with the fields of SnapshotListItem as §6 gives them', async () => {
    const route = api.routes.find((candidate) => candidate.path.endsWith('/snapshots')) as ContractRoute;
    for (const field of Object.keys(route.fields ?? {})) assert.ok(section6.includes(`\`${field}\``), `§6 names ${field}`);
    assert.match(section6, /GET https:\/\/<host>:8007\/api2\/json\/admin\/datastore\/\{store\}\/snapshots/);
    const all = JSON.parse((await call(sim, 'GET', `/api2/json/admin/datastore/${STORE}/snapshots`)).text) as { data: Record<string, unknown>[] };
    assert.equal(all.data.length, 3);
    const byId = new Map(all.data.map((item) => [item['backup-id'], item]));
    assert.equal(byId.get('101')?.protected, true);
    assert.equal(byId.get('truenas')?.protected, false, 'protected defaults to false');
    const spare = JSON.parse((await call(sim, 'GET', '/api2/json/admin/datastore/spare/snapshots')).text) as { data: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(spare.data[0] ?? {}).sort(), ['backup-id', 'backup-time', 'backup-type', 'files', 'owner', 'protected'], 'an unverified snapshot has no verification field');
    const filtered = JSON.parse((await call(sim, 'GET', `/api2/json/admin/datastore/${STORE}/snapshots?backup-type=ct&backup-id=101`)).text) as { data: unknown[] };
    assert.equal(filtered.data.length, 1);
    assert.ok(route.query?.includes('ns') && section6.includes('optional query `ns`'), 'the namespace is a query parameter (§6)');
    const namespaced = JSON.parse((await call(sim, 'GET', `/api2/json/admin/datastore/${STORE}/snapshots?ns=site-a%2Fprod`)).text) as { data: Record<string, unknown>[] };
    assert.deepEqual(namespaced.data.map((item) => item['backup-id']), ['300'], 'a namespace lists its own snapshots, the root its own');
    assert.equal((await call(sim, 'GET', `/api2/json/admin/datastore/${STORE}/snapshots?ns=..%2Fx`)).status, 400);
  });

  it('answers a failure with its status and the message as text, an unknown datastore with 400', async () => {
    const unknown = await call(sim, 'GET', '/api2/json/admin/datastore/missing/snapshots');
    assert.equal(unknown.status, 400);
    assert.throws(() => JSON.parse(unknown.text) as unknown, 'the body is the message, not JSON');
    assert.match(unknown.text, /missing/);
    assert.equal((await call(sim, 'GET', `/api2/json/admin/datastore/${encodeURIComponent('a/b')}/snapshots`)).status, 400, 'a name outside the safe-id format');
  });

  it('verifies a snapshot, a group or the datastore, and refuses a time without a group', async () => {
    const verify = (body: Record<string, unknown>) => call(sim, 'POST', `/api2/json/admin/datastore/${STORE}/verify`, { body: JSON.stringify(body) });
    const snapshot = JSON.parse((await verify({ 'backup-type': 'ct', 'backup-id': '101', 'backup-time': 1_719_900_000 })).text) as { data: string };
    assert.match(snapshot.data, /:verify_snapshot:/);
    const group = JSON.parse((await verify({ 'backup-type': 'ct', 'backup-id': '101' })).text) as { data: string };
    assert.match(group.data, /:verify_group:/);
    const form = await call(sim, 'POST', `/api2/json/admin/datastore/${STORE}/verify`, { body: 'backup-type=ct&backup-id=101', type: 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 200, 'form-encoded parameters too');
    const bad = await verify({ 'backup-time': 1_719_900_000 });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /parameters do not specify a backup group or snapshot/);
  });

  it('a task runs, then stops with OK or an Error exit status, and DELETE aborts it', async () => {
    const status = async (id: string) => (JSON.parse((await call(sim, 'GET', `/api2/json/nodes/localhost/tasks/${encodeURIComponent(id)}/status`)).text) as { data: { status: string; exitstatus?: string; user: string; tokenid?: string } }).data;
    const failing = JSON.parse((await call(sim, 'POST', `/api2/json/admin/datastore/${STORE}/verify`, { body: JSON.stringify({ 'backup-type': 'host', 'backup-id': 'truenas', 'ignore-verified': false }) })).text) as { data: string };
    assert.equal((await status(failing.data)).status, 'running');
    await sim.waitForTask((task) => task.upid === failing.data && task.exitstatus !== undefined);
    const stopped = await status(failing.data);
    assert.deepEqual([stopped.status, stopped.exitstatus, stopped.user, stopped.tokenid], ['stopped', 'Error: verification failed - please check the log for details', 'root@pam', 'conformance']);
    const log = JSON.parse((await call(sim, 'GET', `/api2/json/nodes/localhost/tasks/${encodeURIComponent(failing.data)}/log?start=0&limit=0`)).text) as { data: { n: number; t: string }[]; total: number };
    assert.equal(log.data[0]?.n, 1, 'log lines are numbered from 1');
    assert.equal(log.total, log.data.length);
    assert.ok(log.data.some((line) => line.t === 'Failed to verify the following snapshots/groups:'));

    const long = JSON.parse((await call(sim, 'POST', `/api2/json/admin/datastore/${STORE}/verify`, { body: JSON.stringify({ 'ignore-verified': false }) })).text) as { data: string };
    assert.equal((await call(sim, 'DELETE', `/api2/json/nodes/localhost/tasks/${encodeURIComponent(long.data)}`)).status, 200);
    await sim.waitForTask((task) => task.upid === long.data && task.exitstatus !== undefined);
    assert.equal((await status(long.data)).exitstatus, 'Error: abort requested - aborting task');
  });
});
