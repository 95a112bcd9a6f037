import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lifeboat, readRecords } from '../support/cli';
import type { Sshd } from '../testbed/sshd';
import { startSshd } from '../testbed/sshd';

const run = promisify(execFile);
const TOKEN = 'tk-7f3a9c-never-shown';

/**
 * A shell cell given the secret through a runbook parameter, an action cell given it in a field, and an
 * SSH step given it as an argument: each prints it to stdout and stderr; the SSH one then fails.
 */
const SECRET_RUNBOOK = [
  '---',
  'params:',
  '  token:',
  '    type: string',
  '    default: secret:api_token',
  '---',
  '# Uses a secret',
  '',
  '```bash',
  'echo "param=$LIFEBOAT_PARAM_TOKEN"',
  'echo "param-err $LIFEBOAT_PARAM_TOKEN" >&2',
  '```',
  '',
  '```lifeboat',
  'id: local',
  'action: shell',
  'script: |',
  '  echo "token=$TOKEN"',
  '  echo "stderr token $TOKEN" >&2',
  'env:',
  '  TOKEN: secret:api_token',
  '```',
  '',
  '```lifeboat',
  'id: remote',
  'action: ssh.run',
  'host: lab',
  'command: [sh, -c, \'echo "remote $1"; echo "remote-err $1" >&2; exit 4\', sh, secret:api_token]',
  '```',
  '',
].join('\n');

describe('lifeboat CLI with secrets and SSH hosts', function () {
  this.timeout(60_000);
  let sshd: Sshd;
  let workspace: string;

  before(async () => {
    sshd = await startSshd();
  });

  after(async () => {
    await sshd?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-cli-ssh-'));
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  /** The workspace's inventory names the test sshd as `lab`; HOME is the workspace, so no personal ssh config or agent applies. */
  async function writeInventory(knownHosts = sshd.knownHostsPath): Promise<void> {
    await writeFile(
      join(workspace, 'lifeboat.yaml'),
      ['hosts:', '  lab:', `    host: ${sshd.host}`, `    port: ${sshd.port}`, `    user: ${sshd.user}`, `    identityFile: ${sshd.clientKey.privateKeyPath}`, `    knownHosts: ${knownHosts}`, ''].join('\n'),
    );
  }

  const isolated = (env: NodeJS.ProcessEnv = {}) => ({ HOME: workspace, SSH_AUTH_SOCK: '', LIFEBOAT_SECRET_API_TOKEN: '', LIFEBOAT_SECRETS_FILE: '', ...env });

  async function everythingWritten(result: { stdout: string; stderr: string }): Promise<string> {
    const runs = join(workspace, '.lifeboat', 'runs');
    const records = await Promise.all((await readdir(runs)).map((file) => readFile(join(runs, file), 'utf8')));
    return [result.stdout, result.stderr, ...records].join('\n');
  }

  it('masks a secret in stdout, stderr, results, errors and run records', async () => {
    await writeInventory();
    await writeFile(join(workspace, 'secret.runbook.md'), SECRET_RUNBOOK);
    const result = await lifeboat(['run', 'secret.runbook.md', '--json', '--verbose'], { cwd: workspace, env: isolated({ LIFEBOAT_SECRET_API_TOKEN: TOKEN }) });
    assert.equal(result.code, 1, result.stderr);
    const written = await everythingWritten(result);
    assert.ok(!written.includes(TOKEN), `the secret leaked:\n${written}`);
    // The secret was used: each place shows the mask where the value would be.
    assert.match(result.stderr, /param=••••••/, 'shell stdout goes to stderr beside --json');
    assert.match(result.stderr, /param-err ••••••/);
    assert.match(result.stderr, /token=••••••/);
    assert.match(result.stderr, /stderr token ••••••/);
    assert.match(result.stderr, /remote ••••••/);
    assert.match(result.stderr, /remote-err ••••••/);
    assert.match(result.stderr, /exited with code 4:\nremote-err ••••••/);
    const results = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { status: string; result: { stdout?: string } | null });
    assert.deepEqual(results.map((step) => step.status), ['succeeded', 'succeeded', 'failed']);
    assert.equal(results[1]?.result?.stdout, 'token=••••••\n');
    const records = await readRecords(workspace);
    // Records keep the reference as written, not the value.
    assert.deepEqual(records.map((record) => record.params), [
      { interpreter: 'bash' },
      { script: 'echo "token=$TOKEN"\necho "stderr token $TOKEN" >&2\n', env: { TOKEN: 'secret:api_token' } },
      { host: 'lab', command: ['sh', '-c', 'echo "remote $1"; echo "remote-err $1" >&2; exit 4', 'sh', 'secret:api_token'] },
    ]);
  });

  it('reads secrets from a private secrets file and refuses one others can read', async () => {
    await writeInventory();
    await writeFile(join(workspace, 'secret.runbook.md'), SECRET_RUNBOOK);
    const secretsFile = join(workspace, 'secrets.yaml');
    await writeFile(secretsFile, `api_token: ${TOKEN}\n`, { mode: 0o644 });
    await chmod(secretsFile, 0o644);
    const refused = await lifeboat(['run', 'secret.runbook.md', '--secrets', secretsFile], { cwd: workspace, env: isolated() });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`refusing the secrets file .*secrets\\.yaml: its mode is 0644, so others can read it; make it private with: chmod 600 `));

    await chmod(secretsFile, 0o600);
    for (const [args, env] of [[['--secrets', secretsFile], {}], [[], { LIFEBOAT_SECRETS_FILE: secretsFile }]] as const) {
      const result = await lifeboat(['run', 'secret.runbook.md', ...args], { cwd: workspace, env: isolated(env) });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stdout + result.stderr, /token=••••••/);
      assert.ok(!(await everythingWritten(result)).includes(TOKEN));
    }
  });

  it('names the cell and field of a secret that is not set', async () => {
    await writeInventory();
    await writeFile(join(workspace, 'secret.runbook.md'), SECRET_RUNBOOK);
    const result = await lifeboat(['run', 'secret.runbook.md'], { cwd: workspace, env: isolated() });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /secret\.runbook\.md, cell 2, `params\.token`: secret 'api_token' is not set: export LIFEBOAT_SECRET_API_TOKEN, or add 'api_token' to a secrets file \(--secrets FILE or LIFEBOAT_SECRETS_FILE\)/);
  });

  it('fails on an unknown host key with the fingerprint and the known_hosts line to add', async () => {
    const knownHosts = join(workspace, 'known_hosts');
    await writeInventory(knownHosts);
    await writeFile(join(workspace, 'remote.runbook.md'), '```lifeboat\naction: ssh.run\nhost: lab\ncommand: [echo, hello]\n```\n');
    const { stdout } = await run('ssh-keygen', ['-lf', `${sshd.hostKey.privateKeyPath}.pub`]);
    const fingerprint = stdout.split(' ')[1] ?? '';
    const result = await lifeboat(['run', 'remote.runbook.md'], { cwd: workspace, env: isolated() });
    assert.equal(result.code, 1);
    assert.ok(result.stderr.includes(`The host key of lab ([127.0.0.1]:${sshd.port}) is not known: ssh-ed25519 ${fingerprint}.`), result.stderr);
    assert.ok(result.stderr.includes(`add this line to ${knownHosts}:\n${sshd.knownHostsLine}\n`), result.stderr);

    await writeFile(knownHosts, `${sshd.knownHostsLine}\n`);
    const trusted = await lifeboat(['run', 'remote.runbook.md'], { cwd: workspace, env: isolated() });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, /\| lab \| 0 \|/);
  });
});
