import { stat } from 'node:fs/promises';
import { environmentSecrets } from '../core/actions/context';
import type { SecretResolver } from '../core/actions/spec';
import { errorMessage, ValidationError } from '../core/errors';
import { readTextFile } from '../core/textFiles';
import { readYaml } from '../core/yamlData';
import { UsageError } from './args';

/** The environment variable naming a secrets file when `--secrets` is not given. */
export const SECRETS_FILE_VARIABLE = 'LIFEBOAT_SECRETS_FILE';

/**
 * Reads a secrets file: a YAML mapping of secret names to values. It is refused unless only its owner
 * can read it (mode 0600 or stricter), since anyone who reads it has every secret in it.
 */
export async function readSecretsFile(path: string): Promise<ReadonlyMap<string, string>> {
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode & 0o777;
    text = await readTextFile(path, 'secrets file');
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new UsageError(`lifeboat: cannot read the secrets file ${path}: ${errorMessage(error)}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new UsageError(`lifeboat: refusing the secrets file ${path}: its mode is ${mode.toString(8).padStart(4, '0')}, so others can read it; make it private with: chmod 600 ${path}`);
  }
  // Every value is the text as written: a PIN `0042` stays 0042, `yes` stays yes.
  const read = readYaml(text, { scalarsAsText: true });
  if (!read.ok) {
    throw new ValidationError(read.faults.map((fault) => ({ file: path, line: read.lineCounter.linePos(fault.start).line, message: fault.message })));
  }
  const data = read.data;
  if (data === null || data === undefined) return new Map();
  if (typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`lifeboat: the secrets file ${path} must be a YAML mapping of secret names to values (api_token: …)`);
  const secrets = new Map<string, string>();
  for (const [name, value] of Object.entries(data)) {
    if (typeof value !== 'string') throw new UsageError(`lifeboat: the secrets file ${path}: '${name}' must be a string`);
    secrets.set(name, value);
  }
  return secrets;
}

/**
 * The CLI's secrets: `LIFEBOAT_SECRET_<NAME>` first, then the secrets file (`--secrets`, else
 * `LIFEBOAT_SECRETS_FILE`). Every value handed out goes to `onResolved` with its name, so it is masked.
 */
export async function cliSecrets(file: string | undefined, onResolved: (value: string, name: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<SecretResolver> {
  const path = file ?? (env[SECRETS_FILE_VARIABLE] || undefined);
  const stored = path === undefined ? new Map<string, string>() : await readSecretsFile(path);
  const fromEnvironment = environmentSecrets(env);
  const lookUp = async (name: string): Promise<string> => {
    try {
      return await fromEnvironment.resolve(name);
    } catch (error) {
      const value = stored.get(name);
      if (value === undefined || value === '') {
        throw new Error(`${errorMessage(error)}, or add '${name}' to a secrets file (--secrets FILE or ${SECRETS_FILE_VARIABLE})`);
      }
      return value;
    }
  };
  return {
    async resolve(name) {
      const value = await lookUp(name);
      onResolved(value, name);
      return value;
    },
  };
}
