import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryJsonSchema } from '../../src/core/inventory/jsonSchema';
import { ValidationError } from '../../src/core/errors';
import { loadInventory } from '../../src/core/workspace';
import { lifeboat } from '../support/cli';
import { REPO_ROOT } from '../support/paths';

const FULL_INVENTORY = `# every kind of target
hosts:
  nas: { host: nas.lan, user: backup, port: 2222, identityFile: ~/.ssh/id_ed25519, knownHosts: ~/.ssh/known_hosts }
  pi: {}
  behind: { host: app.internal, proxyJump: "admin@bastion:22" }
clusters:
  prod: { kubeconfig: ~/.kube/config, context: prod }
frigate:
  home:
    url: https://frigate.lan:8971
    auth: { username: admin, password: secret:frigate_password }
    tls: { insecure: true }
    files: { cluster: prod, namespace: nvr }
  garage:
    url: http://10.0.0.5:5000
    files: { host: nas, path: /srv/frigate }
stores:
  offsite: { endpoint: https://s3.garage.lan, bucket: backups, pathStyle: true, credentials: { accessKeyId: GK123, secretAccessKey: secret:garage_key } }
  aws: { bucket: my-bucket, region: eu-west-1 }
repositories:
  main: { repository: sftp:nas:/srv/restic, password: secret:restic_password }
backupServers:
  pbs: { url: https://pbs.lan:8007, datastore: store1, tokenId: root@pam!lifeboat, tokenSecret: secret:pbs_token }
locations:
  local: { path: backups, keep: 7 }
  nas: { host: nas, path: /srv/backups, keep: 14 }
  offsite: { store: offsite, prefix: lifeboat/ }
`;

describe('inventory (lifeboat.yaml)', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-inventory-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function load(text: string) {
    const path = join(dir, 'lifeboat.yaml');
    await writeFile(path, text);
    return loadInventory(path, { required: true });
  }

  async function problemsOf(text: string) {
    const error = await load(text).then(
      () => assert.fail('the inventory should be refused'),
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof ValidationError, String(error));
    return error.problems.map(({ line, field, message }) => ({ line, field, message }));
  }

  it('reads every kind of target, with defaults filled in', async () => {
    const inventory = await load(FULL_INVENTORY);
    assert.equal(inventory.hosts?.nas?.port, 2222);
    assert.deepEqual(inventory.hosts?.pi, {});
    assert.equal(inventory.frigate?.home?.tls?.insecure, true);
    assert.deepEqual(inventory.frigate?.home?.files, { cluster: 'prod', namespace: 'nvr', labelSelector: 'app.kubernetes.io/name=frigate' });
    assert.equal(inventory.stores?.aws?.region, 'eu-west-1');
    assert.equal(inventory.stores?.offsite?.region, 'us-east-1');
    assert.deepEqual(inventory.locations?.offsite, { store: 'offsite', prefix: 'lifeboat/' });
    assert.deepEqual(inventory.locations?.local, { path: 'backups', keep: 7 });
  });

  it('keeps the simple local locations that runbooks and the demo use', async () => {
    assert.deepEqual(await load('locations:\n  local:\n    path: backups\n'), { locations: { local: { path: 'backups' } } });
    assert.deepEqual(await load('locations: {}\n'), { locations: {} });
    assert.deepEqual(await load(''), {});
  });

  it('names the line and field of each problem', async () => {
    const problems = await problemsOf(
      ['hosts:', '  nas:', '    host: nas.lan', '    port: twenty-two', '    passwd: hunter2', 'stores:', '  offsite:', '    bucket: b', '    credentials: { accessKeyId: AK, secretAccessKey: plain-text }', ''].join('\n'),
    );
    assert.deepEqual(problems, [
      { line: 4, field: 'hosts.nas.port', message: 'Invalid input: expected number, received string' },
      { line: 5, field: 'hosts.nas.passwd', message: "unknown field 'passwd'" },
      { line: 9, field: 'stores.offsite.credentials.secretAccessKey', message: 'expected a secret reference such as secret:NAME (secrets are never written in lifeboat.yaml)' },
    ]);
  });

  it('explains a location that is none of the known kinds by the closest one', async () => {
    const problems = await problemsOf('locations:\n  nas:\n    host: nas\n');
    assert.deepEqual(problems, [{ line: 2, field: 'locations.nas.path', message: 'Invalid input: expected string, received undefined' }]);
    const unknownSection = await problemsOf('location:\n  nas: { path: x }\n');
    assert.deepEqual(unknownSection, [{ line: 1, field: 'location', message: "unknown field 'location'" }]);
  });

  it('reports schema problems with file:line from lifeboat check', async () => {
    await writeFile(join(dir, 'lifeboat.yaml'), 'hosts:\n  nas:\n    port: 70000\n');
    await writeFile(join(dir, 'empty.runbook.md'), '# nothing to run\n');
    const result = await lifeboat(['check', 'empty.runbook.md'], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /lifeboat\.yaml:3, `hosts\.nas\.port`: Too big: expected number to be <=65535/);
  });

  it('ships the JSON Schema the editor validates lifeboat.yaml with', async () => {
    const shipped = JSON.parse(await readFile(join(REPO_ROOT, 'dist', 'lifeboat.schema.json'), 'utf8')) as unknown;
    assert.deepEqual(shipped, JSON.parse(JSON.stringify(inventoryJsonSchema())));
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { contributes: { yamlValidation: { fileMatch: string[]; url: string }[] } };
    assert.deepEqual(manifest.contributes.yamlValidation, [{ fileMatch: ['lifeboat.yaml', 'lifeboat.yml'], url: './dist/lifeboat.schema.json' }]);
    assert.match(await readFile(join(REPO_ROOT, '.vscodeignore'), 'utf8'), /^!dist\/lifeboat\.schema\.json$/m);
  });
});
