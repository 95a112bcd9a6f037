import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

const release = process.argv.includes('--release');
const withTests = process.argv.includes('--tests');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
};

/**
 * SDKs too heavy to compile with the code that imports them (@kubernetes/client-node: 3.5 MB, ~450 ms
 * to load) ship as bundles of their own beside it; the `import()` that first needs one requires it.
 */
const separateSdks = { '@kubernetes/client-node': 'kubernetes-client' };
const separateSdkImports = {
  name: 'separate-sdks',
  setup(build) {
    const filter = new RegExp(`^(${Object.keys(separateSdks).map((name) => name.replace(/[/.]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, ({ path }) => ({ path: `./${separateSdks[path]}.js`, external: true }));
  },
};
const sdkBundles = esbuild.build({
  ...common,
  minify: release,
  entryPoints: Object.fromEntries(Object.entries(separateSdks).map(([name, file]) => [file, name])),
  outdir: 'dist',
});

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
    external: ['vscode'],
    plugins: [separateSdkImports],
  })
  .then(({ metafile }) => {
    const activation = Object.entries(metafile.outputs).find(([file]) => file.endsWith('dist/extension.js'))?.[1];
    const packages = Object.keys(activation?.inputs ?? {}).filter((input) => input.includes('node_modules/'));
    if (packages.length > 0) throw new Error(`dist/extension.js must load no package at activation; it includes ${packages.join(', ')}: reach them through loadRuntime()/loadFormat()`);
  });

const products = [
  sdkBundles,
  extensionBundles,
  esbuild.build({
    ...common,
    minify: release,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
    plugins: [separateSdkImports],
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
          // The extension-host suite (run() in suite/index.ts) and the runner that loads it in code-server.
          ...typescriptFiles('test/vscode', '.ts'),
          ...typescriptFiles('bench', '.ts'),
        ])],
        outdir: 'out',
        outbase: '.',
        packages: 'external',
      }),
    ]
  : [];

await Promise.all([...products, ...checks]);
// `bin: lifeboat` points here; npm links it executable, a plain checkout needs the mode set.
chmodSync('dist/cli.js', 0o755);
