import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { errorMessage, ValidationError } from '../core/errors';
import { readTextFile } from '../core/textFiles';

export const EXIT = { ok: 0, stepFailed: 1, invalid: 2, cancelled: 130 } as const;

export const USAGE = `Usage: lifeboat <command> [options]

Commands:
  run RUNBOOK [--inventory F] [--param k=v]... [--secrets F] [--dry-run] [--yes] [--json] [--verbose]
                      run the runbook's steps in order; stops at the first failure
  check RUNBOOK [--inventory F] [--param k=v]...
                      validate every step and parameter without running anything
  ls [PATH] [--json] [--all] [--inventory F] [--secrets F]
                      list what the inventory holds: hosts, Frigate instances, locations, archives…
                      (the Backups view's nodes; a page at a time unless --all; --json: one node per line)
  do PATH OPERATION [--param k=v]... [--inventory F] [--secrets F] [--dry-run] [--yes] [--json]
                      run one of a node's operations (verify, delete, restore…) as \`run\` runs a step
  parse FILE          print the runbook as JSON (cells, frontmatter, layout)
  serialize           read that JSON on stdin and write the Markdown to stdout
  actions [--json | --markdown]
                      list every action with its parameters (--markdown: the reference page)
  --version           print the version

Secrets: \`secret:NAME\` in lifeboat.yaml or an action cell reads LIFEBOAT_SECRET_<NAME>, else the
  YAML secrets file given by --secrets or LIFEBOAT_SECRETS_FILE (mode 0600: refused otherwise).

Exit codes: 0 success, 1 a step failed, 2 invalid input, 130 cancelled.`;

export class UsageError extends Error {}

/** Options shared by `run` and `check`. */
export const runbookOptions = {
  inventory: { type: 'string' },
  param: { type: 'string', multiple: true },
} as const;

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export function parseCommandLine<Options extends OptionsConfig>(args: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true } as const);
  } catch (error) {
    throw new UsageError(`lifeboat: ${errorMessage(error)}\n\n${USAGE}`);
  }
}

/** `--param k=v` values; a name given twice is an error rather than a silent overwrite. */
export function readParamArguments(values: readonly string[] | undefined): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [index, entry] of (values ?? []).entries()) {
    const equals = entry.indexOf('=');
    // The entry itself is not echoed: what was typed may be a secret value missing its name.
    if (equals < 0) throw new UsageError(`lifeboat: --param expects name=value; --param number ${index + 1} has no '='`);
    if (equals === 0) throw new UsageError(`lifeboat: --param expects name=value; --param number ${index + 1} has no name before '='`);
    const name = entry.slice(0, equals);
    // Own names only: `constructor` is no parameter given before.
    if (Object.hasOwn(params, name)) throw new UsageError(`lifeboat: --param ${name} is given twice`);
    params[name] = entry.slice(equals + 1);
  }
  return params;
}

/** A runbook's text: refused when it is over the size limit or not UTF-8, with the place of the first bad byte. */
export async function readRunbookFile(path: string): Promise<string> {
  try {
    return await readTextFile(path, 'runbook');
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError([{ file: path, message: `cannot read the runbook: ${errorMessage(error)}` }]);
  }
}

/** A path as it is shown in messages: relative to the current folder when that is shorter. */
export function displayPath(path: string): string {
  const shown = relative(process.cwd(), resolve(path));
  return shown.startsWith('..') || shown === '' ? resolve(path) : shown;
}

export function singlePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`lifeboat: expected one ${what}, got ${positionals.length}\n\n${USAGE}`);
  return positionals[0] as string;
}

