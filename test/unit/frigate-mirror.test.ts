import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { normalizePrefix, parseSnapshotKey, readEvent, snapshotKey, unsafeNameReason } from '../../src/actions/frigate/mirrorKeys';
import { defaultStatePath, ForeignStateError, loadMirrorState, MirrorState } from '../../src/actions/frigate/mirrorState';
import { hostilePayloads } from '../support/payloads';

const identity = { frigate: 'home', store: 'snaps', bucket: 'snapshots', prefix: 'frigate/snapshots' };

describe('snapshot mirror keys', () => {
  it('builds the procedure\'s key from the event\'s start in UTC', () => {
    const event = { id: '1705329022.25-abc123', camera: 'front_door', startTime: 1705329022.25, inProgress: false };
    assert.equal(snapshotKey('frigate/snapshots', event), 'frigate/snapshots/front_door/2024-01-15/1705329022.25-abc123-20240115_143022.jpg');
    assert.equal(snapshotKey('/frigate/snapshots/', event), 'frigate/snapshots/front_door/2024-01-15/1705329022.25-abc123-20240115_143022.jpg');
    assert.equal(snapshotKey('', event), 'front_door/2024-01-15/1705329022.25-abc123-20240115_143022.jpg');
    // Just before midnight UTC stays on its day whatever this machine's time zone.
    assert.equal(snapshotKey('p', { ...event, startTime: 1705363199.999 }), 'p/front_door/2024-01-15/1705329022.25-abc123-20240115_235959.jpg');
  });

  it('reads back the id, camera and second of a key, and nothing from other objects', () => {
    assert.deepEqual(parseSnapshotKey('frigate/snapshots', 'frigate/snapshots/front_door/2024-01-15/1705329022.25-abc123-20240115_143022.jpg'), { id: '1705329022.25-abc123', camera: 'front_door', startSecond: 1705329022 });
    assert.deepEqual(parseSnapshotKey('', 'yard/2024-01-15/x-y-z-20240115_000000.jpg'), { id: 'x-y-z', camera: 'yard', startSecond: 1705276800 });
    for (const key of ['frigate/snapshots/notes.txt', 'other/front/2024-01-15/a-20240115_143022.jpg', 'frigate/snapshots/a/b/2024-01-15/a-20240115_143022.jpg']) assert.equal(parseSnapshotKey('frigate/snapshots', key), undefined, key);
    assert.equal(normalizePrefix('//a/b//'), 'a/b');
  });

  it('refuses ids and cameras that could leave their place in the bucket', () => {
    for (const name of ['../x', 'a/b', 'a\\b', '..', 'x\u0000', 'x\ny', 'x\u007f', '', 'a'.repeat(201)]) {
      assert.ok(unsafeNameReason('event id', name), JSON.stringify(name));
      assert.ok(unsafeNameReason('camera', name), JSON.stringify(name));
    }
    for (const name of ['1705329022.25-abc123', 'front_door', 'Front Door', 'café']) assert.equal(unsafeNameReason('camera', name), undefined);
    for (const payload of hostilePayloads('/tmp/lifeboat-pwned')) {
      const read = readEvent({ id: payload, camera: 'front', start_time: 1, end_time: 2 });
      if ('event' in read) assert.equal(snapshotKey('p', read.event).split('/').length, 4, JSON.stringify(payload));
      else assert.ok(unsafeNameReason('event id', payload), JSON.stringify(payload));
    }
    assert.deepEqual(readEvent({ id: 'a', camera: 'c', start_time: 'soon' }), { problem: 'the event has no valid start_time', id: 'a', startTime: undefined });
    assert.equal((readEvent({ id: 'a', camera: 'c', start_time: 5, end_time: null }) as { event: { inProgress: boolean } }).event.inProgress, true);
  });
});

describe('snapshot mirror state', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-mirror-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips through its file, and forgets the uploads the cursor covers', async () => {
    const state = new MirrorState(identity);
    for (let index = 0; index < 10; index++) state.recordUploaded({ id: `e${index}`, camera: 'c', startTime: 1000 + index * 10, inProgress: false });
    state.recordFailed({ id: 'bad', camera: 'c', startTime: 1005, attempts: 4, error: 'HTTP 500', failedAt: '2026-01-01T00:00:00Z' });
    state.frontier = 1090;
    state.advanceCursor(1050);
    const file = path.join(dir, 'state.json');
    await state.save(file);
    const loaded = await loadMirrorState(file, identity);
    assert.ok(loaded.state);
    assert.equal(loaded.state.cursor, 1050);
    assert.equal(loaded.state.frontier, 1090);
    assert.equal(loaded.state.tracked, 10);
    assert.equal(loaded.state.isUploaded('e0'), false, 'covered by the cursor');
    assert.equal(loaded.state.isUploaded('e9'), true);
    assert.deepEqual(loaded.state.failed.map((event) => event.id), ['bad']);
  });

  it('says why a missing or corrupt file cannot be read, and refuses another mirror\'s state', async () => {
    const file = path.join(dir, 'state.json');
    assert.match((await loadMirrorState(file, identity)).problem ?? '', /there is no state file/);
    for (const text of ['{', '[]', '{"format":"lifeboat.frigate-mirror/1","frigate":"home","store":"snaps","bucket":"snapshots","prefix":"frigate/snapshots","done":[[1,2]],"failed":[],"days":{}}']) {
      await writeFile(file, text);
      assert.match((await loadMirrorState(file, identity)).problem ?? '', /is corrupt/, text);
    }
    await new MirrorState({ ...identity, bucket: 'other' }).save(file);
    await assert.rejects(loadMirrorState(file, identity), (error: unknown) => error instanceof ForeignStateError && /belongs to another mirror \(bucket "other", not "snapshots"\)/.test(error.message));
  });

  it('drops failed events and day counts older than the retention window, judged by Frigate\'s newest event', () => {
    const state = new MirrorState(identity);
    const day = 86_400;
    state.recordUploaded({ id: 'old', camera: 'c', startTime: 10 * day, inProgress: false });
    state.recordFailed({ id: 'old-failed', camera: 'c', startTime: 10 * day, attempts: 1, error: 'x', failedAt: '' });
    state.recordUploaded({ id: 'new', camera: 'c', startTime: 20 * day, inProgress: false });
    state.prune(7);
    assert.equal(state.tracked, 1);
    assert.deepEqual(state.failed, []);
  });

  it('stays small at 100 000 events: only the events around the cursor are listed', async () => {
    const state = new MirrorState(identity);
    for (let index = 0; index < 100_000; index++) {
      state.recordUploaded({ id: `${1_700_000_000 + index}.123456-abcdef`, camera: 'front_door', startTime: 1_700_000_000 + index, inProgress: false });
      if (index % 50 === 49) state.advanceCursor(1_700_000_000 + index);
    }
    const file = path.join(dir, 'state.json');
    await state.save(file);
    assert.ok((await readFile(file)).length < 8192);
    assert.equal((await loadMirrorState(file, identity)).state?.tracked, 100_000);
  });

  it('gives each Frigate, store and prefix a state folder of its own', () => {
    const a = defaultStatePath('/ws', { frigate: 'home', store: 'snaps', prefix: 'a' });
    const b = defaultStatePath('/ws', { frigate: 'home', store: 'snaps', prefix: 'b' });
    assert.notEqual(path.dirname(a), path.dirname(b));
    assert.ok(defaultStatePath('/ws', { frigate: '../x', store: 'a/b', prefix: '' }).startsWith('/ws/.lifeboat/frigate-mirror/'));
    assert.equal(path.dirname(path.dirname(defaultStatePath('/ws', { frigate: '../x', store: 'a/b', prefix: '' }))), '/ws/.lifeboat/frigate-mirror');
  });
});
