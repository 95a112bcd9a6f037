import { join } from 'node:path';
import type * as FormatModule from './format';
import type * as RuntimeModule from './runtime';

/**
 * The extension ships as three bundles so activation compiles almost nothing: `extension.js`
 * (registrations only), `format.js` (the Markdown parser, loaded when a runbook is opened) and
 * `runtime.js` (schemas, actions and the runner, loaded when something runs or is validated).
 * A bundle that is only `import()`ed is still compiled at activation; a separate file is not.
 */
export type Format = typeof FormatModule;
export type Runtime = typeof RuntimeModule;

let format: Format | undefined;
let runtime: Runtime | undefined;

export function loadFormat(): Format {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a sibling bundle, loaded on first use on purpose
  format ??= require(join(__dirname, 'format.js')) as Format;
  return format;
}

export function loadRuntime(): Runtime {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a sibling bundle, loaded on first use on purpose
  runtime ??= require(join(__dirname, 'runtime.js')) as Runtime;
  return runtime;
}
