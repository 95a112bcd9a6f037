import * as vscode from 'vscode';
import type { Services } from './services';

/** Palette commands: each runs one action through the same runner as notebook cells. */
export function registerCommands(services: Services): vscode.Disposable[] {
  return [vscode.commands.registerCommand('lifeboat.showLog', () => services.log.show(true))];
}
