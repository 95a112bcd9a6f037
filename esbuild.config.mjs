import { Buffer } from 'node:buffer';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

const release = process.argv.includes('--release');
const withTests = process.argv.includes('--tests');

/**
 * ssh2's optional native addons (its crypto binding, cpu-features) cannot be inlined. Both are
 * required inside try/catch: a bundle without them uses ssh2's JavaScript paths (AES-GCM through
 * Node's own OpenSSL, which is the fast cipher anyway), so the VSIX stays free of native code.
 */
const optionalNativeAddons = ['*.node', 'cpu-features'];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
};

/**
 * Heavy SDKs ship as sibling bundles in dist/, read when first used: the source's `import('./x')`
 * becomes a `require()` of the sibling file at run time instead of inlining it (an inlined SDK is
 * compiled at every start, used or not). Maps each source module to its bundle's name.
 */
const siblingBundles = { s3Sdk: 's3-sdk', ssh2Sdk: 'ssh2', kubeSdk: 'kubernetes-client' };
/** `loader`: the function that requires a sibling by its path; the CLI's goes through its code cache. */
function loadSiblingsLazily(loader = 'require') {
  return {
    name: 'sibling-bundles',
    setup(build) {
      const filter = new RegExp(`^\\./(${Object.keys(siblingBundles).join('|')})$`);
      build.onResolve({ filter }, (args) => ({ path: siblingBundles[args.path.slice(2)], namespace: 'sibling-bundle' }));
      // A computed path, which esbuild leaves to Node; __dirname is dist/, where every bundle lives.
      build.onLoad({ filter: /.*/, namespace: 'sibling-bundle' }, (args) => ({
        contents: `module.exports = ${loader}(require('node:path').join(__dirname, ${JSON.stringify(`${args.path}.js`)}));`,
        loader: 'js',
        resolveDir: process.cwd(),
      }));
    },
  };
}
/**
 * `import { source } from './module?worker-source'`: the module bundled on its own, everything inlined, as
 * a string for `new Worker(source, { eval: true })`. The worker's code travels inside every bundle
 * (and test) that starts it, so it needs no file of its own beside them, wherever they run from.
 */
function workerSources() {
  const suffix = /\?worker-source$/;
  return {
    name: 'worker-sources',
    setup(build) {
      build.onResolve({ filter: suffix }, (args) => ({ path: join(args.resolveDir, `${args.path.replace(suffix, '')}.ts`), namespace: 'worker-source' }));
      build.onLoad({ filter: /.*/, namespace: 'worker-source' }, async (args) => {
        const { outputFiles, metafile } = await esbuild.build({ ...common, sourcemap: false, minify: release, metafile: true, entryPoints: [args.path], write: false, external: optionalNativeAddons });
        return { contents: `export const source = ${JSON.stringify(outputFiles[0].text)};`, loader: 'js', watchFiles: Object.keys(metafile.inputs) };
      });
    },
  };
}
const cliSiblingLoader = "require('./src/cli/codeCache.ts').requireBundle";
/** Packages only the sibling bundles may hold. */
const siblingPackages = ['node_modules/@aws-sdk/', 'node_modules/@smithy/', 'node_modules/ssh2/', 'node_modules/@kubernetes/client-node/'];

function refuseSiblingPackages(metafile) {
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!file.endsWith('.js') || Object.values(siblingBundles).some((name) => file.endsWith(`dist/${name}.js`))) continue;
    const inlined = Object.keys(output.inputs).filter((input) => siblingPackages.some((prefix) => input.includes(prefix)));
    if (inlined.length > 0) throw new Error(`${file} inlines ${inlined[0]} (and ${inlined.length - 1} more): import the SDK through its sibling module (src/clients/s3Sdk.ts, ssh2Sdk.ts, kubeSdk.ts)`);
  }
}

/**
 * The shipped bundles: everything inlined, so the VSIX and the CLI need no node_modules. The extension
 * is three files (see src/vscode/lazy.ts): activation compiles only extension.js, which must hold no
 * package at all; format.js and runtime.js are required when first needed.
 */
const extensionBundles = esbuild
  .build({
    ...common,
    minify: release,
    metafile: true,
    entryPoints: {
      extension: 'src/extension.ts',
      format: 'src/vscode/format.ts',
      runtime: 'src/vscode/runtime.ts',
    },
    outdir: 'dist',
    external: ['vscode', ...optionalNativeAddons],
    plugins: [loadSiblingsLazily(), workerSources()],
  })
  .then(({ metafile }) => {
    refuseSiblingPackages(metafile);
    const activation = Object.entries(metafile.outputs).find(([file]) => file.endsWith('dist/extension.js'))?.[1];
    const packages = Object.keys(activation?.inputs ?? {}).filter((input) => input.includes('node_modules/'));
    if (packages.length > 0) throw new Error(`dist/extension.js must load no package at activation; it includes ${packages.join(', ')}: reach them through loadRuntime()/loadFormat()`);
  });

const products = [
  extensionBundles,
  // The CLI: cli.js, a few lines that load cli-main.js through the code cache (see src/cli/entry.ts).
  esbuild.build({
    ...common,
    minify: release,
    entryPoints: { cli: 'src/cli/entry.ts', 'cli-main': 'src/cli/main.ts' },
    outdir: 'dist',
    external: optionalNativeAddons,
    // On both: the code cache's loader skips it.
    banner: { js: '#!/usr/bin/env node' },
    metafile: true,
    plugins: [loadSiblingsLazily(cliSiblingLoader), workerSources()],
  }).then(({ metafile }) => refuseSiblingPackages(metafile)),
  esbuild.build({
    ...common,
    minify: release,
    entryPoints: { 's3-sdk': 'src/clients/s3Sdk.ts', ssh2: 'src/clients/ssh2Sdk.ts', 'kubernetes-client': 'src/clients/kubeSdk.ts' },
    outdir: 'dist',
    external: optionalNativeAddons,
  }),
];

/**
 * Tests and benchmarks run as plain CommonJS from out/. Packages stay external: Node loads the
 * ESM-only ones (execa, p-limit) through require() as it does for the bundles' own code paths.
 */
function typescriptFiles(dir, suffix) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith(suffix))
    .map((file) => join(dir, file));
}

const checks = withTests
  ? [
      esbuild.build({
        ...common,
        // A set: test/vscode/suite/*.test.ts match both patterns.
        entryPoints: [...new Set([
          ...typescriptFiles('test', '.test.ts'),
          'test/support/summaryReporter.ts',
          'test/support/canarySweep.ts',
          // The extension-host suite (run() in suite/index.ts) and the runner that loads it in code-server.
          ...typescriptFiles('test/vscode', '.ts'),
          ...typescriptFiles('bench', '.ts'),
          // The demo's lab services.
          'test/testbed/lab.ts',
          // `npm run screenshots`.
          'test/e2e/screenshots.ts',
        ])],
        outdir: 'out',
        outbase: '.',
        packages: 'external',
        plugins: [workerSources()],
      }),
    ]
  : [];

/**
 * `dist/lifeboat.schema.json` for `yamlValidation`: the inventory's zod schema, bundled on its own and
 * evaluated here, converted to JSON Schema.
 */
async function writeInventorySchema() {
  const { outputFiles } = await esbuild.build({ ...common, format: 'esm', sourcemap: false, entryPoints: ['src/core/inventory/jsonSchema.ts'], write: false });
  const { inventoryJsonSchema } = await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].contents).toString('base64')}`);
  mkdirSync('dist', { recursive: true });
  writeFileSync('dist/lifeboat.schema.json', `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`);
}

await Promise.all([...products, ...checks, writeInventorySchema()]);
// `bin: lifeboat` points here; npm links it executable, a plain checkout needs the mode set.
chmodSync('dist/cli.js', 0o755);
