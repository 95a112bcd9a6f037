import { ValidationError } from './errors';

/**
 * The backup locations of an inventory (`locations: { <name>: { path: <folder> } }`), as the Backups
 * view shows them. A local folder is the only kind listed so far; locations on hosts, stores or
 * clusters are recognised and reported as not supported yet rather than taken for local folders.
 */
export type BackupLocation =
  | { name: string; kind: 'local'; /** As written: `~/` and relative paths are resolved by the action that reads it. */ path: string }
  | { name: string; kind: 'unsupported'; reason: string }
  | { name: string; kind: 'invalid'; problem: string };

/** Keys that place a location somewhere other than a local folder, and how to say so. */
const REMOTE_KINDS: Readonly<Record<string, string>> = {
  host: 'on an SSH host',
  store: 'in an S3 store',
  cluster: 'in a cluster',
  repository: 'in a restic repository',
};

/**
 * Reads `locations:` of inventory data, validated or not; a missing section is none. A section that is not a mapping is an error naming
 * the file; a single malformed entry becomes an `invalid` location, so the others still show.
 */
export function readBackupLocations(inventory: Readonly<Record<string, unknown>>, file: string): BackupLocation[] {
  const section = inventory.locations;
  if (section === undefined || section === null) return [];
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new ValidationError([{ file, field: 'locations', message: 'expected a mapping of location names to { path: <folder> }' }]);
  }
  return Object.entries(section as Record<string, unknown>).map(([name, entry]) => readLocation(name, entry));
}

function readLocation(name: string, entry: unknown): BackupLocation {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return { name, kind: 'invalid', problem: `\`locations.${name}\`: expected a mapping such as { path: backups }` };
  }
  const fields = entry as Record<string, unknown>;
  const remote = Object.keys(REMOTE_KINDS).find((key) => fields[key] !== undefined);
  if (remote) return { name, kind: 'unsupported', reason: `locations ${REMOTE_KINDS[remote]} are not supported yet` };
  if (typeof fields.path !== 'string' || fields.path.trim() === '') {
    return { name, kind: 'invalid', problem: `\`locations.${name}.path\`: expected the folder holding the archives` };
  }
  return { name, kind: 'local', path: fields.path };
}
