import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { BackupNode, LifeboatApi, ModelTreeNode } from '../../../src/vscode/api';
import { FrigateSimulator } from '../../testbed/frigateSim';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '../../testbed/s3rver';
import { freePort, startSshd, type Sshd } from '../../testbed/sshd';
import { solidWebp } from '../../testbed/webp';
import { fixtureUri, outputText, readText, RESULT_MIME, shown, waitFor } from './workspace';

const EXTENSION_ID = 'lifeboat.lifeboat';
const FACES_RESTORE_RUNBOOK = 'frigate-faces-restore.runbook.md';

/** What `lifeboat.runAction` resolves to (src/vscode/actionCommand.ts). */
interface RunActionOutcome {
  status: string;
  result?: unknown;
  error?: string;
}

interface FacesBackupResult {
  name: string;
  bytes: number;
  images: number;
}

interface FacesRestoreResult {
  frigate: string;
  archive: string;
  method: string;
  restored: number;
  people: { name: string }[];
}

const LIBRARY = { Asha: 3, G: 2 } as const;
const HOME_BACKUPS = 'backups: { faces: [frigate-faces, offsite, piglet], recordings: [nas-recordings, frigate-faces] }';
const S3_SECRET = 'tree_s3_secret_key';

/** Recordings in the backup layout on the SSH host, `<camera>/<day>/<hour>/<MM.SS>.mp4`, with their sizes. */
const RECORDINGS: [camera: string, day: string, hour: string, file: string, bytes: number][] = [
  ['driveway', '2026-02-07', '23', '50.00.mp4', 50],
  ['driveway', '2026-02-08', '06', '00.00.mp4', 100],
  ['driveway', '2026-02-08', '06', '10.00.mp4', 150],
  ['driveway', '2026-02-08', '07', '00.00.mp4', 200],
  ['garden', '2026-02-08', '06', '30.00.mp4', 300],
];

suite('Backups view: Frigate instances, face archives and the face backup status', () => {
  let api: LifeboatApi;
  let frigate: FrigateSimulator;
  let sshd: Sshd;
  let s3: RunningS3rver;
  let originalInventory: string;
  let frigateInventory: string;
  const backups: Record<'local' | 's3' | 'ssh', FacesBackupResult> = { local: { name: '', bytes: 0, images: 0 }, s3: { name: '', bytes: 0, images: 0 }, ssh: { name: '', bytes: 0, images: 0 } };
  const inventoryUri = () => fixtureUri('lifeboat.yaml');
  const remoteFolder = () => join(sshd.remoteDir, 'faces');
  const recordingsFolder = () => join(sshd.remoteDir, 'recordings');

  async function writeInventory(text: string): Promise<void> {
    await vscode.workspace.fs.writeFile(inventoryUri(), new TextEncoder().encode(text));
    api.views.backups.refresh();
  }

  async function backUp(location: string): Promise<FacesBackupResult> {
    const outcome = (await vscode.commands.executeCommand('lifeboat.runAction', { action: 'frigate.faces.backup', params: { frigate: 'home', location } })) as RunActionOutcome;
    assert.equal(outcome.status, 'succeeded', outcome.error);
    return outcome.result as FacesBackupResult;
  }

  suiteSetup(async function () {
    this.timeout(120_000);
    const extension = vscode.extensions.getExtension<LifeboatApi>(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded`);
    api = await extension.activate();
    [frigate, sshd, s3] = await Promise.all([FrigateSimulator.start(), startSshd(), startS3rver({ buckets: ['backups'] })]);
    assert.equal(await vscode.commands.executeCommand('lifeboat.setSecret', S3_SECRET, S3RVER_CREDENTIALS.secretAccessKey), true);
    for (const [person, count] of Object.entries(LIBRARY)) {
      for (let index = 1; index <= count; index++) await frigate.addFace(person, `${person}-${index}.webp`, solidWebp({ width: 112 + index, height: 112 }));
    }
    await frigate.addFace('train', 'attempt-1.webp', solidWebp({ width: 100, height: 100 }));
    for (const [camera, day, hour, file, bytes] of RECORDINGS) {
      await mkdir(join(recordingsFolder(), camera, day, hour), { recursive: true });
      await writeFile(join(recordingsFolder(), camera, day, hour, file), Buffer.alloc(bytes, 7));
    }
    const host = (name: string, port: number) =>
      `  ${name}: { host: ${sshd.host}, port: ${port}, user: ${sshd.user}, identityFile: ${sshd.clientKey.privateKeyPath}, knownHosts: ${sshd.knownHostsPath}, connectTimeoutSeconds: 5 }`;
    frigateInventory = [
      'frigate:',
      '  home:',
      `    url: ${frigate.internalUrl}`,
      `    ${HOME_BACKUPS}`,
      '  lab:',
      `    url: ${frigate.url}`,
      '    tls: { insecure: true }',
      'hosts:',
      host('piglet', sshd.port),
      host('closed', await freePort()),
      'stores:',
      `  garage: { endpoint: ${s3.endpoint}, bucket: backups, credentials: { accessKeyId: ${S3RVER_CREDENTIALS.accessKeyId}, secretAccessKey: secret:${S3_SECRET} } }`,
      'locations:',
      '  frigate-faces: { path: tree-faces }',
      '  offsite: { store: garage, prefix: frigate/faces }',
      `  piglet: { host: piglet, path: ${remoteFolder()} }`,
      '  unreachable: { host: closed, path: /srv/faces }',
      `  nas-recordings: { host: piglet, path: ${recordingsFolder()} }`,
      '',
    ].join('\n');
    originalInventory = await readText(inventoryUri());
    await writeInventory(frigateInventory);
    // Archive names carry the second they were made in: each is newer than the one before, by name too.
    const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1100));
    backups.local = await backUp('frigate-faces');
    await nextSecond();
    backups.s3 = await backUp('offsite');
    await nextSecond();
    backups.ssh = await backUp('piglet');
    assert.equal(new Set([backups.local.name, backups.s3.name, backups.ssh.name]).size, 3);
  });

  suiteTeardown(async () => {
    await vscode.workspace.fs.writeFile(inventoryUri(), new TextEncoder().encode(originalInventory));
    api.views.backups.refresh();
    await api.faceBackupStatus.refresh();
    await Promise.all([frigate?.stop(), sshd?.stop(), s3?.stop()]);
  });

  const show = (node: BackupNode) => shown(api.views.backups.getTreeItem(node));
  const modelNodes = (nodes: readonly BackupNode[]) => nodes.filter((node): node is ModelTreeNode => node.type === 'node');
  /** What a node is and which operations its context menu offers. */
  const kindAndOperations = (node: BackupNode) => (node.type === 'node' ? [node.node.kind, ...node.node.operations.map((operation) => operation.id)].join(' ') : 'loadMore');

  async function root(kind: 'frigate' | 'location', name: string): Promise<ModelTreeNode> {
    const found = modelNodes(await api.views.backups.getChildren()).find((node) => node.node.kind === kind && node.node.label === name);
    assert.ok(found, `no ${kind} ${name} in the Backups view`);
    return found;
  }

  test('a Frigate instance shows its URL and a TLS opt-out, and lists its people with image counts, train apart', async () => {
    const rootNodes = await api.views.backups.getChildren();
    const roots = rootNodes.map(show);
    assert.deepEqual(
      rootNodes.map((node) => [show(node).label, kindAndOperations(node)]),
      [
        ['home', 'frigate check'],
        ['lab', 'frigate check'],
        ['frigate-faces', 'location'],
        ['offsite', 'location'],
        ['piglet', 'location'],
        ['unreachable', 'location'],
        ['nas-recordings', 'location'],
        ['piglet', 'host check installCli schedule'],
        ['closed', 'host check installCli schedule'],
        ['garage', 's3.store check lifecycle'],
      ],
    );
    assert.equal(modelNodes(rootNodes)[1]?.node.status?.level, 'warning', 'TLS not verified');
    const [home, lab] = roots;
    assert.equal(home?.description, frigate.internalUrl);
    // The tooltip is Markdown: its punctuation comes escaped.
    assert.ok(home?.tooltip.replace(/\\/g, '').includes(`URL: ${frigate.internalUrl}`), home?.tooltip);
    assert.doesNotMatch(home?.tooltip ?? '', /not verified/);
    assert.equal(lab?.description, `${frigate.url} · TLS not verified`);
    assert.match(lab?.tooltip ?? '', /TLS certificates are \*\*not verified\*\* \(`tls\.insecure: true` in lifeboat\.yaml\)/);

    const childNodes = await api.views.backups.getChildren(await root('frigate', 'home'));
    assert.deepEqual(
      childNodes.map((node) => [show(node).label, show(node).description, kindAndOperations(node)]),
      [
        ['Asha', '3 images', 'frigate.person'],
        ['G', '2 images', 'frigate.person'],
        ['train', '1 image · recent recognition attempts, not a person', 'frigate.train'],
        ['Recordings backup', 'nas-recordings', 'frigate.recordings'],
        ['Recordings backup frigate-faces', "`frigate.home.backups.recordings`: location 'frigate-faces' needs a `host` and `path` (recordings are backed up to an SSH host)", 'frigate.recordings.invalid'],
      ],
    );
    // A person lists their images, by file name.
    const images = await api.views.backups.getChildren(childNodes[0]);
    assert.deepEqual(images.map((node) => kindAndOperations(node)), Array<string>(LIBRARY.Asha).fill('frigate.image'));
  });

  test('a recordings backup on an SSH host lists its cameras, and each camera its days with hours, files and size', async () => {
    const recordings = modelNodes(await api.views.backups.getChildren(await root('frigate', 'home'))).find((node) => node.node.kind === 'frigate.recordings');
    assert.ok(recordings);
    const cameras = await api.views.backups.getChildren(recordings);
    assert.deepEqual(
      cameras.map((node) => [show(node).label, show(node).description, kindAndOperations(node)]),
      [
        ['driveway', '2 days · 500 B', 'frigate.camera'],
        ['garden', '1 day · 300 B', 'frigate.camera'],
      ],
    );
    const days = async (camera: BackupNode) => (await api.views.backups.getChildren(camera)).map((node) => [show(node).label, show(node).description]);
    assert.deepEqual(await days(cameras[0]!), [
      ['2026-02-08', '2 h · 3 files · 450 B'],
      ['2026-02-07', '1 h · 1 file · 50 B'],
    ]);
    assert.deepEqual(await days(cameras[1]!), [['2026-02-08', '1 h · 1 file · 300 B']]);
  });

  test('an instance or a location that cannot be listed shows an error node that opens the log', async () => {
    // The simulator's authenticated port wants a login that `lab` does not give.
    const [labError, ...labRest] = (await api.views.backups.getChildren(await root('frigate', 'lab'))).map(show);
    assert.equal(labRest.length, 0);
    assert.deepEqual([labError?.label, labError?.command], ['Failed to load (click for log)', 'lifeboat.showLog']);
    assert.match(labError?.description ?? '', /^listing frigate\/lab failed: /);

    const [locationError, ...locationRest] = (await api.views.backups.getChildren(await root('location', 'unreachable'))).map(show);
    assert.equal(locationRest.length, 0);
    assert.deepEqual([locationError?.label, locationError?.command], ['Failed to load (click for log)', 'lifeboat.showLog']);
    assert.match(locationError?.description ?? '', /^listing locations\/unreachable failed: /);
  });

  test('face archives in a local, an SSH and an S3 location show size, age and verified state, with only the menu entries that work', async () => {
    const local = modelNodes(await api.views.backups.getChildren(await root('location', 'frigate-faces')));
    assert.deepEqual(local.map(({ node }) => [node.kind, node.facts.name, node.facts.bytes, node.facts.faces]), [['archive', backups.local.name, backups.local.bytes, true]]);
    const localItem = show(local[0]!);
    assert.match(localItem.description, /^\d+(\.\d)? (B|KiB) · \d+ (s|min) ago$/);
    assert.equal(local[0]?.node.facts.verified, 'ok', 'the backup verifies what it writes');

    const piglet = await root('location', 'piglet');
    assert.equal(show(piglet).description, `piglet:${remoteFolder()}`);
    const remote = modelNodes(await api.views.backups.getChildren(piglet));
    assert.deepEqual(remote.map(({ node }) => [node.kind, node.facts.name, node.facts.bytes, node.facts.faces]), [['archive', backups.ssh.name, backups.ssh.bytes, true]]);
    const remoteItem = show(remote[0]!);
    assert.match(remoteItem.description, /^\d+(\.\d)? (B|KiB) · \d+ (s|min) ago · not verified here$/);
    assert.equal(kindAndOperations(remote[0]!), 'archive restore');
    assert.match(remoteItem.tooltip, /Verification is recorded for local archives only/);

    const offsite = await root('location', 'offsite');
    assert.equal(show(offsite).description, 'garage:frigate/faces');
    const inStore = modelNodes(await api.views.backups.getChildren(offsite));
    assert.deepEqual(inStore.map((node) => [node.node.kind, node.node.facts.name, node.node.facts.bytes, kindAndOperations(node)]), [['archive', backups.s3.name, backups.s3.bytes, 'archive restore']]);

    // The context menu entries as package.json declares them, applied to these nodes and to a remote archive of another kind.
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    const menus = (extension?.packageJSON as { contributes: { menus: { 'view/item/context': { command: string; when: string }[] } } }).contributes.menus['view/item/context'];
    const offered = (contextValue: string) =>
      menus
        .filter((entry) => {
          const pattern = /viewItem =~ \/(.+)\/$/.exec(entry.when)?.[1];
          return entry.when.includes('view == lifeboat.backups') && pattern !== undefined && new RegExp(pattern).test(contextValue);
        })
        .map((entry) => entry.command);
    assert.deepEqual(offered(localItem.contextValue ?? ''), ['lifeboat.backups.verify', 'lifeboat.backups.restore', 'lifeboat.backups.delete']);
    assert.deepEqual(offered(remoteItem.contextValue ?? ''), ['lifeboat.backups.restore']);
    assert.deepEqual(offered('kind:archive'), []);
  });

  /** Runs the restore step of an opened faces restore runbook and resolves to its result. */
  async function runRestoreStep(runbook: vscode.Uri): Promise<FacesRestoreResult> {
    const notebook = vscode.workspace.notebookDocuments.find((candidate) => candidate.uri.toString() === runbook.toString());
    assert.equal(notebook?.notebookType, 'lifeboat-runbook');
    const index = notebook.getCells().findIndex((cell) => cell.document.getText().includes('action: frigate.faces.restore'));
    const step = notebook.cellAt(index);
    await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: index, end: index + 1 }], document: runbook });
    await waitFor('the restore step to end', () => step.executionSummary?.success !== undefined, 60_000);
    assert.equal(step.executionSummary?.success, true, outputText(step));
    return JSON.parse(outputText(step, RESULT_MIME)) as FacesRestoreResult;
  }

  test('Restore… on a face archive opens the faces restore runbook bound to that archive, and its restore step restores from it', async function () {
    this.timeout(120_000);
    const [remote] = modelNodes(await api.views.backups.getChildren(await root('location', 'piglet')));
    assert.ok(remote);
    assert.equal((await root('location', 'piglet')).node.facts.facesOf, 'home');
    // A person lost from the library: the restore through the API puts their images back.
    await rm(join(frigate.facesDir, 'G'), { recursive: true });

    const bundled = await vscode.commands.executeCommand<vscode.Uri>('lifeboat.backups.restore', remote);
    assert.match(bundled.path, new RegExp(`/runbooks/${FACES_RESTORE_RUNBOOK.replace(/\./g, '\\.')}$`));
    assert.equal(vscode.workspace.getWorkspaceFolder(bundled), undefined, 'no workspace copy yet: the bundled runbook');
    // Only the method is chosen here; frigate, location and archive are what Restore… bound.
    await vscode.commands.executeCommand('lifeboat.setParameters', { notebook: bundled, values: { method: 'api' } });
    const fromSsh = await runRestoreStep(bundled);
    assert.deepEqual([fromSsh.frigate, fromSsh.archive, fromSsh.method, fromSsh.restored], ['home', backups.ssh.name, 'api', LIBRARY.G]);
    assert.equal((await readdir(join(frigate.facesDir, 'G'))).length, LIBRARY.G);

    // A workspace copy of the runbook is preferred, and a local face archive is bound the same way.
    const workspaceCopy = fixtureUri(FACES_RESTORE_RUNBOOK);
    await vscode.workspace.fs.copy(bundled, workspaceCopy);
    try {
      const [local] = modelNodes(await api.views.backups.getChildren(await root('location', 'frigate-faces')));
      assert.ok(local);
      const opened = await vscode.commands.executeCommand<vscode.Uri>('lifeboat.backups.restore', local);
      assert.equal(opened.toString(), workspaceCopy.toString());
      await vscode.commands.executeCommand('lifeboat.setParameters', { notebook: opened, values: { method: 'api' } });
      const fromLocal = await runRestoreStep(opened);
      assert.deepEqual([fromLocal.frigate, fromLocal.archive, fromLocal.restored], ['home', backups.local.name, 0]);
      assert.deepEqual(fromLocal.people.map((person) => person.name).sort(), Object.keys(LIBRARY).sort());
    } finally {
      await vscode.workspace.fs.delete(workspaceCopy);
    }
  });

  test('the status bar shows the age of the newest face backup, a warning when it is older than allowed, and nothing without Frigate', async function () {
    this.timeout(90_000);
    const status = api.faceBackupStatus;
    await status.refresh();
    assert.equal(status.shown, true);
    assert.match(status.item.text, /^\$\(shield\) Faces: \d+ (s|min) ago$/);
    assert.equal(status.item.backgroundColor, undefined);
    assert.match(String(status.item.tooltip), new RegExp(`^Newest face backup: ${backups.ssh.name.replace(/\./g, '\\.')}\\nIn piglet, made `));
    assert.equal(status.item.command, 'lifeboat.checkFrigateBackups');

    // Only an old archive (a real one, under a name from 2020) in the face backup location.
    const old = fixtureUri('old-faces/frigate-faces-20200101-000000.tar.gz');
    await vscode.workspace.fs.copy(vscode.Uri.file(join(fixtureUri('tree-faces').fsPath, backups.local.name)), old);
    await writeInventory(frigateInventory.replace(HOME_BACKUPS, 'backups: { faces: [old-faces] }').replace('locations:\n', 'locations:\n  old-faces: { path: old-faces }\n'));
    await status.refresh();
    assert.match(status.item.text, /^\$\(warning\) Faces: \d+ d ago$/);
    assert.equal((status.item.backgroundColor as vscode.ThemeColor | undefined)?.id, 'statusBarItem.warningBackground');
    assert.match(String(status.item.tooltip), /Older than allowed\. Allowed age: 26 h/);

    const settings = vscode.workspace.getConfiguration('lifeboat.frigate');
    await settings.update('faceBackupMaxAgeHours', 24 * 365 * 100, vscode.ConfigurationTarget.Workspace);
    try {
      await status.refresh();
      assert.equal(status.item.backgroundColor, undefined, 'the setting allows a century');
    } finally {
      await settings.update('faceBackupMaxAgeHours', undefined, vscode.ConfigurationTarget.Workspace);
    }

    // A backup run refreshes the item by itself.
    await backUp('old-faces');
    await waitFor('the status bar to show the new backup', () => /^\$\(shield\) Faces: \d+ s ago$/.test(status.item.text));
    assert.equal(status.item.backgroundColor, undefined);

    await writeInventory('locations:\n  old-faces: { path: old-faces }\n');
    await status.refresh();
    assert.equal(status.shown, false, 'no Frigate instance: no face backup item');
  });
});
