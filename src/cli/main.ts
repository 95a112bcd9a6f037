import * as z from 'zod';
import { version } from '../../package.json';
import { builtinActions } from '../actions';
import { ActionRegistry } from '../core/actions/registry';
import type { Problem } from '../core/errors';
import { errorMessage, formatProblem, ValidationError } from '../core/errors';
import { parseRunbook } from '../core/runbook/parse';
import { serializeRunbook } from '../core/runbook/serialize';
import { readTextStream } from '../core/textFiles';
import { loadWorkspace } from '../core/workspace';
import { checkRunbook } from '../core/runner/validate';
import { displayPath, EXIT, parseCommandLine, readParamArguments, readRunbookFile, runbookOptions, singlePositional, UsageError, USAGE } from './args';
import { actionReference } from './actionReference';
import { doCommand, lsCommand } from './browse';
import { readDocumentJson } from './documentJson';
import { runCommand } from './run';

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const registry = new ActionRegistry(builtinActions);
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest, registry);
      case 'check':
        return await checkCommand(rest, registry);
      case 'ls':
        return await lsCommand(rest, registry);
      case 'do':
        return await doCommand(rest, registry);
      case 'parse':
        return await parseCommand(rest);
      case 'serialize':
        return await serializeCommand();
      case 'actions':
        return actionsCommand(rest, registry);
      case '--version':
        process.stdout.write(`lifeboat ${version}\n`);
        return EXIT.ok;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT.invalid : EXIT.ok;
      default:
        process.stderr.write(`lifeboat: unknown command '${command}'\n\n${USAGE}\n`);
        return EXIT.invalid;
    }
  } catch (error) {
    if (error instanceof ValidationError || error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.invalid;
    }
    process.stderr.write(`lifeboat: ${errorMessage(error)}\n`);
    return EXIT.stepFailed;
  }
}

async function checkCommand(args: readonly string[], registry: ActionRegistry): Promise<number> {
  const { values, positionals } = parseCommandLine(args, runbookOptions);
  const file = singlePositional(positionals, 'runbook');
  const document = parseRunbook(await readRunbookFile(file));
  const params = values.param ? readParamArguments(values.param) : undefined;
  const checked = checkRunbook(document, { file: displayPath(file), registry, params });
  let inventoryProblems: readonly Problem[] = [];
  try {
    await loadWorkspace(file, values.inventory);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    inventoryProblems = error.problems;
  }
  const { steps } = checked;
  const problems = [...inventoryProblems, ...checked.problems];
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
    process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
    return EXIT.invalid;
  }
  process.stderr.write(`${displayPath(file)}: ${steps.length} step${steps.length === 1 ? '' : 's'} valid\n`);
  return EXIT.ok;
}

async function parseCommand(args: readonly string[]): Promise<number> {
  const { positionals } = parseCommandLine(args, {});
  const file = singlePositional(positionals, 'file');
  const text = file === '-' ? await readTextStream(process.stdin, 'runbook', 'stdin') : await readRunbookFile(file);
  process.stdout.write(`${JSON.stringify(parseRunbook(text), null, 2)}\n`);
  return EXIT.ok;
}

async function serializeCommand(): Promise<number> {
  const document = readDocumentJson(await readTextStream(process.stdin, 'runbook as JSON', 'stdin'));
  process.stdout.write(serializeRunbook(document));
  return EXIT.ok;
}

function actionsCommand(args: readonly string[], registry: ActionRegistry): number {
  const { values } = parseCommandLine(args, { json: { type: 'boolean' }, markdown: { type: 'boolean' } });
  const actions = registry.list();
  if (values.json && values.markdown) throw new UsageError('lifeboat actions: give --json or --markdown, not both');
  if (values.markdown) {
    process.stdout.write(actionReference(actions));
    return EXIT.ok;
  }
  if (values.json) {
    const described = actions.map((action) => ({
      id: action.id,
      title: action.title,
      description: action.description,
      destructive: action.destructive,
      params: z.toJSONSchema(action.params, { io: 'input', unrepresentable: 'any' }),
    }));
    process.stdout.write(`${JSON.stringify(described, null, 2)}\n`);
    return EXIT.ok;
  }
  for (const action of actions) {
    const shape = (action.params as { shape?: Record<string, z.ZodType> }).shape ?? {};
    process.stdout.write(`${action.id}${action.destructive ? ' (can overwrite or delete)' : ''}\n  ${action.description}\n`);
    for (const [name, schema] of Object.entries(shape)) {
      const optional = schema.safeParse(undefined).success;
      process.stdout.write(`    ${name}${optional ? '' : ' (required)'}: ${schema.description ?? ''}\n`);
    }
  }
  return EXIT.ok;
}

/** The process's command line run, its outcome the exit code (see entry.ts). */
export function start(): void {
  // Output piped into `head` and the like: stop quietly when the reader goes away.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`lifeboat: ${errorMessage(error)}\n`);
      process.exitCode = EXIT.stepFailed;
    },
  );
}
