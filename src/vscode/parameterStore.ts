import * as vscode from 'vscode';
import type { DeclaredParameter } from './parameterSummary';

type Values = Record<string, unknown>;

/**
 * The parameter values a person chose for each runbook notebook. Ordinary values are kept in the
 * workspace state, so they survive a reload; values of `secret: true` parameters only in memory.
 */
export class ParameterStore implements vscode.Disposable {
  private static readonly STATE_KEY = 'lifeboat.parameters';
  private readonly secretValues = new Map<string, Values>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly state: vscode.Memento) {}

  get(notebook: vscode.Uri): Values {
    const stored = this.state.get<Record<string, Values>>(ParameterStore.STATE_KEY, {})[notebook.toString()] ?? {};
    return { ...stored, ...this.secretValues.get(notebook.toString()) };
  }

  /** Sets some values (undefined removes one); `secretNames` are held in memory only. */
  async update(notebook: vscode.Uri, values: Values, secretNames: ReadonlySet<string> = new Set()): Promise<void> {
    const key = notebook.toString();
    const all = this.state.get<Record<string, Values>>(ParameterStore.STATE_KEY, {});
    const stored = { ...all[key] };
    const secrets = { ...this.secretValues.get(key) };
    for (const [name, value] of Object.entries(values)) {
      delete stored[name];
      delete secrets[name];
      if (value === undefined) continue;
      if (secretNames.has(name)) secrets[name] = value;
      else stored[name] = value;
    }
    this.secretValues.set(key, secrets);
    await this.state.update(ParameterStore.STATE_KEY, { ...all, [key]: stored });
    this.changed.fire(notebook);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** The parameters a runbook declares (name, `secret`, default, required), read from the notebook's frontmatter without a schema library. */
export function declaredParameters(notebook: vscode.NotebookDocument): DeclaredParameter[] {
  const frontmatter = (notebook.metadata.lifeboat as { frontmatter?: { params?: unknown } | null } | undefined)?.frontmatter;
  const params = frontmatter?.params;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return [];
  return Object.entries(params).map(([name, declared]) => {
    const definition = (declared ?? {}) as { secret?: unknown; default?: unknown; required?: unknown };
    return {
      name,
      secret: definition.secret === true,
      ...(definition.default === undefined ? {} : { default: definition.default }),
      // The runner's rule (isRequired in src/core/runbook/params.ts, which loads the schema library).
      required: typeof definition.required === 'boolean' ? definition.required : definition.default === undefined,
    };
  });
}
