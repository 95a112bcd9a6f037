import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readParamArguments } from '../../src/cli/args';
import { readSecretsFile } from '../../src/cli/secrets';

describe('secrets file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-secrets-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every value as written, whatever YAML would read it as', async () => {
    const path = join(dir, 'secrets.yaml');
    await writeFile(path, ['pin: 0042', 'octal: 0o17', 'flag: yes', 'nothing: null', 'big: 12345678901234567890', 'float: 1.50', 'quoted: "0042"'].join('\n'), { mode: 0o600 });
    assert.deepEqual(Object.fromEntries(await readSecretsFile(path)), {
      pin: '0042',
      octal: '0o17',
      flag: 'yes',
      nothing: 'null',
      big: '12345678901234567890',
      float: '1.50',
      quoted: '0042',
    });
  });

  it('refuses a value that is not text', async () => {
    const path = join(dir, 'secrets.yaml');
    await writeFile(path, 'token:\n  nested: x\n', { mode: 0o600 });
    await assert.rejects(readSecretsFile(path), /'token' must be a string/);
  });
});

describe('--param arguments', () => {
  it('refuse an entry without a name and do not echo what was typed, which may be a secret', () => {
    for (const entry of ['hunter2-secret', '=hunter2-secret']) {
      assert.throws(
        () => readParamArguments(['date=20260101', entry]),
        (error: Error) => /--param number 2 has no (name before )?'='/.test(error.message) && !error.message.includes('hunter2'),
      );
    }
  });
});
