import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { cronLine, type ScheduledRunSpec } from '../../src/actions/schedule/crontab';
import { scheduleCronInstall } from '../../src/actions/schedule/install';
import { Rclone } from '../../src/clients/rclone';
import { ResticRepository } from '../../src/clients/restic';
import { sshRunAction } from '../../src/actions/ssh';
import { remoteCommand } from '../../src/clients/ssh/quote';
import { readShellInvocation, withEnvironment } from '../../src/clients/ssh/shellInvocation';
import { formatProblem } from '../../src/core/errors';
import { interpolateWithScripts } from '../../src/core/runbook/interpolate';
import { lifeboat } from '../support/cli';
import { runAsCron } from '../support/cron';
import { hostilePayloads, yamlQuoted } from '../support/payloads';
import { runRunbookInProcess } from '../support/runbookSession';

/** The sentinel a hostile value tries to create, relative to the scripts' working folder (the workspace). */
const SENTINEL = 'PWNED';

/** What the corpus tests counted, printed once at the end: every try, and every command a value ran. */
const tally = { payloads: new Set<string>(), tries: 0, executed: 0, refused: 0 };

/** A file name `archive.list` accepts: the payload made into an archive name, when a file can have it. */
function archiveNameOf(payload: string): string | undefined {
  const name = `${payload}.tar.gz`;
  return !payload.includes('/') && !payload.startsWith('.') && Buffer.byteLength(name) <= 255 ? name : undefined;
}

/**
 * Each script cell writes the value its reference stands for into `out/<what>-<cell kind>`, once
 * quoted and once through an assignment (where the shell neither splits nor globs a variable).
 */
function scriptCells(reference: string, what: string): string[] {
  const lines = (kind: string) => [`printf '%s' "${reference}" > out/${what}-${kind}`, `assigned=${reference}`, `printf '%s' "$assigned" > out/${what}-${kind}-assigned`];
  return ['```bash', ...lines('bash'), '```', '', '```sh', ...lines('sh'), '```', '', '```lifeboat', 'action: shell', 'script: |', ...lines('action').map((line) => `  ${line}`), '```', ''];
}

/** The files `scriptCells` writes for `what`, each holding `value`. */
function scriptFiles(what: string, value: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const kind of ['bash', 'sh', 'action']) {
    files[`${what}-${kind}`] = value;
    files[`${what}-${kind}-assigned`] = value;
  }
  return files;
}

/** A runbook taking `p` as a parameter (with the payload as its default, or supplied), a shell step's stdout and an archive's file name into every kind of script. */
function corpusRunbook(defaultValue: string | undefined, withArchive: boolean): string {
  return [
    '---',
    'params:',
    `  p: { type: string${defaultValue === undefined ? '' : `, default: ${yamlQuoted(defaultValue)}`} }`,
    '---',
    '',
    '```bash {id=emit}',
    'printf \'%s\' "$LIFEBOAT_PARAM_P"',
    '```',
    '',
    ...scriptCells('${params.p}', 'param'),
    ...scriptCells('${steps.emit.stdout}', 'step'),
    ...(withArchive
      ? ['```lifeboat', 'id: find', 'action: archive.list', 'location: archives', 'archive: latest', '```', '', ...scriptCells('${steps.find.selected.name}', 'archive')]
      : []),
  ].join('\n');
}

describe('a value never becomes code', function () {
  this.timeout(120_000);
  let workspace: string;

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-injection-'));
    await mkdir(join(workspace, 'out'));
    await mkdir(join(workspace, 'archives'));
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  after(() => {
    console.log(`      injection corpus: ${tally.payloads.size} payloads, ${tally.tries} tries, ${tally.executed} executed, ${tally.refused} refused before anything ran`);
  });

  /** Compares every `out/` file with what it should hold, byte for byte, and counts sentinels. */
  async function expectExact(expected: Record<string, string>, payload: string): Promise<void> {
    tally.payloads.add(payload);
    for (const [file, value] of Object.entries(expected)) {
      tally.tries++;
      assert.deepEqual(await readFile(join(workspace, 'out', file)), Buffer.from(value), `${file} for ${JSON.stringify(payload.slice(0, 60))}`);
    }
    const sentinels = (await readdir(workspace)).filter((name) => name.startsWith(SENTINEL));
    tally.executed += sentinels.length;
    assert.deepEqual(sentinels, [], `${JSON.stringify(payload.slice(0, 60))} ran a command`);
  }

  describe('every payload into bash, sh and shell-action scripts', () => {
    async function runCorpus(source: 'supplied' | 'default'): Promise<void> {
      for (const payload of hostilePayloads(SENTINEL)) {
        await rm(join(workspace, 'out'), { recursive: true, force: true });
        await rm(join(workspace, 'archives'), { recursive: true, force: true });
        await mkdir(join(workspace, 'out'));
        await mkdir(join(workspace, 'archives'));
        const archive = source === 'supplied' ? archiveNameOf(payload) : undefined;
        if (archive) await writeFile(join(workspace, 'archives', archive), 'not opened by archive.list');
        const runbook = corpusRunbook(source === 'default' ? payload : undefined, archive !== undefined);
        const run = await runRunbookInProcess(runbook, { workspaceDir: workspace, ...(source === 'supplied' ? { params: { p: payload } } : {}) });
        assert.deepEqual(run.problems.map(formatProblem), [], JSON.stringify(payload.slice(0, 60)));
        assert.equal(run.status, 'succeeded', run.reports.map((report) => report.error ?? '').join('\n'));
        await expectExact({ ...scriptFiles('param', payload), ...scriptFiles('step', payload), ...(archive ? scriptFiles('archive', archive) : {}) }, payload);
      }
    }

    it('as --param values, as shell step results and as archive file names: byte for byte, and nothing runs', async () => {
      await runCorpus('supplied');
    });

    it('as frontmatter defaults, and the step results made from them: byte for byte, and nothing runs', async () => {
      await runCorpus('default');
    });
  });

  it('refuses a parameter holding a NUL byte before the first step, naming cell, line and field', async () => {
    for (const params of [{ p: 'a\0b; touch PWNED' }, undefined]) {
      const runbook = corpusRunbook(params ? undefined : 'a\0b; touch PWNED', false);
      const refused = await runRunbookInProcess(runbook, { workspaceDir: workspace, ...(params ? { params } : {}) });
      const messages = refused.problems.map(formatProblem);
      tally.refused++;
      assert.ok(messages.length > 0, 'a NUL byte must be refused');
      assert.match(messages[0] as string, /^test\.runbook\.md:11, cell 2, `script`: \$\{params\.p\} holds a NUL byte, which no environment variable can carry/);
      // Editors underline the reference itself: its place in the cell's source.
      assert.deepEqual(refused.problems[0]?.span, { start: "printf '%s' \"".length, end: "printf '%s' \"${params.p}".length });
      assert.equal(refused.reports.length, 0, 'nothing runs');
      assert.deepEqual(await readdir(join(workspace, 'out')), []);
    }
  });

  it('refuses a step result holding a NUL byte at the step that refers to it; the script does not run', async () => {
    const runbook = ['```bash {id=emit}', "printf 'a\\0b'", '```', '', '```bash', 'echo ran > out/ran', 'printf \'%s\' "${steps.emit.stdout}" > out/value', '```', ''].join('\n');
    const run = await runRunbookInProcess(runbook, { workspaceDir: workspace });
    tally.refused++;
    assert.equal(run.status, 'failed');
    assert.match(run.reports[1]?.error ?? '', /^test\.runbook\.md:7, cell 2, `script`: \$\{steps\.emit\.stdout\} holds a NUL byte/);
    assert.deepEqual(await readdir(join(workspace, 'out')), []);
  });

  it('refuses a value longer than an environment variable can hold, instead of failing to start the shell', async () => {
    const run = await runRunbookInProcess(corpusRunbook(undefined, false), { workspaceDir: workspace, params: { p: 'x'.repeat(200 * 1024) } });
    tally.refused++;
    assert.match(run.problems.map(formatProblem).join('\n'), /\$\{params\.p\} is 204800 bytes long; an environment variable holds at most 128 KiB/);
  });

  it('refuses two references that would share one variable, and a parameter sharing its variable with another', async () => {
    const steps = ['```bash {id=a-b}', 'echo one', '```', '', '```bash {id=a_b}', 'echo two', '```', '', '```bash', 'echo "${steps.a-b.stdout}"', 'echo "${steps.a_b.stdout}"', '```', ''].join('\n');
    const shared = await runRunbookInProcess(steps, { workspaceDir: workspace });
    assert.match(shared.problems.map(formatProblem).join('\n'), /cell 3, `script`: \$\{steps\.a_b\.stdout\} and \$\{steps\.a-b\.stdout\} would both be the variable LIFEBOAT_STEP_A_B_STDOUT/);
    const cased = ['---', 'params:', '  dir: { type: string, default: a }', '  DIR: { type: string, default: b }', '---', '', '```bash', 'echo "${params.dir}"', '```', ''].join('\n');
    const checked = await runRunbookInProcess(cased, { workspaceDir: workspace });
    assert.match(checked.problems.map(formatProblem).join('\n'), /test\.runbook\.md:8, cell 1, `script`: \$\{params\.dir\} is the variable LIFEBOAT_PARAM_DIR in the script, and so is the parameter DIR/);
  });

  it('hands a list or an object to a script as JSON, a number as its digits', async () => {
    await writeFile(join(workspace, 'archives', 'app-20260124.tar.gz'), 'x'.repeat(1234));
    const runbook = ['```lifeboat', 'id: find', 'action: archive.list', 'location: archives', 'archive: latest', '```', '', '```sh', 'printf %s "${steps.find.selected.bytes}" > out/bytes', 'printf %s "${steps.find.archives}" > out/archives', '```', ''].join('\n');
    const run = await runRunbookInProcess(runbook, { workspaceDir: workspace });
    assert.equal(run.status, 'succeeded', run.reports.map((report) => report.error ?? '').join('\n'));
    assert.equal(await readFile(join(workspace, 'out', 'bytes'), 'utf8'), '1234');
    assert.deepEqual(JSON.parse(await readFile(join(workspace, 'out', 'archives'), 'utf8')), (run.reports[0]?.result as { archives: unknown[] }).archives);
  });

  it('keeps `$${` a literal `${` in a script', async () => {
    const run = await runRunbookInProcess(['```bash', 'X=kept; printf \'%s\' "$${X}" > out/literal', '```', ''].join('\n'), { workspaceDir: workspace });
    assert.equal(run.status, 'succeeded', run.reports[0]?.error);
    assert.equal(await readFile(join(workspace, 'out', 'literal'), 'utf8'), 'kept');
  });

  describe('the lifeboat CLI end to end', () => {
    it('a bash cell and a shell step given hostile --param values write them byte for byte and run none of them', async () => {
      const payloads = hostilePayloads(SENTINEL).filter((value) => Buffer.byteLength(value) < 4096);
      const runbook = ['---', 'params:', ...payloads.map((_, index) => `  p${index}: { type: string }`), '---', ''];
      const expected: Record<string, string> = {};
      for (const [index, payload] of payloads.entries()) {
        runbook.push(`\`\`\`bash {id=emit${index}}`, `printf '%s' "\${params.p${index}}" > out/param-${index}`, `printf '%s' "$LIFEBOAT_PARAM_P${index}"`, '```', '');
        runbook.push('```sh', `printf '%s' "\${steps.emit${index}.stdout}" > out/step-${index}`, '```', '');
        Object.assign(expected, { [`param-${index}`]: payload, [`step-${index}`]: payload });
      }
      await writeFile(join(workspace, 'params.runbook.md'), runbook.join('\n'));
      const result = await lifeboat(['run', 'params.runbook.md', ...payloads.flatMap((payload, index) => ['--param', `p${index}=${payload}`])], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr);
      for (const payload of payloads) tally.payloads.add(payload);
      await expectExact(expected, 'the whole corpus');
    });

    it('archives whose file names are shell syntax reach the script as their names, and run nothing', async () => {
      const names = hostilePayloads(SENTINEL).flatMap((payload) => archiveNameOf(payload) ?? []);
      const runbook: string[] = [];
      const expected: Record<string, string> = {};
      for (const [index, name] of names.entries()) {
        await mkdir(join(workspace, 'archives', String(index)));
        await writeFile(join(workspace, 'archives', String(index), name), 'x');
        runbook.push('```lifeboat', `id: find${index}`, 'action: archive.list', `location: archives/${index}`, 'archive: latest', '```', '');
        runbook.push('```bash', `printf '%s' "\${steps.find${index}.selected.name}" > out/name-${index}`, `printf '%s' "\${steps.find${index}.selected.path}" > out/path-${index}`, '```', '');
        Object.assign(expected, { [`name-${index}`]: name, [`path-${index}`]: join(workspace, 'archives', String(index), name) });
      }
      await writeFile(join(workspace, 'archive.runbook.md'), runbook.join('\n'));
      const result = await lifeboat(['run', 'archive.runbook.md'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr);
      await expectExact(expected, 'every archive name');
    });

    it('runs a bash cell of 1 MiB (a script the argument list could not carry) and prints its result', async () => {
      const line = `total=$((total + 1)) # ${'padding '.repeat(12)}`;
      const lines = ['total=0', ...Array.from({ length: Math.ceil((1024 * 1024) / (line.length + 1)) }, () => line)];
      const count = lines.length - 1;
      lines.push('echo "lines: $total"');
      await writeFile(join(workspace, 'big.runbook.md'), ['```bash', ...lines, '```', ''].join('\n'));
      const result = await lifeboat(['run', 'big.runbook.md', '--json'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, new RegExp(`^lines: ${count}$`, 'm'));
    });
  });

  describe('ssh.run: references inside a shell script argument', () => {
    const written = (command: string[]) => ({ host: 'lab', command });

    it('finds the script of sh -c, bash -c, dash, zsh, ksh, ash, busybox sh, behind env and sudo', () => {
      const cases: [string[], number[], number][] = [
        [['sh', '-c', 'S'], [2], 0],
        [['/bin/bash', '-euo', 'pipefail', '-c', 'S', 'name', 'arg'], [4], 0],
        [['bash', '--norc', '-lc', 'S'], [3], 0],
        [['dash', '-e', '-c', '--', 'S'], [4], 0],
        [['zsh', '-c', 'S'], [2], 0],
        [['ksh', '-c', 'S'], [2], 0],
        [['busybox', 'ash', '-c', 'S'], [3], 0],
        [['busybox', 'sh', '-c', 'S'], [3], 0],
        [['env', '-i', 'A=1', 'sh', '-c', 'S'], [5], 3],
        [['/usr/bin/env', '-u', 'X', '--', 'bash', '-c', 'S'], [6], 4],
        [['sudo', '-u', 'backup', '-E', 'sh', '-c', 'S'], [6], 4],
        [['sudo', '-nu', 'backup', 'env', 'B=2', 'bash', '-c', 'S'], [7], 5],
        [['timeout', '-s', 'KILL', '10', 'sh', '-c', 'S'], [6], 4],
        [['env', '-S', 'sh -c S'], [2], 0],
        [['sh', 'script.sh', '-c'], [], 0],
        [['tar', '-c', '-f', 'x.tar', '.'], [], 0],
        [['head', '-c', '10', 'file'], [], 0],
      ];
      for (const [argv, scripts, programAt] of cases) {
        assert.deepEqual(readShellInvocation(argv), { programAt, scriptsAt: scripts }, argv.join(' '));
        assert.deepEqual(typeof sshRunAction.scriptFields === 'function' ? sshRunAction.scriptFields(written(argv)) : undefined, scripts.map((index) => `command.${index}`));
      }
    });

    it('puts the variables right before the program, past sudo, which would drop them', () => {
      assert.deepEqual(withEnvironment(['sudo', '-u', 'b', 'sh', '-c', 'echo "$X"'], { X: 'v;1' }), ['sudo', '-u', 'b', 'env', '--', 'X=v;1', 'sh', '-c', 'echo "$X"']);
      assert.deepEqual(withEnvironment(['ls'], {}), ['ls']);
    });

    it('refuses a reference inside an argument when the program is itself a value, naming the field and line', async () => {
      const runbook = ['---', 'params:', '  shell: { type: string, default: sh }', '  x: { type: string, default: "$(touch PWNED)" }', '---', '', '```lifeboat', 'action: ssh.run', 'host: lab', 'command: ["${params.shell}", -c, "echo ${params.x}"]', '```', ''].join('\n');
      const run = await runRunbookInProcess(runbook, { workspaceDir: workspace });
      tally.refused++;
      const span = run.problems[0]?.span;
      assert.equal(runbook.split('```lifeboat\n')[1]?.slice(span?.start, span?.end), '${params.x}');
      assert.match(run.problems.map(formatProblem).join('\n'), /test\.runbook\.md:10, cell 1, `command\.2`: the program is `\$\{params\.shell\}`, so it cannot be known whether a shell runs this argument as a script/);
    });
  });

  describe('crontab lines: hostile schedule parameters reach the program as written', () => {
    let sentinelDir: string;
    beforeEach(async () => {
      sentinelDir = await mkdtemp(join(tmpdir(), 'lifeboat-cron-sentinel-'));
    });
    afterEach(async () => {
      await rm(sentinelDir, { recursive: true, force: true });
    });

    /** A stand-in for the CLI that prints its arguments as JSON: what cron's shell handed it, exactly. */
    const argvDump = [process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)) + "\\n")'];
    const spec = (params: Record<string, string>, logFile: string): ScheduledRunSpec => ({
      schedule: '0 3 * * *',
      lifeboat: argvDump,
      workspace: '/srv/lifeboat',
      runbook: 'nightly.runbook.md',
      params,
      yes: false,
      logFile,
    });

    it('passes every payload byte for byte through cron\'s translation and a real sh -c, and runs nothing', async () => {
      const sentinel = join(sentinelDir, SENTINEL);
      for (const payload of hostilePayloads(sentinel)) {
        tally.payloads.add(payload);
        const logFile = join(sentinelDir, 'run.log');
        let line: string;
        try {
          line = cronLine(spec({ p: payload }, logFile));
        } catch (error) {
          // Line breaks and commands longer than cron reads are refused before any line exists.
          assert.match(String(error), /cannot be written in a crontab line|cron cuts commands at 999/);
          tally.refused++;
          continue;
        }
        tally.tries++;
        assert.equal(await runAsCron(line), 0);
        const argv = JSON.parse((await readFile(logFile, 'utf8')).split('\n')[0] as string) as string[];
        assert.deepEqual(argv, ['run', '/srv/lifeboat/nightly.runbook.md', '--param', `p=${payload}`]);
        assert.equal(existsSync(sentinel), false, `${JSON.stringify(payload)} ran a command`);
        await rm(logFile);
      }
    });

    it('refuses line breaks and NUL bytes in every field, naming it, before anything is written', () => {
      for (const bad of ['a\nb', 'a\rb', 'a\0b']) {
        assert.throws(() => cronLine(spec({ p: bad }, '/tmp/x.log')), /^Error: params\.p: cannot be written in a crontab line/);
        assert.throws(() => cronLine({ ...spec({}, '/tmp/x.log'), lifeboat: ['lifeboat', bad] }), /^Error: lifeboat\.1: cannot be written/);
        assert.throws(() => cronLine({ ...spec({}, '/tmp/x.log'), schedule: `0 3 * * *${bad} touch /tmp/PWNED` }), /^Error: schedule: .* is not five crontab time fields/);
        const parsed = scheduleCronInstall.params.safeParse({ host: 'lab', workspace: `/srv/${bad}`, runbook: `r${bad}.md`, logFile: `/l${bad}`, params: { p: bad }, secretsFile: `/s${bad}` });
        assert.equal(parsed.success, false);
        const fields = [...new Set(parsed.error?.issues.map((issue) => issue.path.join('.')))].sort();
        assert.deepEqual(fields, ['logFile', 'params.p', 'runbook', 'secretsFile', 'workspace']);
        tally.refused += 5;
      }
      assert.throws(() => cronLine({ ...spec({}, '/tmp/x.log'), schedule: '0 0 3 * * *' }), /not five crontab time fields/);
    });
  });

  it('restic takes a snapshot id that looks like an option as an id: no --password-command runs', async () => {
    const repository = new ResticRepository({ repository: join(workspace, 'repo'), password: 'correct horse battery', cacheDir: join(workspace, 'cache') });
    await repository.init();
    const sentinel = join(workspace, SENTINEL);
    for (const snapshot of [`--password-command=touch ${sentinel}`, '-o=sftp.command=touch PWNED']) {
      await assert.rejects(repository.ls(snapshot));
      await assert.rejects(repository.restore(snapshot, join(workspace, 'restored')));
      tally.tries += 2;
    }
    assert.equal(existsSync(sentinel), false, 'a snapshot id ran a command');
  });

  it('rclone takes a path that looks like a flag as a path: no log file, no other config', async () => {
    const rclone = new Rclone({ configFile: false });
    const sentinel = join(workspace, SENTINEL);
    for (const path of [`--log-file=${sentinel}`, `--dump-headers=${sentinel}`]) {
      await assert.rejects(rclone.lsjson(path));
      await assert.rejects(rclone.check(path, workspace));
      await assert.rejects(rclone.copy(path, join(workspace, 'copied')));
      tally.tries += 3;
    }
    assert.equal(existsSync(sentinel), false, 'a path was read as a flag');
  });

  describe('properties over generated strings', () => {
    const anyText = fc.string({ unit: 'binary', maxLength: 40 });
    /** Any character, with the ones a shell reads as syntax far more often than chance would pick them. */
    const shellText = fc.string({ unit: fc.oneof(fc.constantFrom('"', "'", '$', '`', ' ', '\\', ';', '(', ')', '|', '&', '*', '~', '\n', '{', '}', '%'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 });
    const withoutNul = anyText.filter((text) => !text.includes('\0'));

    it('an argument list quoted for the remote shell comes back out of a real sh -c exactly', () => {
      fc.assert(
        fc.property(fc.array(withoutNul, { minLength: 1, maxLength: 6 }), (argv) => {
          const printed = execFileSync('/bin/sh', ['-c', remoteCommand(['printf', '%s\\0', ...argv])], { cwd: tmpdir() });
          const expected = Buffer.concat(argv.map((argument) => Buffer.from(`${argument}\0`)));
          assert.deepEqual(printed, expected);
        }),
        { numRuns: 150 },
      );
    });

    it('variables set for ssh.run come back out of a real sh -c exactly, whatever they hold', () => {
      fc.assert(
        fc.property(withoutNul, withoutNul, (first, second) => {
          const argv = withEnvironment(['sh', '-c', 'printf "%s\\0%s" "$A" "$B_2"'], { A: first, B_2: second });
          const printed = execFileSync('/bin/sh', ['-c', remoteCommand(argv)], { cwd: tmpdir() });
          assert.deepEqual(printed, Buffer.from(`${first}\0${second}`));
        }),
        { numRuns: 100 },
      );
    });

    it('interpolating a script changes nothing in its text but the references, whatever the values hold', () => {
      const references = { '${params.p}': '${LIFEBOAT_PARAM_P}', '${steps.emit.stdout}': '${LIFEBOAT_STEP_EMIT_STDOUT}', '${ steps.find.selected.name }': '${LIFEBOAT_STEP_FIND_SELECTED_NAME}' };
      const text = anyText.filter((part) => !part.includes('${') && !part.endsWith('$'));
      const part = fc.oneof(text, fc.constantFrom(...Object.keys(references)));
      fc.assert(
        fc.property(fc.array(part, { maxLength: 8 }), anyText, anyText, anyText, (parts, p, stdout, name) => {
          const script = parts.join('');
          const expected = parts.map((piece) => new Map(Object.entries(references)).get(piece) ?? piece).join('');
          const scope = { params: { p }, steps: { emit: { stdout }, find: { selected: { name } } } };
          const { value, variables } = interpolateWithScripts({ script }, scope, new Set(['script']));
          assert.deepEqual(value, { script: expected });
          const values = new Map([['LIFEBOAT_PARAM_P', p], ['LIFEBOAT_STEP_EMIT_STDOUT', stdout], ['LIFEBOAT_STEP_FIND_SELECTED_NAME', name]]);
          for (const variable of variables) assert.equal(variable.value, values.get(variable.name));
        }),
        { numRuns: 500 },
      );
    });

    it('a generated parameter value reaches a bash cell byte for byte and runs nothing', async () => {
      await fc.assert(
        fc.asyncProperty(shellText.filter((text) => !text.includes('\0')), async (value) => {
          const run = await runRunbookInProcess(corpusRunbook(undefined, false), { workspaceDir: workspace, params: { p: value } });
          assert.equal(run.status, 'succeeded', run.reports.map((report) => report.error).join('\n'));
          assert.deepEqual(await readFile(join(workspace, 'out', 'param-bash')), Buffer.from(value));
          assert.deepEqual(await readFile(join(workspace, 'out', 'step-sh')), Buffer.from(value));
          assert.deepEqual(await readFile(join(workspace, 'out', 'param-action-assigned')), Buffer.from(value));
          assert.equal(existsSync(join(workspace, SENTINEL)), false);
        }),
        { numRuns: 15 },
      );
    });
  });
});
