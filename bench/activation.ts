/**
 * What a person waits for: loading the extension, opening the first runbook, downloading the VSIX.
 * Each timing is the median over fresh Node processes (this compiled file with `--child`), because
 * only the first require of a bundle pays for compiling it. `vscode` is a stub: what is measured is
 * our bundles' own cost.
 * Targets: require dist/extension.js ≤ 15 ms; the first runbook opened (50 KiB, through the registered
 * serializer, which loads dist/format.js on first use) ≤ 60 ms; the VSIX ≤ 3 MiB.
 *
 * Packages the VSIX first: `vscode:prepublish` makes the release build that is then measured.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths';
import { runbookOfSize } from './sampleRunbook';
import { median } from './statistics';
import { runEntryPoint } from './entryPoint';

const PROCESSES = 21;
const RUNBOOK_BYTES = 50 * 1024;
/** A measurement takes well under a second; a process still alive after this waits on something left running. */
const CHILD_TIMEOUT_MS = 60_000;

/** Require dist/extension.js; require dist/format.js alone (what the first open pays for it); open a runbook. */
type Operation = 'require' | 'format' | 'open';

// ---------------------------------------------------------------------------------------------
// Child side: one measurement in a fresh process, printed as JSON on the last line.

/**
 * Stands in for any VS Code API object the registrations touch (`vscode.window.createOutputChannel(…)`,
 * `new vscode.EventEmitter()`, `.event`, `item.command = …`): callable and constructible (each giving a
 * new stand-in), every member is a stand-in unless one was assigned, it iterates as empty and it is
 * not a thenable (so awaiting it does not hang).
 */
function standIn(): object {
  const assigned = new Map<PropertyKey, unknown>();
  return new Proxy(function apiObject() {}, {
    get: (_target, property) => {
      if (assigned.has(property)) return assigned.get(property);
      if (property === Symbol.iterator) return function* empty() {};
      if (typeof property === 'symbol' || property === 'then') return undefined;
      return standIn();
    },
    set: (_target, property, value) => {
      assigned.set(property, value);
      return true;
    },
    apply: () => standIn(),
    construct: () => standIn(),
  });
}

/** An object whose own members are real and whose every other member is a stand-in. */
function withFallback<T extends object>(members: T): T {
  return new Proxy(members, { get: (target, property) => (property in target ? Reflect.get(target, property) : standIn()) });
}

/** The serializer the extension registers, as the workbench would receive it. */
interface Serializer {
  deserializeNotebook(content: Uint8Array, token: unknown): Promise<{ cells: unknown[] }>;
}

/**
 * The runtime names of the `vscode` module (namespaces, classes, enums, functions, constants), read from
 * the API's declarations. The bundles import it as `import * as vscode`, which copies the module's own
 * properties: a stub must have each of them, not just answer when asked.
 */
function vscodeApiNames(): string[] {
  const declarations = readFileSync(join(REPO_ROOT, 'node_modules', '@types', 'vscode', 'index.d.ts'), 'utf8');
  return [...declarations.matchAll(/^\texport (?:namespace|class|enum|const|let|function) (\w+)/gm)].map((match) => match[1] as string);
}

/** Makes `require('vscode')` return a stub whose notebook types are real enough to build notebooks. */
function installVscodeStub(): { serializer: () => Serializer } {
  let registered: Serializer | undefined;
  class NotebookCellData {
    metadata: unknown;
    constructor(readonly kind: number, readonly value: string, readonly languageId: string) {}
  }
  class NotebookData {
    metadata: unknown;
    constructor(readonly cells: NotebookCellData[]) {}
  }
  const members: Record<string, unknown> = {
    NotebookCellData,
    NotebookData,
    NotebookCellKind: { Markup: 1, Code: 2 },
    workspace: withFallback({
      registerNotebookSerializer: (_type: string, serializer: Serializer) => {
        registered = serializer;
        return standIn();
      },
    }),
  };
  const vscode = Object.fromEntries(vscodeApiNames().map((name) => [name, members[name] ?? standIn()]));
  const stubPath = join(REPO_ROOT, 'bench', '.work', 'vscode-stub.js');
  const stub = new Module(stubPath);
  stub.exports = vscode;
  stub.loaded = true;
  require.cache[stubPath] = stub;
  // Node's resolver is internal and untyped; this is the documented way stubs hook into it.
  const internals = Module as unknown as { _resolveFilename(request: string, ...rest: unknown[]): string };
  const resolve = internals._resolveFilename;
  internals._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === 'vscode' ? stubPath : resolve.call(this, request, ...rest);
  };
  return {
    serializer: () => {
      if (!registered) throw new Error('activate() registered no notebook serializer');
      return registered;
    },
  };
}

/** A bundle of dist/, loaded the way the extension host and lazy.ts load it. */
function loadBundle(name: 'extension' | 'format'): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain CommonJS require is what is measured
  return require(join(REPO_ROOT, 'dist', `${name}.js`));
}

async function runChild(operation: Operation): Promise<number> {
  const { serializer } = installVscodeStub();
  if (operation === 'require' || operation === 'format') {
    const started = performance.now();
    loadBundle(operation === 'require' ? 'extension' : 'format');
    return performance.now() - started;
  }
  const extension = loadBundle('extension') as { activate(context: unknown): unknown; deactivate(): unknown };
  const context = withFallback({ subscriptions: [] as { dispose(): unknown }[], extensionPath: REPO_ROOT });
  await extension.activate(context);
  const bytes = new TextEncoder().encode(runbookOfSize(RUNBOOK_BYTES));
  const started = performance.now();
  const notebook = await serializer().deserializeNotebook(bytes, standIn());
  const ms = performance.now() - started;
  if (notebook.cells.length === 0) throw new Error('the runbook opened with no cells');
  // What VS Code does when the extension host stops: without it the face backup status item's
  // timers keep this process alive and the measurement never ends.
  await extension.deactivate();
  for (const subscription of context.subscriptions) subscription.dispose();
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Parent side.

function medianOverProcesses(operation: Operation): number {
  const timings: number[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const child = spawnSync(process.execPath, [__filename, '--child', operation], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
    if (child.error) throw new Error(`measuring ${operation}: the process did not end on its own within ${CHILD_TIMEOUT_MS / 1000} s (${child.error.message}); something activation started is still running`);
    if (child.status !== 0) throw new Error(`measuring ${operation} failed:\n${child.stderr}`);
    timings.push((JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '') as { ms: number }).ms);
  }
  return median(timings);
}

function packageVsix(): number {
  const workDir = join(REPO_ROOT, 'bench', '.work');
  mkdirSync(workDir, { recursive: true });
  const vsix = join(workDir, 'lifeboat.vsix');
  execFileSync('npx', ['vsce', 'package', '--no-dependencies', '--out', vsix], { cwd: REPO_ROOT, stdio: 'pipe' });
  return statSync(vsix).size;
}

function main(): void {
  const vsixBytes = packageVsix();
  const requireMs = medianOverProcesses('require');
  const formatMs = medianOverProcesses('format');
  const openMs = medianOverProcesses('open');
  console.log(`activation: require dist/extension.js (release build), median of ${PROCESSES} fresh processes: ${requireMs.toFixed(2)} ms (target ≤ 15 ms)`);
  console.log(`first runbook opened (${RUNBOOK_BYTES / 1024} KiB, deserializeNotebook incl. loading dist/format.js), median of ${PROCESSES} fresh processes: ${openMs.toFixed(2)} ms (target ≤ 60 ms; requiring dist/format.js alone: ${formatMs.toFixed(2)} ms)`);
  console.log(`VSIX: ${(vsixBytes / 1024 / 1024).toFixed(2)} MiB (target ≤ 3 MiB)`);
}

if (process.argv[2] === '--child') {
  runEntryPoint(async () => console.log(JSON.stringify({ ms: await runChild(process.argv[3] as Operation) })));
} else {
  runEntryPoint(async () => main());
}
