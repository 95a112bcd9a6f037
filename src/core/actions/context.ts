import { ClientPool } from './clients';
import type { ActionContext, Logger, OutputSink, ProgressReporter, SecretResolver } from './spec';

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const ignoreProgress: ProgressReporter = { report() {} };
const discardOutput: OutputSink = { write() {} };

/** The environment variable the CLI reads a secret from: `LIFEBOAT_SECRET_` and the name upper-cased, other characters as `_`. */
export function secretVariable(name: string): string {
  return `LIFEBOAT_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Secrets from `LIFEBOAT_SECRET_<NAME>`; the value is handed to `onResolved` so it can be masked. */
export function environmentSecrets(
  env: NodeJS.ProcessEnv = process.env,
  onResolved: (value: string) => void = () => {},
): SecretResolver {
  return {
    async resolve(name: string) {
      const variable = secretVariable(name);
      const value = env[variable];
      if (value === undefined || value === '') {
        throw new Error(`secret '${name}' is not set: export ${variable}`);
      }
      onResolved(value);
      return value;
    },
  };
}

/** A context with quiet defaults; the CLI, the extension and tests override what they observe. */
export function createActionContext(overrides: Partial<ActionContext> & Pick<ActionContext, 'workspaceDir'>): ActionContext {
  return {
    signal: new AbortController().signal,
    progress: ignoreProgress,
    log: silentLogger,
    output: discardOutput,
    secrets: environmentSecrets(),
    inventory: {},
    clients: new ClientPool(),
    runbookParams: {},
    ...overrides,
  };
}
