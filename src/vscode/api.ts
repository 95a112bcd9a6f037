import type { FaceBackupStatus } from './faceBackupStatus';
import type { LifeboatViews } from './views';

export type { LifeboatViews } from './views';
export type { FaceBackupStatus } from './faceBackupStatus';
export type {
  ArchiveNode,
  BackupNode,
  BackupsTreeProvider,
  CameraNode,
  EmptyNode,
  ErrorNode,
  FrigateNode,
  LoadMoreNode,
  LocationNode,
  NoticeNode,
  PersonNode,
  RecordingDayNode,
  RecordingsNode,
  StoredArchiveNode,
} from './views/backupsView';
export type { RunbookGroupNode, RunbookNode, RunbookPlaceholderNode, RunbooksNode, RunbooksTreeProvider } from './views/runbooksView';
export type { RunNode, RunsMessageNode, RunsNode, RunStepNode, RunsTreeProvider } from './views/runsView';

/**
 * What the extension exports to other extensions and to its tests:
 * `vscode.extensions.getExtension<LifeboatApi>('lifeboat.lifeboat')?.activate()` resolves to it.
 * `views` holds the tree data providers of the Runbooks, Backups and Runs views: `getChildren()` and
 * `getTreeItem()` show what the views show, `refresh()` reads everything again. `faceBackupStatus` is
 * the status bar item with the age of the newest Frigate face backup.
 */
export interface LifeboatApi {
  readonly views: LifeboatViews;
  readonly faceBackupStatus: FaceBackupStatus;
}
