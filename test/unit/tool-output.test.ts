/**
 * The parts of restic's output that only newer releases print (this machine has restic 0.14), taken
 * from restic's doc/075_scripting.rst, plus the tolerant JSON reading both clients share.
 */
import assert from 'node:assert/strict';
import { messageType, parseNode, parseSnapshot, parseSnapshots, parseVersion, resticFailure } from '../../src/clients/resticOutput';
import { leadingJson, parseJsonObjectLine } from '../../src/clients/toolJson';

describe('tool output', () => {
  describe('leadingJson', () => {
    it('reads the JSON before the text that follows it (forget --prune)', () => {
      const output = '[{"keep":[],"remove":[{"id":"ab]c"}],"paths":["/x {y}"]}]\nloading indexes...\nremaining: 7 blobs\n';
      const parsed = leadingJson(output);
      assert.deepEqual(parsed?.value, [{ keep: [], remove: [{ id: 'ab]c' }], paths: ['/x {y}'] }]);
      assert.equal(parsed?.rest.trim(), 'loading indexes...\nremaining: 7 blobs');
    });

    it('handles escaped quotes and gives up on text or truncated JSON', () => {
      assert.deepEqual(leadingJson('  {"a":"say \\"hi\\" ]"} tail')?.value, { a: 'say "hi" ]' });
      assert.equal(leadingJson('Fatal: wrong password'), undefined);
      assert.equal(leadingJson('[{"a":1}'), undefined);
      assert.equal(leadingJson(''), undefined);
    });

    it('reads objects from lines and skips text', () => {
      assert.deepEqual(parseJsonObjectLine(' {"message_type":"status"} '), { message_type: 'status' });
      assert.equal(parseJsonObjectLine('using parent snapshot 1234'), undefined);
      assert.equal(parseJsonObjectLine('{broken'), undefined);
      assert.equal(parseJsonObjectLine('[1,2]'), undefined);
    });
  });

  describe('restic shapes', () => {
    it('reads a 0.17+ snapshot with its summary, and a 0.14 one without', () => {
      const newer = parseSnapshot({
        time: '2026-07-01T02:00:00Z',
        tree: 't',
        paths: ['/srv'],
        hostname: 'nas',
        username: 'root',
        tags: null,
        program_version: 'restic 0.18.0',
        summary: { backup_start: '2026-07-01T02:00:00Z', backup_end: '2026-07-01T02:00:05Z', files_new: 3, data_added: 10240, total_bytes_processed: 1048576 },
        id: '4f2c9a0b1d2e3f40',
        future_field: { anything: true },
      });
      assert.equal(newer?.shortId, '4f2c9a0b', 'short_id is deprecated; derived from id');
      assert.deepEqual(newer?.tags, []);
      assert.equal(newer?.summary?.filesNew, 3);
      assert.equal(newer?.summary?.backupEnd, '2026-07-01T02:00:05Z');
      const older = parseSnapshot({ time: 't', paths: ['/srv'], hostname: 'nas', id: 'abcdef0123456789', short_id: 'abcdef01' });
      assert.equal(older?.summary, undefined);
      assert.equal(parseSnapshot({ hostname: 'no id' }), undefined);
    });

    it('reads grouped snapshot listings as well as plain ones', () => {
      const grouped = [{ group_key: { hostname: 'nas' }, snapshots: [{ id: 'aaaaaaaa11', hostname: 'nas', time: 't', paths: [] }] }];
      assert.deepEqual(parseSnapshots(grouped).map((snapshot) => snapshot.id), ['aaaaaaaa11']);
      assert.deepEqual(parseSnapshots({ not: 'a list' }), []);
    });

    it('knows ls lines by message_type (0.17+) or struct_type (0.14)', () => {
      assert.equal(messageType({ message_type: 'snapshot', struct_type: 'snapshot' }), 'snapshot');
      assert.equal(messageType({ struct_type: 'node' }), 'node');
      assert.deepEqual(parseNode({ message_type: 'node', name: 'a', type: 'file', path: '/a', size: 3, permissions: '-rw-r--r--' }), {
        name: 'a',
        type: 'file',
        path: '/a',
        size: 3,
        mode: undefined,
        permissions: '-rw-r--r--',
        mtime: undefined,
        uid: undefined,
        gid: undefined,
      });
    });

    it('reads versions from 0.14 text and 0.17+ JSON', () => {
      assert.deepEqual(parseVersion('restic 0.14.0 compiled with go1.19.8 on linux/amd64\n'), [0, 14, 0]);
      assert.deepEqual(parseVersion('{"message_type":"version","version":"0.18.1","go_version":"go1.24"}\n'), [0, 18, 1]);
    });
  });

  describe('restic failures', () => {
    it('maps the exit codes of 0.17+ without reading the text', () => {
      assert.equal(resticFailure(10, '', 'restic snapshots').kind, 'repository-missing');
      assert.equal(resticFailure(11, '', 'restic prune').kind, 'locked');
      assert.equal(resticFailure(12, '', 'restic snapshots').kind, 'wrong-password');
      assert.equal(resticFailure(2, 'panic: runtime error', 'restic backup').kind, 'failed');
    });

    it('reads the exit_error line of 0.18+', () => {
      const failure = resticFailure(1, '{"message_type":"exit_error","code":1,"message":"Fatal: unable to open repository at s3:…: Access Denied"}\n', 'restic snapshots');
      assert.equal(failure.kind, 'failed');
      assert.match(failure.message, /Access Denied/);
    });

    it('recognises 0.14 by its last words', () => {
      assert.equal(resticFailure(1, 'Fatal: wrong password or no key found\n', 'x').kind, 'wrong-password');
      assert.equal(resticFailure(1, 'Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n', 'x').kind, 'repository-missing');
      assert.equal(resticFailure(1, 'unable to create lock in backend: repository is already locked by PID 1 on nas\n', 'x').kind, 'locked');
      assert.equal(resticFailure(1, 'Fatal: create repository at /r failed: config file already exists\n', 'x').kind, 'repository-exists');
      assert.equal(resticFailure(0, 'Ignoring "deadbeef": no matching ID found for prefix "deadbeef"\n', 'x').kind, 'snapshot-missing');
      assert.match(resticFailure(1, 'Fatal: something new\n', 'restic check').message, /^restic check failed: exit code 1:\nFatal: something new$/);
    });
  });
});
