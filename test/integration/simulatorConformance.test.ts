/**
 * The simulators stand in for systems that cannot run here, so they must not drift from the real
 * contracts: every Frigate route they serve is held against Frigate's OpenAPI files (v0.16.0 and
 * v0.17.0: method, path and query parameters, request and response shapes), and the Kubernetes
 * simulator's paths, kinds, phases and field names against EXTERNAL-SYSTEMS.md and kubernetes-api.md
 * (test/fixtures/contracts, with their sources).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTRACT_FIXTURES } from '../support/paths';
import { loadOpenApi, schemaProblems, type OpenApiDocument, type Schema } from '../support/openApi';
import { FrigateSimulator } from '../testbed/frigateSim';
import { FRIGATE_SIM_ROUTES, type FrigateSimRoute } from '../testbed/frigateSimRoutes';
import { EXEC_PROTOCOLS, KUBE_SIM_DISCOVERY_PATHS, KUBE_SIM_PATHS, KubeApiSimulator } from '../testbed/kubeSim';
import { ObjectStore, SIM_RESOURCES, type SimObject, type SimResource } from '../testbed/kubeSimObjects';
import { WORKLOAD_KINDS } from '../testbed/kubeSimWorkloads';
import { solidWebp } from '../testbed/webp';

const contract = readFileSync(join(CONTRACT_FIXTURES, 'EXTERNAL-SYSTEMS.md'), 'utf8');

/** A request that exercises a route; its body must itself conform to the OpenAPI request schema. */
interface Sample {
  params: Record<string, string>;
  query?: Record<string, string>;
  json?: unknown;
  multipart?: { field: string; file: string; data: Buffer };
}

const samples: Record<string, Sample> = {
  'GET /version': { params: {} },
  'POST /login': { params: {}, json: { user: 'admin', password: 'frigate-admin-pass' } },
  'GET /faces': { params: {} },
  'POST /faces/{name}/create': { params: { name: 'Conformance' } },
  'POST /faces/{name}/register': { params: { name: 'Asha' }, multipart: { field: 'file', file: 'upload.webp', data: solidWebp({ width: 120, height: 120 }) } },
  'POST /faces/{name}/delete': { params: { name: 'Asha' }, json: { ids: ['Asha-1.webp'] } },
  'PUT /faces/{old_name}/rename': { params: { old_name: 'Conformance' }, json: { new_name: 'Renamed' } },
  'GET /events': { params: {}, query: { camera: 'front', cameras: 'front', label: 'person', labels: 'person', after: '1721700000', before: '1721800000', has_snapshot: '1', limit: '10', sort: 'date_asc' } },
  'GET /events/{event_id}/snapshot.jpg': { params: { event_id: '1721730000.51-ab12cd' }, query: { download: 'true' } },
  'GET /clips/faces/{name}/{file}': { params: { name: 'G', file: 'G-1.webp' } },
};

const routeKey = (route: FrigateSimRoute) => `${route.method} ${route.path}`;

function requestFor(sim: FrigateSimulator, route: FrigateSimRoute, sample: Sample): { url: string; init: RequestInit } {
  const path = route.path.replace(/\{(\w+)\}/g, (_whole, name: string) => encodeURIComponent(sample.params[name] ?? ''));
  const query = sample.query ? `?${new URLSearchParams(sample.query)}` : '';
  const headers: Record<string, string> = { 'X-CSRF-TOKEN': '1' };
  let body: RequestInit['body'];
  if (sample.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(sample.json);
  } else if (sample.multipart) {
    const form = new FormData();
    form.set(sample.multipart.field, new Blob([sample.multipart.data], { type: 'image/webp' }), sample.multipart.file);
    body = form;
  }
  return { url: `${sim.internalUrl}${route.api ? '/api' : ''}${path}${query}`, init: { method: route.method, headers, body } };
}

function resolve(document: OpenApiDocument, schema: Schema | undefined): Schema | undefined {
  return schema?.$ref ? document.components?.schemas?.[schema.$ref.replace('#/components/schemas/', '')] : schema;
}

for (const version of ['0.16.0', '0.17.0']) {
  describe(`Frigate simulator conforms to Frigate's OpenAPI v${version}`, () => {
    const document = loadOpenApi(join(CONTRACT_FIXTURES, `frigate-api-v${version}.yaml`));
    let sim: FrigateSimulator;

    before(async () => {
      sim = await FrigateSimulator.start({ version: `${version}-abc1234` });
      await sim.addFace('Asha', 'Asha-1.webp', solidWebp({ width: 100, height: 100 }));
      await sim.addFace('G', 'G-1.webp', solidWebp({ width: 100, height: 100 }));
      sim.events.push({ id: '1721730000.51-ab12cd', camera: 'front', label: 'person', start_time: 1721730000.51, end_time: 1721730030.2, has_snapshot: true, has_clip: true });
    });

    after(async () => {
      await sim?.stop();
    });

    it('has a sample request for every route it serves', () => {
      assert.deepEqual(FRIGATE_SIM_ROUTES.map(routeKey).filter((key) => !samples[key]), []);
    });

    for (const route of FRIGATE_SIM_ROUTES.filter((candidate) => candidate.api)) {
      it(`${route.method} /api${route.path}: method, parameters, request and response as in the OpenAPI file`, async () => {
        const operation = document.paths[route.path]?.[route.method.toLowerCase()];
        assert.ok(operation, `${route.method} ${route.path} is not in frigate-api-v${version}.yaml`);
        const parameters = operation.parameters ?? [];
        const pathParameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
        assert.deepEqual(parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name), pathParameters);
        const queryParameters = parameters.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
        assert.deepEqual((route.query ?? []).filter((name) => !queryParameters.includes(name)), [], 'query parameters the simulator reads');

        const sample = samples[routeKey(route)] as Sample;
        const content = operation.requestBody?.content ?? {};
        if (sample.json !== undefined) {
          assert.ok(content['application/json'], 'the operation takes a JSON body');
          assert.deepEqual(schemaProblems(document, content['application/json']?.schema, sample.json), []);
        } else if (sample.multipart) {
          const form = resolve(document, content['multipart/form-data']?.schema);
          assert.ok(form?.required?.includes(sample.multipart.field), `multipart field '${sample.multipart.field}' is required by the operation`);
        } else {
          assert.ok(!operation.requestBody?.required, 'the operation needs a body the sample does not send');
        }

        const { url, init } = requestFor(sim, route, sample);
        const answer = await fetch(url, init);
        assert.equal(answer.status, 200, await answer.clone().text());
        const declared = operation.responses['200']?.content ?? {};
        const type = (answer.headers.get('content-type') ?? '').split(';')[0] ?? '';
        const text = await answer.text();
        if (type === 'application/json') {
          assert.ok(declared['application/json'], 'JSON answer declared');
          assert.deepEqual(schemaProblems(document, declared['application/json']?.schema, JSON.parse(text)), []);
        } else if (type === 'text/plain') {
          assert.ok(declared['text/plain'], 'plain-text answer declared');
        } else if (type === 'image/jpeg') {
          // FastAPI's generator declares binary answers as JSON; EXTERNAL-SYSTEMS.md §1.3 records the real type.
          const described = contract.indexOf(`/api${route.path}`);
          assert.ok(described >= 0 && contract.slice(described, described + 800).includes('Content-Type: image/jpeg'), `EXTERNAL-SYSTEMS.md gives image/jpeg for ${route.path}`);
        } else {
          assert.equal(text, '', `an answer of type '${type}' must be empty`);
          assert.deepEqual(declared['application/json']?.schema ?? {}, {}, 'an empty answer only where the schema allows anything');
        }
      });
    }

    it('serves face images where nginx does, outside the API', () => {
      for (const route of FRIGATE_SIM_ROUTES.filter((candidate) => !candidate.api)) {
        assert.equal(document.paths[route.path], undefined, `${route.path} is a static nginx path, not an API route`);
        assert.ok(contract.includes(`GET ${route.path}`), `EXTERNAL-SYSTEMS.md names ${route.path}`);
      }
    });

    it('requires the ids of a delete exactly when this version does', async () => {
      const body = resolve(document, document.paths['/faces/{name}/delete']?.post?.requestBody?.content['application/json']?.schema);
      const required = body?.required?.includes('ids') ?? false;
      await sim.addFace('Keep', 'k.webp', solidWebp({ width: 64, height: 64 }));
      const answer = await fetch(`${sim.internalUrl}/api/faces/Keep/delete`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-TOKEN': '1' }, body: '{}' });
      assert.equal(answer.status, required ? 422 : 200);
    });
  });
}

function getJson(sim: KubeApiSimulator, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    get(`${sim.url}${path}`, { ca: sim.certificate.cert, headers: { Authorization: `Bearer ${sim.token}` } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    }).on('error', reject);
  });
}

describe('Kubernetes API simulator conforms to EXTERNAL-SYSTEMS.md and kubernetes-api.md', () => {
  const kubernetesApi = readFileSync(join(CONTRACT_FIXTURES, 'kubernetes-api.md'), 'utf8');

  /** The text of a contract section (in EXTERNAL-SYSTEMS.md, else kubernetes-api.md), from its heading to the next heading of the same or a higher level. */
  function section(heading: RegExp): string {
    const lines = (contract.split('\n').some((line) => heading.test(line)) ? contract : kubernetesApi).split('\n');
    const start = lines.findIndex((line) => heading.test(line));
    assert.ok(start >= 0, `EXTERNAL-SYSTEMS.md or kubernetes-api.md has a section ${heading}`);
    const level = /^#+/.exec(lines[start] ?? '')?.[0].length ?? 2;
    const end = lines.findIndex((line, index) => index > start && /^#+ /.test(line) && (/^#+/.exec(line)?.[0].length ?? 9) <= level);
    return lines.slice(start, end < 0 ? undefined : end).join('\n');
  }

  /** Every identifier written as code in a section: in fenced blocks and in inline code. */
  function codeWords(text: string): Set<string> {
    const fenced = [...text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    const inline = [...text.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
    return new Set([...fenced, ...inline].flatMap((code) => code.split(/[^A-Za-z0-9]+/)).filter(Boolean));
  }

  const sections: Record<string, RegExp> = {
    'velero.io/backups': /^### 2\.1 Backup/,
    'velero.io/restores': /^### 2\.2 Restore/,
    'velero.io/schedules': /^### 2\.3 Schedule/,
    'velero.io/backupstoragelocations': /^### 2\.4 BackupStorageLocation/,
    'velero.io/podvolumebackups': /^### 2\.5 PodVolumeBackup/,
    'velero.io/downloadrequests': /^### 2\.6 Logs: DownloadRequest/,
    'velero.io/deletebackuprequests': /^### 2\.7 Deletion: DeleteBackupRequest/,
    'kustomize.toolkit.fluxcd.io/kustomizations': /^## 3\. Flux/,
    'postgresql.cnpg.io/backups': /^## 7\. CloudNativePG/,
    'postgresql.cnpg.io/clusters': /^## 9\. Version notes/,
    'coordination.k8s.io/leases': /^## Leases/,
  };

  /** The spec fields each simulated controller reads. */
  const specFieldsRead: Record<string, string[]> = {
    'velero.io/backups': ['storageLocation', 'ttl', 'defaultVolumesToFsBackup', 'includedNamespaces', 'hooks', 'resources', 'pre', 'post'],
    'velero.io/restores': ['backupName'],
    'velero.io/schedules': ['schedule'],
    'velero.io/backupstoragelocations': ['objectStorage', 'bucket'],
    'velero.io/podvolumebackups': ['pod', 'volume'],
    // The signed URL's host: the location's `s3Url` / `publicUrl` config.
    'velero.io/downloadrequests': ['target', 'kind', 'name', 's3Url', 'publicUrl'],
    'velero.io/deletebackuprequests': ['backupName'],
    'kustomize.toolkit.fluxcd.io/kustomizations': ['suspend'],
    'postgresql.cnpg.io/backups': ['cluster', 'name', 'method'],
  };

  const samples: Record<string, SimObject['spec']> = {
    'velero.io/backups': { includedNamespaces: ['frigate'], storageLocation: 'default', ttl: '720h0m0s', hooks: { resources: [{ name: 'db', pre: [{ exec: { command: ['sync'] } }] }] } },
    'velero.io/restores': { backupName: 'b1' },
    'velero.io/schedules': { schedule: '0 2 * * *', template: { includedNamespaces: ['*'] } },
    'velero.io/backupstoragelocations': { provider: 'aws', objectStorage: { bucket: 'velero' } },
    'velero.io/podvolumebackups': { pod: { kind: 'Pod', namespace: 'frigate', name: 'db-0', uid: 'u1' }, volume: 'data', uploaderType: 'kopia' },
    'velero.io/downloadrequests': { target: { kind: 'BackupLog', name: 'b1' } },
    'velero.io/deletebackuprequests': { backupName: 'b1' },
    'kustomize.toolkit.fluxcd.io/kustomizations': { interval: '10m', path: './apps', prune: true },
    'postgresql.cnpg.io/backups': { cluster: { name: 'pg' }, method: 'barmanObjectStore' },
  };

  it('serves the pod and exec paths kubernetes-api.md gives, and negotiates the exec protocol it names', () => {
    const documented = [...kubernetesApi.matchAll(/`(?:GET )?(\/api\/v1\/[^`?]+)/g)].map((match) => (match[1] ?? '').replace('{ns}', '{namespace}').replace('{pod}', '{name}'));
    assert.ok(documented.length >= 2);
    const served: string[] = Object.values(KUBE_SIM_PATHS);
    assert.deepEqual(documented.filter((path) => !served.includes(path)), []);
    assert.ok(kubernetesApi.includes(`\`${EXEC_PROTOCOLS[0]}\``));
  });

  it('serves each custom resource under the group and version the contract gives, with its kind', async () => {
    const sim = await KubeApiSimulator.start();
    try {
      for (const resource of SIM_RESOURCES) {
        assert.ok([contract, kubernetesApi].some((document) => document.includes(`${resource.group}/${resource.version}`)), `${resource.group}/${resource.version} in EXTERNAL-SYSTEMS.md or kubernetes-api.md`);
        const text = section(sections[`${resource.group}/${resource.plural}`] as RegExp);
        assert.ok(text.includes(resource.kind), `${resource.kind} in its section`);
        assert.equal(resource.plural, `${resource.kind.toLowerCase()}s`, 'plural by the Kubernetes convention');
        const path = KUBE_SIM_PATHS.customObjects.replace('{group}', resource.group).replace('{version}', resource.version).replace('{namespace}', 'default').replace('{plural}', resource.plural);
        const list = (await getJson(sim, path)) as { kind?: string; apiVersion?: string };
        assert.deepEqual([list.kind, list.apiVersion], [`${resource.kind}List`, `${resource.group}/${resource.version}`]);
      }
    } finally {
      await sim.stop();
    }
  });

  it("answers kubectl's discovery with exactly the resources it serves", async () => {
    interface ResourceList {
      kind: string;
      groupVersion: string;
      resources: { name: string; kind: string; namespaced: boolean }[];
    }
    const sim = await KubeApiSimulator.start();
    try {
      const core = (await getJson(sim, KUBE_SIM_DISCOVERY_PATHS.coreVersions)) as { kind: string; versions: string[] };
      assert.deepEqual([core.kind, core.versions], ['APIVersions', ['v1']]);
      const coreResources = (await getJson(sim, KUBE_SIM_DISCOVERY_PATHS.coreResources)) as ResourceList;
      assert.deepEqual(
        coreResources.resources.map((resource) => [resource.name, resource.kind, resource.namespaced]),
        [
          ['pods', 'Pod', true],
          ['pods/exec', 'PodExecOptions', true],
          ...WORKLOAD_KINDS.filter((kind) => kind.apiVersion === 'v1').map((kind) => [kind.plural, kind.kind, kind.namespaced]),
        ],
      );
      const groupWorkloads = WORKLOAD_KINDS.filter((kind) => kind.apiVersion !== 'v1');
      const groups = (await getJson(sim, KUBE_SIM_DISCOVERY_PATHS.groups)) as { kind: string; groups: { name: string; preferredVersion: { groupVersion: string } }[] };
      assert.equal(groups.kind, 'APIGroupList');
      const groupVersions = groups.groups.map((group) => group.preferredVersion.groupVersion);
      assert.deepEqual(groupVersions.sort(), [...new Set([...SIM_RESOURCES.map((resource) => `${resource.group}/${resource.version}`), ...groupWorkloads.map((kind) => kind.apiVersion)])].sort());
      const listed: string[] = [];
      for (const groupVersion of groupVersions) {
        const [group = '', version = ''] = groupVersion.split('/');
        const list = (await getJson(sim, KUBE_SIM_DISCOVERY_PATHS.groupResources.replace('{group}', group).replace('{version}', version))) as ResourceList;
        assert.deepEqual([list.kind, list.groupVersion], ['APIResourceList', groupVersion]);
        listed.push(...list.resources.map((resource) => `${groupVersion}/${resource.name} ${resource.kind}`));
      }
      assert.deepEqual(listed.sort(), [...SIM_RESOURCES.map((resource) => `${resource.group}/${resource.version}/${resource.plural} ${resource.kind}`), ...groupWorkloads.map((kind) => `${kind.apiVersion}/${kind.plural} ${kind.kind}`)].sort());
    } finally {
      await sim.stop();
    }
  });

  it('takes CloudNativePG backups by each method and to failure with only the phases and status fields §7 lists', async function () {
    this.timeout(10_000);
    const store = new ObjectStore(5);
    const backups = SIM_RESOURCES.find((resource) => resource.group === 'postgresql.cnpg.io' && resource.plural === 'backups') as SimResource;
    const words = codeWords(section(sections['postgresql.cnpg.io/backups'] as RegExp));
    store.outcomes.set('broken', 'Failed');
    const methods: Record<string, string> = { plugin: 'plugin', snap: 'volumeSnapshot', broken: 'plugin' };
    try {
      for (const [name, method] of Object.entries(methods)) store.create(backups, 'conformance', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name }, spec: { cluster: { name: 'pg' }, method, ...(method === 'plugin' ? { pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io' } } : {}) } });
      const ended = () => Object.keys(methods).every((name) => ['completed', 'failed'].includes(String(store.get(backups, 'conformance', name).status?.phase)));
      for (let tick = 0; tick < 500 && !ended(); tick++) await sleep(5);
      // Every state each backup went through, from the store's history: polling could miss one that lasts a step.
      const phases = new Map<string, string[]>(Object.keys(methods).map((name) => [name, []]));
      for (const state of store.history.states()) {
        const seen = state.kind === 'Backup' ? phases.get(state.metadata.name) : undefined;
        if (!seen) continue;
        const status = state.status ?? {};
        // The Backup as created has no status yet: the phases are those the controller sets.
        const phase = status.phase === undefined ? undefined : String(status.phase);
        if (phase !== undefined && seen.at(-1) !== phase) seen.push(phase);
        const unknown = Object.entries(status).flatMap(([field, value]) => [...(words.has(field) ? [] : [field]), ...(value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value).filter((inner) => !words.has(inner)).map((inner) => `${field}.${inner}`) : [])]);
        assert.deepEqual(unknown, [], `${state.metadata.name}: status fields not in the contract`);
      }
      assert.deepEqual(phases.get('plugin'), ['pending', 'started', 'running', 'completed']);
      assert.deepEqual(phases.get('snap'), ['pending', 'started', 'running', 'finalizing', 'completed']);
      assert.deepEqual(phases.get('broken'), ['pending', 'started', 'running', 'failed']);
      assert.match(String(store.get(backups, 'conformance', 'broken').status?.error), /simulated failure/);
      assert.ok(Array.isArray((store.get(backups, 'conformance', 'snap').status?.snapshotBackupStatus as { elements?: unknown }).elements));
      for (const phase of ['pending', 'started', 'running', 'finalizing', 'completed', 'failed']) assert.ok(words.has(phase), `phase ${phase} in §7`);
    } finally {
      store.stop();
    }
  });

  it('keeps a CloudNativePG Cluster as written, with recovery fields of the contract, and a Backup spec immutable', () => {
    const store = new ObjectStore(5);
    const [backups, clusters] = ['backups', 'clusters'].map((plural) => SIM_RESOURCES.find((resource) => resource.group === 'postgresql.cnpg.io' && resource.plural === plural) as SimResource) as [SimResource, SimResource];
    const words = codeWords(section(sections['postgresql.cnpg.io/clusters'] as RegExp));
    try {
      for (const field of ['bootstrap', 'recovery', 'externalClusters', 'recoveryTarget']) assert.ok(words.has(field), `${field} in the contract`);
      const spec = { instances: 1, bootstrap: { recovery: { backup: { name: 'b1' }, recoveryTarget: { targetLSN: '0/5000060' } } } };
      store.create(clusters, 'conformance', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'pg' }, spec });
      assert.deepEqual(store.patch(clusters, 'conformance', 'pg', { spec: { instances: 2 } }).spec, { ...spec, instances: 2 });
      assert.equal(store.get(clusters, 'conformance', 'pg').status, undefined);
      store.create(backups, 'conformance', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name: 'b1' }, spec: { cluster: { name: 'pg' } } });
      assert.throws(() => store.patch(backups, 'conformance', 'b1', { spec: { method: 'plugin' } }), /BackupSpec is immutable/);
    } finally {
      store.stop();
    }
  });

  it('writes only status fields, phases, labels and annotations the contract lists, and reads only spec fields it lists', async function () {
    this.timeout(10_000);
    const store = new ObjectStore(5);
    const seen = new Map<string, SimObject[]>();
    const create = (resource: SimResource, name: string) => {
      const key = `${resource.group}/${resource.plural}`;
      store.create(resource, 'conformance', { apiVersion: `${resource.group}/${resource.version}`, kind: resource.kind, metadata: { name, annotations: resource.plural === 'kustomizations' ? { 'reconcile.fluxcd.io/requestedAt': new Date().toISOString() } : {} }, spec: samples[key] });
      seen.set(key, []);
    };
    try {
      const byKey = (key: string) => SIM_RESOURCES.find((resource) => `${resource.group}/${resource.plural}` === key) as SimResource;
      create(byKey('velero.io/backupstoragelocations'), 'default');
      // A CloudNativePG Cluster has no controller here: the contract gives none of its status. Nor does a Lease anywhere.
      const uncontrolled = ['clusters', 'leases'];
      for (const key of Object.keys(sections).filter((candidate) => !candidate.endsWith('backupstoragelocations') && !candidate.endsWith('restores') && !uncontrolled.some((plural) => candidate.endsWith(`/${plural}`)))) create(byKey(key), 'b1');
      for (let tick = 0; tick < 60; tick++) {
        for (const [key, states] of seen) states.push(store.get(byKey(key), 'conformance', key.endsWith('backupstoragelocations') ? 'default' : key.endsWith('restores') ? 'r1' : 'b1'));
        if (tick === 20) create(byKey('velero.io/restores'), 'r1');
        await sleep(2);
      }
      for (const [key, states] of seen) {
        // `conditions` is the Kubernetes API convention the contract means by "the Ready condition".
        const words = new Set([...codeWords(section(sections[key] as RegExp)), 'conditions']);
        const text = section(sections[key] as RegExp);
        for (const field of specFieldsRead[key] ?? []) assert.ok(words.has(field), `${key}: spec field '${field}' is in the contract`);
        const final = states.at(-1) as SimObject;
        assert.ok(final.status, `${key} got a status`);
        for (const state of states) {
          const status = state.status ?? {};
          const unknown = Object.entries(status).flatMap(([field, value]) => [
            ...(words.has(field) ? [] : [field]),
            ...(value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value).filter((inner) => !words.has(inner)).map((inner) => `${field}.${inner}`) : []),
          ]);
          assert.deepEqual(unknown, [], `${key}: status fields not in the contract`);
          if (status.phase !== undefined) assert.ok(words.has(String(status.phase)) || text.includes(`\`${String(status.phase)}\``), `${key}: phase ${String(status.phase)} is in the contract`);
          for (const label of Object.keys(state.metadata.labels ?? {})) assert.ok(text.includes(label), `${key}: label ${label} is in the contract`);
          for (const annotation of Object.keys(state.metadata.annotations ?? {})) assert.ok(text.includes(annotation), `${key}: annotation ${annotation} is in the contract`);
        }
      }
    } finally {
      store.stop();
    }
  });
});
