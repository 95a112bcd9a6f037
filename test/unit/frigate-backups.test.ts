import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Inventory } from '../../src/core/actions/spec';
import { ValidationError } from '../../src/core/errors';
import { describeFaceBackupAge, faceBackupLocations, frigateOfFaceLocation, recordingsLocationsOf } from '../../src/actions/frigate/backupLocations';
import { inventoryJsonSchema } from '../../src/core/inventory/jsonSchema';
import { loadInventory } from '../../src/core/workspace';

const HOUR = 3_600_000;

describe('Frigate backup locations and the face backup age', () => {
  describe('in lifeboat.yaml', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lifeboat-frigate-backups-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function load(text: string): Promise<Inventory> {
      const file = join(dir, 'lifeboat.yaml');
      await writeFile(file, text);
      return loadInventory(file, { required: true });
    }

    it('reads `backups.faces` and `backups.recordings` of an instance, and documents them in the JSON Schema', async () => {
      const inventory = await load(
        ['frigate:', '  home:', '    url: http://frigate.lan:5000', '    backups: { faces: [faces, offsite], recordings: [nas] }', 'locations:', '  faces: { path: faces }', ''].join('\n'),
      );
      assert.deepEqual(inventory.frigate?.home?.backups, { faces: ['faces', 'offsite'], recordings: ['nas'] });
      const schema = JSON.stringify(inventoryJsonSchema());
      assert.match(schema, /Locations \(names under `locations:`\) that hold this instance's face backups/);
      assert.match(schema, /Locations with a `host` and `path` that hold this instance's recordings backups/);
    });

    it('refuses an unknown key or an empty list under `backups`, naming the field', async () => {
      for (const [backups, field] of [
        ['{ face: [x] }', 'frigate.home.backups.face'],
        ['{ recordings: [] }', 'frigate.home.backups.recordings'],
      ] as const) {
        await assert.rejects(load(`frigate:\n  home:\n    url: http://f:5000\n    backups: ${backups}\n`), (error: unknown) => {
          assert.ok(error instanceof ValidationError);
          assert.deepEqual(error.problems.map((problem) => problem.field), [field]);
          return true;
        });
      }
    });
  });

  describe('faceBackupLocations', () => {
    it('takes the locations the instances name, each once', () => {
      const inventory: Inventory = {
        frigate: { home: { url: 'http://a', backups: { faces: ['nas', 'offsite'] } }, shed: { url: 'http://b', backups: { faces: ['nas'] } } },
        locations: { 'frigate-faces': { path: 'f' } },
      };
      assert.deepEqual(faceBackupLocations(inventory), ['nas', 'offsite']);
    });

    it('falls back to a location called frigate-faces, and has none without it', () => {
      assert.deepEqual(faceBackupLocations({ frigate: { home: { url: 'http://a' } }, locations: { 'frigate-faces': { path: 'f' }, other: { path: 'o' } } }), ['frigate-faces']);
      assert.deepEqual(faceBackupLocations({ frigate: { home: { url: 'http://a' } }, locations: { other: { path: 'o' } } }), []);
    });
  });

  describe('frigateOfFaceLocation', () => {
    it('is the only instance naming the location', () => {
      const inventory: Inventory = { frigate: { home: { url: 'http://a', backups: { faces: ['nas'] } }, shed: { url: 'http://b', backups: { faces: ['usb'] } } } };
      assert.equal(frigateOfFaceLocation(inventory, 'nas'), 'home');
      assert.equal(frigateOfFaceLocation(inventory, 'usb'), 'shed');
      assert.equal(frigateOfFaceLocation(inventory, 'other'), undefined);
    });

    it('is the only instance when none names locations, and unknown when two could be meant', () => {
      assert.equal(frigateOfFaceLocation({ frigate: { home: { url: 'http://a' } } }, 'frigate-faces'), 'home');
      assert.equal(frigateOfFaceLocation({ frigate: { home: { url: 'http://a' }, shed: { url: 'http://b' } } }, 'frigate-faces'), undefined);
      const both: Inventory = { frigate: { home: { url: 'http://a', backups: { faces: ['nas'] } }, shed: { url: 'http://b', backups: { faces: ['nas'] } } } };
      assert.equal(frigateOfFaceLocation(both, 'nas'), undefined);
    });
  });

  describe('recordingsLocationsOf', () => {
    it('accepts host locations and says why another name cannot hold recordings', () => {
      const inventory: Inventory = {
        frigate: { home: { url: 'http://a', backups: { recordings: ['nas', 'local', 'missing'] } }, shed: { url: 'http://b' } },
        locations: { nas: { host: 'nas', path: '/srv/rec' }, local: { path: 'rec' } },
      };
      assert.deepEqual(recordingsLocationsOf(inventory, 'home'), [
        { location: 'nas' },
        { location: 'local', problem: "`frigate.home.backups.recordings`: location 'local' needs a `host` and `path` (recordings are backed up to an SSH host)" },
        { location: 'missing', problem: "`frigate.home.backups.recordings` names 'missing', which is not under `locations:`" },
      ]);
      assert.deepEqual(recordingsLocationsOf(inventory, 'shed'), []);
    });
  });

  describe('describeFaceBackupAge', () => {
    const now = new Date(2026, 1, 8, 12, 0, 0);
    const sighting = (hoursAgo: number) => ({ location: 'nas', name: 'frigate-faces-20260208-070000.tar.gz', date: new Date(now.getTime() - hoursAgo * HOUR) });

    it('shows the age with a shield while it is within the allowed age', () => {
      const age = describeFaceBackupAge(sighting(5), [], 26, now);
      assert.equal(age.text, '$(shield) Faces: 5 h ago');
      assert.equal(age.warning, false);
      assert.match(age.tooltip, /^Newest face backup: frigate-faces-20260208-070000\.tar\.gz\nIn nas, made 2026-02-08 07:00 \(5 h ago\)\.\nAllowed age: 26 h/);
    });

    it('warns once the newest backup is older than allowed', () => {
      assert.equal(describeFaceBackupAge(sighting(26), [], 26, now).warning, false, 'exactly the allowed age is still fine');
      const stale = describeFaceBackupAge(sighting(27), [], 26, now);
      assert.deepEqual([stale.text, stale.warning], ['$(warning) Faces: 27 h ago', true]);
      assert.match(stale.tooltip, /Older than allowed\. Allowed age: 26 h/);
      assert.equal(describeFaceBackupAge(sighting(27), [], 48, now).warning, false, 'the setting decides');
    });

    it('warns when there is no face backup, or none could be listed', () => {
      const none = describeFaceBackupAge(undefined, [], 26, now);
      assert.deepEqual([none.text, none.warning], ['$(warning) Faces: no backup', true]);
      const unread = describeFaceBackupAge(undefined, [{ location: 'nas', message: 'connection refused' }], 26, now);
      assert.deepEqual([unread.text, unread.warning], ['$(warning) Faces: unknown', true]);
      assert.match(unread.tooltip, /Could not read nas: connection refused/);
    });

    it('names a location it could not read beside a fresh backup found elsewhere, without warning', () => {
      const age = describeFaceBackupAge(sighting(1), [{ location: 'offsite', message: 'no credentials' }], 26, now);
      assert.equal(age.warning, false);
      assert.match(age.tooltip, /Could not read offsite: no credentials/);
    });
  });
});
