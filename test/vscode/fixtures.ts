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
  'assist-completion.runbook.md': ASSIST_RUNBOOK,
  'assist-diagnostics.runbook.md': ASSIST_RUNBOOK,
  'assist-frontmatter.runbook.md': ASSIST_RUNBOOK.replace('default: 3', 'default: many'),
};
