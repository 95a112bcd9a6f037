import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * `import { z } from 'zod'` is zod's namespace as a value: the bundles then hold every zod export, all
 * of its locales among them (a third of the CLI, compiled at every start). `import * as z` lets esbuild
 * keep only what is used.
 */
const zodNamespace = { selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']", message: "Use `import * as z from 'zod'`: the named `z` bundles all of zod." };

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'node_modules/', '.lifeboat/', '.test-tools/', 'bench/.work/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }, zodNamespace],
    },
  },
  {
    files: ['*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // ESLint reads its configuration from the default export.
    files: ['eslint.config.mjs'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // ssh2 loads on first use through its sibling bundle (src/clients/ssh2Sdk.ts): elsewhere, type imports only.
    files: ['src/**/*.ts'],
    ignores: ['src/clients/ssh2Sdk.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'ssh2', message: "Load ssh2 with await import('./ssh2Sdk') on first connection.", allowTypeImports: true }] }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'src/core stays free of vscode.' }] }],
    },
  },
);
