import type { FaceBackupStatus } from './faceBackupStatus';
import type { LifeboatViews } from './views';
import type { WalkthroughProgress } from './walkthrough';

export type { LifeboatViews } from './views';
export type { FaceBackupStatus } from './faceBackupStatus';
export type { WalkthroughContext, WalkthroughProgress } from './walkthrough';
export type { BackupNode, BackupsTreeProvider, LoadMoreTreeNode, ModelTreeNode } from './views/backupsView';
export type { BrowseNode, NodeStatus, Operation } from '../core/browse/node';
export type { RunbookGroupNode, RunbookNode, RunbookPlaceholderNode, RunbooksNode, RunbooksTreeProvider } from './views/runbooksView';
export type { RunNode, RunsMessageNode, RunsNode, RunStepNode, RunsTreeProvider } from './views/runsView';

/**
 * What the extension exports to other extensions and to its tests:
 * `vscode.extensions.getExtension<LifeboatApi>('lifeboat.lifeboat')?.activate()` resolves to it.
 * `views` holds the tree data providers of the Runbooks, Backups and Runs views: `getChildren()` and
 * `getTreeItem()` show what the views show, `refresh()` reads everything again; the Backups view's nodes
 * carry the browse model's nodes (`node`: path, label, status, operations, facts). `faceBackupStatus` is
 * the status bar item with the age of the newest Frigate face backup. `walkthrough` holds the values of
 * the context keys the Get Started walkthrough's steps complete on (`context`), and fires when they change.
 */
export interface LifeboatApi {
  readonly views: LifeboatViews;
  readonly faceBackupStatus: FaceBackupStatus;
  readonly walkthrough: WalkthroughProgress;
}
