import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../src/core/errors';
import { describeLocation, readBackupLocations } from '../../src/core/locations';
import { formatCount } from '../../src/core/render';
import { frontmatterTitle } from '../../src/core/runbook/frontmatterTitle';
import { REPO_ROOT } from '../support/paths';

describe('what the views read cheaply', () => {
  describe('frontmatterTitle', () => {
    it('reads a top-level one-line title, plain or quoted', () => {
      const cases: [string, string | undefined][] = [
        ['---\ntitle: Back up the app\n---\n# x', 'Back up the app'],
        ['\uFEFF---\r\ndescription: d\r\ntitle:   Spaced   \r\n---\r\n', 'Spaced'],
        ['---\ntitle: "Quoted: \\"x\\""\n---\n', 'Quoted: "x"'],
        ["---\ntitle: 'It''s fine'\n---\n", "It's fine"],
        ['---\ntitle: Nightly # the cron one\n---\n', 'Nightly'],
        ['---\nparams:\n  title: not this one\n---\n', undefined],
        ['---\ntitle: |\n  Block\n---\n', undefined],
        ['---\ntitle:\n---\n', undefined],
        ['---\nparams: {}\n---\ntitle: after the frontmatter\n', undefined],
        ['# No frontmatter\ntitle: x\n', undefined],
      ];
      for (const [text, title] of cases) assert.equal(frontmatterTitle(text), title, JSON.stringify(text));
    });

    it('reads the titles of the bundled runbooks', () => {
      assert.equal(frontmatterTitle(readFileSync(join(REPO_ROOT, 'runbooks', 'local-restore.runbook.md'), 'utf8')), 'Restore a local archive');
    });
  });

  describe('readBackupLocations', () => {
    it('reads local folders, SSH host folders and S3 prefixes, and recognises the kinds not supported', () => {
      const inventory = {
        locations: {
          local: { path: 'backups' },
          home: { path: '~/archives', keep: 3 },
          nas: { host: 'nas', path: '/srv/backups' },
          bucket: { store: 'minio', prefix: 'x/' },
          whole: { store: 'minio' },
          cluster: { cluster: 'k3s', path: '/data' },
          empty: { path: '  ' },
          hostless: { host: '', path: '/srv' },
          scalar: 'backups',
        },
      };
      assert.deepEqual(readBackupLocations(inventory, 'lifeboat.yaml'), [
        { name: 'local', kind: 'local', path: 'backups' },
        { name: 'home', kind: 'local', path: '~/archives' },
        { name: 'nas', kind: 'host', host: 'nas', path: '/srv/backups' },
        { name: 'bucket', kind: 'store', store: 'minio', prefix: 'x/' },
        { name: 'whole', kind: 'store', store: 'minio', prefix: '' },
        { name: 'cluster', kind: 'unsupported', reason: 'locations in a cluster are not supported yet' },
        { name: 'empty', kind: 'invalid', problem: '`locations.empty.path`: expected the folder holding the archives' },
        { name: 'hostless', kind: 'invalid', problem: '`locations.hostless.host`: expected the name of a host under `hosts:`' },
        { name: 'scalar', kind: 'invalid', problem: '`locations.scalar`: expected a mapping such as { path: backups }' },
      ]);
    });

    it('describes where each kind keeps its archives', () => {
      assert.deepEqual(
        [
          describeLocation({ name: 'local', kind: 'local', path: '~/archives' }),
          describeLocation({ name: 'nas', kind: 'host', host: 'nas', path: '/srv/backups' }),
          describeLocation({ name: 'offsite', kind: 'store', store: 'garage', prefix: 'frigate/faces' }),
        ],
        ['~/archives', 'nas:/srv/backups', 'garage:frigate/faces'],
      );
    });

    it('has none without a locations section, and names the file when the section is not a mapping', () => {
      assert.deepEqual(readBackupLocations({}, 'lifeboat.yaml'), []);
      assert.deepEqual(readBackupLocations({ locations: null }, 'lifeboat.yaml'), []);
      assert.throws(() => readBackupLocations({ locations: ['backups'] }, '/w/lifeboat.yaml'), (error: Error) => {
        assert.ok(error instanceof ValidationError);
        assert.equal(error.message, '/w/lifeboat.yaml, `locations`: expected a mapping of location names to { path: <folder> }');
        return true;
      });
    });
  });

  it('formatCount puts a count with its noun, singular for one', () => {
    assert.deepEqual([0, 1, 2].map((count) => formatCount(count, 'image')), ['0 images', '1 image', '2 images']);
  });
});
