import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CANARIES, canaryOccurrences, recordForScan } from '../support/canaries';
import { type CliResult, lifeboat } from '../support/cli';
import { CLI } from '../support/paths';

const MASK = '••••••';

/** Prints stdin in one printed form of a value: how programs a runbook calls show what they were given. */
const ENCODE_JS = `
let text = '';
process.stdin.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => {
  const json = JSON.stringify(text);
  const forms = {
    json,
    ascii: json.replace(/[\\u0080-\\uffff]/g, (c) => '\\\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')),
    url: encodeURIComponent(text),
    shell: "'" + text.replace(/'/g, "'\\\\''") + "'",
  };
  process.stdout.write(process.argv[2] + '=' + forms[process.argv[2]] + '\\n');
});
`;

/** Every form of the value in `$1` on stdout and stderr, and each of its lines on its own. */
const printEverything = (variable: string) => [
  `echo "raw=$${variable}"`,
  `echo "stderr=$${variable}" >&2`,
  ...['json', 'ascii', 'url', 'shell'].map((form) => `printf '%s' "$${variable}" | "${process.execPath}" encode.js ${form}`),
  `printf '%s\\n' "$${variable}" | while IFS= read -r line; do echo "line: $line"; done`,
];

const PARAMS = ['---', 'params:', '  pw: { type: string, secret: true }', '  pin: { type: number, secret: true }', '---'];

const SUCCEEDS = [
  ...PARAMS,
  '# Every way a secret is printed',
  '',
  '```bash',
  ...printEverything('LIFEBOAT_PARAM_PW'),
  'echo "pin=$LIFEBOAT_PARAM_PIN"',
  '```',
  '',
  '```lifeboat',
  'id: envs',
  'action: shell',
  'script: |',
  ...['MULTI', 'UNI', 'QUOTED', 'PIN'].flatMap(printEverything).map((line) => `  ${line}`),
  'env:',
  '  MULTI: secret:multi',
  '  UNI: secret:uni',
  '  QUOTED: secret:quoted',
  '  PIN: secret:pin',
  '```',
  '',
  'A file of exactly as many bytes as the numeric secret: its size must survive in the result.',
  '',
  '```lifeboat',
  'id: pack',
  'action: archive.create',
  'paths: [data.bin]',
  'destination: out',
  'prefix: pack',
  'keep: ${params.pin}',
  '```',
  '',
].join('\n');

const STEP_FAILS = ['```lifeboat', 'action: shell', 'script: |', '  printf \'%s\\n\' "$MULTI" >&2', '  echo "failing with $QUOTED" >&2', `  printf '%s' "$QUOTED" | "${process.execPath}" encode.js json >&2`, '  echo "and $UNI" >&2', '  exit 3', 'env: { QUOTED: secret:quoted, MULTI: secret:multi, UNI: secret:uni }', '```', ''].join('\n');

/** A secret reaches a field through an earlier step's result, which the field refuses when the step runs. */
const FIELD_INVALID_AT_RUN = (secret: string) =>
  ['```lifeboat', 'id: read', 'action: shell', "script: printf '%s' \"$VALUE\"", `env: { VALUE: secret:${secret} }`, '```', '', '```lifeboat', 'action: archive.create', 'paths: [data.bin]', 'destination: out', 'prefix: ${steps.read.stdout}', '```', ''].join('\n');

/** A secret as a path that does not exist: the error names the path. */
const MISSING_PATH = ['```lifeboat', 'action: archive.create', 'paths: [secret:quoted]', 'destination: out', 'prefix: missing', '```', ''].join('\n');

/** Secret parameters that fail their own type or pattern, or an action field's. */
const PARAMS_INVALID = [
  '---',
  'params:',
  "  word: { type: string, secret: true, pattern: '[a-z]+' }",
  '  pin: { type: number, secret: true }',
  '  code: { type: string, secret: true }',
  '---',
  '```lifeboat',
  'action: archive.create',
  'paths: [data.bin]',
  'destination: out',
  'prefix: ${params.code}',
  'keep: ${params.code}',
  '```',
  '',
].join('\n');

/**
 * A `--json` line as scanned for canaries: its strings. Numbers in results are the action's own
 * (sizes, counts, durations) and are kept as they are even when one equals a secret, by design: the
 * archive's size equals the numeric canary on purpose. Other lines are scanned whole.
 */
function stringsOf(line: string): string {
  if (!line.startsWith('{')) return line;
  return JSON.stringify(JSON.parse(line), (_key, value: unknown) => (typeof value === 'number' ? undefined : value));
}

/** Each canary's occurrences in what one run printed. */
function outputLeaks(label: string, result: CliResult): string[] {
  return [
    ...canaryOccurrences(result.stdout.split('\n').map(stringsOf).join('\n')).map((occurrence) => `${label} stdout: ${occurrence}`),
    ...canaryOccurrences(result.stderr).map((occurrence) => `${label} stderr: ${occurrence}`),
  ];
}

describe('canary secrets never leave Lifeboat in any form', function () {
  this.timeout(120_000);
  let workspace: string;
  const outputs: { label: string; result: CliResult }[] = [];

  before(async () => {
    assert.ok(existsSync(CLI), `build the CLI first (npm run build): ${CLI}`);
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-canary-'));
    await writeFile(join(workspace, 'encode.js'), ENCODE_JS);
    await writeFile(join(workspace, 'data.bin'), Buffer.alloc(Number(CANARIES.numeric), 7));
    await writeFile(join(workspace, 'succeeds.runbook.md'), SUCCEEDS);
    await writeFile(join(workspace, 'step-fails.runbook.md'), STEP_FAILS);
    await writeFile(join(workspace, 'field-invalid.runbook.md'), FIELD_INVALID_AT_RUN('quoted'));
    await writeFile(join(workspace, 'field-invalid-multi.runbook.md'), FIELD_INVALID_AT_RUN('multi'));
    await writeFile(join(workspace, 'params-invalid.runbook.md'), PARAMS_INVALID);
    await writeFile(join(workspace, 'missing-path.runbook.md'), MISSING_PATH);
  });

  after(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  /** The secrets split between the environment and a 0600 secrets file; `swap` exchanges the halves. */
  async function secretsFor(swap: boolean): Promise<{ args: string[]; env: NodeJS.ProcessEnv }> {
    const all = { multi: CANARIES.multiLine, uni: CANARIES.unicode, quoted: CANARIES.quoted, pin: CANARIES.numeric };
    const names = Object.keys(all) as (keyof typeof all)[];
    const inFile = names.filter((_name, index) => (index < 2) === swap);
    const file = join(workspace, `secrets-${swap ? 'b' : 'a'}.yaml`);
    // JSON strings are YAML double-quoted strings: quotes, backslashes and newlines survive as written.
    await writeFile(file, inFile.map((name) => `${name}: ${JSON.stringify(all[name])}\n`).join(''), { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { HOME: workspace, LIFEBOAT_SECRETS_FILE: '' };
    for (const name of names) env[`LIFEBOAT_SECRET_${name.toUpperCase()}`] = inFile.includes(name) ? '' : all[name];
    return { args: ['--secrets', file], env };
  }

  async function cli(label: string, args: string[], swap = false): Promise<CliResult> {
    const secrets = await secretsFor(swap);
    const result = await lifeboat([...args, ...(args[0] === 'run' ? secrets.args : [])], { cwd: workspace, env: secrets.env });
    outputs.push({ label, result });
    const leaks = outputLeaks(label, result);
    assert.deepEqual(leaks, [], `canary occurrences:\n${leaks.join('\n')}\n${result.stdout}\n${result.stderr}`);
    return result;
  }

  const runbookParams = ['--param', `pw=${CANARIES.quoted}`, '--param', `pin=${CANARIES.numeric}`];
  const jsonLines = (result: CliResult) =>
    result.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { status: string; result: Record<string, unknown> | null; error: string | null; durationMs: number });

  it('a dry run', async () => {
    const result = await cli('run --dry-run --json', ['run', 'succeeds.runbook.md', '--dry-run', '--json', ...runbookParams]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(jsonLines(result).some((line) => line.status === 'planned'));
  });

  it('a run that prints every secret in every form, with --json', async () => {
    const result = await cli('run --json', ['run', 'succeeds.runbook.md', '--json', '--verbose', '--yes', ...runbookParams]);
    assert.equal(result.code, 0, result.stderr);
    const lines = jsonLines(result);
    assert.deepEqual(lines.map((line) => line.status), ['succeeded', 'succeeded', 'succeeded']);
    // Structured results parse and keep their numbers, the one equal to the numeric secret too.
    const pack = lines[2]?.result ?? {};
    assert.equal(pack.sourceBytes, Number(CANARIES.numeric));
    assert.equal(pack.files, 1);
    assert.equal(typeof pack.bytes, 'number');
    // The secrets were printed: each form shows the mask where the value was.
    const shellOut = String(lines[1]?.result?.stdout);
    for (const form of ['raw=', 'json="', 'ascii="', 'url=', "shell='"]) assert.ok(shellOut.includes(`${form}${MASK}`), `${form} not masked in:\n${shellOut}`);
    // The four lines of the multi-line secret, and the one line of each other secret.
    assert.equal(shellOut.match(/^line: ••••••$/gm)?.length, 4 + 1 + 1 + 1, shellOut);
    assert.match(result.stderr, /stderr=••••••/);
  });

  it('the same run without --json, and with the secrets swapped between file and environment', async () => {
    const result = await cli('run', ['run', 'succeeds.runbook.md', '--verbose', '--yes', ...runbookParams], true);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /raw=••••••/);
    assert.match(result.stdout, /line: ••••••/);
  });

  it('steps that fail with the secrets in their errors: printed by the step, and in a path', async () => {
    const result = await cli('run failing step', ['run', 'step-fails.runbook.md', '--json']);
    assert.equal(result.code, 1, result.stderr);
    const [line] = jsonLines(result);
    assert.match(line?.error ?? '', /exited with code 3/);
    assert.match(line?.error ?? '', /failing with ••••••\njson="••••••"\nand ••••••$/);
    const missing = await cli('run missing path', ['run', 'missing-path.runbook.md', '--json', '--yes']);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(jsonLines(missing)[0]?.error ?? '', /••••••/);
  });

  it('a resolved secret that an action field refuses when the step runs', async () => {
    for (const file of ['field-invalid.runbook.md', 'field-invalid-multi.runbook.md']) {
      const result = await cli(`run ${file}`, ['run', file, '--json', '--yes']);
      assert.equal(result.code, 1, result.stderr);
      const [read, pack] = jsonLines(result);
      assert.equal(read?.result?.stdout, MASK);
      assert.match(pack?.error ?? '', /`prefix`: .*got a value holding a secret \(not shown\)/);
    }
  });

  for (const command of ['run', 'check']) {
    it(`secret parameters that fail validation, by ${command}`, async () => {
      const params = ['--param', `word=${CANARIES.quoted}`, '--param', `pin=${CANARIES.unicode}`, '--param', `code=${CANARIES.multiLine}`];
      const result = await cli(`${command} invalid parameters`, [command, 'params-invalid.runbook.md', ...params]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /`word`: expected a value matching \/\[a-z\]\+\/, got a secret value \(not shown\)/);
      assert.match(result.stderr, /`pin`: expected a number, got a secret value \(not shown\)/);
      assert.match(result.stderr, /`keep`: .*got a value holding a secret \(not shown\)/);
    });
  }

  it('leaves no canary in any output, error or run record, in any printed form', async () => {
    assert.ok(outputs.length >= 8, 'the runs above wrote their outputs');
    const runs = join(workspace, '.lifeboat', 'runs');
    const records = (await Promise.all((await readdir(runs)).map((file) => readFile(join(runs, file), 'utf8')))).join('').split('\n').filter(Boolean);
    // Records parse, keep their numbers, and record a field that is wholly a secret parameter as the mask.
    const parsed = records.map((line) => JSON.parse(line) as { action: string; params: Record<string, unknown>; durationMs: number });
    assert.ok(parsed.every((record) => typeof record.durationMs === 'number'));
    assert.ok(parsed.some((record) => record.action === 'archive.create' && record.params.keep === MASK));

    const leaks = [
      ...outputs.flatMap(({ label, result }) => outputLeaks(label, result)),
      ...records.flatMap((line, index) => canaryOccurrences(recordForScan(line)).map((occurrence) => `run record ${index + 1}: ${occurrence}`)),
    ];
    assert.deepEqual(leaks, [], `canary occurrences:\n${leaks.join('\n')}`);
    process.stdout.write(`      canaries: ${Object.keys(CANARIES).length} values in every printed form, ${outputs.length} runs (stdout and stderr) and ${records.length} run records scanned, ${leaks.length} occurrences\n`);
  });
});
