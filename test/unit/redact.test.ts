import assert from 'node:assert/strict';
import fc from 'fast-check';
import { builtinActions } from '../../src/actions';
import { ActionRegistry } from '../../src/core/actions/registry';
import { formatProblem } from '../../src/core/errors';
import { MASK, MIN_MASKED_LENGTH, MIN_MASKED_LINE_LENGTH, Redactor } from '../../src/core/redact';
import { parseRunbook } from '../../src/core/runbook/parse';
import { coerceParam, type ParamDefinition } from '../../src/core/runbook/params';
import { secretParamFields } from '../../src/core/secrets';
import { checkRunbook } from '../../src/core/runner/validate';

/** Characters that change when a value is escaped, quoted or split, mixed with any code point. */
const hostileChar = fc.oneof(fc.constantFrom('"', '\\', '\n', '\r\n', "'", '$', '`', ' ', '%', '+', '/', 'é', 'Ω', '🔑', '\u2028', '\u0001', 'a', '7'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
const hostileText = (constraints: { minLength?: number; maxLength?: number }) => fc.array(hostileChar, constraints).map((chars) => chars.join(''));
/** A secret long enough to be masked; one made of the mask's own character cannot be told from the mask. */
const secret = hostileText({ minLength: MIN_MASKED_LENGTH, maxLength: 24 }).filter((value) => value.length >= MIN_MASKED_LENGTH && !value.includes('•'));

const jsonEscaped = (value: string) => JSON.stringify(value).slice(1, -1);

function redactorOf(...secrets: string[]): Redactor {
  const redactor = new Redactor();
  for (const value of secrets) redactor.add(value);
  return redactor;
}

describe('Redactor', () => {
  describe('text', () => {
    it('masks a secret wherever it sits in any text: as is, and escaped for JSON, a URL or a shell', () => {
      const forms: Record<string, (value: string) => string> = {
        raw: (value) => value,
        json: jsonEscaped,
        url: (value) => encodeURIComponent(value),
        shell: (value) => value.replace(/'/g, `'\\''`),
      };
      fc.assert(
        fc.property(secret, hostileText({ maxLength: 12 }), fc.constantFrom(...Object.keys(forms)), (value, text, form) => {
          let printed: string;
          try {
            printed = forms[form]!(value);
          } catch {
            return; // A lone surrogate has no URL form.
          }
          // An occurrence that the surrounding text makes by itself is not the secret's doing.
          fc.pre(!(text + MASK + text).includes(printed));
          assert.ok(!redactorOf(value).redact(text + printed + text).includes(printed));
        }),
      );
    });

    it('masks a secret as JSON prints it, escaped', () => {
      fc.assert(
        fc.property(secret, hostileText({ maxLength: 12 }), (value, text) => {
          const printed = JSON.stringify({ text, value, after: text });
          // An occurrence that the surrounding text makes by itself is not the secret's doing.
          fc.pre(!JSON.stringify({ text, value: MASK, after: text }).includes(jsonEscaped(value)));
          assert.ok(!redactorOf(value).redact(printed).includes(jsonEscaped(value)), printed);
        }),
      );
    });

    it('masks each line of a multi-line secret printed on its own, chunk by chunk through a sink', () => {
      const key = ['-----BEGIN TEST KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmU', 'AAAAC3NzaC1lZDI1NTE5AAAAIGtleS', '==', '-----END TEST KEY-----'].join('\n');
      const redactor = redactorOf(key);
      const written: string[] = [];
      const sink = redactor.sink({ write: (_stream, chunk) => written.push(chunk) });
      // `while read line; do echo "> $line"; done`: each line alone, split across chunks.
      const printed = key
        .split('\n')
        .map((line) => `> ${line}\n`)
        .join('');
      for (let at = 0; at < printed.length; at += 7) sink.write('stdout', printed.slice(at, at + 7));
      sink.flush();
      const output = written.join('');
      for (const line of key.split('\n')) {
        if (line.length >= MIN_MASKED_LINE_LENGTH) assert.ok(!output.includes(line), `line ${line} leaked:\n${output}`);
      }
      // A line shorter than the line minimum is left alone: masking `==` would mask it everywhere.
      assert.match(output, /^> ==$/m);
      assert.equal(redactor.redact('a == b'), 'a == b');
    });

    it('masks a secret percent-encoded in a URL and quoted for a shell', () => {
      const value = "it's a p@ss/word";
      const redactor = redactorOf(value);
      const printed = `curl 'https://h/?p=${encodeURIComponent(value)}' -d 'p=${value.replace(/'/g, `'\\''`)}' form=${encodeURIComponent(value).replace(/%20/g, '+')}`;
      assert.equal(redactor.redact(printed), `curl 'https://h/?p=${MASK}' -d 'p=${MASK}' form=${MASK}`);
      // Python's urllib.parse.quote(value, safe='') also encodes `'`.
      assert.equal(redactor.redact('it%27s%20a%20p%40ss%2Fword'), MASK);
    });

    it('masks non-ASCII secrets escaped as \\uXXXX, as Python prints JSON', () => {
      const value = 'пароль-🔑';
      const pythonJson = value.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
      assert.equal(redactorOf(value).redact(`{"p": "${pythonJson}"}`), `{"p": "${MASK}"}`);
      assert.equal(redactorOf(value).redact(pythonJson.replace(/\\u[0-9a-f]{4}/g, (escape) => `\\u${escape.slice(2).toUpperCase()}`)), MASK);
    });

    it('leaves a secret shorter than the minimum unmasked and warns once, without the value', () => {
      const warnings: string[] = [];
      const redactor = new Redactor((message) => warnings.push(message));
      redactor.add('ab1', "secret 'pin'");
      redactor.add('ab1', "secret 'pin'");
      redactor.add('long enough');
      assert.equal(redactor.redact('ab1 and long enough'), `ab1 and ${MASK}`);
      assert.deepEqual(warnings, [`secret 'pin' is shorter than ${MIN_MASKED_LENGTH} characters, so it cannot be masked: it will show in outputs, logs and run records`]);
      assert.ok(!warnings.join('').includes('ab1'));
    });
  });

  describe('values', () => {
    it('masks a secret in every string of structured data; JSON of the result holds it in no form', () => {
      fc.assert(
        fc.property(secret, hostileText({ maxLength: 8 }), fc.integer(), (value, text, count) => {
          const data = { name: text + value + text, list: [value, { [`key-${value}`]: value }], count, flag: true, nothing: null };
          const reference = JSON.stringify({ name: text + MASK + text, list: [MASK, { [`key-${MASK}`]: MASK }], count, flag: true, nothing: null });
          fc.pre(!reference.includes(value) && !reference.includes(jsonEscaped(value)));
          const masked = redactorOf(value).redactValue(data);
          const serialised = JSON.stringify(masked);
          assert.ok(!serialised.includes(value), serialised);
          assert.ok(!serialised.includes(jsonEscaped(value)), serialised);
          assert.equal(masked.count, count);
          assert.equal(masked.flag, true);
          assert.equal(masked.nothing, null);
        }),
      );
    });

    it('keeps numbers that equal a numeric secret, and masks them in the text around', () => {
      const redactor = redactorOf('7351');
      const result = { sourceBytes: 7351, files: 1, name: 'pin-7351.tar.gz', sizes: [7351, 12] };
      const masked = redactor.redactValue(result);
      assert.deepEqual(masked, { sourceBytes: 7351, files: 1, name: `pin-${MASK}.tar.gz`, sizes: [7351, 12] });
      assert.deepEqual(JSON.parse(JSON.stringify(masked)), masked);
    });

    it('masks a field that is wholly a secret parameter, whatever its type or length', () => {
      const redactor = redactorOf('7351');
      const stepParams = { keep: '${params.pin}', label: 'pin ${params.pin}', env: { PIN: '${params.pin}', SHORT: '${params.code}' }, list: ['${params.pin}'], other: '${params.name}' };
      const definitions: Record<string, ParamDefinition> = { pin: { type: 'number', secret: true }, code: { type: 'string', secret: true }, name: { type: 'string' } };
      const fields = secretParamFields(stepParams, definitions);
      assert.deepEqual([...fields].sort(), ['env.PIN', 'env.SHORT', 'keep', 'list.0']);
      const recorded = { keep: 7351, label: 'pin 7351', env: { PIN: '7351', SHORT: 'ab' }, list: [7351], other: 'x', size: 7351 };
      assert.deepEqual(redactor.redactValue(recorded, fields), { keep: MASK, label: `pin ${MASK}`, env: { PIN: MASK, SHORT: MASK }, list: [MASK], other: 'x', size: 7351 });
    });

    it('carries values as JSON would: dates as text, cycles cut', () => {
      const when = new Date(Date.UTC(2026, 0, 2));
      const cyclic: Record<string, unknown> = { secret: 'hunter22' };
      cyclic.self = cyclic;
      assert.deepEqual(redactorOf('hunter22').redactValue({ when, cyclic }), { when: '2026-01-02T00:00:00.000Z', cyclic: { secret: MASK, self: '[circular]' } });
    });
  });

  it('tells whether showing a value would show a secret, even a short one', () => {
    const redactor = new Redactor();
    redactor.add('ab');
    redactor.add('7351');
    assert.ok(redactor.holdsSecret('ab'));
    assert.ok(redactor.holdsSecret(7351));
    assert.ok(redactor.holdsSecret(['x', 'pin 7351']));
    assert.ok(!redactor.holdsSecret('abc'));
    assert.ok(!redactor.holdsSecret(735));
  });
});

describe('secrets in validation errors', () => {
  const canary = 'c"an\\ary-Ω';
  const registry = new ActionRegistry(builtinActions);
  const check = (params: Record<string, string>) =>
    checkRunbook(parseRunbook(['---', 'params:', '  pw: { type: string, secret: true }', '  pin: { type: string, secret: true }', '  plain: { type: number, required: false }', '---', '```lifeboat', 'action: archive.create', 'paths: [a]', 'destination: out', 'prefix: ${params.pw}', 'keep: ${params.pin}', '```', ''].join('\n')), { file: 'r.runbook.md', registry, params })
      .problems.map(formatProblem)
      .join('\n');

  it('a secret parameter that fails its type or pattern is not quoted', () => {
    for (const definition of [{ type: 'number' }, { type: 'date' }, { type: 'string', pattern: '[a-z]+' }, { type: 'enum', values: ['a'] }, { type: 'boolean' }] as ParamDefinition[]) {
      const coerced = coerceParam({ ...definition, secret: true }, canary);
      assert.equal(coerced.ok, false);
      assert.ok(!coerced.ok && !coerced.message.includes('an\\ary') && !coerced.message.includes(JSON.stringify(canary)), !coerced.ok ? coerced.message : '');
      assert.match(!coerced.ok ? coerced.message : '', /got a secret value \(not shown\)/);
    }
    // Other parameters still say what they got.
    assert.match(check({ pw: 'fine-prefix', pin: '3', plain: 'x1' }), /plain.*got "x1"/);
  });

  it('a secret parameter that breaks an action field is not quoted by check', () => {
    const problems = check({ pw: 'fine-prefix', pin: canary });
    assert.match(problems, /`keep`: .*got a value holding a secret \(not shown\)/);
    assert.ok(!problems.includes('an\\ary') && !problems.includes('an\\\\ary'), problems);
    // Even a secret too short to mask in text is not quoted as the whole value.
    assert.match(check({ pw: 'fine-prefix', pin: 'x' }), /`keep`: .*got a value holding a secret/);
  });
});
