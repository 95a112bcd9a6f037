import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../src/core/errors';
import { describeLocation, readBackupLocations } from '../../src/core/locations';
import { formatCount } from '../../src/core/render';
import { frontmatterTitle, runbookTitle } from '../../src/core/runbook/frontmatterTitle';
import { parseRunbook } from '../../src/core/runbook/parse';
import { summarizeParameters, type DeclaredParameter } from '../../src/vscode/parameterSummary';
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

  describe('runbookTitle', () => {
    it('is the frontmatter title, else the first level-one heading outside the frontmatter and code fences', () => {
      const cases: [string, string | undefined][] = [
        ['---\ntitle: From frontmatter\n---\n# A heading\n', 'From frontmatter'],
        ['# Restore the app\n\ntext\n# Second\n', 'Restore the app'],
        ['---\nparams: {}\n# a YAML comment\n---\n\n# After the frontmatter #\n', 'After the frontmatter'],
        ['```bash\n# a comment in a shell cell\n```\n\n~~~~\n```\n# still code\n~~~~\n## Not level one\n#NoSpace\n   # Indented three\n', 'Indented three'],
        ['\uFEFF\r\n# CRLF heading\r\n', 'CRLF heading'],
        ['no heading at all\n', undefined],
        ['---\ntitle: |\n  Block\n---\n', undefined],
        ['---\nunclosed: frontmatter\n# not a heading\n', undefined],
      ];
      for (const [text, title] of cases) assert.equal(runbookTitle(text), title, JSON.stringify(text));
    });
  });

  describe('the parameter status bar item', () => {
    const declared: DeclaredParameter[] = [
      { name: 'frigate', secret: false, default: 'frigate', required: false },
      { name: 'keep', secret: false, default: 7, required: false },
      { name: 'source', secret: false, required: true },
      { name: 'camera', secret: false, required: false },
      { name: 'token', secret: true, default: 'default-token-value', required: false },
      { name: 'password', secret: true, required: true },
    ];

    it('shows the value each parameter will have: the one set, else the default; secrets masked', () => {
      const unset = summarizeParameters(declared, {});
      assert.equal(unset.text, 'frigate=frigate · keep=7 · source=? · camera=— · token=•••• · password=?');
      const set = summarizeParameters(declared, { frigate: 'lab', source: '/srv/app', camera: 'driveway', password: 'hunter2-secret' });
      assert.equal(set.text, 'frigate=lab · keep=7 · source=/srv/app · camera=driveway · token=•••• · password=••••');
      assert.equal(
        set.tooltip,
        ['Runbook parameters:', 'frigate = lab', 'keep = 7 (default)', 'source = /srv/app', 'camera = driveway', 'token = •••• (default)', 'password = •••• (secret)', '', 'Click to change them.'].join('\n'),
      );
      assert.match(unset.tooltip, /^source: not set, asked for when the runbook runs$/m);
      assert.match(unset.tooltip, /^camera: not set \(optional\)$/m);
      for (const summary of [set, unset]) assert.doesNotMatch(`${summary.text}\n${summary.tooltip}`, /hunter2-secret|default-token-value/);
    });

    it('cuts a long value in the status bar and keeps it whole in the tooltip', () => {
      const long = `/srv/${'very-long-folder-name/'.repeat(4)}app`;
      const summary = summarizeParameters([{ name: 'source', secret: false, required: true }], { source: long });
      assert.equal(summary.text, `source=${long.slice(0, 31)}…`);
      assert.ok(summary.tooltip.includes(`source = ${long}`));
    });
  });

  it('the bundled runbooks name the notebook\'s Dry Run wherever their prose names the CLI\'s --dry-run', () => {
    const folder = join(REPO_ROOT, 'runbooks');
    const mentions: string[] = [];
    for (const name of readdirSync(folder).filter((file) => file.endsWith('.runbook.md'))) {
      const prose = parseRunbook(readFileSync(join(folder, name), 'utf8')).cells.filter((cell) => cell.kind === 'markdown');
      for (const paragraph of prose.flatMap((cell) => cell.source.split(/\n\s*\n/))) {
        if (!paragraph.includes('--dry-run')) continue;
        mentions.push(name);
        assert.match(paragraph, /\bDry Run\b/, `${name} speaks only to the CLI:\n${paragraph}`);
      }
    }
    assert.ok(mentions.length >= 3, `the restore runbooks say to plan first: ${mentions.join(', ')}`);
  });

  it('formatCount puts a count with its noun, singular for one', () => {
    assert.deepEqual([0, 1, 2].map((count) => formatCount(count, 'image')), ['0 images', '1 image', '2 images']);
  });
});
