import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { builtinActions } from '../../src/actions';
import { readRunbookFile } from '../../src/cli/args';
import { readSecretsFile } from '../../src/cli/secrets';
import { ActionRegistry } from '../../src/core/actions/registry';
import { completeActionCell, completionScope } from '../../src/core/assist/completions';
import { diagnoseRunbook } from '../../src/core/assist/diagnostics';
import { formatProblem, ValidationError } from '../../src/core/errors';
import { parseRunbook } from '../../src/core/runbook/parse';
import { checkRunbook } from '../../src/core/runner/validate';
import { loadInventory } from '../../src/core/workspace';
import { lifeboat } from '../support/cli';
import { CLI } from '../support/paths';

/** The limits the README states. */
const RUNBOOK_LIMIT = 4 * 1024 * 1024;
const INVENTORY_LIMIT = 1024 * 1024;

/** Hostile inputs handed to Lifeboat, and how many it refused; printed when the suite ends. */
const tally = { tried: 0, refused: 0 };

/** Byte sequences that are not UTF-8, each followed in the tests by an ASCII byte. */
const INVALID_SEQUENCES: ReadonlyArray<readonly [string, readonly number[]]> = [
  ['a lone continuation byte', [0x80]],
  ['Latin-1 é', [0xe9]],
  ['an overlong "/" in two bytes', [0xc0, 0xaf]],
  ['an overlong NUL (modified UTF-8)', [0xc0, 0x80]],
  ['an overlong "/" in three bytes', [0xe0, 0x80, 0xaf]],
  ['an overlong "/" in four bytes', [0xf0, 0x80, 0x80, 0xaf]],
  ['a lone high surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
  ['a lone low surrogate', [0xed, 0xbf, 0xbf]],
  ['a surrogate pair in CESU-8 (U+1F600)', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['a five-byte form', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ['0xFE', [0xfe]],
  ['0xFF', [0xff]],
  ['a two-byte sequence cut short', [0xc3]],
  ['a three-byte sequence cut short', [0xe2, 0x82]],
  ['a four-byte sequence cut short', [0xf0, 0x9f, 0x98]],
];

/**
 * A runbook whose first step would leave a file `ran` behind, with `@@` where hostile bytes go: in the
 * frontmatter, the prose, an action cell and a later shell cell.
 */
const PLACES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['frontmatter', ['---', 'title: Restore @@', '---', '```bash', 'touch ran', '```']],
  ['prose', ['```bash', 'touch ran', '```', '', '# Notes', '', 'Ask Émile @@ first.']],
  ['an action cell', ['```bash', 'touch ran', '```', '', '```lifeboat', 'action: archive.list', 'location: lo@@cal', '```']],
  ['a later shell cell', ['```bash', 'touch ran', '```', '', '```bash', 'echo "ünïcode @@"', '```']],
];

/** The runbook's bytes with `bytes` at `@@`, and where a reader must say the first bad one is. */
function withBytes(lines: readonly string[], bytes: readonly number[]): { content: Buffer; line: number; column: number; offset: number } {
  const text = lines.join('\n');
  const at = text.indexOf('@@');
  const before = text.slice(0, at);
  const lineStart = before.lastIndexOf('\n') + 1;
  return {
    content: Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(`x${text.slice(at + 2)}\n`)]),
    line: before.split('\n').length,
    column: [...before.slice(lineStart)].length + 1,
    offset: Buffer.byteLength(before),
  };
}

async function rejection(promise: Promise<unknown>): Promise<ValidationError> {
  tally.tried++;
  try {
    await promise;
  } catch (error) {
    if (error instanceof ValidationError) {
      tally.refused++;
      return error;
    }
    throw error;
  }
  assert.fail('accepted');
}

/** An exit code 2, as every refused input ends, and the refusal counted. */
function refused(result: { code: number | null; stderr: string }): string {
  tally.tried++;
  assert.equal(result.code, 2, result.stderr);
  tally.refused++;
  return result.stderr;
}

describe('bad input', function () {
  this.timeout(120_000);
  let dir: string;
  const registry = new ActionRegistry(builtinActions);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-bad-input-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  after(() => {
    process.stdout.write(`      hostile inputs tried: ${tally.tried}, refused: ${tally.refused}\n`);
  });

  async function runbookWith(content: Buffer | string, name = 'r.runbook.md'): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  /** `lifeboat run` on a runbook whose first step leaves `ran`: refused, and that step never ran. */
  async function refusedBeforeAnyStep(path: string, args: string[] = []): Promise<string> {
    const stderr = refused(await lifeboat(['run', path, '--yes', ...args], { cwd: dir }));
    assert.ok(!existsSync(join(dir, 'ran')), 'the first step ran');
    assert.ok(!existsSync(join(dir, '.lifeboat', 'runs')), 'a step was recorded');
    return stderr;
  }

  describe('text that is not UTF-8', () => {
    for (const [place, lines] of PLACES) {
      it(`is refused in ${place}, at the line and column of the first bad byte, whatever the sequence`, async () => {
        for (const [name, bytes] of INVALID_SEQUENCES) {
          const expected = withBytes(lines, bytes);
          const error = await rejection(readRunbookFile(await runbookWith(expected.content)));
          assert.equal(error.problems.length, 1, name);
          assert.equal(error.problems[0]?.line, expected.line, name);
          assert.match(error.problems[0]?.message ?? '', new RegExp(`^not valid UTF-8 at column ${expected.column} \\(byte offset ${expected.offset}\\)`), name);
        }
      });
    }

    it('is refused where a sequence is cut short by the end of the file', async () => {
      for (const bytes of [[0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98]]) {
        const error = await rejection(readRunbookFile(await runbookWith(Buffer.concat([Buffer.from('# Notes\n\nend '), Buffer.from(bytes)]))));
        assert.equal(formatProblem(error.problems[0]!), `${join(dir, 'r.runbook.md')}:3: not valid UTF-8 at column 5 (byte offset 13); save the file as UTF-8`);
      }
    });

    it('keeps a byte order mark, not counted as a column, and still finds a bad byte after it', async () => {
      const bom = Buffer.from([0xef, 0xbb, 0xbf]);
      const good = Buffer.concat([bom, Buffer.from('# Notes\r\n\r\n```bash\r\nls\r\n```\r\n')]);
      const parsed = await lifeboat(['parse', await runbookWith(good)]);
      const written = await lifeboat(['serialize'], { input: parsed.stdout });
      assert.deepEqual(Buffer.from(written.stdout), good);
      const error = await rejection(readRunbookFile(await runbookWith(Buffer.concat([bom, Buffer.from('ab'), Buffer.from([0xff])]))));
      assert.match(error.problems[0]?.message ?? '', /^not valid UTF-8 at column 3 \(byte offset 5\)/);
    });

    it('names UTF-16 as such', async () => {
      const error = await rejection(readRunbookFile(await runbookWith(Buffer.from('\ufeff# Notes\n', 'utf16le'))));
      assert.match(formatProblem(error.problems[0]!), /r\.runbook\.md:1: not valid UTF-8 at column 1 \(byte offset 0\) \(it starts like UTF-16\)/);
    });

    it('is found at the first bad byte of any text followed by any bad bytes (generated)', async () => {
      const line = fc.string({ unit: 'grapheme', maxLength: 12 });
      const text = fc.array(line, { maxLength: 4 }).chain((lines) => fc.constantFrom('\n', '\r\n', '\r').map((eol) => lines.join(eol)));
      // Bytes that can never start a UTF-8 sequence, or a valid character's bytes cut short.
      const badLead = fc.oneof(fc.integer({ min: 0x80, max: 0xc1 }), fc.integer({ min: 0xf5, max: 0xff })).map((byte) => [byte]);
      const codePoint = fc.integer({ min: 0x80, max: 0x10ffff }).filter((code) => code < 0xd800 || code > 0xdfff);
      const cutShort = codePoint.map((code) => [...Buffer.from(String.fromCodePoint(code))].slice(0, -1));
      const bad = fc.oneof(badLead, cutShort, fc.constantFrom(...INVALID_SEQUENCES.map(([, bytes]) => [...bytes])));
      await fc.assert(
        fc.asyncProperty(text, bad, fc.uint8Array({ maxLength: 16 }), async (before, bytes, after) => {
          const lines = before.split(/\r\n|\r|\n/);
          const content = Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from('-'), after]);
          const error = await rejection(readRunbookFile(await runbookWith(content)));
          const last = lines[lines.length - 1] ?? '';
          assert.equal(error.problems[0]?.line, lines.length);
          assert.match(error.problems[0]?.message ?? '', new RegExp(`^not valid UTF-8 at column ${[...last].length + 1} \\(byte offset ${Buffer.byteLength(before)}\\)`));
        }),
        { numRuns: 300 },
      );
    });

    it('is found in any byte string that is not UTF-8, where a replacing decoder first differs (generated)', async () => {
      const notUtf8 = fc.uint8Array({ minLength: 1, maxLength: 64 }).filter((bytes) => !isUtf8(bytes));
      await fc.assert(
        fc.asyncProperty(notUtf8, async (bytes) => {
          const error = await rejection(readRunbookFile(await runbookWith(Buffer.from(bytes))));
          const offset = firstReplacedOffset(bytes);
          assert.match(error.problems[0]?.message ?? '', new RegExp(`\\(byte offset ${offset}\\)`));
        }),
        { numRuns: 300 },
      );
    });

    for (const [place, lines] of PLACES) {
      it(`stops check, parse and run in ${place}: exit 2 with file:line, nothing run`, async () => {
        const expected = withBytes(lines, [0xc0, 0xaf]);
        const path = await runbookWith(expected.content);
        const where = new RegExp(`r\\.runbook\\.md:${expected.line}: not valid UTF-8 at column ${expected.column} `);
        assert.match(refused(await lifeboat(['check', path])), where);
        assert.match(refused(await lifeboat(['parse', path])), where);
        assert.match(await refusedBeforeAnyStep(path), where);
      });
    }

    it('stops run for any generated bad bytes anywhere after the first step, and runs nothing', async () => {
      const notUtf8 = fc.uint8Array({ minLength: 1, maxLength: 24 }).filter((bytes) => !isUtf8(bytes));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...PLACES), notUtf8, async ([, lines], bytes) => {
          const { content, line } = withBytes(lines, [...bytes]);
          const stderr = await refusedBeforeAnyStep(await runbookWith(content));
          const reported = Number(/r\.runbook\.md:(\d+): not valid UTF-8 at column \d+ \(byte offset \d+\)/.exec(stderr)?.[1]);
          // Bad bytes may hold line breaks of their own; the first bad one is on the placeholder's line or later.
          assert.ok(reported >= line, stderr);
        }),
        { numRuns: 25 },
      );
    });

    it('is refused in lifeboat.yaml and in a secrets file, at its line', async () => {
      const runbook = await runbookWith('```bash\ntouch ran\n```\n');
      await writeFile(join(dir, 'lifeboat.yaml'), Buffer.concat([Buffer.from('locations:\n  local: { path: '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(' }\n')]));
      const error = await rejection(loadInventory(join(dir, 'lifeboat.yaml'), { required: true }));
      assert.match(formatProblem(error.problems[0]!), /lifeboat\.yaml:2: not valid UTF-8 at column 18 \(byte offset 28\)/);
      assert.match(refused(await lifeboat(['check', runbook])), /lifeboat\.yaml:2: not valid UTF-8/);
      assert.match(await refusedBeforeAnyStep(runbook), /lifeboat\.yaml:2: not valid UTF-8/);
      await rm(join(dir, 'lifeboat.yaml'));

      const secrets = join(dir, 'secrets.yaml');
      await writeFile(secrets, Buffer.concat([Buffer.from('token: abc\npassword: p'), Buffer.from([0xe9]), Buffer.from('ss\n')]), { mode: 0o600 });
      const secretsError = await rejection(readSecretsFile(secrets));
      assert.match(formatProblem(secretsError.problems[0]!), /secrets\.yaml:2: not valid UTF-8 at column 12/);
      assert.match(await refusedBeforeAnyStep(runbook, ['--secrets', secrets]), /secrets\.yaml:2: not valid UTF-8/);
    });
  });

  it('text on stdin that is not UTF-8 stops `parse -` at its line', async () => {
    const child = spawn(process.execPath, [CLI, 'parse', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end(Buffer.concat([Buffer.from('# Notes\n\nCafé '), Buffer.from([0xe9, 0x0a])]));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.match(refused({ code, stderr }), /^stdin:3: not valid UTF-8 at column 6 \(byte offset 15\)/);
  });

  describe('YAML alias bombs', () => {
    /** Nine aliases to nine aliases … : 9^4 values from four lines. */
    const bomb = (indent: string, key: string) => [
      `${indent}${key}:`,
      `${indent}  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]`,
      `${indent}  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]`,
      `${indent}  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]`,
      `${indent}  d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]`,
    ];

    it('are refused in an action cell at the line of the first alias: exit 2, nothing run', async () => {
      const path = await runbookWith(['```bash', 'touch ran', '```', '', '```lifeboat', 'action: archive.list', 'location: local', ...bomb('', 'env'), '```', ''].join('\n'));
      const where = /r\.runbook\.md:10, cell 2: not valid YAML: its aliases would expand to more than 100 values \(an alias bomb\)/;
      assert.match(refused(await lifeboat(['check', path])), where);
      assert.match(await refusedBeforeAnyStep(path), where);
    });

    it('are refused in the frontmatter, naming the line', async () => {
      const path = await runbookWith(['---', 'title: T', ...bomb('', 'extra'), '---', '```bash', 'touch ran', '```', ''].join('\n'));
      const where = /r\.runbook\.md:1: frontmatter is not valid YAML: its aliases would expand to more than 100 values \(an alias bomb\) \(line 5\)/;
      assert.match(refused(await lifeboat(['check', path])), where);
      assert.match(await refusedBeforeAnyStep(path), where);
    });

    it('are refused in lifeboat.yaml and in a secrets file at their line', async () => {
      const runbook = await runbookWith('```bash\ntouch ran\n```\n');
      await writeFile(join(dir, 'lifeboat.yaml'), ['locations:', '  local: { path: backups }', ...bomb('', 'hosts')].join('\n'));
      const where = /lifeboat\.yaml:5: not valid YAML: its aliases would expand to more than 100 values/;
      assert.match(refused(await lifeboat(['check', runbook])), where);
      assert.match(await refusedBeforeAnyStep(runbook), where);
      await rm(join(dir, 'lifeboat.yaml'));

      const secrets = join(dir, 'secrets.yaml');
      await writeFile(secrets, ['token: abc', ...bomb('', 'more')].join('\n'), { mode: 0o600 });
      assert.match(await refusedBeforeAnyStep(runbook, ['--secrets', secrets]), /secrets\.yaml:4: not valid YAML: its aliases would expand/);
    });

    it('are refused however the aliases nest (generated)', async () => {
      // `levels` anchors, each a list of `width` aliases of the one before: width^levels values.
      const shape = fc.record({ width: fc.integer({ min: 2, max: 12 }), levels: fc.integer({ min: 2, max: 6 }), key: fc.constantFrom('env', 'paths', 'extra') });
      await fc.assert(
        fc.asyncProperty(shape.filter(({ width, levels }) => width ** levels > 1000), async ({ width, levels, key }) => {
          const lines = [`${key}:`, `  l0: &l0 [${Array(width).fill('x').join(', ')}]`];
          for (let level = 1; level < levels; level++) lines.push(`  l${level}: &l${level} [${Array(width).fill(`*l${level - 1}`).join(', ')}]`);
          const text = ['```lifeboat', 'action: archive.list', 'location: local', ...lines, '```'].join('\n');
          tally.tried++;
          const problems = checkRunbook(parseRunbook(text), { file: 'r.runbook.md', registry }).problems.map(formatProblem);
          assert.deepEqual(problems, ['r.runbook.md:6, cell 1: not valid YAML: its aliases would expand to more than 100 values (an alias bomb)']);
          tally.refused++;
        }),
        { numRuns: 50 },
      );
    });
  });

  describe('lists and mappings as keys', () => {
    const firstStep = ['```bash', 'touch ran', '```', ''];
    const cases: ReadonlyArray<readonly [string, string[], RegExp]> = [
      ['in an action cell', [...firstStep, '```lifeboat', 'action: archive.list', 'location: local', '? [ ref ]', ': 1', '```'], /r\.runbook\.md:8, cell 2: not valid YAML: a key must be a plain value, not a list or a mapping/],
      ['in the frontmatter, as a flow mapping', ['---', 'params: { {a: 1}: x }', '---', ...firstStep], /r\.runbook\.md:1: frontmatter is not valid YAML: a key must be a plain value, not a list or a mapping .*\(line 2\)/],
    ];
    for (const [name, lines, expected] of cases) {
      it(`are refused ${name}, at their line, with no process warning`, async () => {
        const text = [...lines, ''].join('\n');
        const warnings: string[] = [];
        const onWarning = (warning: Error) => warnings.push(warning.message);
        process.on('warning', onWarning);
        try {
          const { problems } = checkRunbook(parseRunbook(text), { file: 'r.runbook.md', registry });
          assert.match(problems.map(formatProblem).join('\n'), expected);
          // Warnings are emitted on the next tick.
          await new Promise((resolve) => setImmediate(resolve));
        } finally {
          process.off('warning', onWarning);
        }
        assert.deepEqual(warnings, []);
        const path = await runbookWith(text);
        assert.match(refused(await lifeboat(['check', path])), expected);
        assert.match(await refusedBeforeAnyStep(path), expected);
      });
    }
  });

  describe('__proto__ keys', () => {
    const firstStep = ['```bash', 'touch ran', '```', ''];
    const cases: ReadonlyArray<readonly [string, string[], RegExp]> = [
      ['at the top of an action cell', [...firstStep, '```lifeboat', 'action: archive.list', 'location: local', '__proto__: { polluted: true }', '```'], /r\.runbook\.md:8, cell 2: not valid YAML: `__proto__` cannot be a key/],
      ['nested in an action cell, quoted', [...firstStep, '```lifeboat', 'action: archive.list', 'location: local', 'env:', '  "__proto__": x', '```'], /r\.runbook\.md:9, cell 2: not valid YAML: `__proto__` cannot be a key/],
      ['as a key through an alias', [...firstStep, '```lifeboat', 'action: archive.list', 'location: local', 'name: &p __proto__', 'env: { *p : 2 }', '```'], /r\.runbook\.md:9, cell 2: not valid YAML: `__proto__` cannot be a key/],
      ['as a parameter in the frontmatter', ['---', 'params:', '  __proto__: { type: string, default: x }', '---', ...firstStep], /r\.runbook\.md:1: frontmatter is not valid YAML: `__proto__` cannot be a key .*\(line 3\)/],
    ];
    for (const [name, lines, expected] of cases) {
      it(`is refused ${name}, at its line`, async () => {
        const path = await runbookWith([...lines, ''].join('\n'));
        assert.match(refused(await lifeboat(['check', path])), expected);
        assert.match(await refusedBeforeAnyStep(path), expected);
      });
    }

    it('names no parameter: `${params.constructor}` and `${params.__proto__}` are undeclared, `--param constructor=…` is a value', async () => {
      const path = await runbookWith([...firstStep, '```lifeboat', 'action: archive.list', 'location: ${params.constructor}', 'prefix: ${params.__proto__}', '```', ''].join('\n'));
      const checked = refused(await lifeboat(['check', path]));
      assert.match(checked, /r\.runbook\.md:7, cell 2, `location`: \$\{params\.constructor\}: the runbook declares no parameter 'constructor'/);
      assert.match(checked, /r\.runbook\.md:8, cell 2, `prefix`: \$\{params\.__proto__\}: the runbook declares no parameter '__proto__'/);
      assert.match(await refusedBeforeAnyStep(path), /declares no parameter 'constructor'/);

      const declared = await runbookWith(['---', 'params:', '  constructor: { type: string }', '---', '```bash', 'echo "$LIFEBOAT_PARAM_CONSTRUCTOR" > ran', '```', ''].join('\n'));
      const ran = await lifeboat(['run', declared, '--param', 'constructor=built'], { cwd: dir });
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(await readFile(join(dir, 'ran'), 'utf8'), 'built\n');
    });

    it('is refused in lifeboat.yaml and in a secrets file, at its line', async () => {
      const runbook = await runbookWith('```bash\ntouch ran\n```\n');
      await writeFile(join(dir, 'lifeboat.yaml'), ['locations:', '  local: { path: backups }', 'hosts:', '  __proto__: { host: evil }'].join('\n'));
      assert.match(refused(await lifeboat(['check', runbook])), /lifeboat\.yaml:4: not valid YAML: `__proto__` cannot be a key/);
      assert.match(await refusedBeforeAnyStep(runbook), /lifeboat\.yaml:4: not valid YAML: `__proto__`/);
      await rm(join(dir, 'lifeboat.yaml'));

      const secrets = join(dir, 'secrets.yaml');
      await writeFile(secrets, 'token: abc\n__proto__: { isAdmin: true }\n', { mode: 0o600 });
      assert.match(await refusedBeforeAnyStep(runbook, ['--secrets', secrets]), /secrets\.yaml:2: not valid YAML: `__proto__` cannot be a key/);
    });
  });

  describe('parameter values known before the run', () => {
    const runbook = (params: string[], cell: string[]) => ['---', 'params:', ...params.map((line) => `  ${line}`), '---', '```bash', 'touch ran', '```', '', '```lifeboat', ...cell, '```', ''].join('\n');

    it('a default the action refuses stops check and run at the field, before the first step', async () => {
      const path = await runbookWith(runbook(['keep: { type: string, default: many }'], ['action: archive.create', 'paths: [data]', 'destination: backups', 'prefix: app', 'keep: ${params.keep}']));
      const where = /r\.runbook\.md:14, cell 2, `keep`: expected number, received string, got "many"/;
      assert.match(refused(await lifeboat(['check', path])), where);
      assert.match(await refusedBeforeAnyStep(path), where);
    });

    it('a --param value the action refuses, whole or inside a longer string, stops check and run', async () => {
      const path = await runbookWith(
        runbook(['prefix: { type: string }', 'level: { type: number, default: 6 }'], ['action: archive.create', 'paths: [data]', 'destination: backups', 'prefix: app-${params.prefix}', 'level: ${params.level}']),
      );
      const prefix = /r\.runbook\.md:14, cell 2, `prefix`: must start with a letter or digit .*got "app-\$\(reboot\)"/;
      const level = /r\.runbook\.md:15, cell 2, `level`: Too big: expected number to be <=9, got 42/;
      const args = ['--param', 'prefix=$(reboot)', '--param', 'level=42'];
      const checked = refused(await lifeboat(['check', path, ...args]));
      assert.match(checked, prefix);
      assert.match(checked, level);
      const ran = await refusedBeforeAnyStep(path, args);
      assert.match(ran, prefix);
      assert.match(ran, level);
      // The same runbook with values the action takes passes.
      const fine = await lifeboat(['check', path, '--param', 'prefix=nightly']);
      assert.equal(fine.code, 0, fine.stderr);
    });

    it('nested values and list items are checked at their field; results of earlier steps still wait', () => {
      const text = [
        '---',
        'params:',
        '  name: { type: string, default: "" }',
        '  deep: { type: number, default: 0 }',
        '---',
        '```lifeboat {id=find}',
        'action: archive.list',
        'location: local',
        '```',
        '',
        '```lifeboat',
        'action: archive.create',
        'paths: ["${params.name}", "${steps.find.path}"]',
        'destination: backups',
        'prefix: app',
        'level: ${params.deep}',
        '```',
      ].join('\n');
      tally.tried++;
      const problems = checkRunbook(parseRunbook(text), { file: 'r.runbook.md', registry }).problems.map(formatProblem);
      assert.deepEqual(problems, ['r.runbook.md:13, cell 2, `paths.0`: Too small: expected string to have >=1 characters, got ""', 'r.runbook.md:16, cell 2, `level`: Too small: expected number to be >=1, got 0']);
      tally.refused++;
    });
  });

  describe('size', () => {
    it('a 50 MB runbook is refused at once by check, parse and run, before it is read', async () => {
      const path = join(dir, 'huge.runbook.md');
      await writeFile(path, '```bash\ntouch ran\n```\n');
      await truncate(path, 50 * 1000 * 1000);
      const started = performance.now();
      const stderr = refused(await lifeboat(['check', path]));
      assert.match(stderr, /huge\.runbook\.md: too large: a runbook may hold at most 4\.0 MiB \(4194304 bytes\), this one holds 50000000 bytes; it is not read/);
      assert.ok(performance.now() - started < 5000, `took ${Math.round(performance.now() - started)} ms`);
      assert.match(refused(await lifeboat(['parse', path])), /too large/);
      assert.match(await refusedBeforeAnyStep(path), /too large/);
    });

    it('a runbook that never ends (a pipe) is read no further than the limit', async () => {
      const fifo = join(dir, 'endless.runbook.md');
      await new Promise<void>((resolve, reject) => spawn('mkfifo', [fifo]).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo ${code}`)))));
      const checking = lifeboat(['check', fifo]);
      const writer = createWriteStream(fifo);
      const chunk = Buffer.alloc(1024 * 1024, '# endless prose\n');
      let written = 0;
      await new Promise<void>((resolve) => {
        writer.on('error', () => resolve());
        const more = () => {
          while (written < 64 * 1024 * 1024) {
            written += chunk.length;
            if (!writer.write(chunk)) return void writer.once('drain', more);
          }
          writer.end(resolve);
        };
        more();
      });
      assert.match(refused(await checking), /endless\.runbook\.md: too large: a runbook may hold at most 4\.0 MiB \(4194304 bytes\), this one holds more than that/);
      // What the pipe accepted before the reader went away: the limit, a few chunks in flight, no more.
      assert.ok(written <= RUNBOOK_LIMIT + 4 * chunk.length, `the writer got ${written} bytes in`);
    });

    it('a runbook of 150,000 bad cells, parameters or fields is reported, not a crash', async () => {
      const many = 150_000;
      const runbooks = {
        cells: '```lifeboat\n```\n'.repeat(many),
        params: ['---', 'params:', ...Array.from({ length: many }, (_, index) => `  ${index}p: x`), '---', '# Notes', ''].join('\n'),
        fields: ['```lifeboat', 'action: archive.list', 'location: local', ...Array.from({ length: many }, (_, index) => `k${index}: x`), '```', ''].join('\n'),
      };
      for (const [name, text] of Object.entries(runbooks)) {
        await runbookWith(text, `${name}.runbook.md`);
        const started = performance.now();
        // Thousands of lines: compared by their ends, so a failure does not print them all.
        const stderr = refused(await lifeboat(['check', `${name}.runbook.md`], { cwd: dir }));
        assert.ok(stderr.startsWith(`${name}.runbook.md:`), stderr.slice(0, 300));
        assert.ok(stderr.endsWith(`\n${many} problems found\n`), stderr.slice(-300));
        assert.ok(performance.now() - started < 60_000, `${name}: ${Math.round(performance.now() - started)} ms`);
      }
    });

    it('the editor finds problems and completions in a frontmatter and a cell of thirty thousand keys in seconds', () => {
      const many = 30_000;
      const text = [
        '---',
        'params:',
        ...Array.from({ length: many }, (_, index) => `  p${index}: { type: string, default: x }`),
        '---',
        '```lifeboat',
        'action: archive.list',
        'location: local',
        ...Array.from({ length: many }, (_, index) => `k${index}: x`),
        '```',
      ].join('\n');
      const started = performance.now();
      const document = parseRunbook(text);
      const cell = document.cells.findIndex((candidate) => candidate.kind === 'action');
      tally.tried++;
      const diagnostics = diagnoseRunbook(document, registry).cells.get(cell) ?? [];
      assert.equal(diagnostics.length, many);
      tally.refused++;
      const source = document.cells[cell]?.source ?? '';
      // After `action: `: every action id.
      const completions = completeActionCell(source, { line: 0, character: 'action: '.length }, completionScope(document, cell, registry));
      assert.ok(completions.some((completion) => completion.label === 'archive.list'));
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 15_000, `took ${Math.round(elapsed)} ms`);
    });

    it('a lifeboat.yaml of fifty thousand bad entries is reported in seconds, each at its line', async () => {
      const many = 50_000;
      await writeFile(join(dir, 'lifeboat.yaml'), ['hosts:', ...Array.from({ length: many }, (_, index) => `  h${index}: { x: 1 }`), ''].join('\n'));
      await runbookWith('# Notes\n');
      const started = performance.now();
      const stderr = refused(await lifeboat(['check', 'r.runbook.md'], { cwd: dir }));
      const elapsed = performance.now() - started;
      assert.ok(stderr.includes("lifeboat.yaml:50001, `hosts.h49999.x`: unknown field 'x'"), stderr.slice(-300));
      assert.ok(stderr.endsWith(`\n${many} problems found\n`), stderr.slice(-300));
      assert.ok(elapsed < 20_000, `took ${Math.round(elapsed)} ms`);
    });

    it('a runbook at the limit is read and round-trips; lifeboat.yaml and a secrets file over theirs are refused', async () => {
      // One-line cells make the most JSON per byte.
      const cells = await runbookWith('```bash\nls\n```\n'.repeat(RUNBOOK_LIMIT / 16), 'cells.runbook.md');
      const parsed = await lifeboat(['parse', cells]);
      const written = await lifeboat(['serialize'], { input: parsed.stdout });
      assert.ok(written.stdout === (await readFile(cells, 'utf8')), written.stderr);

      const atLimit = await runbookWith('# Notes\n'.repeat(RUNBOOK_LIMIT / 8));
      assert.equal((await readRunbookFile(atLimit)).length, RUNBOOK_LIMIT);
      await appendByte(atLimit);
      assert.match((await rejection(readRunbookFile(atLimit))).message, /too large: a runbook may hold at most 4\.0 MiB \(4194304 bytes\), this one holds 4194305 bytes/);

      const inventory = join(dir, 'lifeboat.yaml');
      await writeFile(inventory, 'locations:\n  local: { path: backups }\n');
      await truncate(inventory, INVENTORY_LIMIT + 1);
      assert.match((await rejection(loadInventory(inventory, { required: false }))).message, /lifeboat\.yaml: too large: an inventory may hold at most 1\.0 MiB/);
      const runbook = await runbookWith('```bash\ntouch ran\n```\n', 'small.runbook.md');
      assert.match(await refusedBeforeAnyStep(runbook), /too large/);
      await rm(inventory);

      const secrets = join(dir, 'secrets.yaml');
      await writeFile(secrets, 'token: abc\n', { mode: 0o600 });
      await truncate(secrets, 2 * 1024 * 1024);
      assert.match((await rejection(readSecretsFile(secrets))).message, /secrets\.yaml: too large: a secrets file may hold at most 1\.0 MiB/);
    });
  });

  async function appendByte(path: string): Promise<void> {
    await writeFile(path, Buffer.concat([await readFile(path), Buffer.from('\n')]));
  }
});

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The offset of the first bad sequence by another route than Lifeboat's: decode replacing bad bytes,
 * encode again and compare; the first difference lies in the first character that was replaced.
 */
function firstReplacedOffset(bytes: Uint8Array): number {
  const again = Buffer.from(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes));
  let at = 0;
  while (at < bytes.length && bytes[at] === again[at]) at++;
  // Back to the start of that character: continuation bytes are 10xxxxxx.
  while (at > 0 && ((again[at] ?? 0) & 0xc0) === 0x80) at--;
  return at;
}
