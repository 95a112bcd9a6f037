import type { ActionSpec } from '../../core/actions/spec';
import { frigateFacesBackup } from './backup';
import { frigateHealth } from './health';
import { frigateFacesList } from './list';
import { frigateFacesRestore } from './restore';

export const frigateActions: ActionSpec[] = [frigateHealth, frigateFacesList, frigateFacesBackup, frigateFacesRestore];
