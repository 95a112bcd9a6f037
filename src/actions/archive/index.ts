import type { ActionSpec } from '../../core/actions/spec';
import { archiveCreate } from './create';
import { archiveDelete } from './delete';
import { archiveList } from './list';
import { archiveRestore } from './restore';
import { archiveVerify } from './verify';

export const archiveActions: ActionSpec[] = [archiveCreate, archiveVerify, archiveList, archiveRestore, archiveDelete];

export { archiveCreateParams, type ArchiveCreateParams, type ArchiveCreateResult, type DeletedArchive } from './create';
export { archiveDeleteParams, LastVerifiedArchiveError, type ArchiveDeleteParams, type ArchiveDeleteResult } from './delete';
export { archiveListParams, type ArchiveListParams, type ArchiveListResult, type ListedArchive, type VerifiedStatus } from './list';
export { prefixOfArchiveName } from './naming';
export { archiveRestoreParams, OverwriteRefusedError, type ArchiveRestoreParams, type ArchiveRestoreResult } from './restore';
export { RestoreRefusedError } from './restoreScan';
export {
  ArchiveVerificationError,
  archiveVerifyParams,
  type ArchiveVerification,
  type ArchiveVerifyParams,
  type ArchiveVerifyResult,
  type ChecksumState,
} from './verify';
export { FileExistsError } from '../../core/atomicFiles';
export { VERIFIED_STATE_FILE, type VerificationRecord } from './verifiedState';
