import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { LifeboatApi, RunNode } from '../../../src/vscode/api';
import { FrigateSimulator } from '../../testbed/frigateSim';
import { KubeApiSimulator } from '../../testbed/kubeSim';
import { startLab } from '../../testbed/lab';
import { S3RVER_CREDENTIALS } from '../../testbed/s3rver';
import { startSshd } from '../../testbed/sshd';
import { solidWebp } from '../../testbed/webp';
import { withPrompts, type ShownMessage } from './prompts';
import { fixtureUri, readText, shown } from './workspace';

/** What `lifeboat.runAction` resolves to (src/vscode/actionCommand.ts). */
interface RunActionOutcome {
  status: string;
  result?: unknown;
  error?: string;
}

/** What "Backup Frigate Faces Now" resolves to (src/vscode/actionCommand.ts): one outcome per location. */
interface RunStepsOutcome {
  status: string;
  steps: (RunActionOutcome & { label: string })[];
}

interface BackupCheck {
  verdict: string;
  reasons: string[];
}

/** The records of the workspace's run history, oldest first. */
async function runRecords(): Promise<{ runbook: string; run: string; action: string; status: string; step?: string }[]> {
  const runs = await vscode.workspace.fs.readDirectory(fixtureUri('.lifeboat/runs'));
  const text = (await Promise.all(runs.map(async ([name]) => new TextDecoder().decode(await vscode.workspace.fs.readFile(fixtureUri(`.lifeboat/runs/${name}`)))))).join('');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { runbook: string; run: string; action: string; status: string; step?: string });
}

/** "Check Frigate Backups" as a person runs it: resolves to the check's outcome and the notifications it showed. */
async function checkFrigateBackups(): Promise<{ outcome: RunActionOutcome; check: BackupCheck; messages: ShownMessage[] }> {
  const { result, messages } = await withPrompts(() => undefined, () => undefined, () => vscode.commands.executeCommand('lifeboat.checkFrigateBackups') as Thenable<RunActionOutcome>);
  assert.equal(result.status, 'succeeded', result.error);
  return { outcome: result, check: result.result as BackupCheck, messages };
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
      const outcome = (await vscode.commands.executeCommand('lifeboat.backUpFrigateFaces')) as RunStepsOutcome;
      assert.deepEqual(outcome.steps.map((step) => [step.label, step.status, step.error]), [['frigate-faces', 'succeeded', undefined]]);
      const result = outcome.steps[0]?.result as { name: string; images: number };
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
      const backup = (await vscode.commands.executeCommand('lifeboat.backUpFrigateFaces')) as RunStepsOutcome;
      assert.equal(backup.status, 'succeeded', JSON.stringify(backup.steps));
      const name = (backup.steps[0]?.result as { name: string }).name;
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
      // As the Backups view shows the archive: size and age.
      assert.match(picks[0]?.items[0]?.description ?? '', /^\d+(\.\d)? (B|KiB) · \d+ (s|min) ago$/);
      assert.deepEqual(picks.map((pick) => pick.title), ['Restore Frigate Faces: which backup?', 'Restore Frigate Faces: how?']);
      const restored = (result.result as { archive: string; people: { name: string; present: number }[] });
      assert.equal(restored.archive, name);
      assert.deepEqual(restored.people.map((person) => [person.name, person.present]), [['Asha', 3], ['G', 5]]);
    });
  });

  test('"Check Frigate Backups" calls a missing face backup stale and a fresh one ok', async () => {
    await withFrigate(['  frigate-faces:', '    path: checked-faces'], async () => {
      await vscode.workspace.fs.createDirectory(fixtureUri('checked-faces'));
      const missing = await checkFrigateBackups();
      assert.equal(missing.check.verdict, 'stale');
      assert.deepEqual(missing.messages.map((message) => [message.severity, message.buttons]), [['warning', ['Show Details']]]);
      assert.match(missing.messages[0]?.message ?? '', /^Check Frigate Backups: stale \(no face backup in .*checked-faces\)\.$/);

      const backup = (await vscode.commands.executeCommand('lifeboat.backUpFrigateFaces')) as RunStepsOutcome;
      assert.equal(backup.status, 'succeeded', JSON.stringify(backup.steps));
      const fresh = await checkFrigateBackups();
      assert.equal(fresh.check.verdict, 'ok');
      assert.deepEqual(fresh.messages.map((message) => [message.severity, message.message]), [['information', 'Check Frigate Backups: ok, the face backups are fresh and complete.']]);
    });
  });

  test('in the demo lab, "Backup Frigate Faces Now" fills every face location and, with "Back Up Frigate Recordings…", turns "Check Frigate Backups" ok; each is a run in the Runs view', async function () {
    this.timeout(240_000);
    const api = await vscode.extensions.getExtension<LifeboatApi>('lifeboat.lifeboat')?.activate();
    assert.ok(api);
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    // The lab's secrets, as a person keeps them with "Lifeboat: Set Secret…".
    const password = 'lab-frigate-admin';
    assert.equal(await vscode.commands.executeCommand('lifeboat.setSecret', 'frigate_password', password), true);
    assert.equal(await vscode.commands.executeCommand('lifeboat.setSecret', 'offsite_secret_key', S3RVER_CREDENTIALS.secretAccessKey), true);
    const lab = await startLab(fixtureUri('.').fsPath, password);
    try {
      const before = await checkFrigateBackups();
      assert.equal(before.check.verdict, 'stale', before.check.reasons.join('\n'));

      const faces = (await vscode.commands.executeCommand('lifeboat.backUpFrigateFaces')) as RunStepsOutcome;
      assert.deepEqual(
        faces.steps.map((step) => [step.label, step.status, step.error]),
        ['frigate-faces', 'nas-faces', 'offsite-faces'].map((location) => [location, 'succeeded', undefined]),
      );
      const answer = (message: ShownMessage) => (message.modal ? (message.buttons.includes('Back Up') ? 'Back Up' : 'Run') : undefined);
      const recordings = await withPrompts((pick) => pick.items, answer, () => vscode.commands.executeCommand('lifeboat.backUpFrigateRecordings') as Thenable<RunActionOutcome>);
      assert.equal(recordings.result.status, 'succeeded', recordings.result.error);

      const after = await checkFrigateBackups();
      assert.equal(after.check.verdict, 'ok', after.check.reasons.join('\n'));
      assert.deepEqual(after.messages.map((message) => [message.severity, message.message]), [['information', 'Check Frigate Backups: ok, the face backups are fresh and complete.']]);

      // Every command is a run in the history: the checks too, and the faces backup as one run with a step per location.
      const records = await runRecords();
      const checks = records.filter((record) => record.runbook === 'command "Check Frigate Backups"');
      assert.deepEqual(checks.slice(-2).map((record) => `${record.action} ${record.status}`), ['frigate.backups.check succeeded', 'frigate.backups.check succeeded']);
      const facesRun = records.filter((record) => record.runbook === 'command "Backup Frigate Faces Now"').slice(-3);
      assert.equal(new Set(facesRun.map((record) => record.run)).size, 1, 'one run');
      assert.deepEqual(facesRun.map((record) => record.step), ['frigate-faces', 'nas-faces', 'offsite-faces']);

      // The Runs view names each run by its title, the outcome shown as an icon.
      api.views.runs.refresh();
      const runs = (await api.views.runs.getChildren()).filter((node): node is RunNode => node.kind === 'run');
      const checkRun = runs.find((node) => node.run.runbook === 'command "Check Frigate Backups"');
      assert.ok(checkRun, 'the check is not in the Runs view');
      const item = api.views.runs.getTreeItem(checkRun);
      assert.equal(shown(item).label, 'Check Frigate Backups');
      assert.equal((item.iconPath as vscode.ThemeIcon).id, 'pass-filled');
      const facesNode = runs.find((node) => node.run.runbook === 'command "Backup Frigate Faces Now"');
      assert.ok(facesNode);
      const steps = (await api.views.runs.getChildren(facesNode)).map((node) => shown(api.views.runs.getTreeItem(node)).label);
      assert.deepEqual(steps, ['Cell 1: frigate.faces.backup (frigate-faces)', 'Cell 2: frigate.faces.backup (nas-faces)', 'Cell 3: frigate.faces.backup (offsite-faces)']);
    } finally {
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(original));
      await vscode.workspace.fs.delete(fixtureUri('backups/frigate'), { recursive: true }).then(undefined, () => undefined);
      await lab.stop();
    }
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
        // As the Backups view shows the pod's cameras.
        ['Back Up Frigate Recordings: which cameras?', [['driveway', '1 day · 8.0 KiB', true], ['garden', '1 day · 8.0 KiB', true]]],
      ]);
      const plan = messages.find((message) => message.modal);
      assert.match(plan?.message ?? '', /^Back Up Frigate Recordings: Copy 2 recordings \(8\.0 KiB\) from pod nvr\/frigate-0/);
      assert.deepEqual(plan?.buttons, ['Back Up']);
      // The modal's message is the plan's summary; its detail lists the operations without repeating it.
      const summary = plan?.message.replace(/^Back Up Frigate Recordings: /, '') ?? '';
      assert.equal(plan?.detail?.includes(summary), false, plan?.detail);
      assert.match(plan?.detail ?? '', /^(read|create|write|copy)\s/);
      const copied = (await vscode.workspace.fs.readDirectory(vscode.Uri.file(join(target, 'garden', day, '07')))).map(([name]) => name).sort();
      assert.deepEqual(copied, ['00.00.mp4', '10.00.mp4']);
      await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(vscode.Uri.file(join(target, 'driveway')))), 'the camera left out is not backed up');
    } finally {
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(original));
      await Promise.all([kube.stop(), sshd.stop()]);
    }
  });
  test('"Push a Folder to Another Host…" picks the hosts, checks each folder as it is typed, and pushes after the plan is agreed to', async () => {
    const sshd = await startSshd();
    const inventory = fixtureUri('lifeboat.yaml');
    const original = await readText(inventory);
    try {
      const source = join(sshd.remoteDir, 'clips');
      const destination = join(sshd.remoteDir, 'copy');
      await vscode.workspace.fs.writeFile(vscode.Uri.file(join(source, 'front', 'a.mp4')), randomBytes(3000));
      const host = `{ host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, identityFile: ${JSON.stringify(sshd.clientKey.privateKeyPath)}, knownHosts: ${JSON.stringify(sshd.knownHostsPath)} }`;
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(['hosts:', `  pi4: ${host}`, `  pi5: ${host}`, ''].join('\n')));

      const hostFor: Record<string, string> = { 'Push a Folder to Another Host: from which host?': 'pi4', 'Push a Folder to Another Host: to which host?': 'pi5' };
      const refused: (string | undefined)[] = [];
      const { result, picks, inputs, messages } = await withPrompts(
        (pick) => pick.items.find((item) => item.label === hostFor[pick.title ?? '']),
        (message) => (message.modal ? 'Push' : undefined),
        () => vscode.commands.executeCommand('lifeboat.pushFolder') as Thenable<RunActionOutcome>,
        async (input) => {
          refused.push(await input.check('clips'), await input.check('/srv/../etc'));
          return input.title?.endsWith('which folder on it?') ? source : destination;
        },
      );
      assert.equal(result.status, 'succeeded', result.error);
      assert.deepEqual(picks.map((pick) => [pick.title, pick.items.map((item) => item.label)]), [
        ['Push a Folder to Another Host: from which host?', ['pi4', 'pi5']],
        ['Push a Folder to Another Host: to which host?', ['pi4', 'pi5']],
      ]);
      assert.deepEqual(inputs.map((input) => [input.title, input.placeHolder]), [
        ['Push a Folder to Another Host: which folder on it?', '/media/frigate/recordings'],
        ['Push a Folder to Another Host: into which folder there?', '/mnt/ssd/recordings'],
      ]);
      // What the box says while a relative path, then one going up, is typed: the action's own checks.
      assert.deepEqual(refused, Array(2).fill(['expected an absolute path on that host, starting with /', 'a path cannot go up with ..']).flat());
      const plan = messages.find((message) => message.modal);
      assert.deepEqual(plan?.buttons, ['Push']);
      assert.match(plan?.detail ?? '', /a\.mp4/);
      const copied = await vscode.workspace.fs.readFile(vscode.Uri.file(join(destination, 'front', 'a.mp4')));
      assert.deepEqual(copied, await vscode.workspace.fs.readFile(vscode.Uri.file(join(source, 'front', 'a.mp4'))));
    } finally {
      await vscode.workspace.fs.writeFile(inventory, new TextEncoder().encode(original));
      await sshd.stop();
    }
  });
});
