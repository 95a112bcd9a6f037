import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { builtinActions } from '../../src/actions';
import { actionReference } from '../../src/cli/actionReference';
import { actionFields } from '../../src/core/actions/fields';
import { ActionRegistry } from '../../src/core/actions/registry';
import type { ActionSpec } from '../../src/core/actions/spec';
import { lifeboat } from '../support/cli';
import { REPO_ROOT } from '../support/paths';

const actions = new ActionRegistry(builtinActions).list();

/** The section of one action: from its heading to the next one. */
function sectionOf(page: string, id: string): string {
  const start = page.indexOf(`\n## ${id}\n`);
  assert.ok(start >= 0, `no section for ${id}`);
  const end = page.indexOf('\n## ', start + 1);
  return page.slice(start, end < 0 ? undefined : end);
}

/** The cells of the table row whose first cell is `first`, read back as a Markdown reader sees them. */
function rowCells(section: string, first: string): string[] | undefined {
  const row = section.split('\n').find((line) => line.startsWith(`| ${first} |`));
  return row
    ?.slice(2, -2)
    .split(/ (?<!\\)\| /)
    .map((cell) => cell.replace(/\\\|/g, '|').replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
}

/** An action made for these tests, whose texts hold what a Markdown table and HTML could misread. */
function actionWithAwkwardText(description: string): ActionSpec {
  return {
    id: 'test.awkward',
    title: 'Awkward <text>',
    description: 'Its parameter holds a pipe, a line break and angle brackets.',
    params: z.object({ pattern: z.string().default('a|b').describe(description) }),
    destructive: false,
    plan: () => Promise.reject(new Error('only described, never planned')),
    run: () => Promise.reject(new Error('only described, never run')),
    render: () => '',
  };
}

describe('action reference (docs/actions.md)', () => {
  it('docs/actions.md is the page the action schemas give today (`npm run docs:actions` writes it)', async () => {
    const page = await readFile(join(REPO_ROOT, 'docs', 'actions.md'), 'utf8');
    assert.equal(page, actionReference(actions), 'docs/actions.md differs from the action schemas: run `npm run docs:actions` and commit the page');
  });

  it('gives every action its title, description, whether it is destructive or read only, and every parameter', () => {
    const page = actionReference(actions);
    for (const action of actions) {
      const section = sectionOf(page, action.id);
      assert.ok(section.includes(`**${action.title}.** ${action.description.replace(/</g, '&lt;').replace(/>/g, '&gt;')}`), action.id);
      assert.ok(section.includes(`Destructive: ${action.destructive ? 'yes' : 'no'}. Read only: ${action.readOnly ? 'yes' : 'no'}.`), action.id);
      const fields = actionFields(action);
      assert.ok(fields.length > 0, `${action.id} has parameters`);
      for (const field of fields) {
        const cells = rowCells(section, `\`${field.name}\``);
        assert.ok(cells, `${action.id}: no row for ${field.name}`);
        const [, type, required, defaultValue, description] = cells;
        assert.equal(type, field.type, `${action.id}.${field.name} type`);
        assert.equal(required, field.required ? 'yes' : 'no', `${action.id}.${field.name} required`);
        assert.equal(defaultValue, field.default === undefined ? '' : `\`${JSON.stringify(field.default)}\``, `${action.id}.${field.name} default`);
        assert.equal(description, field.description ?? '', `${action.id}.${field.name} description`);
      }
    }
  });

  it('keeps a pipe and a line break inside their table cell and shows <placeholders> as text', () => {
    const page = actionReference([actionWithAwkwardText('Matches `a|b` or\nc, written to logs/<name>.log')]);
    const row = page.split('\n').find((line) => line.startsWith('| `pattern` |'));
    assert.equal(row, '| `pattern` | string | no | `"a\\|b"` | Matches `a\\|b` or c, written to logs/&lt;name&gt;.log |');
    assert.ok(page.includes('**Awkward &lt;text&gt;.**'));
    assert.ok(page.includes('| [`test.awkward`](#testawkward) | Awkward &lt;text&gt; | no | no |'));
  });

  it('is what `lifeboat actions --markdown` prints', async () => {
    const result = await lifeboat(['actions', '--markdown']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, actionReference(actions));
  });

  it('refuses --json together with --markdown', async () => {
    const result = await lifeboat(['actions', '--json', '--markdown']);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /give --json or --markdown, not both/);
  });
});
