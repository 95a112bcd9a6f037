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

/** The shipped bundles: everything inlined, so the VSIX and the CLI need no node_modules. */
const products = [
  esbuild.build({
    ...common,
    minify: release,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
  }),
  esbuild.build({
    ...common,
    minify: release,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
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
