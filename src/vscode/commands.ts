import * as vscode from 'vscode';
import type { RunActionRequest } from './actionCommand';
import { builtinPaletteCommands } from '../actions/paletteCommands';
import { loadRuntime } from './lazy';
import { setSecret } from './secrets';
import type { Services } from './services';
import { openInventory } from './walkthrough';

/** Palette commands: each runs one action through the same runner as notebook cells; the backends' own are declarations. */
export function registerCommands(services: Services): vscode.Disposable[] {
  const runAction = (request?: RunActionRequest) => loadRuntime().runActionCommand(services, request);
  return [
    vscode.commands.registerCommand('lifeboat.showLog', () => services.log.show(true)),
    vscode.commands.registerCommand('lifeboat.openInventory', () => openInventory(services)),
    vscode.commands.registerCommand('lifeboat.setSecret', (name?: string, value?: string) => setSecret(services, name, value)),
    vscode.commands.registerCommand('lifeboat.runAction', (request?: RunActionRequest) => runAction(request)),
    vscode.commands.registerCommand('lifeboat.backUpFolder', () => runAction({ action: 'archive.create', title: 'Back Up a Folder' })),
    vscode.commands.registerCommand('lifeboat.verifyArchives', () => runAction({ action: 'archive.verify', title: 'Verify Archives' })),
    vscode.commands.registerCommand('lifeboat.restoreArchive', () => runAction({ action: 'archive.restore', title: 'Restore an Archive' })),
    vscode.commands.registerCommand('lifeboat.installCli', () => runAction({ action: 'schedule.cli.install', title: 'Install the CLI on a Host' })),
    ...builtinPaletteCommands.map((command) => vscode.commands.registerCommand(command.command, () => loadRuntime().runPaletteCommand(services, command))),
  ];
}
