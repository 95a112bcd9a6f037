import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path, { posix } from 'node:path';
import { Readable } from 'node:stream';
import { Pack } from 'tar';
import * as z from 'zod';
import { engines } from '../../../package.json';
import { remoteCommand, sshConnectionFor, type SshConnection } from '../../clients/ssh';
import type { ActionContext, PlannedOperation } from '../../core/actions/spec';
import { defineAction } from '../../core/actions/spec';
import { cancellationOr, errorMessage } from '../../core/errors';
import { formatBytes, markdownTable, printable } from '../../core/render';
import { resolveUserPath } from '../paths';
import { checkLauncher, existingFiles, hostFacts, installOnHost, isAtLeast, LAUNCHER_MARKER, parseNodeVersion, type ExistingFile, type FileToWrite, type HostFacts, type NodeVersion } from './cliHost';
import { CRON_PATH } from './crontab';
import { crontabText } from './fields';

/**
 * The CLI's entry, its bundle, and the sibling bundles it requires at run time from its own folder
 * (esbuild.config.mjs `siblingBundles`); the other files of dist/ belong to the extension.
 */
const CLI_BUNDLE_FILES = ['cli.js', 'cli-main.js', 'ssh2.js', 's3-sdk.js', 'kubernetes-client.js'] as const;

const MINIMUM_NODE = minimumNode(engines.node);

const UPLOAD_READ_BYTES = 256 * 1024;

/** Linux's limit on a path, its terminating NUL included. */
const PATH_MAX = 4096;

const DEFAULT_LAUNCHER = '~/.local/bin/lifeboat';
const DEFAULT_FOLDER_ROOT = '~/.local/share/lifeboat';

const NODESOURCE_ADVICE =
  'On Debian or Ubuntu, as root: `curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs` (NodeSource; Debian 13\'s own `apt-get install nodejs` is 20.19 and also works, Debian 12\'s is 18 and too old); elsewhere see https://nodejs.org/en/download. Then run this again.';

/** A path on the host: absolute, or under the home folder there; no line break, so the launcher's path fits a crontab line. */
const hostPath = crontabText
  .refine((value) => posix.isAbsolute(value) || value.startsWith('~/'), 'must be an absolute path on the host, or start with ~/ (the home folder there)')
  .refine((value) => Buffer.byteLength(value) < PATH_MAX, `is longer than the ${PATH_MAX - 1} bytes a path can have`);

const cliInstallParams = z
  .object({
    host: z.string().min(1).describe('The SSH host to install the CLI on: a host of `hosts:` in lifeboat.yaml, or an alias of ~/.ssh/config.'),
    folder: hostPath.optional().describe(`The folder on the host the CLI's files go into; ${DEFAULT_FOLDER_ROOT}/<version> unless given, so versions sit side by side.`),
    launcher: hostPath.default(DEFAULT_LAUNCHER).describe('The `lifeboat` command written on the host, which runs the CLI in `folder`.'),
    node: crontabText
      .min(1)
      .refine((value) => posix.isAbsolute(value) || !value.includes('/'), 'must be an absolute path on the host, or a command name looked up on its PATH')
      .default('node')
      .describe(`The Node.js (${engines.node}) the launcher runs the CLI with: \`node\` on the PATH of an SSH session there unless given (give the path of one installed with nvm or under /opt).`),
    bundle: z
      .string()
      .min(1)
      .optional()
      .describe("The local folder holding the CLI to copy (cli.js and the bundles it loads, with its build's package.json one folder up). The running Lifeboat's own unless given: the extension's dist/ folder, or the folder of the `lifeboat` that runs this."),
  })
  .strict();

type CliInstallParams = z.output<typeof cliInstallParams>;

export interface CliInstallResult {
  host: string;
  /** The installed CLI's version, as its launcher printed it. */
  version: string;
  folder: string;
  launcher: string;
  /** The Node.js the launcher runs, and its version. */
  node: string;
  nodeVersion: string;
  /** `installed` (nothing of it was there), `replaced` (a file there differed) or `unchanged` (nothing written). */
  change: 'installed' | 'replaced' | 'unchanged';
  /** The host paths written, bundles first. */
  written: string[];
  /** Whether `lifeboat` is this launcher on the PATH of an SSH session there, and on cron's PATH. */
  onSessionPath: boolean;
  onCronPath: boolean;
  /** Where cron's `lifeboat` leads when it is another program. */
  cronFinds?: string;
  /** The `lifeboat:` argument list to give schedule.cron.install for this host. */
  scheduleWith: string[];
}

interface LocalBundle {
  dir: string;
  version: string;
  files: (FileToWrite & { localPath: string })[];
}

/** One file to write and what it replaces. */
interface Write {
  path: string;
  bytes: number;
  kind: 'create' | 'overwrite';
}

/** Everything decided before anything is written: the same for the plan and the run. */
interface Installation {
  connection: SshConnection;
  nodePath: string;
  nodeVersion: string;
  bundle: LocalBundle;
  folder: string;
  launcher: string;
  launcherText: string;
  bundlesToWrite: LocalBundle['files'];
  launcherChanged: boolean;
  writes: Write[];
}

function minimumNode(range: string): NodeVersion {
  const match = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(range);
  if (!match) throw new Error(`package.json engines.node '${range}' is not of the form >=MAJOR.MINOR`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) };
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The bundle to copy and its version (its build's package.json), every file read and hashed. */
async function readBundle(dir: string): Promise<LocalBundle> {
  const manifestPath = path.join(dir, '..', 'package.json');
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as typeof manifest;
  } catch (error) {
    throw new Error(`bundle: ${dir} is not a Lifeboat build: cannot read ${manifestPath}: ${errorMessage(error)}`);
  }
  const { version } = manifest;
  if (manifest.name !== 'lifeboat' || typeof version !== 'string' || !/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`bundle: ${manifestPath} is not the package.json of a Lifeboat build (name 'lifeboat' and a version such as 1.2.3)`);
  }
  const files = await Promise.all(
    CLI_BUNDLE_FILES.map(async (name) => {
      const localPath = path.join(dir, name);
      const data = await readFile(localPath).catch((error: unknown) => {
        throw new Error(`bundle: ${dir} has no readable ${name} (${errorMessage(error)}); a build writes it with \`node esbuild.config.mjs\``);
      });
      return { name, localPath, bytes: data.length, sha256: sha256(data) };
    }),
  );
  return { dir, version, files };
}

function expandHostHome(value: string, home: string): string {
  return posix.normalize(value.startsWith('~/') ? posix.join(home, value.slice(2)) : value).replace(/(.)\/$/, '$1');
}

/** The launcher: the CLI in `folder`, run with the Node.js checked at install time, so cron's short PATH needs to reach neither. */
function launcherText(version: string, nodePath: string, folder: string): string {
  return `#!/bin/sh\n${LAUNCHER_MARKER} ${version}\nexec ${remoteCommand([nodePath, posix.join(folder, 'cli.js')])} "$@"\n`;
}

/** The host's Node.js, or an error that says what to do about it. */
function checkedNode(facts: HostFacts, node: string, label: string): { path: string; version: string } {
  const wanted = `${MINIMUM_NODE.major}.${MINIMUM_NODE.minor}`;
  if (!facts.node) {
    const where = node.includes('/') ? `no runnable ${printable(node)}` : `no \`${printable(node)}\` on the PATH of an SSH session (${printable(facts.path)})`;
    throw new Error(`node: ${label} has ${where}; the Lifeboat CLI needs Node.js ${wanted} or newer. ${NODESOURCE_ADVICE} If Node.js is installed where an SSH session does not look (nvm, /opt), give its path as \`node\`.`);
  }
  const version = parseNodeVersion(facts.node.printed);
  if (!version) throw new Error(`node: \`${printable(facts.node.path)} --version\` on ${label} printed '${printable(facts.node.printed)}', not a Node.js version`);
  if (!isAtLeast(version, MINIMUM_NODE)) {
    throw new Error(`node: ${printable(facts.node.path)} on ${label} is Node.js ${printable(facts.node.printed)}; the Lifeboat CLI needs ${wanted} or newer. ${NODESOURCE_ADVICE} Or give the path of a newer node as \`node\`.`);
  }
  return { path: facts.node.path, version: `v${version.major}.${version.minor}.${version.patch}` };
}

function writeOf(target: string, bytes: number, existing: ExistingFile, label: string, parameter: string): Write {
  if (existing.kind === 'not a file') throw new Error(`${parameter}: ${printable(target)} on ${label} exists and is not a file; move it away or choose another \`${parameter}\``);
  return { path: target, bytes, kind: existing.kind === 'absent' ? 'create' : 'overwrite' };
}

async function prepare(params: CliInstallParams, ctx: ActionContext): Promise<Installation> {
  // This code runs from dist/ (bundled into cli-main.js for the CLI, runtime.js for the extension), where the CLI's bundles are.
  const bundle = await readBundle(params.bundle === undefined ? __dirname : resolveUserPath(params.bundle, ctx.workspaceDir));
  const connection = await sshConnectionFor(ctx.clients, ctx.inventory, params.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
  const facts = await hostFacts(connection, params.node, ctx.signal);
  const node = checkedNode(facts, params.node, connection.label);
  const folder = expandHostHome(params.folder ?? `${DEFAULT_FOLDER_ROOT}/${bundle.version}`, facts.home);
  const launcher = expandHostHome(params.launcher, facts.home);
  const text = launcherText(bundle.version, node.path, folder);
  const bundlePaths = bundle.files.map((file) => posix.join(folder, file.name));
  const existing = await existingFiles(connection, [...bundlePaths, launcher], ctx.signal);
  const writes: Write[] = [];
  const bundlesToWrite = bundle.files.filter((file, index) => {
    const there = existing[index] as ExistingFile;
    if (there.kind === 'file' && there.sha256 === file.sha256) return false;
    writes.push(writeOf(bundlePaths[index] as string, file.bytes, there, connection.label, 'folder'));
    return true;
  });
  const launcherThere = existing[bundlePaths.length] as ExistingFile;
  const launcherChanged = !(launcherThere.kind === 'file' && launcherThere.sha256 === sha256(text));
  if (launcherChanged) {
    if (launcherThere.kind === 'file' && !launcherThere.launcher) {
      throw new Error(`launcher: ${printable(launcher)} on ${connection.label} exists and is not a Lifeboat launcher; move it away or choose another \`launcher\``);
    }
    writes.push(writeOf(launcher, Buffer.byteLength(text), launcherThere, connection.label, 'launcher'));
  }
  return { connection, nodePath: node.path, nodeVersion: node.version, bundle, folder, launcher, launcherText: text, bundlesToWrite, launcherChanged, writes };
}

/** The bundles to write as one tar stream, its bytes reported as they are sent. */
function uploadStream(installation: Installation, ctx: ActionContext): Readable | undefined {
  const files = installation.bundlesToWrite;
  if (files.length === 0) return undefined;
  const totalBytes = files.reduce((sum, file) => sum + file.bytes, 0);
  // node-tar reads 16 MiB at a time unless told: smaller reads keep memory low and progress smooth.
  const pack = new Pack({ cwd: installation.bundle.dir, portable: true, maxReadSize: UPLOAD_READ_BYTES });
  for (const file of files) pack.add(file.name);
  pack.end();
  const message = `copying the CLI to ${installation.connection.label}`;
  async function* reported(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let bytes = 0;
    for await (const chunk of source) {
      bytes += chunk.length;
      ctx.progress.report({ message, bytes, totalBytes });
      yield chunk;
    }
  }
  return Readable.from(reported(pack));
}

async function install(installation: Installation, ctx: ActionContext): Promise<void> {
  const { connection, folder, launcher } = installation;
  const launcherBytes = Buffer.from(installation.launcherText);
  const upload = uploadStream(installation, ctx);
  const result = await installOnHost(
    connection,
    {
      folder,
      folderParent: posix.dirname(folder),
      launcher,
      launcherDir: posix.dirname(launcher),
      ...(installation.launcherChanged ? { launcherText: installation.launcherText, launcherFile: { name: launcher, bytes: launcherBytes.length, sha256: sha256(launcherBytes) } } : {}),
      bundles: installation.bundlesToWrite,
    },
    upload,
    ctx.signal,
  ).catch((error: unknown) => {
    throw cancellationOr(error, ctx.signal);
  });
  if (result.exitCode !== 0) {
    const said = result.stderrTail.trim();
    throw new Error(`${connection.label}: the CLI could not be put in place, and nothing was written under its final names: ${said || (result.exitSignal ? `killed by ${result.exitSignal}` : `exit code ${result.exitCode ?? 'unknown'}`)}`);
  }
}

function change(writes: readonly Write[]): CliInstallResult['change'] {
  if (writes.length === 0) return 'unchanged';
  return writes.every((write) => write.kind === 'create') ? 'installed' : 'replaced';
}

export const scheduleCliInstall = defineAction({
  id: 'schedule.cli.install',
  title: 'Install the CLI on a host',
  description:
    "Copies the Lifeboat CLI (this Lifeboat's own build) to an SSH host, into a folder of its version plus a `lifeboat` launcher, so cron there can run runbooks (schedule.cron.install). Checks the host's Node.js first; a re-run with the same version writes nothing.",
  params: cliInstallParams,
  destructive: false,
  async plan(params, ctx) {
    const installation = await prepare(params, ctx);
    const { connection, writes } = installation;
    const node = { kind: 'read', target: `${params.host}:${installation.nodePath}`, detail: `Node.js ${installation.nodeVersion}` } as const;
    if (writes.length === 0) {
      return { summary: `Lifeboat ${installation.bundle.version} is already installed on ${params.host} (${printable(installation.launcher)}): nothing to write`, operations: [node], destructive: false };
    }
    const operations: PlannedOperation[] = [node, ...writes.map((write): PlannedOperation => ({ kind: write.kind, target: `${params.host}:${write.path}`, bytes: write.bytes }))];
    const lines = writes.map((write) => `  ${write.kind === 'create' ? 'create' : 'replace'} ${printable(write.path)} (${formatBytes(write.bytes)})`);
    return { summary: `would write Lifeboat ${installation.bundle.version} on ${connection.label}, run by Node.js ${installation.nodeVersion}:\n${lines.join('\n')}`, operations, destructive: false };
  },
  async run(params, ctx): Promise<CliInstallResult> {
    const installation = await prepare(params, ctx);
    const { connection, folder, launcher, writes } = installation;
    if (writes.length > 0) {
      await install(installation, ctx);
      ctx.log.info(`wrote ${writes.length} file(s) of Lifeboat ${installation.bundle.version} on ${connection.label}`);
    }
    const checked = await checkLauncher(connection, launcher, ctx.signal);
    const expected = `lifeboat ${installation.bundle.version}`;
    if (checked.printed !== expected) throw new Error(`launcher: \`${printable(launcher)} --version\` on ${connection.label} printed '${printable(checked.printed)}', not '${expected}'`);
    const onCronPath = checked.cronLifeboat === checked.resolved;
    return {
      host: params.host,
      version: installation.bundle.version,
      folder,
      launcher,
      node: installation.nodePath,
      nodeVersion: installation.nodeVersion,
      change: change(writes),
      written: writes.map((write) => write.path),
      onSessionPath: checked.sessionLifeboat === checked.resolved,
      onCronPath,
      ...(checked.cronLifeboat && !onCronPath ? { cronFinds: checked.cronLifeboat } : {}),
      scheduleWith: onCronPath ? ['lifeboat'] : [launcher],
    };
  },
  render(result: CliInstallResult) {
    const change = result.change === 'unchanged' ? 'already installed' : result.change;
    const table = markdownTable(['host', 'version', 'change', 'launcher', 'folder', 'node'], [[result.host, result.version, change, printable(result.launcher), printable(result.folder), `${printable(result.node)} (${result.nodeVersion})`]]);
    const cron = result.onCronPath
      ? `cron finds \`lifeboat\` with its PATH (${CRON_PATH}): schedule.cron.install works with its default \`lifeboat: [lifeboat]\`.`
      : `cron's PATH (${CRON_PATH}) ${result.cronFinds ? `leads \`lifeboat\` to ${printable(result.cronFinds)}, not this launcher` : 'does not reach this launcher'}: give schedule.cron.install \`lifeboat: ${JSON.stringify(result.scheduleWith)}\`.`;
    return `${table}\n\n${cron}`;
  },
});
