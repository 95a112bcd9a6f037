/**
 * The runbooks the extension-host tests open. They live here as strings, not as files under
 * test/fixtures/, because their point is bytes that editors and git like to "fix" (CRLF line endings,
 * trailing spaces, no final newline). The runner writes them into a fresh temporary workspace; the
 * suite reads the same strings to know what the files must still hold after a save.
 */

/** CRLF throughout, frontmatter, trailing spaces, a tilde fence with attributes, no final newline. */
export const LAYOUT_RUNBOOK = [
  '---\r\n',
  'title: Restore drill\r\n',
  '---\r\n',
  '\r\n',
  '# Restore drill   \r\n',
  '\r\n',
  'Find the newest backup.  \r\n',
  '\r\n',
  '~~~bash {id=find}\r\n',
  'ls -1 /backups | tail -n 1   \r\n',
  '~~~\r\n',
  '\r\n',
  '```lifeboat\r\n',
  'action: archive.verify\r\n',
  '```\r\n',
  '\r\n',
  '```json\r\n',
  '{ "keep": 7 }\r\n',
  '```\r\n',
  '\r\n',
  'Done.  ',
].join('');

/**
 * The workspace inventory: one backup location for each state the Backups view shows. `paged` gets
 * more archives than a page holds, `single` exactly one (its last verified archive), `broken` names a
 * folder that does not exist, and `nas` is a kind of location the view does not list yet.
 */
export const INVENTORY = [
  'locations:',
  '  local:',
  '    path: backups',
  '  paged:',
  '    path: paged',
  '  single:',
  '    path: single',
  '  broken:',
  '    path: missing-folder',
  '  nas:',
  '    host: nas',
  '    path: /srv/backups',
  '',
].join('\n');

/** How many archives the make-archives runbook writes into each location. */
export const ARCHIVES_PER_LOCATION = { local: 2, paged: 7, single: 1 } as const;

const archiveCell = (prefix: string, destination: string) => ['```lifeboat', 'action: archive.create', 'paths: [data]', `destination: ${destination}`, `prefix: ${prefix}`, '```', ''];

/**
 * Makes real archives with `archive.create`, run by the CLI in the test workspace (which also records
 * the run for the Runs view). Prefixes differ because archives made in one second share a timestamp.
 */
export const MAKE_ARCHIVES_RUNBOOK = [
  '---',
  'title: Make the test archives',
  '---',
  '',
  '# Make the test archives',
  '',
  ...archiveCell('app', 'backups'),
  ...archiveCell('db', 'backups'),
  ...Array.from({ length: ARCHIVES_PER_LOCATION.paged }, (_, index) => archiveCell(`page${index + 1}`, 'paged')).flat(),
  ...archiveCell('only', 'single'),
].join('\n');

/** File names in the test workspace. Each test that saves gets its own file, so tests stay independent. */
export const FIXTURE_FILES: Readonly<Record<string, string>> = {
  'unchanged.runbook.md': LAYOUT_RUNBOOK,
  'edited.runbook.md': LAYOUT_RUNBOOK,
  'lifeboat.yaml': INVENTORY,
  'make-archives.runbook.md': MAKE_ARCHIVES_RUNBOOK,
  'data/notes.txt': 'what the archives hold\n',
};
