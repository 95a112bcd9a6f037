/**
 * Loads the CLI's bundles with V8's code cache: compiling the 1.2 MB main bundle is about a third of
 * every start of the CLI (some 75 ms on a small machine, more for the SDK bundles), and cron or a
 * CronJob starts it again and again. Node 20 has no compile cache of its own
 * (`module.enableCompileCache` came in 22.1), so the bundle is compiled here with `vm.Script` and the
 * code V8 produced is kept for the next start.
 *
 * The cache is code this process will run: it lives in the user's own cache folder, is used only when
 * no other user can write there, and is named by the SHA-256 of the bundle's source and the Node
 * version and architecture (V8 itself checks only the source's length). Anything that goes wrong with
 * it (a read-only home, a corrupt file) costs the time saved, never the run.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { Script } from 'node:vm';
import { readFileIfReadable } from '../core/atomicFiles';

type ModuleFunction = (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;

/** Only the user (or root) can change what is in it. */
function isPrivateFolder(folder: string): boolean {
  const stats = lstatSync(folder);
  const uid = process.getuid?.();
  return stats.isDirectory() && (uid === undefined || stats.uid === uid || stats.uid === 0) && (stats.mode & 0o022) === 0;
}

/**
 * One level, its parent being there: not Node's recursive mkdir, which spins forever where mkdir
 * answers ENOENT below a folder that exists (a cache home under /proc), and this runs at every start.
 */
function makePrivateFolder(folder: string): void {
  try {
    mkdirSync(folder, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** `$XDG_CACHE_HOME/lifeboat/v8` (else `~/.cache/…`), made private when new; undefined when it is not private. */
function codeCacheFolder(env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    // homedir() throws for a user with neither HOME nor a passwd entry (a pod's arbitrary uid).
    const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(homedir(), '.cache');
    const lifeboat = path.join(base, 'lifeboat');
    const folder = path.join(lifeboat, 'v8');
    for (const level of [base, lifeboat, folder]) makePrivateFolder(level);
    // The folder above too: whoever can write there can put another folder in this one's place.
    return isPrivateFolder(lifeboat) && isPrivateFolder(folder) ? folder : undefined;
  } catch {
    return undefined;
  }
}

const DYNAMIC_IMPORT = /\bimport\(/;

/** Caches kept per bundle: a few builds used side by side (the extension's CLI, a global one) each keep theirs. */
const KEPT_PER_BUNDLE = 3;

/**
 * Writes the cache under a temporary name first, so a start never reads half of one, and removes the
 * oldest of the same bundle beyond `KEPT_PER_BUNDLE` (those of builds since replaced).
 */
function writeCache(folder: string, bundle: string, file: string, data: Buffer): void {
  const partial = `${file}.${process.pid}.partial`;
  try {
    writeFileSync(partial, data, { mode: 0o600 });
    renameSync(partial, file);
    const caches = readdirSync(folder)
      .filter((name) => name.startsWith(`${bundle}-`) && name.endsWith('.bin'))
      .map((name) => ({ path: path.join(folder, name), mtimeMs: statSync(path.join(folder, name)).mtimeMs }))
      .sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const stale of caches.slice(KEPT_PER_BUNDLE)) unlinkSync(stale.path);
  } catch {
    // No cache this time, or an old one left: the next start compiles again, or tidies up.
  }
}

/**
 * `require(file)` for a CommonJS bundle, compiled with the code cached for exactly this source when
 * there is one. Without one, the code V8 compiled during this run (the functions that ran, not only
 * the top level) is kept when the process exits.
 */
export function requireBundle(file: string): unknown {
  const loaded = require.cache[file];
  if (loaded) return loaded.exports;
  const source = readFileSync(file);
  // The shebang is a syntax error once wrapped.
  const text = source.toString('utf8').replace(/^#!.*/, '');
  // vm.Script serves import() on Node 20 only through an experimental loader that warns on stderr:
  // a bundle that has one (the S3 SDK's) is required as usual. (A regular expression, so this bundle's own text does not match.)
  if (DYNAMIC_IMPORT.test(text)) return createRequire(file)(file);
  const folder = codeCacheFolder();
  const key = createHash('sha256').update(source).update(`\0${process.version}\0${process.arch}`).digest('hex').slice(0, 32);
  const bundle = path.basename(file, '.js');
  const cacheFile = folder ? path.join(folder, `${bundle}-${key}.bin`) : undefined;
  const cachedData = cacheFile ? readFileIfReadable(cacheFile) : undefined;
  const script = new Script(Module.wrap(text), { filename: file, cachedData });
  if (folder && cacheFile && (!cachedData || script.cachedDataRejected)) process.once('exit', () => writeCache(folder, bundle, cacheFile, script.createCachedData()));
  const module = new Module(file, require.main);
  module.filename = file;
  require.cache[file] = module;
  const run = script.runInThisContext() as ModuleFunction;
  run.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  module.loaded = true;
  return module.exports;
}
