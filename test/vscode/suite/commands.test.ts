import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { FrigateSimulator } from '../../testbed/frigateSim';
import { solidWebp } from '../../testbed/webp';
import { fixtureUri, readText } from './workspace';

/** What `lifeboat.runAction` resolves to (src/vscode/actionCommand.ts). */
interface RunActionOutcome {
  status: string;
  result?: unknown;
  error?: string;
}

suite('palette actions', () => {
  test('lifeboat.runAction runs an action through the runner and resolves to its result', async () => {
    const created = (await vscode.commands.executeCommand('lifeboat.runAction', {
      action: 'archive.create',
      params: { paths: ['data'], destination: 'command-backups', prefix: 'palette' },
    })) as RunActionOutcome;
    assert.equal(created.status, 'succeeded', created.error);
    const archive = (created.result as { path: string }).path;
    await vscode.workspace.fs.stat(vscode.Uri.file(archive));

    const verified = (await vscode.commands.executeCommand('lifeboat.runAction', { action: 'archive.verify', params: { path: archive } })) as RunActionOutcome;
    assert.equal(verified.status, 'succeeded', verified.error);
    assert.deepEqual((verified.result as { archives: { ok: boolean }[] }).archives.map((entry) => entry.ok), [true]);

    // The run history holds both, as it does for notebook runs and the CLI.
    const runs = await vscode.workspace.fs.readDirectory(fixtureUri('.lifeboat/runs'));
    const records = (await Promise.all(runs.map(async ([name]) => new TextDecoder().decode(await vscode.workspace.fs.readFile(fixtureUri(`.lifeboat/runs/${name}`))))))
      .join('')
      .split('\n')
      .filter((line) => line.includes('"command \\"'))
      .map((line) => JSON.parse(line) as { action: string; status: string });
    assert.deepEqual(records.slice(-2).map((record) => `${record.action} ${record.status}`), ['archive.create succeeded', 'archive.verify succeeded']);
  });

  test('lifeboat.runAction reports invalid parameters by field and changes nothing', async () => {
    const outcome = (await vscode.commands.executeCommand('lifeboat.runAction', {
      action: 'archive.create',
      params: { paths: ['data'], destination: 'never-created', prefix: 'bad/prefix' },
    })) as RunActionOutcome;
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error ?? '', /prefix/);
    await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(fixtureUri('never-created'))));
  });

  test('"Backup Frigate Faces Now" backs up the workspace\'s Frigate into its face backup location', async () => {
    const frigate = await FrigateSimulator.start();
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    try {
      await frigate.addFace('Asha', 'Asha-1.webp', solidWebp({ width: 112, height: 112 }));
      await frigate.addFace('G', 'G-1.webp', solidWebp({ width: 96, height: 96 }));
      const faces = ['frigate:', '  home:', `    url: ${frigate.internalUrl}`, 'locations:', '  frigate-faces:', '    path: palette-faces', ''].join('\n');
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(faces));
      const outcome = (await vscode.commands.executeCommand('lifeboat.backUpFrigateFaces')) as RunActionOutcome;
      assert.equal(outcome.status, 'succeeded', outcome.error);
      const result = outcome.result as { name: string; images: number };
      assert.equal(result.images, 2);
      const written = (await vscode.workspace.fs.readDirectory(fixtureUri('palette-faces'))).map(([name]) => name).sort();
      assert.deepEqual(written, ['.lifeboat-verified.json', result.name, `${result.name}.sha256`]);
    } finally {
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(original));
      await frigate.stop();
    }
  });
});
