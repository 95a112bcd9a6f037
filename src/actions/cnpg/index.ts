import type { ActionSpec } from '../../core/actions/spec';
import { cnpgBackup } from './backup';
import { cnpgBackupsList } from './backups';
import { cnpgRestore } from './restore';

export const cnpgActions: readonly ActionSpec[] = [cnpgBackupsList, cnpgBackup, cnpgRestore];
