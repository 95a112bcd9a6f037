import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { RecordingsRestoreResult } from '../../src/actions/frigate/recordingsRestore';
import { createActionContext } from '../../src/core/actions/context';
import type { Inventory } from '../../src/core/actions/spec';
import { formatProblem } from '../../src/core/errors';
import { runFrigateAction } from '../support/frigateActions';
import { hostilePayloads, yamlQuoted } from '../support/payloads';
import { filesUnder, utcDay } from '../support/recordings';
import { runRunbookInProcess } from '../support/runbookSession';
import { KubeApiSimulator } from '../testbed/kubeSim';
import type { Sshd } from '../testbed/sshd';
import { startSshd } from '../testbed/sshd';

/** An ssh.run cell; `command` and the rest are YAML flow values. */
function sshCell(fields: string[]): string[] {
  return ['```lifeboat', 'action: ssh.run', 'host: lab', ...fields, '```', ''];
}

describe('ssh.run on a real sshd: values reach remote scripts as data', function () {
  this.timeout(180_000);
  let sshd: Sshd;
  let workspace: string;
  let out: string;
  let inventory: Inventory;

  before(async () => {
    sshd = await startSshd();
    inventory = { hosts: { lab: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath } } } as Inventory;
  });

  after(async () => {
    await sshd?.stop();
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-injection-ssh-'));
    out = join(sshd.remoteDir, 'out');
    await rm(out, { recursive: true, force: true });
    await mkdir(out);
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  it('every payload, as a parameter, a step result and an archive file name, through sh -c, bash -c, env -i dash -c, env:, and plain arguments', async () => {
    const sentinel = join(sshd.remoteDir, 'PWNED');
    const payloads = hostilePayloads(sentinel);
    const names = hostilePayloads('PWNED').map((payload) => `${payload}.tar.gz`).filter((name) => !name.includes('/') && !name.startsWith('.') && Buffer.byteLength(name) <= 255);
    const runbook = ['---', 'params:', ...payloads.map((payload, index) => `  p${index}: { type: string, default: ${yamlQuoted(payload)} }`), '---', ''];
    const expected = new Map<string, string>();
    const indexes = payloads.map((_, index) => index);
    const writes = (kind: string, reference: (index: number) => string) => indexes.map((index) => `printf %s "${reference(index)}" > ${out}/${kind}-${index}`).join('; ');
    const param = (index: number) => `\${params.p${index}}`;
    // Each payload also comes back as a step result: a local shell step prints it.
    for (const index of indexes) runbook.push(`\`\`\`bash {id=emit${index}}`, `printf '%s' "$LIFEBOAT_PARAM_P${index}"`, '```', '');
    runbook.push(
      ...sshCell([`command: [sh, -c, '${writes('sh', param)}']`]),
      ...sshCell([`command: [bash, --norc, -euo, pipefail, -c, '${writes('bash', param)}']`]),
      ...sshCell([`command: [env, -i, 'PATH=/usr/bin:/bin', dash, -c, '${writes('dash', param)}']`]),
      ...sshCell([`command: [sh, -c, '${writes('step', (index) => `\${steps.emit${index}.stdout}`)}']`]),
      ...sshCell([`command: [sh, -c, 'i=0; for value; do printf %s "$value" > ${out}/arg-$i; i=$((i + 1)); done', sh, ${indexes.map((index) => `'pre-${param(index)}'`).join(', ')}]`]),
      ...sshCell([`env: { ${indexes.map((index) => `V${index}: '${param(index)}'`).join(', ')} }`, `command: [sh, -c, '${writes('env', (index) => `$V${index}`)}']`]),
      ...['```lifeboat', 'id: whole', 'action: ssh.run', 'host: lab', `command: [printf, '%s\\0', ${indexes.map((index) => `'${param(index)}'`).join(', ')}]`, '```', ''],
    );
    for (const [index, payload] of payloads.entries()) {
      for (const kind of ['sh', 'bash', 'dash', 'env', 'step']) expected.set(`${kind}-${index}`, payload);
      expected.set(`arg-${index}`, `pre-${payload}`);
    }
    for (const [index, name] of names.entries()) {
      await mkdir(join(workspace, 'archives', String(index)), { recursive: true });
      await writeFile(join(workspace, 'archives', String(index), name), 'x');
      runbook.push('```lifeboat', `id: find${index}`, 'action: archive.list', `location: archives/${index}`, 'archive: latest', '```', '');
      expected.set(`name-${index}`, name);
    }
    runbook.push(...sshCell([`command: [sh, -c, '${names.map((_, index) => `printf %s "\${steps.find${index}.selected.name}" > ${out}/name-${index}`).join('; ')}']`]));

    const run = await runRunbookInProcess(runbook.join('\n'), { workspaceDir: workspace, inventory });
    assert.deepEqual(run.problems.map(formatProblem), []);
    assert.equal(run.status, 'succeeded', run.reports.map((report) => report.error ?? '').join('\n'));
    for (const [file, value] of expected) assert.deepEqual(await readFile(join(out, file)), Buffer.from(value), file);
    const whole = run.reports.find((report) => report.step.id === 'whole')?.result as { stdout: string };
    assert.deepEqual(whole.stdout.split('\0').slice(0, -1), payloads, 'each payload as a whole argument');

    const ran = [existsSync(sentinel), existsSync(join(userInfo().homedir, 'PWNED')), (await readdir(workspace)).includes('PWNED')].filter(Boolean).length;
    console.log(`      ssh.run corpus: ${payloads.length + names.length} payloads, ${expected.size + payloads.length} tries, ${ran} executed`);
    assert.equal(ran, 0);
  });

  it('refuses a NUL byte in a remote script reference before connecting, naming cell, line and field', async () => {
    const runbook = ['---', 'params:', '  p: { type: string, default: "a\\0b" }', '---', '', ...sshCell([`command: [sh, -c, 'printf %s "\${params.p}" > ${out}/nul']`])].join('\n');
    const run = await runRunbookInProcess(runbook, { workspaceDir: workspace, inventory });
    assert.match(run.problems.map(formatProblem).join('\n'), /^test\.runbook\.md:\d+, cell 1, `command\.2`: \$\{params\.p\} holds a NUL byte/);
    assert.deepEqual(await readdir(out), []);
  });

  it('restores recordings of cameras named like tar options from the backup host, as file names', async () => {
    const kube = await KubeApiSimulator.start();
    try {
      const pod = kube.addPod({ namespace: 'nvr', name: 'frigate-0', labels: { app: 'frigate' }, containers: ['frigate'] });
      const backupRoot = join(sshd.remoteDir, 'recordings');
      const day = utcDay(1);
      // Folder names on the backup host that GNU tar would read as options in a file list.
      const cameras = ['-x', '--remove-files', '-C'];
      for (const camera of cameras) {
        await mkdir(join(backupRoot, camera, day, '07'), { recursive: true });
        await writeFile(join(backupRoot, camera, day, '07', '00.00.mp4'), `recording of ${camera}`);
      }
      const ctx = createActionContext({
        workspaceDir: workspace,
        inventory: {
          frigate: { home: { url: 'http://127.0.0.1:5000', files: { cluster: 'k3s', namespace: 'nvr', labelSelector: 'app=frigate' } } },
          clusters: { k3s: { kubeconfig: await kube.writeKubeconfig() } },
          hosts: inventory.hosts,
          locations: { nas: { host: 'lab', path: backupRoot } },
        },
      });
      const result = await runFrigateAction<RecordingsRestoreResult>('frigate.recordings.restore', { frigate: 'home', location: 'nas' }, ctx);
      assert.equal(result.restoredFiles, cameras.length);
      const restored = await filesUnder(join(pod.root, 'media', 'frigate', 'recordings'));
      assert.deepEqual([...restored].sort(), cameras.map((camera) => [`${day}/07/${camera}/00.00.mp4`, Buffer.from(`recording of ${camera}`)]).sort());
      assert.deepEqual(await readdir(join(backupRoot, '--remove-files', day, '07')), ['00.00.mp4'], 'the backup keeps its files');
    } finally {
      await kube.stop();
    }
  });
});
