import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths';

describe('npm run demo', function () {
  // Packages the VSIX, writes the lab with two backups, installs the extension and starts code-server.
  this.timeout(180_000);

  let demoDir: string;
  before(() => {
    demoDir = mkdtempSync(join(tmpdir(), 'lifeboat-demo-'));
  });
  after(() => rmSync(demoDir, { recursive: true, force: true }));

  it('starts code-server with the packaged extension installed and stops it again (LIFEBOAT_DEMO_SMOKE=1)', async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'demo.sh')], {
        env: { ...process.env, LIFEBOAT_DEMO_SMOKE: '1', LIFEBOAT_DEMO_DIR: demoDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ code: exitCode, output }));
    });
    assert.equal(code, 0, `the demo failed:\n${output}`);
    assert.match(output, /Demo smoke check passed: code-server at http:\/\/127\.0\.0\.1:\d+\/ is healthy/);
    assert.match(output, /Extension 'lifeboat\.vsix' was successfully installed/);
  });
});
