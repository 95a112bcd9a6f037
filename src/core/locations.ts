import { ValidationError } from './errors';

/**
 * The backup locations of an inventory (`locations:`), as the Backups view shows them: a local folder,
 * a folder on an SSH host (`host` + `path`) or an S3 store prefix (`store` + `prefix`). Locations in
 * clusters or restic repositories are recognised and reported as not supported rather than taken for
 * local folders.
 */
export type BackupLocation =
  | { name: string; kind: 'local'; /** As written: `~/` and relative paths are resolved by the action that reads it. */ path: string }
  | { name: string; kind: 'host'; host: string; path: string }
  | { name: string; kind: 'store'; store: string; prefix: string }
  | { name: string; kind: 'unsupported'; reason: string }
  | { name: string; kind: 'invalid'; problem: string };

/** The kinds of location the view lists archives of. */
export type ListedLocation = Extract<BackupLocation, { kind: 'local' | 'host' | 'store' }>;

/** Where a location's archives are, as a person reads it: `backups`, `nas:/srv/backups`, `garage:frigate/`. */
export function describeLocation(location: ListedLocation): string {
  if (location.kind === 'host') return `${location.host}:${location.path}`;
  if (location.kind === 'store') return `${location.store}:${location.prefix}`;
  return location.path;
}

/** Keys that place a location somewhere other than a local folder, and how to say so. */
const UNSUPPORTED_KINDS: Readonly<Record<string, string>> = {
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
  const unsupported = Object.keys(UNSUPPORTED_KINDS).find((key) => fields[key] !== undefined);
  if (unsupported) return { name, kind: 'unsupported', reason: `locations ${UNSUPPORTED_KINDS[unsupported]} are not supported yet` };
  if (fields.store !== undefined) {
    if (typeof fields.store !== 'string' || fields.store.trim() === '') return { name, kind: 'invalid', problem: `\`locations.${name}.store\`: expected the name of a store under \`stores:\`` };
    if (fields.prefix !== undefined && typeof fields.prefix !== 'string') return { name, kind: 'invalid', problem: `\`locations.${name}.prefix\`: expected a key prefix such as frigate/faces` };
    return { name, kind: 'store', store: fields.store, prefix: fields.prefix ?? '' };
  }
  if (typeof fields.path !== 'string' || fields.path.trim() === '') {
    return { name, kind: 'invalid', problem: `\`locations.${name}.path\`: expected the folder holding the archives` };
  }
  if (fields.host !== undefined) {
    if (typeof fields.host !== 'string' || fields.host.trim() === '') return { name, kind: 'invalid', problem: `\`locations.${name}.host\`: expected the name of a host under \`hosts:\`` };
    return { name, kind: 'host', host: fields.host, path: fields.path };
  }
  return { name, kind: 'local', path: fields.path };
}
