import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { addKustomizationResource, kustomizationResources } from '../../src/actions/velero/kustomizationResources';
import { scheduleAddParams, scheduleManifest, veleroScheduleAdd, type ScheduleAddResult } from '../../src/actions/velero/scheduleAdd';
import { createActionContext } from '../../src/core/actions/context';

const FOLDER = 'kubernetes/apps/velero/velero/app';

/** Velero's kustomization as a home-ops repository keeps it: comments, quoting, a blank line, odd spacing. */
const KUSTOMIZATION = [
  '---',
  '# yaml-language-server: $schema=https://json.schemastore.org/kustomization',
  'apiVersion: kustomize.config.k8s.io/v1beta1',
  'kind: Kustomization',
  'resources:',
  '  # the chart and its credentials',
  '  - ./helmrelease.yaml',
  "  - './secret.sops.yaml'   # sops-encrypted",
  '',
  '  - ./schedules/pricebuddy-schedule.yaml',
  '  # more schedules below',
  'configMapGenerator:',
  '  - name: velero-values',
  '    files: [ values.yaml ]',
  '',
].join('\n');

describe('velero.schedule.add: the Schedule as a GitOps file', function () {
  this.timeout(10_000);
  let workspace: string;
  const context = () => createActionContext({ workspaceDir: workspace, inventory: { clusters: { prod: { kubeconfig: '/nonexistent' } } } });
  const kustomizationPath = () => join(workspace, FOLDER, 'kustomization.yaml');

  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'lifeboat-schedule-add-'));
    await mkdir(join(workspace, FOLDER), { recursive: true });
    await writeFile(kustomizationPath(), KUSTOMIZATION);
  });

  afterEach(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  const hooks = { container: 'mysql', labelSelector: { app: 'mysql' }, pre: ['mysql', '-e', 'FLUSH TABLES WITH READ LOCK'], post: ['mysql', '-e', 'UNLOCK TABLES'] };

  it('writes the Schedule where the repository keeps them and lists it, every other byte of kustomization.yaml unchanged', async () => {
    const params = veleroScheduleAdd.params.parse({ cluster: 'prod', app: 'pelican', hooks });
    const planned = await veleroScheduleAdd.plan(params, context());
    assert.match(planned.summary, /Add Velero Schedule 'pelican-daily' \(0 2 \* \* \*\) for cluster 'prod' in kubernetes\/apps\/velero\/velero\/app\/schedules\/pelican-schedule.yaml/);
    assert.match(planned.operations[0]?.detail ?? '', /kind: Schedule[\s\S]*FLUSH TABLES WITH READ LOCK/, 'the plan shows the YAML');
    const result = (await veleroScheduleAdd.run(params, context())) as ScheduleAddResult;
    assert.equal(result.file, `${FOLDER}/schedules/pelican-schedule.yaml`);

    const edited = await readFile(kustomizationPath(), 'utf8');
    const lines = KUSTOMIZATION.split('\n');
    const added = lines.indexOf('  - ./schedules/pricebuddy-schedule.yaml') + 1;
    assert.equal(edited, [...lines.slice(0, added), '  - ./schedules/pelican-schedule.yaml', ...lines.slice(added)].join('\n'));

    const written = await readFile(join(workspace, result.file), 'utf8');
    assert.equal(written, result.yaml);
    assert.ok(written.startsWith('---\n'));
    const schedule = parse(written) as { metadata: Record<string, unknown>; spec: { schedule: string; template: Record<string, unknown> } };
    assert.deepEqual(schedule.metadata, {
      name: 'pelican-daily',
      namespace: 'velero',
      labels: { 'app.kubernetes.io/name': 'velero', 'app.kubernetes.io/component': 'backup-schedule', 'app.kubernetes.io/part-of': 'pelican' },
    });
    assert.equal(schedule.spec.schedule, '0 2 * * *');
    assert.deepEqual(schedule.spec.template, {
      includedNamespaces: ['pelican'],
      includedResources: ['*'],
      defaultVolumesToFsBackup: true,
      storageLocation: 'default',
      ttl: '720h0m0s',
      includeClusterResources: true,
      hooks: {
        resources: [
          {
            name: 'pelican-hooks',
            includedNamespaces: ['pelican'],
            labelSelector: { matchLabels: { app: 'mysql' } },
            pre: [{ exec: { container: 'mysql', command: ['mysql', '-e', 'FLUSH TABLES WITH READ LOCK'], onError: 'Fail', timeout: '30s' } }],
            post: [{ exec: { container: 'mysql', command: ['mysql', '-e', 'UNLOCK TABLES'], onError: 'Fail', timeout: '30s' } }],
          },
        ],
      },
      metadata: { labels: { 'app.kubernetes.io/name': 'pelican', 'backup-type': 'scheduled' } },
    });
  });

  it('refuses to overwrite an existing Schedule file, and leaves both files as they were', async () => {
    const file = join(workspace, FOLDER, 'schedules', 'pricebuddy-schedule.yaml');
    await mkdir(join(workspace, FOLDER, 'schedules'));
    await writeFile(file, 'kept\n');
    const params = veleroScheduleAdd.params.parse({ cluster: 'prod', app: 'pricebuddy' });
    await assert.rejects(veleroScheduleAdd.plan(params, context()), /schedules\/pricebuddy-schedule.yaml already exists; refusing to overwrite it/);
    await assert.rejects(veleroScheduleAdd.run(params, context()), /already exists/);
    assert.equal(await readFile(file, 'utf8'), 'kept\n');
    assert.equal(await readFile(kustomizationPath(), 'utf8'), KUSTOMIZATION);
  });

  it('refuses bad input before writing anything', async () => {
    const parse = (params: Record<string, unknown>) => veleroScheduleAdd.params.safeParse({ cluster: 'prod', app: 'pelican', ...params });
    assert.equal(parse({ app: '../etc' }).success, false, 'the app names a file: no path in it');
    assert.equal(parse({ schedule: '0 2 * *' }).success, false);
    assert.equal(parse({ hooks: { container: 'mysql' } }).success, false, 'hooks need a command');
    await assert.rejects(veleroScheduleAdd.run(veleroScheduleAdd.params.parse({ cluster: 'staging', app: 'pelican' }), context()), /`cluster` names 'staging'/);
    await assert.rejects(veleroScheduleAdd.run(veleroScheduleAdd.params.parse({ cluster: 'prod', app: 'pelican', folder: '../elsewhere' }), context()), /`folder`: \.\.\/elsewhere is outside the workspace/);
    await assert.rejects(veleroScheduleAdd.run(veleroScheduleAdd.params.parse({ cluster: 'prod', app: 'pelican', folder: 'kubernetes' }), context()), /cannot read kubernetes\/kustomization.yaml/);
    assert.equal(await readFile(kustomizationPath(), 'utf8'), KUSTOMIZATION);
  });

  describe('addKustomizationResource', () => {
    it('keeps a file without a final newline, a list indented under its key, and adds `resources:` when missing', () => {
      assert.equal(addKustomizationResource('resources:\n- ./a.yaml', './b.yaml'), 'resources:\n- ./a.yaml\n- ./b.yaml\n');
      assert.equal(addKustomizationResource('kind: Kustomization # k\n', './b.yaml'), 'kind: Kustomization # k\nresources:\n  - ./b.yaml\n');
      assert.equal(addKustomizationResource('resources:\n  - ./b.yaml\n', './b.yaml'), 'resources:\n  - ./b.yaml\n', 'listed already: unchanged');
    });

    it('changes nothing but the added line, whatever comments, spacing, quoting and blank lines the file has (generated files)', () => {
      const entry = fc.stringMatching(/^\.\/[a-z][a-z0-9-]{0,12}\.yaml$/);
      const comment = fc.option(fc.tuple(fc.constantFrom(' ', '   ', '\t'), fc.string({ maxLength: 20 }).map((text) => `# ${text.replace(/[\r\n]/g, ' ')}`)), { nil: undefined });
      const item = fc.record({ entry, quote: fc.constantFrom('', "'", '"'), comment, blankBefore: fc.boolean(), commentLine: fc.boolean() });
      fc.assert(
        fc.property(fc.constantFrom(0, 2, 4), fc.array(item, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean(), (indent, items, trailer, finalNewline) => {
          const pad = ' '.repeat(indent);
          const lines = ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:'];
          for (const { entry: file, quote, comment: note, blankBefore, commentLine } of items) {
            if (blankBefore) lines.push('');
            if (commentLine) lines.push(`${pad}# about ${file}`);
            lines.push(`${pad}- ${quote}${file}${quote}${note ? note.join('') : ''}`);
          }
          const last = lines.length;
          if (trailer) lines.push(`${pad}# end of the list`, 'namePrefix: apps-');
          const text = lines.join('\n') + (finalNewline || trailer ? '\n' : '');
          const added = './schedules/new-schedule.yaml';
          const before = kustomizationResources(text);
          fc.pre(!before.includes(added));
          const edited = addKustomizationResource(text, added);
          const expected = [...lines.slice(0, last), `${pad}- ${added}`, ...lines.slice(last)].join('\n') + '\n';
          assert.equal(edited, expected);
          assert.deepEqual(kustomizationResources(edited), [...before, added]);
        }),
        { numRuns: 300 },
      );
    });

    it('writes hook commands as data: any text comes back from the YAML exactly, never as more YAML (generated commands)', () => {
      fc.assert(
        fc.property(fc.array(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 4 }), fc.array(fc.string({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 4 }), (pre, post) => {
          const params = scheduleAddParams.parse({ cluster: 'prod', app: 'shop', hooks: { container: 'db', pre, post } });
          const manifest = parse(scheduleManifest(params)) as { kind: string; spec: { template: { hooks: { resources: { pre: { exec: { command: string[] } }[]; post: { exec: { command: string[] } }[] }[] } } } };
          assert.equal(manifest.kind, 'Schedule');
          const [hook] = manifest.spec.template.hooks.resources;
          assert.deepEqual([hook?.pre[0]?.exec.command, hook?.post[0]?.exec.command], [pre, post]);
        }),
        { numRuns: 300 },
      );
    });

    it('takes hook pod labels only as Kubernetes labels, refusing any other text with the label named, and writes those it takes as matchLabels exactly (generated labels)', () => {
      const hostile = fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('app: x', 'a\nkind: Secret', '{x: 1}', '*ref', 'a/b/c', '-x', 'x-', ''));
      const labelText = fc.oneof({ arbitrary: fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?$/), weight: 5 }, { arbitrary: hostile, weight: 1 });
      let refused = 0;
      let written = 0;
      fc.assert(
        fc.property(fc.dictionary(labelText, labelText, { minKeys: 1, maxKeys: 2 }), (labelSelector) => {
          const parsed = scheduleAddParams.safeParse({ cluster: 'prod', app: 'shop', hooks: { container: 'db', labelSelector, pre: ['sync'] } });
          const valid = Object.entries(labelSelector).every(([key, value]) => /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(key) && /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(value));
          assert.equal(parsed.success, valid, JSON.stringify(labelSelector));
          if (!parsed.success) {
            refused++;
            assert.deepEqual(parsed.error.issues[0]?.path.slice(0, 2), ['hooks', 'labelSelector']);
            return;
          }
          written++;
          const manifest = parse(scheduleManifest(parsed.data)) as { spec: { template: { hooks: { resources: { labelSelector: { matchLabels: Record<string, string> } }[] } } } };
          assert.deepEqual(manifest.spec.template.hooks.resources[0]?.labelSelector.matchLabels, { ...labelSelector });
        }),
        { numRuns: 400 },
      );
      assert.ok(refused > 50 && written > 50, `both kinds generated: ${refused} refused, ${written} written`);
    });

    it('refuses a list it cannot extend without reformatting the file', () => {
      assert.throws(() => addKustomizationResource('resources: [./a.yaml]\n', './b.yaml'), /not a block list/);
      assert.throws(() => addKustomizationResource('resources: [\n', './b.yaml'), /not valid YAML/);
      assert.throws(() => addKustomizationResource('- a\n', './b.yaml'), /top level is not a mapping/);
    });
  });
});
