import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { FrigateSimulator } from '../../testbed/frigateSim';
import { KubeApiSimulator } from '../../testbed/kubeSim';
import { startSshd } from '../../testbed/sshd';
import { solidWebp } from '../../testbed/webp';
import { withPrompts } from './prompts';
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

  /** A Frigate simulator with a small library and lifeboat.yaml naming it and `locations`; the inventory is put back afterwards. */
  async function withFrigate(locations: string[], work: (frigate: FrigateSimulator) => Promise<void>): Promise<void> {
    const frigate = await FrigateSimulator.start();
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    try {
      for (const [person, count] of [['Asha', 3], ['G', 5]] as const) {
        for (let index = 1; index <= count; index++) await frigate.addFace(person, `${person}-${index}.webp`, solidWebp({ width: 112, height: 112, padding: Buffer.alloc(index * 50, index) }));
      }
      const yaml = ['frigate:', '  home:', `    url: ${frigate.internalUrl}`, 'locations:', ...locations, ''].join('\n');
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(yaml));
      await work(frigate);
    } finally {
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(original));
      await frigate.stop();
    }
  }

  test('"Restore Frigate Faces…" lists the backups with their per-person counts and restores the one picked', async () => {
    await withFrigate(['  frigate-faces:', '    path: restore-faces'], async (frigate) => {
      const backup = (await vscode.commands.executeCommand('lifeboat.backUpFrigateFaces')) as RunActionOutcome;
      assert.equal(backup.status, 'succeeded', backup.error);
      const name = (backup.result as { name: string }).name;
      // An archive of the old script (one top folder, no summary): listed without counts.
      await vscode.workspace.fs.writeFile(fixtureUri('old-script/faces-backup/Asha/Asha-1.webp'), solidWebp({ width: 112, height: 112 }));
      execFileSync('tar', ['czf', fixtureUri('restore-faces/frigate-faces-20260206.tar.gz').fsPath, '-C', fixtureUri('old-script').fsPath, 'faces-backup']);
      for (const person of ['Asha', 'G']) await vscode.workspace.fs.delete(vscode.Uri.joinPath(vscode.Uri.file(frigate.facesDir), person), { recursive: true });

      const { result, picks } = await withPrompts(
        (pick) => (pick.title?.endsWith('which backup?') ? pick.items.find((item) => item.label === name) : pick.items.find((item) => item.label === 'api')),
        () => undefined,
        () => vscode.commands.executeCommand('lifeboat.restoreFrigateFaces') as Thenable<RunActionOutcome>,
      );
      assert.equal(result.status, 'succeeded', result.error);
      const archives = picks[0]?.items.map((item) => [item.label, item.detail]);
      assert.deepEqual(archives, [
        [name, 'Asha 3 · G 5'],
        ['frigate-faces-20260206.tar.gz', 'old script format'],
      ]);
      assert.match(picks[0]?.items[0]?.description ?? '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} · \d+(\.\d)? (B|KiB)$/);
      assert.deepEqual(picks.map((pick) => pick.title), ['Restore Frigate Faces: which backup?', 'Restore Frigate Faces: how?']);
      const restored = (result.result as { archive: string; people: { name: string; present: number }[] });
      assert.equal(restored.archive, name);
      assert.deepEqual(restored.people.map((person) => [person.name, person.present]), [['Asha', 3], ['G', 5]]);
    });
  });

  test('"Check Frigate Backups" calls a missing face backup stale and a fresh one ok', async () => {
    await withFrigate(['  frigate-faces:', '    path: checked-faces'], async () => {
      await vscode.workspace.fs.createDirectory(fixtureUri('checked-faces'));
      const missing = await withPrompts(() => undefined, () => undefined, () => vscode.commands.executeCommand('lifeboat.checkFrigateBackups') as Thenable<{ verdict: string }>);
      assert.equal(missing.result.verdict, 'stale');
      assert.deepEqual(missing.messages.map((message) => [message.severity, message.buttons]), [['warning', ['Show Details']]]);
      assert.match(missing.messages[0]?.message ?? '', /^Check Frigate Backups: stale \(no face backup in .*checked-faces\)\.$/);

      const backup = (await vscode.commands.executeCommand('lifeboat.backUpFrigateFaces')) as RunActionOutcome;
      assert.equal(backup.status, 'succeeded', backup.error);
      const fresh = await withPrompts(() => undefined, () => undefined, () => vscode.commands.executeCommand('lifeboat.checkFrigateBackups') as Thenable<{ verdict: string }>);
      assert.equal(fresh.result.verdict, 'ok');
      assert.deepEqual(fresh.messages.map((message) => [message.severity, message.message]), [['information', 'Check Frigate Backups: ok, the face backups are fresh and complete.']]);
    });
  });

  test('"Back Up Frigate Recordings…" backs up the cameras picked after the plan is agreed to', async () => {
    const [kube, sshd] = await Promise.all([KubeApiSimulator.start(), startSshd()]);
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    try {
      const pod = kube.addPod({ namespace: 'nvr', name: 'frigate-0', labels: { app: 'frigate' }, containers: ['frigate'] });
      const day = new Date().toISOString().slice(0, 10);
      for (const camera of ['driveway', 'garden']) {
        for (const minute of ['00', '10']) await vscode.workspace.fs.writeFile(vscode.Uri.file(join(pod.root, 'media', 'frigate', 'recordings', day, '07', camera, `${minute}.00.mp4`)), randomBytes(4096));
      }
      const target = join(sshd.remoteDir, 'recordings');
      const yaml = [
        'frigate:',
        '  home:',
        '    url: http://127.0.0.1:9',
        '    files: { cluster: k3s, namespace: nvr, labelSelector: app=frigate }',
        'clusters:',
        `  k3s: { kubeconfig: ${JSON.stringify(await kube.writeKubeconfig())} }`,
        'hosts:',
        `  nas: { host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, identityFile: ${JSON.stringify(sshd.clientKey.privateKeyPath)}, knownHosts: ${JSON.stringify(sshd.knownHostsPath)} }`,
        'locations:',
        `  frigate-recordings: { host: nas, path: ${JSON.stringify(target)} }`,
        '',
      ].join('\n');
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(yaml));

      const { result, picks, messages } = await withPrompts(
        (pick) => pick.items.filter((item) => item.label === 'garden'),
        (message) => (message.modal ? 'Back Up' : undefined),
        () => vscode.commands.executeCommand('lifeboat.backUpFrigateRecordings') as Thenable<RunActionOutcome>,
      );
      assert.equal(result.status, 'succeeded', result.error);
      assert.deepEqual(picks.map((pick) => [pick.title, pick.items.map((item) => [item.label, item.description, item.picked])]), [
        ['Back Up Frigate Recordings: which cameras?', [['driveway', '1 day(s) · 2 files · 8.0 KiB', true], ['garden', '1 day(s) · 2 files · 8.0 KiB', true]]],
      ]);
      const plan = messages.find((message) => message.modal);
      assert.match(plan?.message ?? '', /^Back Up Frigate Recordings: Copy 2 recordings \(8\.0 KiB\) from pod nvr\/frigate-0/);
      assert.deepEqual(plan?.buttons, ['Back Up']);
      const copied = (await vscode.workspace.fs.readDirectory(vscode.Uri.file(join(target, 'garden', day, '07')))).map(([name]) => name).sort();
      assert.deepEqual(copied, ['00.00.mp4', '10.00.mp4']);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(vscode.Uri.file(join(target, 'driveway')))), 'the camera left out is not backed up');
    } finally {
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(original));
      await Promise.all([kube.stop(), sshd.stop()]);
    }
  });
});
