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
 * folder that does not exist, and `nas` is a folder on an SSH host (listed only when expanded).
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

/** Steps the controller runs: a parameter in a shell step, two actions, a failure and a step after it. */
export const RUN_RUNBOOK = [
  '---',
  'title: Controller drill',
  'params:',
  '  greeting:',
  '    type: string',
  '    default: hello',
  '---',
  '',
  '# Controller drill',
  '',
  '```bash {id=greet}',
  'echo "$LIFEBOAT_PARAM_GREETING from shell"',
  'echo "to stderr" >&2',
  '```',
  '',
  '```lifeboat {id=made}',
  'action: archive.create',
  'paths: [data]',
  'destination: run-backups',
  'prefix: drill',
  '```',
  '',
  '```lifeboat',
  'action: archive.list',
  'location: run-backups',
  'prefix: drill',
  '```',
  '',
  '```bash',
  'echo "failing on purpose"',
  'exit 3',
  '```',
  '',
  '```bash',
  'echo "must not run"',
  '```',
  '',
].join('\n');

/** A step that runs until it is cancelled. */
export const SLOW_RUNBOOK = ['# Slow', '', '```bash', 'echo started', 'sleep 60', 'echo finished', '```', ''].join('\n');

/** Planned by a dry run: a new archive of `data` that must not appear. */
export const DRY_RUN_RUNBOOK = ['# Dry run', '', '```lifeboat', 'action: archive.create', 'paths: [data]', 'destination: dry-backups', 'prefix: dry', '```', ''].join('\n');

/** A step with an action id nobody knows: reported in its cell, nothing runs. */
export const BROKEN_RUNBOOK = ['# Broken', '', '```bash', 'touch ran-anyway', '```', '', '```lifeboat', 'action: archive.teleport', '```', ''].join('\n');

/**
 * A runbook with a parameter, a step with an id and action cells to complete in and to break: the
 * third cell names an action that does not exist, the fourth a parameter the action does not take.
 */
export const ASSIST_RUNBOOK = [
  '---',
  'params:',
  '  keep: { type: number, default: 3, description: Archives to keep }',
  '---',
  '# Check the backups',
  '',
  '```lifeboat {id=find}',
  'action: archive.list',
  'location: backups',
  '```',
  '',
  '```lifeboat',
  'action: archive.verif',
  'path: backups',
  '```',
  '',
  '```lifeboat',
  'action: archive.verify',
  'path: ${steps.find.archives.0.path}',
  'colour: blue',
  '```',
  '',
].join('\n');

/** File names in the test workspace. Each test that saves gets its own file, so tests stay independent. */
export const FIXTURE_FILES: Readonly<Record<string, string>> = {
  'unchanged.runbook.md': LAYOUT_RUNBOOK,
  'edited.runbook.md': LAYOUT_RUNBOOK,
  'run.runbook.md': RUN_RUNBOOK,
  'params.runbook.md': RUN_RUNBOOK,
  'slow.runbook.md': SLOW_RUNBOOK,
  'dry-run.runbook.md': DRY_RUN_RUNBOOK,
  'broken.runbook.md': BROKEN_RUNBOOK,
  'assist-completion.runbook.md': ASSIST_RUNBOOK,
  'assist-diagnostics.runbook.md': ASSIST_RUNBOOK,
  'assist-frontmatter.runbook.md': ASSIST_RUNBOOK.replace('default: 3', 'default: many'),
  'plain-notes.md': '# Notes\n\n```bash\necho from a plain markdown file\n```\n',
  'reopened-notes.md': '# Notes\n\n```bash\necho from a plain markdown file\n```\n',
  'data/app.conf': 'listen: 0.0.0.0:5000\n',
  'data/faces/asha.webp': 'not really an image, but bytes to archive\n',
  'lifeboat.yaml': INVENTORY,
  'make-archives.runbook.md': MAKE_ARCHIVES_RUNBOOK,
};
