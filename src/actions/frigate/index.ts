import type { ActionSpec } from '../../core/actions/spec';
import { frigateFacesBackup } from './backup';
import { frigateBackupsCheck } from './backupCheck';
import { frigateHealth } from './health';
import { frigateFacesList } from './list';
import { frigateSnapshotsMirror } from './mirror';
import { frigateSnapshotsMirrorStatus } from './mirrorStatus';
import { frigateRecordingsBackup } from './recordingsBackup';
import { frigateRecordingsList } from './recordingsList';
import { frigateRecordingsRestore } from './recordingsRestore';
import { frigateFacesRestore } from './restore';

export const frigateActions: ActionSpec[] = [frigateHealth, frigateFacesList, frigateFacesBackup, frigateFacesRestore, frigateRecordingsList, frigateRecordingsBackup, frigateRecordingsRestore, frigateBackupsCheck, frigateSnapshotsMirror, frigateSnapshotsMirrorStatus];
