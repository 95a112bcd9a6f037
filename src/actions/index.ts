import type { ActionSpec } from '../core/actions/spec';
import type { Browser } from '../core/browse/model';
import { locationsBrowser } from './archive/browser';
import { clustersBrowser } from './clusters/browser';
import { frigateBrowser } from './frigate/browser';
import { hostsBrowser } from './hosts/browser';
import { archiveActions } from './archive';
import { backrestActions, backrestBrowser } from './backrest';
import { cnpgActions } from './cnpg';
import { fluxActions } from './flux';
import { frigateActions } from './frigate';
import { pbsActions, pbsBrowser } from './pbs';
import { pgActions } from './pg';
import { resticActions, resticBrowser } from './restic';
import { rcloneActions, rcloneBrowser } from './rclone';
import { s3Actions, s3Browser } from './s3';
import { endpointsBrowser, httpActions } from './http';
import { k8sActions } from './k8s';
import { scheduleActions } from './schedule';
import { shellAction } from './shell';
import { sshRunAction } from './ssh';
import { syncActions } from './sync';
import { tierActions } from './tier';
import { veleroChangeActions } from './velero/changeActions';
import { veleroInspectActions } from './velero/inspectActions';

/** Every action Lifeboat ships, as the CLI, notebook cells and palette commands see them. */
export const builtinActions: readonly ActionSpec[] = [shellAction, sshRunAction, ...archiveActions, ...frigateActions, ...scheduleActions, ...veleroInspectActions, ...veleroChangeActions, ...fluxActions, ...cnpgActions, ...k8sActions, ...pgActions, ...pbsActions, ...rcloneActions, ...httpActions, ...resticActions, ...backrestActions, ...syncActions, ...tierActions, ...s3Actions];

/** Every backend's browser, in the order their roots are shown: what the Backups tree, pick lists and `lifeboat ls` list. */
export const builtinBrowsers: readonly Browser[] = [frigateBrowser, locationsBrowser, hostsBrowser, clustersBrowser, pbsBrowser, resticBrowser, backrestBrowser, rcloneBrowser, s3Browser, endpointsBrowser];
