import assert from 'node:assert/strict';
import { builtinActions } from '../../src/actions';
import { actionFields } from '../../src/core/actions/fields';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { CellCompletion } from '../../src/core/assist/completions';
import { completeActionCell, completionScope } from '../../src/core/assist/completions';
import { diagnoseRunbook } from '../../src/core/assist/diagnostics';
import type { TextRange } from '../../src/core/runbook/lines';
import { LineIndex } from '../../src/core/runbook/lines';
import { parseRunbook } from '../../src/core/runbook/parse';

const registry = new ActionRegistry(builtinActions);

const FRONTMATTER = ['---', 'params:', '  keep: { type: number, default: 3, description: Archives to keep }', '  method: { type: enum, values: [files, api], default: files }', '---'];

/** A runbook of prose, the step `find`, the cells given, and the step `later`. */
function runbook(cells: readonly string[]): string {
  return [
    ...FRONTMATTER,
    '# Drill',
    '',
    ...['action: archive.list\nlocation: backups', ...cells].flatMap((cell, index) => [index === 0 ? '```lifeboat {id=find}' : '```lifeboat', cell, '```', '']),
    '```lifeboat {id=later}',
    'action: archive.list\nlocation: backups',
    '```',
  ].join('\n');
}
/** The first cell the tests write, after the prose and `find`. */
const FIRST_CELL = 2;

function show(range: TextRange): string {
  return `${range.start.line}:${range.start.character}-${range.end.line === range.start.line ? '' : `${range.end.line}:`}${range.end.character}`;
}

describe('action cell completion', () => {
  /** `|` marks the cursor. */
  function complete(cellWithCursor: string): CellCompletion[] {
    const cursor = cellWithCursor.indexOf('|');
    const source = cellWithCursor.slice(0, cursor) + cellWithCursor.slice(cursor + 1);
    const document = parseRunbook(runbook([source]));
    return completeActionCell(source, new LineIndex(source).positionAt(cursor), completionScope(document, FIRST_CELL, registry));
  }
  const labels = (cell: string) => complete(cell).map((completion) => completion.label);
  const inserts = (cell: string) => complete(cell).map((completion) => `${completion.insertText} @${show(completion.range)}`);

  const ACTION_IDS = ['archive.create', 'archive.delete', 'archive.list', 'archive.restore', 'archive.verify', 'backrest.plans', 'cnpg.backup', 'cnpg.backups.list', 'cnpg.restore', 'flux.reconcile', 'flux.resume', 'flux.status', 'flux.suspend', 'frigate.backups.check', 'frigate.faces.backup', 'frigate.faces.list', 'frigate.faces.restore', 'frigate.health', 'frigate.recordings.backup', 'frigate.recordings.list', 'frigate.recordings.restore', 'frigate.snapshots.mirror', 'frigate.snapshots.mirror.status', 'http.check', 'k8s.verify', 'pbs.datastores', 'pbs.snapshots', 'pbs.verify', 'pg.dump', 'pg.restore', 'rclone.check', 'rclone.copy', 'rclone.list', 'restic.backup', 'restic.check', 'restic.diff', 'restic.forget', 'restic.ls', 'restic.prune', 'restic.restore', 'restic.snapshots', 's3.check', 's3.lifecycle.get', 's3.lifecycle.remove', 's3.lifecycle.set', 'schedule.cli.install', 'schedule.cron.install', 'schedule.cron.status', 'schedule.k8s.install', 'schedule.k8s.status', 'shell', 'ssh.run', 'sync.push', 'tier.apply', 'velero.backup.create', 'velero.backup.delete', 'velero.backup.describe', 'velero.backup.logs', 'velero.backups.list', 'velero.locations.check', 'velero.restore.create', 'velero.restores.list', 'velero.schedule.add', 'velero.schedules.list'];
  const ARCHIVE_CREATE_KEYS = ['paths', 'base', 'exclude', 'destination', 'prefix', 'namePattern', 'level', 'keep', 'id', 'dryRun'];

  const labelCases: Array<[string, string, string[]]> = [
    ['an empty cell: the step keys', '|', ['action', 'id', 'dryRun']],
    ['after `action:`: every action id', 'action: |', ACTION_IDS],
    ['a partly typed id: every id, the editor filters', 'action: arch|', ACTION_IDS],
    ['a new line: the action’s parameters, then the step keys', 'action: archive.create\n|', ARCHIVE_CREATE_KEYS],
    ['keys already written are not offered', 'action: archive.create\npaths: [a]\nid: make\nde|', ARCHIVE_CREATE_KEYS.filter((key) => key !== 'paths' && key !== 'id')],
    ['the key being typed is offered even though it is written', 'action: archive.verify\npa|th: x', ['path', 'prefix', 'id', 'dryRun']],
    ['an unknown action: only the step keys', 'action: archive.nope\n|', ['id', 'dryRun']],
    ['an action written after the cursor still counts', '|\naction: archive.list', ['location', 'prefix', 'archive', 'id', 'dryRun']],
    ['a boolean parameter: true and false', 'action: archive.restore\noverwrite: |', ['true', 'false']],
    ['an enum parameter: its values', 'action: shell\nscript: ls\ninterpreter: |', ['bash', 'sh']],
    ['dryRun: true and false', 'action: archive.list\ndryRun: |', ['true', 'false']],
    ['a free-text value: nothing', 'action: archive.verify\npath: |', []],
    ['a step id: nothing', 'id: |', []],
    ['a nested key: nothing', 'action: shell\nenv:\n  |', []],
    ['a comment: nothing', '# |', []],
    ['inside ${: parameters and earlier steps only', 'action: archive.verify\npath: ${|', ['params.keep', 'params.method', 'steps.find']],
    ['inside ${ after text', 'action: archive.verify\npath: /b/${params.k|', ['params.keep', 'params.method', 'steps.find']],
    ['the fields of a step’s result are not known before it runs', 'action: archive.verify\npath: ${steps.find.|', []],
    ['a closed reference is not completed', 'action: archive.verify\npath: ${params.keep}|', []],
    ['an escaped $${ is not a reference', 'action: archive.verify\npath: $${|', []],
  ];
  for (const [name, cell, expected] of labelCases) {
    it(name, () => assert.deepEqual(labels(cell), expected));
  }

  const insertCases: Array<[string, string, string[]]> = [
    ['a key gets its colon and a space', 'action: archive.list\nlo|', ['location:  @1:0-2', 'prefix:  @1:0-2', 'archive:  @1:0-2', 'id:  @1:0-2', 'dryRun:  @1:0-2']],
    ['a key that has its colon is only renamed', 'action: archive.list\nlo|c: x', ['location @1:0-3', 'prefix @1:0-3', 'archive @1:0-3', 'id @1:0-3', 'dryRun @1:0-3']],
    ['right after the colon a value gets its space', 'dryRun:|', [' true @0:7-7', ' false @0:7-7']],
    ['a typed value is replaced', 'dryRun: tr|', ['true @0:8-10', 'false @0:8-10']],
    ['a reference is closed', 'action: archive.verify\npath: ${ |', ['params.keep} @1:9-9', 'params.method} @1:9-9', 'steps.find. @1:9-9']],
    ['an editor-closed reference is not closed twice', 'action: archive.verify\npath: ${par|}', ['params.keep @1:8-11', 'params.method @1:8-11', 'steps.find. @1:8-11']],
  ];
  for (const [name, cell, expected] of insertCases) {
    it(name, () => assert.deepEqual(inserts(cell), expected));
  }

  it('describes parameters from the action’s schema: type, required, description, default', () => {
    const [paths, , , , , , level] = complete('action: archive.create\n|');
    assert.deepEqual([paths?.detail, level?.detail], ['list of string, required', 'integer']);
    assert.match(paths?.documentation ?? '', /^Files and folders to archive/);
    assert.match(level?.documentation ?? '', /Default: `6`$/);
    assert.ok((paths?.sortText ?? '') < (level?.sortText ?? ''), 'required parameters sort first');
  });

  it('describes actions by title and description and references by type', () => {
    const verify = complete('action: |').find((completion) => completion.label === 'archive.verify');
    assert.deepEqual([verify?.kind, verify?.detail], ['action', 'Verify archives']);
    const [keep] = complete('path: ${|');
    assert.deepEqual([keep?.detail, keep?.documentation], ['parameter, number', 'Archives to keep']);
  });
});

describe('action cell diagnostics', () => {
  /** Each cell's problems as `line:start-end message`, ranges in the cell. */
  function diagnose(cells: readonly string[]): string[][] {
    const { cells: found } = diagnoseRunbook(parseRunbook(runbook(cells)), registry);
    return cells.map((_, index) => (found.get(FIRST_CELL + index) ?? []).map((diagnostic) => `${show(diagnostic.range)} ${diagnostic.message}`));
  }

  const cases: Array<[string, string, string[]]> = [
    ['a valid cell has none', 'action: archive.verify\npath: x', []],
    ['YAML errors where the parser found them (here: the end)', 'action: archive.verify\npath: [x', ['1:8-8 not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a missing action on the first line', 'path: x', ['0:0-7 `action`: missing `action: <id>` (run `lifeboat actions` for the list)']],
    ['an empty action at its key', 'action:\npath: x', ['0:0-6 `action`: missing `action: <id>` (run `lifeboat actions` for the list)']],
    ['an unknown action at its id, with suggestions', 'action: archive.verif', ["0:8-21 `action`: unknown action 'archive.verif' (did you mean archive.create, archive.delete, archive.list, archive.restore, archive.verify?)"]],
    ['an unknown action without a near id', 'action: kopia', ["0:8-13 `action`: unknown action 'kopia' (run `lifeboat actions` for the list)"]],
    ['an unknown parameter at its key', 'action: archive.verify\npath: x\ncolour: blue', ['2:0-6 `colour`: unknown field (archive.verify takes: path, prefix)']],
    ['a missing required parameter at the action that needs it', 'action: archive.restore\narchive: a.tar.gz', ['0:8-23 `target`: required, expected string']],
    ['a wrong type at the value', 'action: archive.restore\narchive: a\ntarget: b\nstrip: many', ['3:7-11 `strip`: expected number, received string, got "many"']],
    ['a wrong list item at the item', 'action: archive.create\npaths: [a, 3]\ndestination: d\nprefix: p', ['1:11-12 `paths.1`: expected string, received number, got 3']],
    ['a value that breaks a rule', 'action: archive.verify\npath: x\nprefix: -bad', ['2:8-12 `prefix`: must start with a letter or digit and contain only letters, digits, ".", "_" and "-", got "-bad"']],
    ['a block value over several lines', 'action: archive.create\npaths:\n  - a\ndestination: d\nprefix: p\nlevel:\n  - 1', ['6:2-5 `level`: expected number, received array, got [1]']],
    ['a step key of the wrong type', 'action: archive.verify\npath: x\ndryRun: maybe', ['2:8-13 `dryRun`: expected true or false']],
    ['an undeclared parameter at the reference', 'action: archive.verify\npath: /b/${params.nope}/x', ["1:9-23 `path`: ${params.nope}: the runbook declares no parameter 'nope'"]],
    ['a later step at the reference', 'action: archive.verify\npath: ${steps.later.path}', ["1:6-25 `path`: ${steps.later.path}: no earlier step has id 'later'"]],
    ['an unknown step at the reference', 'action: archive.verify\npath: ${steps.nope.path}', ["1:6-24 `path`: ${steps.nope.path}: no earlier step has id 'nope'"]],
    ['a malformed reference, and the other fields are still checked', 'action: archive.verify\npath: ${}\ncolour: blue', ['1:6-9 `path`: ${}: a reference is ${params.<name>} or ${steps.<id>.<field>}', '2:0-6 `colour`: unknown field (archive.verify takes: path, prefix)']],
    ['a step result is not type-checked before the run', 'action: archive.restore\narchive: ${steps.find.archives.0.path}\ntarget: b\nstrip: ${params.keep}', []],
    ['a parameter’s default at the reference, when the action refuses it', 'action: archive.restore\narchive: a\ntarget: b\noverwrite: ${params.method}', ['3:11-27 `overwrite`: expected boolean, received string, got "files"']],
    ['a step id in use at the id', 'action: archive.verify\nid: find\npath: x', ["1:4-8 `id`: id 'find' is already used by cell 2"]],
  ];
  for (const [name, cell, expected] of cases) {
    it(name, () => assert.deepEqual(diagnose([cell]), [expected]));
  }

  it('knows the earlier steps of each cell', () => {
    assert.deepEqual(diagnose(['action: archive.list\nid: second\nlocation: x', 'action: archive.verify\npath: ${steps.second.archives.0.path}']), [[], []]);
  });

  it('places frontmatter problems on the line of the definition in the file', () => {
    const text = ['---', 'title: Drill', 'params:', '  keep: { type: number, default: many }', '  date: { tpye: date }', '---', '# Drill'].join('\n');
    const { frontmatter, cells } = diagnoseRunbook(parseRunbook(text), registry);
    assert.deepEqual(
      frontmatter.map((diagnostic) => `${show(diagnostic.range)} ${diagnostic.message}`),
      ['3:2-6 `params.keep`: `default`: expected a number, got "many"', '4:2-6 `params.date`: Unrecognized key: "tpye"'],
    );
    assert.equal(cells.size, 0);
  });

  it('places a frontmatter that is not YAML on its first line', () => {
    const { frontmatter } = diagnoseRunbook(parseRunbook(['---', 'params: [', '---', '# Drill'].join('\n')), registry);
    assert.deepEqual(frontmatter.map((diagnostic) => show(diagnostic.range)), ['0:0-3']);
    assert.match(frontmatter[0]?.message ?? '', /^frontmatter is not valid YAML/);
  });
});

describe('action parameters from the schema', () => {
  it('lists names, types, required-ness, choices and defaults in the schema’s order', () => {
    const shell = registry.get('shell');
    assert.ok(shell);
    assert.deepEqual(
      actionFields(shell).map(({ name, type, required, choices, default: fallback }) => [name, type, required, choices, fallback]),
      [
        ['script', 'string', true, undefined, undefined],
        ['interpreter', 'bash | sh', false, ['bash', 'sh'], 'bash'],
        ['cwd', 'string', false, undefined, undefined],
        ['env', 'map of string', false, undefined, {}],
        ['timeoutSeconds', 'number', false, undefined, undefined],
      ],
    );
  });
});

describe('text positions', () => {
  const cases: Array<[string, string, number, string]> = [
    ['the start', 'ab\ncd', 0, '0:0'],
    ['a later line', 'ab\ncd', 4, '1:1'],
    ['the end of a line', 'ab\ncd', 2, '0:2'],
    ['the empty line after a final line break', 'ab\n', 3, '1:0'],
    ['CRLF line breaks', 'ab\r\ncd', 4, '1:0'],
    ['past the end', 'ab', 9, '0:2'],
    ['an empty text', '', 0, '0:0'],
  ];
  for (const [name, text, offset, expected] of cases) {
    it(`${name}: offset ${offset} ⇄ ${expected}`, () => {
      const lines = new LineIndex(text);
      const position = lines.positionAt(offset);
      assert.equal(`${position.line}:${position.character}`, expected);
      assert.equal(lines.offsetAt(position), Math.min(offset, text.length));
    });
  }
});
