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

/** File names in the test workspace. Each test that saves gets its own file, so tests stay independent. */
export const FIXTURE_FILES: Readonly<Record<string, string>> = {
  'unchanged.runbook.md': LAYOUT_RUNBOOK,
  'edited.runbook.md': LAYOUT_RUNBOOK,
};
