import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import fc from 'fast-check';
import type { RunbookDocument } from '../../src/core/runbook/model';
import { parseRunbook } from '../../src/core/runbook/parse';
import { serializeRunbook } from '../../src/core/runbook/serialize';
import { REPO_ROOT, roundTripRunbooks } from '../support/paths';

/** Round trip in memory and through the JSON that `lifeboat parse` prints. */
function assertRoundTrip(text: string): RunbookDocument {
  const document = parseRunbook(text);
  assert.equal(serializeRunbook(document), text);
  assert.equal(serializeRunbook(JSON.parse(JSON.stringify(document)) as RunbookDocument), text);
  return document;
}

const EDGE_CASES: Record<string, string> = {
  'empty file': '',
  'only a line break': '\n',
  'only blank lines with spaces': '  \n\t\n \n',
  'no final newline': '# Title\n\nSome text',
  'fence without final newline': '```bash\necho hi\n```',
  'frontmatter': '---\ntitle: Restore\nparams:\n  date:\n    type: date\n---\n\n# Restore\n',
  'frontmatter only': '---\na: 1\n---\n',
  'frontmatter closed by dots': '---\na: 1\n...\nbody\n',
  'invalid frontmatter YAML': '---\na: [1\n---\n# x\n',
  'unclosed frontmatter is a rule': '---\nnot closed\n',
  'CRLF everywhere': '---\r\ntitle: x\r\n---\r\n\r\n# Hi\r\n\r\n```bash\r\necho hi\r\n```\r\n\r\ntext\r\n',
  'mixed line endings': '# Hi\r\n\n```sh\necho a\r\necho b\n```\r\ntext\rmore\n',
  'lone CR line endings': 'a\rb\r```bash\rls\r```\r',
  'UTF-8 BOM': '\uFEFF# Title\n\n```bash\necho hi\n```\n',
  'BOM before frontmatter': '\uFEFF---\ntitle: x\n---\ntext\n',
  'tilde fence': '~~~bash\necho ~\n~~~\n',
  'longer fence containing a shorter one': '`````markdown\n```bash\nls\n```\n`````\n',
  'longer tilde fence': '~~~~~ lifeboat\naction: shell\n~~~\n~~~~~\n',
  'fence in a list': '1. Step one:\n   ```bash\n   ls -la\n   ```\n2. Step two\n',
  'fence in a block quote': '> Note:\n> ```bash\n> rm -rf /\n> ```\n\nAfter\n',
  'indented code': 'Text\n\n    indented code\n    more\n\nAfter\n',
  'indented fence (3 spaces)': '   ```bash\n   echo indented\n   ```\n',
  'HTML block': '<details>\n<summary>More</summary>\n\n```bash\necho inside\n```\n\n</details>\n',
  'trailing whitespace': '# Title   \n\ntext  \n\n```bash   \necho hi   \n```   \n\t\n',
  'unclosed fence': 'Intro\n\n```bash\necho never closed\n\nstill code\n',
  'unclosed fence at end without newline': '```bash\necho x',
  'fence attributes': '```bash {id=find name="Find backup"}\nls\n```\n',
  'info with extra words': '```bash title and words\nls\n```\n',
  'empty fence': '```\n```\n',
  'adjacent fences': '```bash\na\n```\n```sh\nb\n```\n```lifeboat\naction: shell\n```\n',
  'many blank lines between cells': 'text\n\n\n\n```bash\nls\n```\n\n\n\nmore text\n\n\n',
  'NUL character': 'a\u0000b\n\n```bash\necho \u0000\n```\n',
  'table and rule': '| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\n```bash\nls\n```\n',
  'setext heading': 'Title\n=====\n\n```bash\nls\n```\n',
};

describe('runbook round trip', () => {
  for (const [name, text] of Object.entries(EDGE_CASES)) {
    it(`keeps the bytes: ${name}`, () => {
      assertRoundTrip(text);
    });
  }

  for (const file of roundTripRunbooks()) {
    it(`keeps the bytes of ${relative(REPO_ROOT, file)}`, () => {
      const document = assertRoundTrip(readFileSync(file, 'utf8'));
      assert.ok(document.cells.some((cell) => cell.kind === 'shell' || cell.kind === 'action'), 'each of these files has steps');
    });
  }

  it('re-emits an edited cell canonically and keeps its neighbours byte for byte', () => {
    const text = 'Intro  \r\n\r\n~~~~bash {id=a}\r\necho old\r\n~~~~\r\n\r\n\r\nOutro\t\r\n';
    const document = parseRunbook(text);
    const shell = document.cells[1];
    assert.ok(shell);
    shell.source = 'echo new\necho more';
    const written = serializeRunbook(document);
    assert.equal(written, 'Intro  \r\n\r\n```bash {id=a}\r\necho new\r\necho more\r\n```\r\n\r\n\r\nOutro\t\r\n');
    const again = parseRunbook(written);
    assert.deepEqual(
      again.cells.map((cell) => cell.source),
      ['Intro  ', 'echo new\necho more', 'Outro\t'],
    );
  });

  it('writes new attributes and keeps the original info string while they are unchanged', () => {
    const document = parseRunbook('```bash   {id=x}  \nls\n```\n');
    const cell = document.cells[0];
    assert.ok(cell);
    cell.source = 'pwd';
    assert.equal(serializeRunbook(document), '```bash   {id=x}\npwd\n```\n');
    cell.attributes = { id: 'x', name: 'List files' };
    assert.equal(serializeRunbook(document), '```bash {id=x name="List files"}\npwd\n```\n');
  });

  it('picks a fence the new body cannot close', () => {
    const document = parseRunbook('```bash\nls\n```\n');
    const cell = document.cells[0];
    assert.ok(cell);
    cell.source = 'cat <<EOF\n````\nEOF';
    const written = serializeRunbook(document);
    assert.ok(written.startsWith('`````bash\n'));
    assert.equal(parseRunbook(written).cells[0]?.source, cell.source);
  });

  it('separates inserted and appended cells so they parse back as written', () => {
    const document = parseRunbook('# Title\n\n```bash\nls\n```');
    document.cells.push({ kind: 'markdown', language: 'markdown', source: 'Added prose', attributes: {} });
    document.cells.push({ kind: 'action', language: 'lifeboat', source: 'action: shell\nscript: ls', attributes: { id: 'new' } });
    document.cells.splice(1, 0, { kind: 'code', language: 'text', source: 'inserted', attributes: {} });
    const reparsed = parseRunbook(serializeRunbook(document));
    assert.deepEqual(
      reparsed.cells.map((cell) => [cell.kind, cell.source, cell.attributes]),
      document.cells.map((cell) => [cell.kind, cell.source, cell.attributes]),
    );
  });

  it('writes edited frontmatter as YAML and keeps untouched frontmatter as it was', () => {
    const text = '---\n# a comment\ntitle:   x\n---\nbody\n';
    const document = parseRunbook(text);
    assert.equal(serializeRunbook(document), text);
    assert.ok(document.frontmatter);
    document.frontmatter.title = 'y';
    assert.equal(serializeRunbook(document), '---\ntitle: y\n---\nbody\n');
  });
});

/** Lines that stress the block parser: fences of every kind, containers, HTML, frontmatter markers. */
const LINE = fc.oneof(
  fc.constantFrom(
    '```', '```bash', '```sh {id=x}', '```lifeboat', '~~~', '~~~~ yaml', '````', '   ```', '    ```',
    '- item', '1. item', '   ```bash', '> quote', '> ```', '<div>', '</div>', '<!-- c -->', '---', '...',
    '# Heading', 'text', 'text  ', '\t', ' ', '', '| a | b |', '    code', 'action: shell', 'script: ls',
    '\u0000', 'é ✓ 😀', '[ref]: http://x', '***',
  ),
  fc.string({ maxLength: 12 }),
);
const EOL = fc.constantFrom('\n', '\r\n', '\r');
const MARKDOWN = fc
  .tuple(fc.boolean(), fc.array(fc.tuple(LINE, EOL), { maxLength: 40 }), fc.boolean())
  .map(([bom, lines, finalBreak]) => {
    const body = lines.map(([line, eol]) => line + eol).join('');
    return (bom ? '\uFEFF' : '') + (finalBreak ? body : body.replace(/(\r\n|\r|\n)$/, ''));
  });

describe('runbook round trip (property-based)', () => {
  it('serialize(parse(text)) === text for generated Markdown', () => {
    fc.assert(
      fc.property(MARKDOWN, (text) => {
        assertRoundTrip(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('an edited code cell reads back as edited and leaves the other cells untouched', () => {
    fc.assert(
      fc.property(MARKDOWN, fc.nat(), fc.array(fc.constantFrom('echo hi', '```', '~~~~', '', '  x', 'é'), { maxLength: 4 }), (text, pick, lines) => {
        const document = parseRunbook(text);
        const codeCells = document.cells.filter((cell) => cell.kind !== 'markdown');
        fc.pre(codeCells.length > 0);
        const target = codeCells[pick % codeCells.length];
        assert.ok(target);
        target.source = lines.join('\n');
        const reparsed = parseRunbook(serializeRunbook(document));
        assert.equal(reparsed.cells.length, document.cells.length);
        document.cells.forEach((cell, index) => {
          const after = reparsed.cells[index];
          assert.ok(after);
          if (cell === target) assert.equal(after.source, target.source);
          else if (index < document.cells.indexOf(target)) assert.equal(after.origin?.text, cell.origin?.text);
          else assert.equal(after.source, cell.source);
        });
      }),
      { numRuns: 1000 },
    );
  });
});
