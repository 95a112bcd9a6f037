import assert from 'node:assert/strict';
import { FrigateSimulator } from '../testbed/frigateSim';

/**
 * The Frigate simulator's events API against EXTERNAL-SYSTEMS.md §1.3, the contract the snapshot
 * mirror pages by: `after`/`before` compared strictly with `start_time`, newest first unless
 * `sort=date_asc`, 100 events unless `limit` says otherwise, no offset, `has_snapshot` as 0/1, and
 * `/api/events/<id>/snapshot.jpg` answering 404 "Snapshot not available" for an event without one.
 */
describe('Frigate simulator: the events API as §1.3 describes it', function () {
  this.timeout(30_000);
  let sim: FrigateSimulator;
  const T0 = 1_721_730_000.51;

  before(async () => {
    sim = await FrigateSimulator.start();
    for (let index = 0; index < 130; index++) {
      sim.events.push({ id: `${(T0 + index).toFixed(2)}-s${index}`, camera: index % 2 ? 'front' : 'back', label: 'person', start_time: T0 + index, end_time: index === 129 ? null : T0 + index + 9, has_snapshot: index % 5 !== 0, has_clip: true });
    }
  });
  after(async () => {
    await sim?.stop();
  });

  const events = async (query: string) => {
    const answer = await fetch(`${sim.internalUrl}/api/events${query}`);
    assert.equal(answer.status, 200);
    return (await answer.json()) as { id: string; start_time: number; has_snapshot: boolean; end_time: number | null }[];
  };

  it('lists the newest 100 first by default, and oldest first with sort=date_asc', async () => {
    const newest = await events('');
    assert.equal(newest.length, 100);
    assert.equal(newest[0]?.start_time, T0 + 129);
    assert.ok(newest.every((event, index) => index === 0 || (newest[index - 1]?.start_time ?? 0) > event.start_time));
    const oldest = await events('?sort=date_asc&limit=3');
    assert.deepEqual(oldest.map((event) => event.start_time), [T0, T0 + 1, T0 + 2]);
  });

  it('compares after and before strictly with start_time, and has no offset', async () => {
    const page = await events(`?sort=date_asc&after=${T0 + 10}&before=${T0 + 14}`);
    assert.deepEqual(page.map((event) => event.start_time), [T0 + 11, T0 + 12, T0 + 13]);
    const ignored = await events('?sort=date_asc&limit=2&offset=50');
    assert.deepEqual(ignored.map((event) => event.start_time), [T0, T0 + 1], 'an offset changes nothing');
  });

  it('filters by has_snapshot 0/1, and lists events in progress with end_time null', async () => {
    const withSnapshot = await events('?has_snapshot=1&limit=500');
    assert.equal(withSnapshot.length, 104);
    assert.ok(withSnapshot.every((event) => event.has_snapshot));
    assert.equal((await events('?has_snapshot=0&limit=500')).length, 26);
    assert.equal(withSnapshot[0]?.end_time, null);
  });

  it('serves snapshot.jpg as image/jpeg with X-Frame-Time, cached once ended; 404 without a snapshot', async () => {
    const ended = await fetch(`${sim.internalUrl}/api/events/${(T0 + 1).toFixed(2)}-s1/snapshot.jpg`);
    assert.equal(ended.status, 200);
    assert.equal(ended.headers.get('content-type'), 'image/jpeg');
    assert.equal(ended.headers.get('x-frame-time'), String(T0 + 1));
    assert.equal(ended.headers.get('cache-control'), 'private, max-age=31536000');
    const bytes = Buffer.from(await ended.arrayBuffer());
    assert.deepEqual([bytes[0], bytes[1], bytes.at(-2), bytes.at(-1)], [0xff, 0xd8, 0xff, 0xd9]);
    const running = await fetch(`${sim.internalUrl}/api/events/${(T0 + 129).toFixed(2)}-s129/snapshot.jpg`);
    assert.equal(running.status, 200);
    assert.equal(running.headers.get('cache-control'), null, 'not cached while the event runs');
    await running.arrayBuffer();
    const none = await fetch(`${sim.internalUrl}/api/events/${T0.toFixed(2)}-s0/snapshot.jpg`);
    assert.equal(none.status, 404);
    assert.deepEqual(await none.json(), { success: false, message: 'Snapshot not available' });
  });
});
