import type * as vscode from 'vscode';
import { environmentSecrets } from '../core/actions/context';
import type { SecretResolver } from '../core/actions/spec';

/** Where `Lifeboat: Set Secret…` keeps a secret in VS Code's SecretStorage. */
export function secretStorageKey(name: string): string {
  return `lifeboat.secret.${name}`;
}

/**
 * `secret:NAME` from VS Code's SecretStorage, else from `LIFEBOAT_SECRET_<NAME>` as in the CLI.
 * Every value handed out goes to `onResolved` first, so it is masked wherever output is recorded.
 */
export function workspaceSecrets(storage: vscode.SecretStorage, onResolved: (value: string) => void): SecretResolver {
  const fromEnvironment = environmentSecrets(process.env, onResolved);
  return {
    async resolve(name) {
      const stored = await storage.get(secretStorageKey(name));
      if (stored === undefined || stored === '') return fromEnvironment.resolve(name);
      onResolved(stored);
      return stored;
    },
  };
}
