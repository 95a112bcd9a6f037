import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/paths';

interface Manifest {
  icon?: string;
  categories?: string[];
  keywords?: string[];
  repository?: unknown;
  extensionKind?: string[];
}

/**
 * vsce's own file collection and checks (manifest, README, CHANGELOG, icon), as `vsce package` runs
 * them, without the release build and the zip: prints the VSIX's file list. Its warnings, such as the
 * question it asks when `repository` is missing, go to stderr.
 */
const collectWithVsce = `
const { collect, printAndValidatePackagedFiles, readManifest } = require('@vscode/vsce/out/package');
(async () => {
  const manifest = await readManifest(process.cwd());
  const files = await collect(manifest, { cwd: process.cwd(), dependencies: false });
  // Exits 1 on what vsce refuses of the file lists (a .vscodeignore beside package.json "files"); prints the tree to stdout.
  await printAndValidatePackagedFiles(files, process.cwd(), manifest, {});
  process.stdout.write('\\n' + JSON.stringify(files.map((file) => file.path)) + '\\n');
})();
`;

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  assert.ok(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('the extension package', function () {
  this.timeout(60_000);

  it('passes vsce\'s checks with no escape flag and nothing asked, and holds only what the extension runs', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['-e', collectWithVsce], { cwd: REPO_ROOT });
    assert.equal(stderr, '', 'vsce warned');
    const files = (JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as string[]).map((file) => file.replace(/^extension\//, ''));
    for (const expected of ['package.json', 'readme.md', 'changelog.md', 'LICENSE.txt', 'media/icon.png', 'dist/extension.js', 'dist/cli.js', 'dist/cli-main.js']) assert.ok(files.includes(expected), `${expected} is packaged`);
    const packageFiles = ['extension.vsixmanifest', '[Content_Types].xml', 'package.json', 'readme.md', 'changelog.md', 'LICENSE.txt'];
    const unexpected = files.filter((file) => !/^(dist|media|runbooks)\//.test(file) && !packageFiles.includes(file));
    assert.deepEqual(unexpected, []);
    assert.deepEqual(files.filter((file) => file.endsWith('.map')), [], 'no source maps');
  });

  it('has the fields a published extension has: a PNG icon of 128x128 or more, categories, keywords, repository, runs in the workspace', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;
    const icon = manifest.icon ?? '';
    assert.match(icon, /\.png$/, 'icon');
    const { width, height } = pngSize(await readFile(join(REPO_ROOT, icon)));
    assert.ok(width >= 128 && height >= 128, `icon is ${width}x${height}`);
    assert.ok((manifest.categories ?? []).length > 0, 'categories');
    assert.ok((manifest.keywords ?? []).length > 0, 'keywords');
    assert.ok(manifest.repository, 'repository');
    // Where the workspace, its SSH keys and kubeconfig are, so over Remote-SSH it runs on the remote.
    assert.deepEqual(manifest.extensionKind, ['workspace']);
  });
});
