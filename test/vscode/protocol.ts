/**
 * How the suite in the extension host talks to the runner outside it. Under test, VS Code sends the
 * extension host's console to the workbench's log service, where it looks like the workbench's own
 * log lines; the suite labels its output so the runner can tell it apart.
 */
export const EXTENSION_HOST_LABEL = '[Extension Host]';

/** The console line that carries the counts: this marker, then `SuiteResult` as JSON. */
export const RESULT_MARKER = 'lifeboat-vscode-tests:';

export interface SuiteResult {
  passes: number;
  failures: number;
  pending: number;
}
