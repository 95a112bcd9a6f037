import type { ActionSpec } from '../../core/actions/spec';
import { pbsDatastores } from './datastores';
import { pbsSnapshots } from './snapshots';
import { pbsVerify } from './verify';

export { pbsBrowser } from './browser';

export const pbsActions: ActionSpec[] = [pbsDatastores, pbsSnapshots, pbsVerify];
