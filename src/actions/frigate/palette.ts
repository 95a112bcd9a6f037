import { joinPath, type BrowseNode } from '../../core/browse/node';
import type { NodeStep, PaletteCommand, Picked } from '../../core/browse/palette';
import { DEFAULT_FACE_BACKUP_MAX_AGE_HOURS, declaredFaceLocations, FACES_PREFIX, preferredFaceLocation, preferredRecordingsLocation } from './backupLocations';

/**
 * The Frigate palette commands, as declarations the editor renders: the picks come from the browse
 * model (the Frigate browser's instances and cameras, the locations browser's locations and archives).
 * Kept free of the actions' modules: the editor registers these commands when it starts.
 */

const FRIGATE = 'frigate';
const LOCATIONS = 'locations';
const S3_STORES = 's3';

const name = (node: BrowseNode) => node.facts.name;

const whichFrigate: NodeStep = { kind: 'node', param: 'frigate', question: 'which Frigate?', under: () => FRIGATE, value: name, none: 'lifeboat.yaml needs a Frigate instance under `frigate:`.' };

const NO_LOCATION = 'lifeboat.yaml needs a backup location under `locations:` (a folder, a folder on an SSH host, or an S3 store prefix).';

/** The face backup location: the one the instance prefers when it is there, else the person's pick. */
const whichFaceLocation: NodeStep = {
  kind: 'node',
  param: 'location',
  question: 'which backup location?',
  under: () => LOCATIONS,
  accept: (node) => node.kind === 'location',
  value: name,
  preferred: (picked, inventory) => ({ labels: [preferredFaceLocation(inventory, String(picked.frigate))], all: false }),
  none: NO_LOCATION,
};

/** The S3 store a snapshot mirror writes to, from the S3 stores of the inventory. */
const whichStore: NodeStep = {
  kind: 'node',
  param: 'store',
  question: 'to which S3 store?',
  under: () => S3_STORES,
  accept: (node) => node.kind === 's3.store',
  value: name,
  none: 'lifeboat.yaml needs an S3 store under `stores:` for the snapshots.',
};

/** The node kinds of a snapshot mirror: one whose state is in this workspace, one a cluster runs. */
const MIRROR_KINDS: ReadonlySet<string> = new Set(['frigate.snapshotMirror', 'frigate.clusterSnapshotMirror']);

/**
 * A snapshot mirror of the Frigate picked, from this workspace or run by a cluster: the parameters
 * its node's Show Mirror Status binds (store, prefix, and for one in a cluster its state and where it
 * runs), so the status is read where that mirror keeps it.
 */
const whichMirror: NodeStep = {
  kind: 'node',
  param: 'store',
  question: 'which snapshot mirror?',
  under: (picked) => joinPath(FRIGATE, String(picked.frigate), 'snapshot-mirrors'),
  accept: (node) => MIRROR_KINDS.has(node.kind) && node.operations.some((operation) => operation.id === 'status'),
  value: (node) => node.facts.store,
  params: (node) => {
    const status = node.operations.find((operation) => operation.id === 'status');
    return status?.kind === 'action' ? status.params : {};
  },
  none: 'that Frigate has no snapshot mirror yet: none has run in this workspace (Mirror Frigate Snapshots Now) and no cluster of lifeboat.yaml runs one (schedule.k8s.install).',
};

/** What the step after it lists: the archives of the location picked. */
const inLocation = (picked: Picked) => joinPath(LOCATIONS, String(picked.location));

export const frigatePaletteCommands: readonly PaletteCommand[] = [
  {
    command: 'lifeboat.backUpFrigateFaces',
    title: 'Backup Frigate Faces Now',
    action: 'frigate.faces.backup',
    steps: [
      whichFrigate,
      // Every location the instance names gets a fresh copy (what Check Frigate Backups asks of each), one step each in one run.
      {
        ...whichFaceLocation,
        eachRun: true,
        preferred: (picked, inventory) => {
          const declared = declaredFaceLocations(inventory, String(picked.frigate));
          return declared && declared.length > 0 ? { labels: [...new Set(declared)], all: true } : { labels: [preferredFaceLocation(inventory, String(picked.frigate))], all: false };
        },
      },
    ],
  },
  {
    command: 'lifeboat.restoreFrigateFaces',
    title: 'Restore Frigate Faces',
    action: 'frigate.faces.restore',
    steps: [
      whichFrigate,
      whichFaceLocation,
      {
        kind: 'node',
        param: 'archive',
        question: 'which backup?',
        under: inLocation,
        accept: (node) => node.kind === 'archive' && node.facts.faces === true,
        details: true,
        none: `no face archive (${FACES_PREFIX}-*.tar.gz) in that location.`,
      },
      {
        kind: 'choice',
        param: 'method',
        question: 'how?',
        options: [
          { value: 'files', description: 'byte for byte into the Frigate pod (Kubernetes exec)' },
          { value: 'api', description: "through Frigate's API: images are re-cropped and renamed, some may be rejected" },
        ],
      },
    ],
  },
  {
    command: 'lifeboat.checkFrigateBackups',
    title: 'Check Frigate Backups',
    action: 'frigate.backups.check',
    steps: [whichFrigate],
    settings: { maxAgeHours: { setting: 'lifeboat.frigate.faceBackupMaxAgeHours', fallback: DEFAULT_FACE_BACKUP_MAX_AGE_HOURS } },
    conclude(result) {
      const { verdict, reasons } = result as { verdict: keyof typeof VERDICT_TEXT; reasons: string[] };
      const why = reasons[0] ? ` (${reasons[0]}${reasons.length > 1 ? `, and ${reasons.length - 1} more` : ''})` : '';
      return { message: `Check Frigate Backups: ${VERDICT_TEXT[verdict]}${why}.`, warning: verdict !== 'ok' };
    },
  },
  {
    command: 'lifeboat.backUpFrigateRecordings',
    title: 'Back Up Frigate Recordings',
    action: 'frigate.recordings.backup',
    steps: [
      whichFrigate,
      {
        kind: 'node',
        param: 'location',
        question: 'to which location?',
        under: () => LOCATIONS,
        accept: (node) => node.kind === 'location' && node.facts.type === 'host',
        value: name,
        preferred: (picked, inventory) => ({ labels: [preferredRecordingsLocation(inventory, String(picked.frigate))], all: false }),
        none: 'lifeboat.yaml needs a location on an SSH host (`host:` and `path:` under `locations:`) to back recordings up to.',
      },
      {
        kind: 'node',
        param: 'cameras',
        question: 'which cameras?',
        under: (picked) => joinPath(FRIGATE, String(picked.frigate), 'pod'),
        accept: (node) => node.kind === 'frigate.camera',
        value: (node) => node.facts.camera,
        many: true,
        none: 'that Frigate has no recordings in its pod.',
      },
    ],
    agreeToPlan: 'Back Up',
  },
  {
    command: 'lifeboat.mirrorFrigateSnapshots',
    title: 'Mirror Frigate Snapshots Now',
    action: 'frigate.snapshots.mirror',
    steps: [
      whichFrigate,
      whichStore,
      {
        kind: 'choice',
        param: 'watch',
        question: 'once, or keep watching?',
        options: [
          { value: false, label: 'Once', description: 'the snapshots of every event so far, then stop' },
          { value: true, label: 'Keep watching', description: 'then the new events as they come, until you cancel; the notification shows the statistics' },
        ],
      },
    ],
  },
  {
    command: 'lifeboat.showFrigateMirrorStatus',
    title: 'Show Mirror Status',
    action: 'frigate.snapshots.mirror.status',
    steps: [whichFrigate, whichMirror],
  },
];

const VERDICT_TEXT = {
  ok: 'ok, the face backups are fresh and complete',
  stale: 'stale',
  failing: 'failing',
} as const;
