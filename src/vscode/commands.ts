import * as vscode from 'vscode';
import type { RunActionRequest } from './actionCommand';
import { loadRuntime } from './lazy';
import { setSecret } from './secrets';
import type { Services } from './services';

/** Palette commands: each runs one action through the same runner as notebook cells. */
export function registerCommands(services: Services): vscode.Disposable[] {
  const runAction = (request?: RunActionRequest) => loadRuntime().runActionCommand(services, request);
  return [
    vscode.commands.registerCommand('lifeboat.showLog', () => services.log.show(true)),
    vscode.commands.registerCommand('lifeboat.setSecret', (name?: string, value?: string) => setSecret(services, name, value)),
    vscode.commands.registerCommand('lifeboat.runAction', (request?: RunActionRequest) => runAction(request)),
    vscode.commands.registerCommand('lifeboat.backUpFolder', () => runAction({ action: 'archive.create', title: 'Back Up a Folder' })),
    vscode.commands.registerCommand('lifeboat.verifyArchives', () => runAction({ action: 'archive.verify', title: 'Verify Archives' })),
    vscode.commands.registerCommand('lifeboat.restoreArchive', () => runAction({ action: 'archive.restore', title: 'Restore an Archive' })),
    vscode.commands.registerCommand('lifeboat.installCli', () => runAction({ action: 'schedule.cli.install', title: 'Install the CLI on a Host' })),
    vscode.commands.registerCommand('lifeboat.backUpFrigateFaces', () => loadRuntime().backUpFrigateFacesNow(services)),
    vscode.commands.registerCommand('lifeboat.restoreFrigateFaces', () => loadRuntime().restoreFrigateFaces(services)),
    vscode.commands.registerCommand('lifeboat.backUpFrigateRecordings', () => loadRuntime().backUpFrigateRecordings(services)),
    vscode.commands.registerCommand('lifeboat.checkFrigateBackups', () => loadRuntime().checkFrigateBackupsCommand(services)),
  ];
}
