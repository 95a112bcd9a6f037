import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lifeboat, readRecords } from '../support/cli';
import { CLI, REPO_ROOT, roundTripRunbooks } from '../support/paths';

/** Runs a command on a pseudo-terminal and types `answer` once `prompt` appears. */
function onTerminal(command: string, cwd: string, prompt: string, answer: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (!answered && output.includes(prompt)) {
        answered = true;
        child.stdin.write(answer);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('lifeboat CLI', function () {
  this.timeout(60_000);
  let workspace: string;

  before(() => {
    assert.ok(existsSync(CLI), `build the CLI first (npm run build): ${CLI}`);
  });

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-cli-'));
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  async function writeRunbook(name: string, lines: string[]): Promise<string> {
    const path = join(workspace, name);
    await writeFile(path, lines.join('\n'));
    return path;
  }

  describe('parse and serialize', () => {
    it('reproduce every shipped and edge-case runbook byte for byte through a pipe', async () => {
      for (const runbook of roundTripRunbooks()) {
        const original = await readFile(runbook, 'utf8');
        const parsed = await lifeboat(['parse', runbook]);
        assert.equal(parsed.code, 0, parsed.stderr);
        const json = JSON.parse(parsed.stdout) as { frontmatter: unknown; cells: { kind: string; language: string; source: string; attributes: object }[] };
        assert.ok(json.cells.length > 0);
        for (const cell of json.cells) assert.ok(['markdown', 'action', 'shell', 'code'].includes(cell.kind));
        const written = await lifeboat(['serialize'], { input: parsed.stdout });
        assert.equal(written.code, 0, written.stderr);
        assert.equal(written.stdout, original, runbook);
      }
    });

    it('prints the documented JSON shape', async () => {
      const file = await writeRunbook('r.runbook.md', ['---', 'title: T', '---', '# Hi', '', '```bash {id=find name="Find backup"}', 'ls', '```', '']);
      const { stdout } = await lifeboat(['parse', file]);
      const json = JSON.parse(stdout) as { frontmatter: unknown; cells: unknown[] };
      assert.deepEqual(json.frontmatter, { title: 'T' });
      assert.deepEqual(
        json.cells.map((cell) => {
          const { kind, language, source, attributes } = cell as Record<string, unknown>;
          return { kind, language, source, attributes };
        }),
        [
          { kind: 'markdown', language: 'markdown', source: '# Hi', attributes: {} },
          { kind: 'shell', language: 'bash', source: 'ls', attributes: { id: 'find', name: 'Find backup' } },
        ],
      );
    });

    it('writes an edited cell canonically', async () => {
      const file = await writeRunbook('r.runbook.md', ['Intro', '', '~~~bash', 'ls', '~~~', '', 'Outro', '']);
      const json = JSON.parse((await lifeboat(['parse', file])).stdout) as { cells: { source: string }[] };
      json.cells[1]!.source = 'ls -la';
      const written = await lifeboat(['serialize'], { input: JSON.stringify(json) });
      assert.equal(written.stdout, 'Intro\n\n```bash\nls -la\n```\n\nOutro\n');
    });

    it('rejects JSON that is not a parsed runbook', async () => {
      const result = await lifeboat(['serialize'], { input: '{"cells": [{"kind": "poem"}]}' });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /not a runbook as printed by `lifeboat parse`/);
      assert.match(result.stderr, /cells\.0\.kind/);
    });
  });

  it('--version prints the version of the package', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await lifeboat(['--version']);
    assert.deepEqual([result.code, result.stdout], [0, `lifeboat ${version}\n`]);
  });

  describe('check', () => {
    it('exits 0 for a valid runbook and 2 with located errors for an invalid one', async () => {
      const good = await writeRunbook('good.runbook.md', ['```lifeboat', 'action: archive.list', 'location: backups', '```', '']);
      const ok = await lifeboat(['check', good]);
      assert.equal(ok.code, 0, ok.stderr);
      const bad = await writeRunbook('bad.runbook.md', ['# x', '', '```lifeboat', 'action: archive.list', 'locaton: backups', '```', '']);
      const result = await lifeboat(['check', bad], { cwd: workspace });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /bad\.runbook\.md:5, cell 2, `locaton`: unknown field/);
    });

    it('reports an inventory that is not valid YAML with its line', async () => {
      const good = await writeRunbook('good.runbook.md', ['```bash', 'ls', '```', '']);
      await writeFile(join(workspace, 'inv.yaml'), 'hosts:\n  nas: [unclosed\n');
      const result = await lifeboat(['check', good, '--inventory', join(workspace, 'inv.yaml')]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /inv\.yaml:\d+: not valid YAML/);
    });
  });

  describe('run', () => {
    it('runs steps in order, feeds results forward and records every step', async () => {
      const file = await writeRunbook('r.runbook.md', [
        '---',
        'params:',
        '  name: { type: string, default: world }',
        '  token: { type: string, secret: true }',
        '---',
        '```bash {id=greet}',
        'printf "hello %s" "$LIFEBOAT_PARAM_NAME"',
        'echo "token is $LIFEBOAT_PARAM_TOKEN" >&2',
        '```',
        '',
        '```lifeboat',
        'action: shell',
        'script: test "$GREETING" = "hello there" && echo checked',
        'env:',
        '  GREETING: ${steps.greet.stdout}',
        '```',
        '',
      ]);
      const result = await lifeboat(['run', file, '--param', 'name=there', '--param', 'token=s3cr3t-value', '--json'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((line) => [line.cell, line.kind, line.action, line.status]),
        [
          [1, 'shell', 'shell', 'succeeded'],
          [2, 'action', 'shell', 'succeeded'],
        ],
      );
      for (const line of lines) assert.deepEqual(Object.keys(line).sort(), ['action', 'cell', 'durationMs', 'error', 'id', 'kind', 'result', 'status']);
      assert.doesNotMatch(result.stdout + result.stderr, /s3cr3t-value/);
      assert.match(result.stderr, /token is ••••••/);

      const records = await readRecords(workspace);
      assert.equal(records.length, 2);
      assert.deepEqual(Object.keys(records[0]!).sort(), ['action', 'cell', 'durationMs', 'host', 'params', 'run', 'runStartedAt', 'runbook', 'status', 'step', 'time', 'user']);
      assert.equal(records[0]!.runbook, 'r.runbook.md');
      assert.doesNotMatch(JSON.stringify(records), /s3cr3t-value/);

      // Both steps belong to one run; running again is another run.
      assert.equal(records[0]!.run, records[1]!.run);
      assert.equal(records[0]!.runStartedAt, records[1]!.runStartedAt);
      assert.ok(Date.parse(String(records[0]!.runStartedAt)) <= Date.parse(String(records[0]!.time)));
      const again = await lifeboat(['run', file, '--param', 'name=there', '--param', 'token=s3cr3t-value'], { cwd: workspace });
      assert.equal(again.code, 0, again.stderr);
      const runs = new Set((await readRecords(workspace)).map((record) => record.run));
      assert.equal(runs.size, 2);
    });

    it('stops at the first failing step and exits 1', async () => {
      const file = await writeRunbook('r.runbook.md', ['```bash', 'echo first', '```', '```bash', 'exit 4', '```', '```bash', 'touch third-ran', '```', '']);
      const result = await lifeboat(['run', file], { cwd: workspace });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /cell 2 \(shell\): the bash script exited with code 4/);
      assert.equal(existsSync(join(workspace, 'third-ran')), false);
      assert.deepEqual((await readRecords(workspace)).map((record) => record.status), ['succeeded', 'failed']);
    });

    it('exits 2 without running anything when a parameter is invalid or missing', async () => {
      const file = await writeRunbook('r.runbook.md', ['---', 'params:', '  date: { type: date, format: YYYYMMDD }', '---', '```bash', 'touch ran', '```', '']);
      const missing = await lifeboat(['run', file], { cwd: workspace });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /`date`: required parameter has no value/);
      const wrong = await lifeboat(['run', file, '--param', 'date=2026-1-24'], { cwd: workspace });
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /`date`: expected a date as YYYYMMDD, got "2026-1-24"/);
      assert.equal(existsSync(join(workspace, 'ran')), false);
    });

    it('plans instead of running with --dry-run', async () => {
      const file = await writeRunbook('r.runbook.md', ['```bash', 'touch ran', '```', '']);
      const result = await lifeboat(['run', file, '--dry-run', '--json'], { cwd: workspace });
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { status: string }).status, 'planned');
      assert.equal(existsSync(join(workspace, 'ran')), false);
    });

    it('stops the running step on Ctrl-C and exits 130', async () => {
      const file = await writeRunbook('r.runbook.md', ['```bash', 'echo started; sleep 30 & wait', '```', '```bash', 'touch second-ran', '```', '']);
      const result = await lifeboat(['run', file], {
        cwd: workspace,
        onStart: (child) => {
          child.stdout?.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('started')) child.kill('SIGINT');
          });
        },
      });
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /cancelled/);
      await sleep(100);
      assert.equal(existsSync(join(workspace, 'second-ran')), false);
      assert.deepEqual((await readRecords(workspace)).map((record) => record.status), ['cancelled']);
    });

    describe('with the bundled runbooks', () => {
      beforeEach(async () => {
        await mkdir(join(workspace, 'app', 'config'), { recursive: true });
        await writeFile(join(workspace, 'app', 'config', 'app.yaml'), 'port: 5000\n');
        await writeFile(join(workspace, 'app', 'notes.txt'), 'original\n');
        await writeFile(join(workspace, 'lifeboat.yaml'), 'locations: {}\n');
        await mkdir(join(workspace, 'runbooks'));
        for (const name of (await readdir(join(REPO_ROOT, 'runbooks'))).filter((file) => file.endsWith('.runbook.md'))) await copyFile(join(REPO_ROOT, 'runbooks', name), join(workspace, 'runbooks', name));
      });

      /** The bundled runbook, copied into the workspace as a user keeps it. */
      const runbook = (name: string) => join(workspace, 'runbooks', name);

      it('backs up, dry-runs the restore with real archive names, then restores', async () => {
        const backup = await lifeboat(['run', runbook('local-backup.runbook.md'), '--param', 'source=app', '--param', 'keep=2', '--json'], { cwd: workspace });
        assert.equal(backup.code, 0, backup.stderr);
        const created = JSON.parse(backup.stdout.split('\n')[0]!) as { result: { path: string } };
        assert.ok(existsSync(created.result.path));

        const dry = await lifeboat(['run', runbook('local-restore.runbook.md'), '--param', 'target=restored', '--dry-run', '--json'], { cwd: workspace });
        assert.equal(dry.code, 0, dry.stderr);
        const steps = dry.stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; status: string; result: { operations?: { target: string }[] } });
        // The listing only reads, so it runs; everything after it is planned with the archive it found.
        assert.deepEqual(steps.map((step) => [step.action, step.status]), [
          ['archive.list', 'succeeded'],
          ['archive.verify', 'planned'],
          ['archive.restore', 'planned'],
          ['shell', 'planned'],
        ]);
        assert.ok(JSON.stringify(steps[2]!.result).includes('config/app.yaml'));
        assert.equal(existsSync(join(workspace, 'restored')), false);

        const restore = await lifeboat(['run', runbook('local-restore.runbook.md'), '--param', 'target=restored'], { cwd: workspace });
        assert.equal(restore.code, 0, restore.stderr);
        assert.equal(await readFile(join(workspace, 'restored', 'notes.txt'), 'utf8'), 'original\n');
      });

      it('restores the archive named by `archive`, the newest by default, and names a missing one', async () => {
        const first = await lifeboat(['run', runbook('local-backup.runbook.md'), '--param', 'source=app', '--json'], { cwd: workspace });
        assert.equal(first.code, 0, first.stderr);
        const { result: made } = JSON.parse(first.stdout.split('\n')[0]!) as { result: { path: string } };
        // An older backup, as an earlier day would have left it (the name carries the time).
        const older = join(workspace, 'backups', 'backup-20200101-000000.tar.gz');
        await rename(made.path, older);
        await rename(`${made.path}.sha256`, `${older}.sha256`);
        await writeFile(join(workspace, 'app', 'notes.txt'), 'changed\n');
        const second = await lifeboat(['run', runbook('local-backup.runbook.md'), '--param', 'source=app'], { cwd: workspace });
        assert.equal(second.code, 0, second.stderr);

        const chosen = await lifeboat(['run', runbook('local-restore.runbook.md'), '--param', 'target=chosen', '--param', 'archive=backup-20200101-000000.tar.gz'], { cwd: workspace });
        assert.equal(chosen.code, 0, chosen.stderr);
        assert.equal(await readFile(join(workspace, 'chosen', 'notes.txt'), 'utf8'), 'original\n');

        const newest = await lifeboat(['run', runbook('local-restore.runbook.md'), '--param', 'target=newest'], { cwd: workspace });
        assert.equal(newest.code, 0, newest.stderr);
        assert.equal(await readFile(join(workspace, 'newest', 'notes.txt'), 'utf8'), 'changed\n');

        const missing = await lifeboat(['run', runbook('local-restore.runbook.md'), '--param', 'target=none', '--param', 'archive=backup-19990101.tar.gz'], { cwd: workspace });
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /archive backup-19990101\.tar\.gz is not in .*backups; the newest with prefix backup are backup-\d{8}-\d{6}\.tar\.gz, backup-20200101-000000\.tar\.gz/);
        assert.equal(existsSync(join(workspace, 'none')), false);
      });

      it('refuses a step that overwrites data without --yes when nobody can answer, and runs it with --yes', async () => {
        const backup = await lifeboat(['run', runbook('local-backup.runbook.md'), '--param', 'source=app'], { cwd: workspace });
        assert.equal(backup.code, 0, backup.stderr);
        await writeFile(join(workspace, 'app', 'notes.txt'), 'changed since the backup\n');

        const refused = await lifeboat(['run', runbook('local-restore.runbook.md'), '--param', 'target=app', '--param', 'overwrite=true'], { cwd: workspace });
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /Plan\*\* \(destructive\)/);
        assert.match(refused.stderr, /pass --yes/);
        assert.equal(await readFile(join(workspace, 'app', 'notes.txt'), 'utf8'), 'changed since the backup\n');
        assert.ok((await readRecords(workspace)).some((record) => record.status === 'refused'));

        const confirmed = await lifeboat(['run', runbook('local-restore.runbook.md'), '--param', 'target=app', '--param', 'overwrite=true', '--yes'], { cwd: workspace });
        assert.equal(confirmed.code, 0, confirmed.stderr);
        assert.equal(await readFile(join(workspace, 'app', 'notes.txt'), 'utf8'), 'original\n');
      });

      it('asks on a terminal before overwriting, and does what the answer says', async () => {
        const backup = await lifeboat(['run', runbook('local-backup.runbook.md'), '--param', 'source=app'], { cwd: workspace });
        assert.equal(backup.code, 0, backup.stderr);
        for (const [answer, expected] of [['n', 'changed\n'], ['y', 'original\n']] as const) {
          await writeFile(join(workspace, 'app', 'notes.txt'), 'changed\n');
          const command = `${process.execPath} ${CLI} run ${runbook('local-restore.runbook.md')} --param target=app --param overwrite=true`;
          // `script` gives the CLI a real terminal, as when a person runs it.
          const session = await onTerminal(command, workspace, 'Go ahead? [y/N]', `${answer}\n`);
          assert.match(session.output, /Plan\*\* \(destructive\)/);
          assert.equal(await readFile(join(workspace, 'app', 'notes.txt'), 'utf8'), expected, session.output);
          assert.equal(session.code, answer === 'y' ? 0 : 1, session.output);
        }
      });

      it('plans a step that needs the result of a planned step without failing', async () => {
        const file = join(workspace, 'chain.runbook.md');
        await writeFile(file, ['```lifeboat {id=backup}', 'action: archive.create', 'paths: [app]', 'destination: backups', 'prefix: app', '```', '', '```lifeboat', 'action: archive.verify', 'path: ${steps.backup.path}', '```', ''].join('\n'));
        const result = await lifeboat(['run', file, '--dry-run', '--json'], { cwd: workspace });
        assert.equal(result.code, 0, result.stderr);
        const [create, verify] = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { status: string; result: { summary: string } });
        assert.equal(create!.status, 'planned');
        assert.equal(verify!.status, 'planned');
        assert.match(verify!.result.summary, /uses the result of step `backup`/);
        assert.equal(existsSync(join(workspace, 'backups')), false);
      });
    });

    it('uses the nearest lifeboat.yaml above the runbook as the workspace', async () => {
      await writeFile(join(workspace, 'lifeboat.yaml'), 'locations: {}\n');
      await mkdir(join(workspace, 'runbooks'));
      const file = join(workspace, 'runbooks', 'r.runbook.md');
      await writeFile(file, '```bash\npwd\n```\n');
      const result = await lifeboat(['run', file], { cwd: tmpdir() });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.split('\n')[0], workspace);
      assert.equal((await readRecords(workspace))[0]!.runbook, join('runbooks', 'r.runbook.md'));
    });
  });

  it('lists actions with their parameter schemas', async () => {
    const result = await lifeboat(['actions', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const actions = JSON.parse(result.stdout) as { id: string; destructive: boolean; params: { properties: Record<string, unknown> } }[];
    const ids = actions.map((action) => action.id);
    for (const id of ['shell', 'archive.create', 'archive.verify', 'archive.list', 'archive.restore']) assert.ok(ids.includes(id), id);
    const shell = actions.find((action) => action.id === 'shell');
    assert.ok(shell?.params.properties.script);
  });

  it('exits 2 with usage for unknown commands and options', async () => {
    assert.equal((await lifeboat(['frobnicate'])).code, 2);
    const result = await lifeboat(['run', 'x.md', '--bogus']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown option '--bogus'/);
  });
});
