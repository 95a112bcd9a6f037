import type { FaceLibrary } from '../../clients/frigate';
import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, emptyNode, joinPath, pageOf, type DeclaredNode, type Page, type PageRequest } from '../../core/browse/node';
import { formatBytes, formatCount, markdownEscape } from '../../core/render';
import { recordingsLocationsOf } from './backupLocations';
import { failedEventNodes, MIRRORS, snapshotMirrorNodes, snapshotMirrorsNode } from './mirrorBrowse';
import { frigateBackupsCheck } from './backupCheck';
import type { RecordingsDay } from './recordings';
import { frigateRecordingsList, type RecordingsListResult } from './recordingsList';
import { frigateClientFor, frigateEntry, podLocationOf } from './target';

export const FRIGATE_ROOT = 'frigate';
const PEOPLE = 'people';
const TRAIN = 'train';
const RECORDINGS = 'recordings';
const POD = 'pod';

type Instance = NonNullable<BrowseSession['ctx']['inventory']['frigate']>[string];

function instanceNode(name: string, entry: Instance, inventoryFile: string): DeclaredNode {
  const unverified = entry.tls?.insecure ?? false;
  const tooltip = [`**Frigate ${markdownEscape(name)}**`, '', `- URL: ${markdownEscape(entry.url)}`];
  if (unverified) tooltip.push('- $(warning) TLS certificates are **not verified** (`tls.insecure: true` in lifeboat.yaml)');
  tooltip.push(`- From ${markdownEscape(inventoryFile)}`);
  return {
    path: joinPath(FRIGATE_ROOT, name),
    kind: 'frigate',
    label: name,
    description: unverified ? `${entry.url} · TLS not verified` : entry.url,
    tooltip: tooltip.join('\n'),
    icon: unverified ? 'warning' : 'device-camera',
    ...(unverified ? { status: { level: 'warning' as const, reason: 'TLS certificates are not verified (tls.insecure: true)' } } : {}),
    hasChildren: true,
    operations: [{ kind: 'action', id: 'check', label: 'Check Backups', action: frigateBackupsCheck.id, params: { frigate: name } }],
    facts: { name, url: entry.url, tlsUnverified: unverified },
  };
}

function library(name: string, session: BrowseSession): Promise<FaceLibrary> {
  return session.cached(joinPath(FRIGATE_ROOT, name), async () => (await frigateClientFor(session.ctx, name)).faces(session.ctx.signal));
}

/** The people (by name), the `train` folder apart, then the recordings backups the instance names and its snapshot mirrors. */
async function instanceChildren(name: string, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = joinPath(FRIGATE_ROOT, name);
  const faces = await library(name, session);
  const people = Object.entries(faces.people).sort(([a], [b]) => a.localeCompare(b));
  const nodes: DeclaredNode[] = people.length === 0 ? [emptyNode(at, 'No people in the face library')] : [];
  for (const [person, files] of people) {
    nodes.push({
      path: childPath(at, PEOPLE, person),
      kind: 'frigate.person',
      label: person,
      description: formatCount(files.length, 'image'),
      tooltip: `${person}: ${formatCount(files.length, 'image')} in the face library of Frigate ${name}`,
      icon: 'person',
      hasChildren: files.length > 0,
      facts: { frigate: name, person, images: files.length },
    });
  }
  const train = formatCount(faces.train.length, 'image');
  nodes.push({
    path: childPath(at, TRAIN),
    kind: 'frigate.train',
    label: TRAIN,
    description: `${train} · recent recognition attempts, not a person`,
    tooltip: `The train folder of Frigate ${name}: ${train} of recent recognition attempts. Not counted among the people, and not backed up unless includeTrain is set.`,
    icon: 'history',
    hasChildren: faces.train.length > 0,
    facts: { frigate: name, images: faces.train.length },
  });
  const pod = podLocationOf(frigateEntry(session.ctx, name));
  if (pod) {
    nodes.push({
      path: childPath(at, POD),
      kind: 'frigate.podRecordings',
      label: 'Recordings in the pod',
      description: `${pod.cluster}: ${pod.namespace}, ${pod.labelSelector}`,
      tooltip: `The recordings Frigate ${name} holds in its pod (cluster ${pod.cluster}, namespace ${pod.namespace}, pods matching ${pod.labelSelector}), by camera and day`,
      icon: 'device-camera-video',
      hasChildren: true,
      facts: { frigate: name, cluster: pod.cluster, namespace: pod.namespace },
    });
  }
  for (const recordings of recordingsLocationsOf(session.ctx.inventory, name)) {
    const path = childPath(at, RECORDINGS, recordings.location);
    if (recordings.problem !== undefined) {
      nodes.push({
        path,
        kind: 'frigate.recordings.invalid',
        label: `Recordings backup ${recordings.location}`,
        description: recordings.problem,
        tooltip: `${session.inventoryFile}: ${recordings.problem}`,
        icon: 'warning',
        status: { level: 'warning', reason: recordings.problem },
        hasChildren: false,
        facts: { frigate: name, location: recordings.location, problem: recordings.problem },
      });
      continue;
    }
    nodes.push({
      path,
      kind: 'frigate.recordings',
      label: 'Recordings backup',
      description: recordings.location,
      tooltip: `Recordings of Frigate ${name} backed up to location ${recordings.location}, by camera and day`,
      icon: 'device-camera-video',
      hasChildren: true,
      facts: { frigate: name, location: recordings.location },
    });
  }
  const mirrors = await snapshotMirrorsNode(at, name, session);
  if (mirrors) nodes.push(mirrors);
  return { nodes, total: nodes.length };
}

/** The images of a person (or of `train`), by file name, a page at a time. */
async function imageChildren(name: string, person: string | undefined, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const faces = await library(name, session);
  const files = [...(person === undefined ? faces.train : (faces.people[person] ?? []))].sort();
  const at = person === undefined ? joinPath(FRIGATE_ROOT, name, TRAIN) : joinPath(FRIGATE_ROOT, name, PEOPLE, person);
  return pageOf(files, request, (file) => file, (file) => ({
    path: childPath(at, file),
    kind: 'frigate.image',
    label: file,
    icon: 'file-media',
    hasChildren: false,
    facts: { frigate: name, person: person ?? TRAIN, file },
  }));
}

function totalBytes(days: readonly RecordingsDay[]): number {
  return days.reduce((sum, day) => sum + day.bytes, 0);
}

/** Cameras of a recordings backup (`location`) or of the pod (none), and each camera's days (newest first). */
async function recordingsChildren(name: string, location: string | undefined, camera: string | undefined, request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const at = location === undefined ? joinPath(FRIGATE_ROOT, name, POD) : joinPath(FRIGATE_ROOT, name, RECORDINGS, location);
  const source = location === undefined ? { frigate: name } : { location };
  const where = location ?? 'the pod';
  const listing = await session.cached(at, async () => (await frigateRecordingsList.run(frigateRecordingsList.params.parse(source), session.ctx)) as RecordingsListResult);
  if (camera === undefined) {
    if (listing.cameras.length === 0) return { nodes: [emptyNode(at, `No recordings in ${listing.source}`)], total: 0 };
    return pageOf(listing.cameras, request, (entry) => entry.camera, ({ camera: cameraName, days }) => ({
      path: childPath(at, cameraName),
      kind: 'frigate.camera',
      label: cameraName,
      description: `${formatCount(days.length, 'day')} · ${formatBytes(totalBytes(days))}`,
      tooltip: `Camera ${cameraName} in ${where}: ${formatCount(days.length, 'day')}${days[0] ? `, newest ${days[0].date}` : ''}`,
      icon: 'device-camera',
      hasChildren: days.length > 0,
      facts: { frigate: name, location: location ?? null, camera: cameraName, days: days.length, files: days.reduce((sum, day) => sum + day.files, 0), bytes: totalBytes(days) },
    }));
  }
  const days = listing.cameras.find((entry) => entry.camera === camera)?.days ?? [];
  return pageOf(days, request, (day) => day.date, (day) => ({
    path: childPath(at, camera, day.date),
    kind: 'frigate.recordingDay',
    label: day.date,
    description: `${day.hours} h · ${formatCount(day.files, 'file')} · ${formatBytes(day.bytes)}`,
    tooltip: `${camera}, ${day.date} (UTC): ${formatCount(day.hours, 'hour')} with recordings, ${formatCount(day.files, 'file')}, ${formatBytes(day.bytes)} (${day.bytes} bytes)`,
    icon: 'calendar',
    hasChildren: false,
    facts: { frigate: name, location: location ?? null, camera, date: day.date, hours: day.hours, files: day.files, bytes: day.bytes },
  }));
}

/** The Frigate instances of `frigate:`: their face libraries, recordings backups and snapshot mirrors. */
export const frigateBrowser: Browser = {
  root: FRIGATE_ROOT,
  roots(session) {
    return Object.entries(session.ctx.inventory.frigate ?? {}).map(([name, entry]) => instanceNode(name, entry, session.inventoryFile));
  },
  async children(path, request, session) {
    const [, name, section, item, camera, ...rest] = path;
    if (name === undefined || !session.ctx.inventory.frigate?.[name] || rest.length > 0) return { nodes: [] };
    if (section === undefined) return instanceChildren(name, session);
    if (section === PEOPLE && item !== undefined && camera === undefined) return imageChildren(name, item, request, session);
    if (section === TRAIN && item === undefined) return imageChildren(name, undefined, request, session);
    if (section === RECORDINGS && item !== undefined) return recordingsChildren(name, item, camera, request, session);
    if (section === POD && camera === undefined) return recordingsChildren(name, undefined, item, request, session);
    if (section === MIRRORS && camera === undefined) return item === undefined ? snapshotMirrorNodes(joinPath(FRIGATE_ROOT, name), name, request, session) : failedEventNodes(joinPath(FRIGATE_ROOT, name), name, item, request, session);
    return { nodes: [] };
  },
};
