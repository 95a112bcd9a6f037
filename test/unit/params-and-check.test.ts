import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { builtinActions } from '../../src/actions';
import { ActionRegistry } from '../../src/core/actions/registry';
import { formatProblem } from '../../src/core/errors';
import { findReferences, interpolate } from '../../src/core/runbook/interpolate';
import { parseRunbook } from '../../src/core/runbook/parse';
import { coerceParam, paramsAsEnvironment, readParamDefinitions, resolveParams } from '../../src/core/runbook/params';
import { checkRunbook } from '../../src/core/runner/validate';

const registry = new ActionRegistry(builtinActions);

function check(text: string, params?: Record<string, string>): string[] {
  return checkRunbook(parseRunbook(text), { file: 'restore.runbook.md', registry, params }).problems.map(formatProblem);
}

describe('runbook parameters', () => {
  const { definitions, problems } = readParamDefinitions({
    params: {
      date: { type: 'date', format: 'YYYYMMDD', description: 'Backup date' },
      keep: { type: 'number', default: 7 },
      clean: { type: 'boolean', default: false },
      method: { type: 'enum', values: ['files', 'api'], default: 'files' },
      target: { type: 'path', default: '~/restore' },
      host: { type: 'string', pattern: '[a-z0-9.-]+', required: false },
    },
  });

  it('reads every parameter type', () => {
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.keys(definitions), ['date', 'keep', 'clean', 'method', 'target', 'host']);
  });

  it('coerces typed-in values to their types and applies defaults', () => {
    const { values, problems: resolveProblems } = resolveParams(definitions, { date: '20260124', keep: '3', clean: 'yes' });
    assert.deepEqual(resolveProblems, []);
    assert.deepEqual(values, { date: '20260124', keep: 3, clean: true, method: 'files', target: `${homedir()}/restore` });
  });

  it('says what was expected and what was found', () => {
    const { problems: resolveProblems } = resolveParams(definitions, { date: '2026-1-24', keep: 'many', method: 'rsync', host: 'Bad Host', extra: '1' }, 'r.md');
    const messages = resolveProblems.map(formatProblem);
    assert.deepEqual(messages, [
      'r.md, `extra`: unknown parameter (the runbook declares: date, keep, clean, method, target, host)',
      'r.md, `date`: expected a date as YYYYMMDD, got "2026-1-24"',
      'r.md, `keep`: expected a number, got "many"',
      'r.md, `method`: expected one of files, api, got "rsync"',
      'r.md, `host`: expected a value matching /[a-z0-9.-]+/, got "Bad Host"',
    ]);
  });

  it('reports a missing required parameter with its description', () => {
    const { missing, problems: resolveProblems } = resolveParams(definitions, {});
    assert.deepEqual(missing, ['date']);
    assert.match(formatProblem(resolveProblems[0]!), /`date`: required parameter has no value \(Backup date\): pass --param date=…/);
  });

  it('rejects impossible calendar dates', () => {
    assert.equal(coerceParam({ type: 'date' }, '2026-02-30').ok, false);
    assert.equal(coerceParam({ type: 'date' }, '2028-02-29').ok, true);
  });

  it('finds inconsistent definitions', () => {
    const read = readParamDefinitions({ params: { a: { type: 'enum' }, b: { type: 'number', default: 'x' }, 'bad-name': 'string', c: { tpye: 'string' } } });
    assert.deepEqual(read.problems.map((problem) => `${problem.field}: ${problem.message}`), [
      'params.a: an enum parameter lists its `values`',
      'params.b: `default`: expected a number, got "x"',
      'params.bad-name: a parameter name uses letters, digits and _ and does not start with a digit',
      'params.c: Unrecognized key: "tpye"',
    ]);
  });

  it('hands parameters to shell steps as prefixed environment variables', () => {
    assert.deepEqual(paramsAsEnvironment({ date: '20260124', keep: 3, path: '/x' }), {
      LIFEBOAT_PARAM_DATE: '20260124',
      LIFEBOAT_PARAM_KEEP: '3',
      LIFEBOAT_PARAM_PATH: '/x',
    });
  });
});

describe('interpolation', () => {
  const scope = { params: { keep: 3, name: 'faces', list: ['a', 'b'] }, steps: { find: { archives: [{ path: '/b/x.tar.gz', bytes: 10 }] } } };

  it('keeps the type of a whole-value reference', () => {
    assert.deepEqual(interpolate({ keep: '${params.keep}', paths: '${params.list}', bytes: '${steps.find.archives.0.bytes}' }, scope), {
      keep: 3,
      paths: ['a', 'b'],
      bytes: 10,
    });
  });

  it('writes references inside longer strings and leaves escaped ones literal', () => {
    assert.equal(interpolate('${params.name}-${params.keep}.tar.gz', scope), 'faces-3.tar.gz');
    assert.equal(interpolate('cost: $${params.keep}', scope), 'cost: ${params.keep}');
    assert.equal(interpolate('from ${steps.find.archives.0.path}', scope), 'from /b/x.tar.gz');
  });

  it('names the field of a reference that has no value', () => {
    assert.throws(() => interpolate({ nested: { value: '${steps.find.missing}' } }, scope), { name: 'InterpolationError', field: 'nested.value' });
  });

  it('finds only fields a value has of its own, never what every object inherits', () => {
    for (const reference of ['${steps.find.constructor}', '${steps.find.archives.0.toString}', '${params.__proto__}', '${params.hasOwnProperty}']) {
      assert.throws(() => interpolate(reference, scope), { name: 'InterpolationError' }, reference);
    }
  });

  it('reports a supplied parameter named like an inherited property as unknown', () => {
    const { problems } = resolveParams({}, { constructor: 'x', toString: 'y' });
    assert.deepEqual(
      problems.map((problem) => problem.field),
      ['constructor', 'toString'],
    );
  });

  it('lists references with the fields they sit in', () => {
    assert.deepEqual(
      findReferences({ a: '${params.x}', b: ['y-${steps.s.out}'], c: '$${params.literal}' }).map((reference) => [reference.field, reference.root, reference.name]),
      [
        ['a', 'params', 'x'],
        ['b.0', 'steps', 's'],
      ],
    );
  });
});

describe('lifeboat check', () => {
  it('accepts a valid runbook', () => {
    const text = [
      '---',
      'params:',
      '  keep: { type: number, default: 5 }',
      '---',
      '```lifeboat {id=backup}',
      'action: archive.create',
      'paths: [data]',
      'destination: backups',
      'prefix: app',
      'keep: ${params.keep}',
      '```',
      '',
      '```lifeboat',
      'action: archive.verify',
      'path: ${steps.backup.path}',
      '```',
      '',
      '```bash',
      'ls',
      '```',
    ].join('\n');
    assert.deepEqual(check(text), []);
  });

  it('locates each problem by file, line, cell and field', () => {
    const text = [
      '# Restore', //                    1  cell 1
      '',
      '```lifeboat', //                  3  cell 2
      'action: archive.create',
      'paths: [data]',
      'destination: backups',
      'prefix: app',
      'keep: many', //                   8
      'colour: blue', //                 9
      '```',
      '',
      '```lifeboat', //                 12  cell 3
      'action: archive.restor', //      13
      '```',
      '',
      '```lifeboat', //                 16  cell 4
      'action: archive.verify',
      'path: ${steps.later.path}', //   18
      '```',
      '',
      '```lifeboat', //                 21  cell 5
      'action: [not valid',
      '```',
    ].join('\n');
    assert.deepEqual(check(text), [
      'restore.runbook.md:22, cell 5: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'restore.runbook.md:8, cell 2, `keep`: expected number, received string, got "many"',
      'restore.runbook.md:9, cell 2, `colour`: unknown field (archive.create takes: paths, base, exclude, destination, prefix, namePattern, level, keep)',
      'restore.runbook.md:13, cell 3, `action`: unknown action \'archive.restor\' (did you mean archive.create, archive.delete, archive.list, archive.restore, archive.verify?)',
      'restore.runbook.md:18, cell 4, `path`: ${steps.later.path}: no earlier step has id \'later\'',
    ]);
  });

  it('checks supplied parameter values and references to undeclared parameters', () => {
    const text = ['---', 'params:', '  date: { type: date }', '---', '```lifeboat', 'action: archive.list', 'location: ${params.where}', '```'].join('\n');
    assert.deepEqual(check(text, { date: 'yesterday' }), [
      'restore.runbook.md, `date`: expected a date as YYYY-MM-DD, got "yesterday"',
      "restore.runbook.md:7, cell 1, `location`: ${params.where}: the runbook declares no parameter 'where'",
    ]);
  });

  it('rejects duplicate step ids and conflicting ids', () => {
    const text = ['```bash {id=a}', 'ls', '```', '```lifeboat {id=b}', 'action: archive.list', 'id: a', 'location: x', '```', '```sh {id=a}', 'ls', '```'].join('\n');
    assert.deepEqual(check(text), [
      'restore.runbook.md:4, cell 2, `id`: the fence says id=b and the YAML says id: a; keep one',
      "restore.runbook.md:9, cell 3, `id`: id 'a' is already used by cell 1",
    ]);
  });
});
