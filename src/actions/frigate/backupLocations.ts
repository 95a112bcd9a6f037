import type { Inventory } from '../../core/actions/spec';
import { formatAge, formatLocalDateTime } from '../../core/render';

/**
 * Which locations of an inventory hold a Frigate instance's backups (`frigate.<name>.backups`), and
 * how old the newest face backup may be before it is shown as a warning. Read by the Backups view and
 * the status bar item; nothing here touches a location.
 */

/** The name prefix of face library archives: `frigate-faces-YYYYMMDD-HHMMSS.tar.gz`. */
export const FACES_PREFIX = 'frigate-faces';

/** The face backup location when no instance names its own. */
export const DEFAULT_FACES_LOCATION = 'frigate-faces';

/** The recordings backup location when no instance names its own. */
export const DEFAULT_RECORDINGS_LOCATION = 'frigate-recordings';

/** A day between nightly backups, plus two hours for a slow or late run. */
export const DEFAULT_FACE_BACKUP_MAX_AGE_HOURS = 26;

/** The locations holding face backups: those the instances name, else `frigate-faces` when the inventory has it. */
export function faceBackupLocations(inventory: Inventory): string[] {
  const named = Object.values(inventory.frigate ?? {}).flatMap((entry) => entry.backups?.faces ?? []);
  if (named.length > 0) return [...new Set(named)];
  return inventory.locations?.[DEFAULT_FACES_LOCATION] ? [DEFAULT_FACES_LOCATION] : [];
}

/** The face backup locations one instance names, when it names any. */
export function declaredFaceLocations(inventory: Inventory, instance: string): readonly string[] | undefined {
  return inventory.frigate?.[instance]?.backups?.faces;
}

/** The location an instance's face backups go to unless the person picks another: the first it names, else `frigate-faces`. */
export function preferredFaceLocation(inventory: Inventory, instance: string): string {
  return declaredFaceLocations(inventory, instance)?.[0] ?? DEFAULT_FACES_LOCATION;
}

/** The location an instance's recordings go to unless the person picks another: the first it names, else `frigate-recordings`. */
export function preferredRecordingsLocation(inventory: Inventory, instance: string): string {
  return inventory.frigate?.[instance]?.backups?.recordings?.[0] ?? DEFAULT_RECORDINGS_LOCATION;
}

/**
 * The instance whose face backups a location holds: the only one naming it, or the only instance
 * when none names any; undefined when that is ambiguous.
 */
export function frigateOfFaceLocation(inventory: Inventory, location: string): string | undefined {
  const instances = Object.entries(inventory.frigate ?? {});
  const naming = instances.filter(([, entry]) => entry.backups?.faces?.includes(location));
  if (naming.length === 1) return naming[0]?.[0];
  const anyNamed = instances.some(([, entry]) => entry.backups?.faces !== undefined);
  return naming.length === 0 && !anyNamed && instances.length === 1 ? instances[0]?.[0] : undefined;
}

/** A recordings backup location of an instance, or why the name given cannot be one. */
export type RecordingsLocation = { location: string; problem?: undefined } | { location: string; problem: string };

export function recordingsLocationsOf(inventory: Inventory, instance: string): RecordingsLocation[] {
  const names = inventory.frigate?.[instance]?.backups?.recordings ?? [];
  return names.map((location) => {
    const entry = inventory.locations?.[location];
    const field = `frigate.${instance}.backups.recordings`;
    if (!entry) return { location, problem: `\`${field}\` names '${location}', which is not under \`locations:\`` };
    if (!('host' in entry)) return { location, problem: `\`${field}\`: location '${location}' needs a \`host\` and \`path\` (recordings are backed up to an SSH host)` };
    return { location };
  });
}

/** The newest face archive found in one location. */
export interface FaceBackupSighting {
  location: string;
  name: string;
  date: Date;
}

export interface FaceBackupAge {
  text: string;
  tooltip: string;
  /**
   * Older than allowed, missing, or unknown because no location could be read. A location that cannot
   * be read while another can does not warn: it could only hold a newer backup.
   */
  warning: boolean;
}

/** What the status bar says about the newest face backup across the face backup locations. */
export function describeFaceBackupAge(
  newest: FaceBackupSighting | undefined,
  failures: readonly { location: string; message: string }[],
  maxAgeHours: number,
  now = new Date(),
): FaceBackupAge {
  const unread = failures.map((failure) => `Could not read ${failure.location}: ${failure.message}`);
  const allowed = `Allowed age: ${maxAgeHours} h (setting lifeboat.frigate.faceBackupMaxAgeHours).`;
  if (!newest) {
    const text = failures.length > 0 ? '$(warning) Faces: unknown' : '$(warning) Faces: no backup';
    return { text, tooltip: [failures.length > 0 ? 'The face backups could not be listed.' : 'No face backup found.', ...unread, allowed].join('\n'), warning: true };
  }
  const ageHours = (now.getTime() - newest.date.getTime()) / 3_600_000;
  const warning = ageHours > maxAgeHours;
  const age = formatAge(newest.date, now);
  const lines = [
    `Newest face backup: ${newest.name}`,
    `In ${newest.location}, made ${formatLocalDateTime(newest.date)} (${age}).`,
    warning ? `Older than allowed. ${allowed}` : allowed,
    ...unread,
  ];
  return { text: `${warning ? '$(warning)' : '$(shield)'} Faces: ${age}`, tooltip: lines.join('\n'), warning };
}
