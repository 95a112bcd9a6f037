import * as vscode from 'vscode';
import { environmentSecrets } from '../core/actions/context';
import type { SecretResolver } from '../core/actions/spec';
import { Redactor } from '../core/redact';
import { SECRET_NAME } from '../core/secrets';
import type { Services } from './services';

/** Where `Lifeboat: Set Secret…` keeps a secret in VS Code's SecretStorage. */
export function secretStorageKey(name: string): string {
  return `lifeboat.secret.${name}`;
}

/**
 * `secret:NAME` from VS Code's SecretStorage, else from `LIFEBOAT_SECRET_<NAME>` as in the CLI.
 * Every value handed out goes to `onResolved` with its name first, so it is masked wherever output is recorded.
 */
export function workspaceSecrets(storage: vscode.SecretStorage, onResolved: (value: string, name: string) => void): SecretResolver {
  const fromEnvironment = environmentSecrets(process.env);
  const lookUp = async (name: string): Promise<string> => {
    const stored = await storage.get(secretStorageKey(name));
    if (stored !== undefined && stored !== '') return stored;
    try {
      return await fromEnvironment.resolve(name);
    } catch (error) {
      throw new Error(`${(error as Error).message}, or set it with "Lifeboat: Set Secret…"`);
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

/** The masking of one run; a secret too short to be masked is said, once, where the user sees it. */
export function runRedactor(services: Services): Redactor {
  return new Redactor((message) => {
    services.log.warn(message);
    void vscode.window.showWarningMessage(`Lifeboat: ${message}.`);
  });
}

/**
 * `Lifeboat: Set Secret…`: asks for a name and a value (hidden) and keeps them in SecretStorage, never
 * in a file. Both may be passed as arguments; what is missing is asked for. Resolves to whether it was saved.
 */
export async function setSecret(services: Services, name?: string, value?: string): Promise<boolean> {
  const validateName = (text: string) => (SECRET_NAME.test(text) ? undefined : 'Letters, digits, _, . and - only, starting with a letter or digit');
  const chosen =
    name ??
    (await vscode.window.showInputBox({
      title: 'Set Secret (1/2)',
      prompt: 'The secret’s name, as lifeboat.yaml and runbooks refer to it: secret:NAME',
      placeHolder: 'frigate_password',
      validateInput: validateName,
      ignoreFocusOut: true,
    }));
  if (chosen === undefined) return false;
  const problem = validateName(chosen);
  if (problem) {
    services.showError(`Lifeboat cannot keep a secret named '${chosen}': ${problem}.`);
    return false;
  }
  const secret =
    value ??
    (await vscode.window.showInputBox({
      title: 'Set Secret (2/2)',
      prompt: `The value of secret:${chosen}; kept in VS Code's secret storage and masked in every output.`,
      password: true,
      validateInput: (text) => (text === '' ? 'A secret cannot be empty' : undefined),
      ignoreFocusOut: true,
    }));
  if (secret === undefined || secret === '') return false;
  await services.context.secrets.store(secretStorageKey(chosen), secret);
  services.log.info(`secret '${chosen}' saved in SecretStorage`);
  void vscode.window.showInformationMessage(`Secret '${chosen}' saved. Refer to it as secret:${chosen} in lifeboat.yaml or an action cell.`);
  return true;
}
